// Command nimbus is the Nimbus binary: the server, its command-line clients,
// and (re-executed by the server) the init of every execution environment.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/nimbus-serverless/nimbus/internal/cli"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

func main() {
	if sandbox.MaybeRunInit() {
		return // unreachable: a sandbox init never returns
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
