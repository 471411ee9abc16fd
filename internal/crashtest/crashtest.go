// Package crashtest is the scaffolding of the kill -9 tests (SQS, SNS,
// EventBridge, DynamoDB, Step Functions): the test binary re-executes
// itself as a child that does durable work on a store in a directory
// (Flood: several workers, each answered operation reported) and reports
// each answered operation as a line on file descriptor 3; the parent
// reads the lines, kills the child with SIGKILL when it has seen enough
// (KillAfter), and then checks what the reopened store kept (Missing). Only tests import it; it
// imports only the standard library.
package crashtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
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

// Flood is the child's usual work: workers goroutines each call op with
// their number and an increasing counter until op fails, and every line
// op answers (the operations answered durable) is reported. Flood
// returns the child's exit code once every worker stopped (the parent
// kills the child long before).
func Flood(r *Reporter, workers int, op func(worker, i int) ([]string, error)) int {
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				lines, err := op(g, i)
				for _, l := range lines {
					r.Line(l)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return 2
}

// KillAfter kills the child once it has reported n distinct lines and
// returns every distinct line it reported (those written just before it
// died included): the operations it was answered for.
func KillAfter(t testing.TB, env, dir string, n int) map[string]bool {
	t.Helper()
	answered := map[string]bool{}
	Kill(t, env, dir, func(line string) bool {
		answered[line] = true
		return len(answered) >= n
	})
	return answered
}

// Missing is the answered lines that kept lacks, sorted.
func Missing(answered, kept map[string]bool) []string {
	var out []string
	for l := range answered {
		if !kept[l] {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}
