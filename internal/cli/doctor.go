package cli

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

func newDoctorCmd() *cobra.Command {
	var noVerify bool
	cfg := config.FromEnv()
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Show which sandbox protections function environments get on this machine",
		Long: `Show which isolation layers 'nimbus server' applies to function environments
on this machine (namespaces, minimal root, uid, capabilities, seccomp,
cgroup limits, ...) and why any is missing (not root, no cgroup controller,
...), then start one environment with them to prove they work. Run it as
the user that runs 'nimbus server'. Exit status 1 when the check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			who := "root"
			if os.Geteuid() != 0 {
				who = "not root"
			}
			fmt.Fprintf(out, "sandbox: %s (%s)\n\n", sandbox.Mode(), who)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, p := range sandbox.Protections() {
				state := "off"
				if p.Active {
					state = "on"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", state, p.Name, p.Detail)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(out)
			if err := applyInterpreters(cfg); err != nil {
				return err
			}
			if err := printRuntimes(out, daemon.RuntimeDir(cfg.DataDir)); err != nil {
				return err
			}
			if noVerify {
				return nil
			}
			if err := sandbox.Verify(cmd.Context()); err != nil {
				fmt.Fprintf(out, "\ncheck: FAILED: %v\n", err)
				return exitError{code: 1}
			}
			fmt.Fprintln(out, "\ncheck: ok (an environment started with these protections and ran /bin/true)")
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory of the node (for the runtime SDKs it holds)")
	cmd.Flags().StringVar(&cfg.RuntimeInterpreters, "runtime-interpreter", cfg.RuntimeInterpreters, "RUNTIME=/path/to/interpreter, comma-separated (as 'nimbus server' takes it)")
	cmd.Flags().BoolVar(&noVerify, "no-verify", false, "only list the protections; do not start an environment")
	return cmd
}
