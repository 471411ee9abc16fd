// Package crashtest is the scaffolding of the kill -9 tests (SQS, SNS,
// DynamoDB, Step Functions): the test binary re-executes itself as a
// child that does durable work on a store in a directory and reports
// each answered operation as a line on file descriptor 3; the parent
// reads the lines, kills the child with SIGKILL when it has seen enough,
// and then checks what the reopened store kept. Only tests import it; it
// imports only the standard library.
package crashtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// Main runs child(dir) instead of the tests when the environment variable
// env names a directory (the child process), else the tests. Call it from
// TestMain.
func Main(m *testing.M, env string, child func(dir string) int) {
	if dir := os.Getenv(env); dir != "" {
		os.Exit(child(dir))
	}
	os.Exit(m.Run())
}

// Reporter is the child's side: lines on file descriptor 3, safe for
// concurrent use.
type Reporter struct {
	mu sync.Mutex
	f  *os.File
}

// Report opens the child's report.
func Report() *Reporter { return &Reporter{f: os.NewFile(3, "report")} }

// Line reports one line.
func (r *Reporter) Line(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = fmt.Fprintln(r.f, s)
}

// Kill starts the test binary as the child (env set to dir), hands each
// line it reports to seen, and kills it with SIGKILL once seen answers
// true. Lines the child wrote before it died are still handed to seen.
// Kill returns once the child is gone; it fails the test if the child
// ended before it was killed.
func Kill(t testing.TB, env, dir string, seen func(line string) (kill bool)) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$") //nolint:gosec // re-executes this test binary
	cmd.Env = append(os.Environ(), env+"="+dir)
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	killed := false
	lines := 0
	for sc.Scan() {
		lines++
		if seen(sc.Text()) && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("the child ended after %d reported lines, before it was killed: %s", lines, stderr.String())
	}
}
