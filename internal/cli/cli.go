// Package cli is the nimbus command line: `nimbus server` runs a node, every
// other command is a client of a node's AWS-compatible API, found and
// authenticated the way the AWS CLI does it (AWS_ENDPOINT_URL, AWS_REGION,
// profiles), or from flags. Only cmd/nimbus imports it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Version is the build's version, set with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// exitError carries a process exit code through cobra without printing.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(stderr, "nimbus:", err)
		return 1
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "nimbus",
		Short: "Nimbus runs AWS Lambda functions unchanged, without Docker",
		Long: `Nimbus is a self-hosted serverless platform that runs AWS Lambda functions
unchanged behind AWS-compatible APIs. Start a node with 'nimbus server', then
use the AWS CLI, an AWS SDK or the client commands below against it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	cf := &clientFlags{}
	root.AddCommand(
		newServerCmd(),
		newInvokeCmd(cf),
		newFunctionsCmd(cf),
		newAPIsCmd(cf),
		newDeployCmd(cf),
		newDevCmd(cf),
		newDeleteCmd(cf),
		newStacksCmd(cf),
		newCostCmd(cf),
		newConsoleCmd(cf),
		newClusterCmd(cf),
		newMetricsCmd(cf),
		newQueuesCmd(cf),
		newTopCmd(cf),
		newSchedulesCmd(cf),
		newExecutionsCmd(cf),
		newDoctorCmd(),
		newRuntimesCmd(),
		newLogsCmd(cf),
		newEnvCmd(),
		newVersionCmd(),
		newBenchCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the nimbus version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "nimbus %s\n", Version)
			return err
		},
	}
}

// readPayload resolves --payload: inline JSON, @file, or @- for stdin.
func readPayload(arg string, stdin io.Reader) ([]byte, error) {
	if len(arg) > 0 && arg[0] == '@' {
		if arg == "@-" {
			return io.ReadAll(stdin)
		}
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			return nil, fmt.Errorf("read payload: %w", err)
		}
		return b, nil
	}
	return []byte(arg), nil
}
