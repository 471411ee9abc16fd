// Command initbin is the environment's init, built on its own so that pid 1
// of every environment carries only the sandbox package, not the whole
// nimbus binary: the nimbus binary's package initialisers allocate
// megabytes (SDK schemas, JSON Schema meta-schemas) that every idle
// environment would otherwise keep.
//
// It is not built by hand: `go generate ./internal/sandbox` builds it
// reproducibly (linux/amd64, -trimpath, no build id or VCS stamp) into
// internal/sandbox/initimage/init-linux-amd64.gz, which the nimbus binary
// embeds and runs from a sealed memfd. TestInitImageIsCurrent fails while
// the committed image was built from other sources than today's. It imports
// only internal/sandbox.
package main

import (
	"fmt"
	"os"

	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

func main() {
	if sandbox.MaybeRunInit() {
		return
	}
	fmt.Fprintln(os.Stderr, "nimbus-sandbox-init: the environment's init; the nimbus server starts it")
	os.Exit(2)
}
