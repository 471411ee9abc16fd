package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// lazyInitPackages build their tables and regular expressions on first
// use, so every start of the binary (each CLI command, each environment's
// init) does not pay for them (issue 23).
var lazyInitPackages = []string{"lambdaapi", "cli", "sam", "yamldoc", "function", "config"}

// TestInitAllocations reads `GODEBUG=inittrace=1 nimbus version` and
// holds the packages made lazy to a small init; it logs the total and the
// heaviest package inits.
func TestInitAllocations(t *testing.T) {
	cmd := exec.Command(nimbusBin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nimbus version: %v\n%s", err, out)
	}
	const limit = 32 << 10
	var total, n int
	for _, l := range strings.Split(string(out), "\n") {
		// init PKG @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(l)
		if len(f) < 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		b, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q", l)
		}
		total += b
		n++
		for _, p := range lazyInitPackages {
			if f[1] == "github.com/nimbus-serverless/nimbus/internal/"+p && b > limit {
				t.Errorf("package %s allocates %d bytes at init (limit %d): build its tables on first use", p, b, limit)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no inittrace lines (GODEBUG in the test: %q):\n%s", os.Getenv("GODEBUG"), out)
	}
	t.Logf("%d package inits allocate %d bytes", n, total)
}
