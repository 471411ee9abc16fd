package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
	"github.com/nimbus-serverless/nimbus/internal/runtimes"
)

// newRuntimesCmd is `nimbus runtimes`: the managed runtimes, the
// interpreters that run them and the AWS SDKs they provide; `install`
// installs those SDKs into the data directory.
func newRuntimesCmd() *cobra.Command {
	cfg := config.FromEnv()
	cmd := &cobra.Command{
		Use:   "runtimes",
		Short: "List the managed runtimes, their interpreters and the AWS SDKs they provide",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyInterpreters(cfg); err != nil {
				return err
			}
			return printRuntimes(cmd.OutOrStdout(), daemon.RuntimeDir(cfg.DataDir))
		},
	}
	cmd.PersistentFlags().StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory of the node")
	cmd.PersistentFlags().StringVar(&cfg.RuntimeInterpreters, "runtime-interpreter", cfg.RuntimeInterpreters, "RUNTIME=/path/to/interpreter, comma-separated (as 'nimbus server' takes it)")
	install := &cobra.Command{
		Use:   "install",
		Short: "Install the AWS SDKs the Node.js and Python runtimes provide into the data directory",
		Long: `Install, under --data-dir, the AWS SDKs Lambda's managed runtimes provide:
the AWS SDK for JavaScript v3 (the @aws-sdk packages pinned by the
package-lock.json Nimbus ships, from the npm registry with 'npm ci') and
boto3 (copied from a host Python interpreter that has it: pip's boto3 or
Debian's python3-boto3). Environments see them read-only at
/var/runtime/node_modules and on the Python path; a function's own copy wins.
'nimbus server' runs this at start when they are missing (--runtime-sdks).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyInterpreters(cfg); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			errs := installSDKs(cmd.Context(), daemon.RuntimeDir(cfg.DataDir), out)
			for _, err := range errs {
				fmt.Fprintf(cmd.ErrOrStderr(), "error: %v\n", err)
			}
			if len(errs) > 0 {
				return exitError{code: 1}
			}
			return printRuntimes(out, daemon.RuntimeDir(cfg.DataDir))
		},
	}
	cmd.AddCommand(install)
	return cmd
}

func applyInterpreters(cfg config.Config) error {
	m, err := config.ParseInterpreters(cfg.RuntimeInterpreters)
	if err != nil {
		return err
	}
	return runtimes.SetInterpreters(m)
}

// installSDKs installs both SDKs, returning what failed.
func installSDKs(ctx context.Context, runtimeDir string, out io.Writer) []error {
	var errs []error
	fmt.Fprintf(out, "==> AWS SDK for JavaScript v3 %s (npm ci)\n", runtimes.NodeSDKVersion())
	if err := runtimes.InstallNodeSDK(ctx, runtimeDir, out); err != nil {
		errs = append(errs, err)
	}
	fmt.Fprintln(out, "==> boto3 (from a host Python)")
	if err := runtimes.InstallPythonSDK(ctx, runtimeDir, out); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func printRuntimes(out io.Writer, runtimeDir string) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNTIME\tINTERPRETER\tVERSION\tNOTE")
	for _, r := range runtimes.Catalogue() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, dash(r.Interpreter), dash(r.InterpreterVersion), r.Note)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SDK\tPINNED\tINSTALLED\t")
	for _, s := range runtimes.SDKs(runtimeDir) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", s.Name, dash(s.Pinned), orNot(s.Version))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNot(s string) string {
	if s == "" {
		return "not installed ('nimbus runtimes install')"
	}
	return s
}

// startSDKInstall installs missing runtime SDKs in the background at a
// server's start (--runtime-sdks auto); the returned wait blocks until it
// has ended (a stop cancels it through ctx).
func startSDKInstall(ctx context.Context, cfg config.Config, log *slog.Logger) (wait func()) {
	if cfg.RuntimeSDKs == "off" {
		return func() {}
	}
	runtimeDir := daemon.RuntimeDir(cfg.DataDir)
	var missing bool
	for _, s := range runtimes.SDKs(runtimeDir) {
		missing = missing || s.Version == ""
	}
	if !missing {
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		log := log.With("component", "runtimes")
		log.Info("installing the AWS SDKs the runtimes provide (--runtime-sdks=off to skip)")
		for _, err := range installSDKs(ctx, runtimeDir, io.Discard) {
			if ctx.Err() != nil {
				return
			}
			hint := "functions that do not bundle the SDK fail to import it until 'nimbus runtimes install' succeeds"
			if errors.Is(err, runtimes.ErrRegistry) {
				hint = "the registry is unreachable from this machine: " + hint
			}
			log.Warn("runtime sdk not installed", "err", err, "hint", hint)
		}
		for _, s := range runtimes.SDKs(runtimeDir) {
			if s.Version != "" {
				log.Info("runtime sdk ready", "sdk", s.Name, "version", s.Version)
			}
		}
	}()
	return wg.Wait
}
