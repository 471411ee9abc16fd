package cli

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer the dev loop writes while a test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// devSession is `nimbus dev` running in process in a copy of an example.
type devSession struct {
	dir  string // the copy
	url  string // the local URL of the output the session was asked for
	out  *lockedBuffer
	stop func() int
}

// startDev copies an example, runs `nimbus dev` in the copy until it
// watches functions, and finds the local URL of output.
func startDev(tb testing.TB, n *testNode, example, stack string, functions int, output string, args ...string) *devSession {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "app")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", example))); err != nil {
		tb.Fatal(err)
	}
	_ = os.RemoveAll(filepath.Join(dir, ".nimbus"))
	tb.Chdir(dir)
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, append([]string{"dev", "--stack-name", stack, "--data-dir", n.dataDir}, args...), out, out)
	}()
	s := &devSession{dir: dir, out: out}
	var once sync.Once
	exit := -1
	s.stop = func() int {
		once.Do(func() { cancel(); exit = <-code })
		return exit
	}
	tb.Cleanup(func() {
		s.stop()
		_, _ = n.run(tb, "", "delete", "--stack-name", stack)
	})
	waitFor(tb, 3*time.Minute, "dev to deploy and watch", func() bool {
		select {
		case c := <-code:
			tb.Fatalf("dev exited %d:\n%s", c, out)
		default:
		}
		return strings.Contains(out.String(), fmt.Sprintf("Watching %d function(s) of stack %s", functions, stack))
	})
	s.url = localURLs(out.String())[output]
	for line := range strings.Lines(out.String()) {
		if f := strings.Fields(line); s.url == "" && len(f) > 1 && f[0] == output {
			s.url = printedURL.FindString(line)
		}
	}
	if s.url == "" {
		tb.Fatalf("dev printed no %s:\n%s", output, out)
	}
	return s
}

// editGo rewrites the Go example's hello handler so that its greeting
// reads "Hello, <word> <name>!".
func (s *devSession) editGo(tb testing.TB, word string) {
	tb.Helper()
	p := filepath.Join(s.dir, "hello", "main.go")
	raw, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	src := string(raw)
	i := strings.Index(src, `os.Getenv("GREETING") + ", `)
	j := strings.Index(src[max(i, 0):], "+ name +")
	if i < 0 || j < 0 {
		tb.Fatalf("the example's handler changed shape:\n%s", src)
	}
	src = src[:i] + `os.Getenv("GREETING") + ", ` + word + ` " ` + src[i+j:]
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// edit rewrites the handler so that it names items "<word> <id>" and
// prints a line.
func (s *devSession) edit(tb testing.TB, word string) {
	tb.Helper()
	p := filepath.Join(s.dir, "src", "app.py")
	raw, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	src := string(raw)
	i := strings.Index(src, `"name": f"`)
	j := strings.Index(src[max(i, 0):], "{item_id}")
	if i < 0 || j < 0 {
		tb.Fatalf("the example's handler changed shape:\n%s", src)
	}
	src = src[:i] + `"name": f"` + word + " " + src[i+j:]
	src = strings.Replace(src, "def handler(event, context):\n", "def handler(event, context):\n    print('handler says "+word+"')\n", 1)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// TestDevUpdatesAnEditedFunction: `nimbus dev` deploys a copy of the
// Python example, and after the handler is edited the API serves the new
// behaviour, the function was updated in place (no stack update), and
// the new handler's log line is printed.
func TestDevUpdatesAnEditedFunction(t *testing.T) {
	n := startTestNode(t)
	s := startDev(t, n, "sam-rest-api-python", "dev-python", 1, "ItemsApiUrl")
	if code, body := n.get(t, s.url+"7"); code != 200 || !strings.Contains(body, `"item 7"`) {
		t.Fatalf("before the edit: %d %s", code, body)
	}
	before := strings.Count(s.out.String(), "UPDATE_COMPLETE")
	s.edit(t, "edited")
	waitFor(t, 2*time.Minute, "the edited handler to be served", func() bool {
		code, body := n.get(t, s.url+"7")
		return code == 200 && strings.Contains(body, `"edited 7"`)
	})
	waitFor(t, time.Minute, "the edited handler's log line", func() bool {
		return strings.Contains(s.out.String(), "ItemsFunction | ") && strings.Contains(s.out.String(), "handler says edited")
	})
	out := s.out.String()
	if !strings.Contains(out, "Updated ItemsFunction") || strings.Count(out, "UPDATE_COMPLETE") != before {
		t.Errorf("want an in-place update, not a stack update:\n%s", out)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("dev exited %d after Ctrl-C:\n%s", code, s.out)
	}
}

// BenchmarkDevEditToServed measures a save of a Python handler until the
// API serves its new behaviour under `nimbus dev` (debounce, build,
// UpdateFunctionCode, a new environment's cold start).
func BenchmarkDevEditToServed(b *testing.B) {
	n := startTestNode(b)
	s := startDev(b, n, "sam-rest-api-python", "dev-bench", 1, "ItemsApiUrl")
	i := 0
	for b.Loop() {
		i++
		word := fmt.Sprintf("v%d", i)
		s.edit(b, word)
		waitFor(b, 2*time.Minute, "the edited handler to be served", func() bool {
			code, body := n.get(b, s.url+"1")
			return code == 200 && strings.Contains(body, `"`+word+` 1"`)
		})
	}
	reportUpdates(b, s.out.String())
}

// TestDevUpdatesAnEditedGoFunction: with the Go example (two functions
// in one module), an edit of one function's code rebuilds and updates
// that function alone.
func TestDevUpdatesAnEditedGoFunction(t *testing.T) {
	n := startTestNode(t)
	s := startDev(t, n, "sam-http-api-go", "dev-go", 2, "ApiUrl")
	if code, body := n.get(t, s.url+"hello"); code != 200 || !strings.Contains(body, "Hello, world!") {
		t.Fatalf("before the edit: %d %s", code, body)
	}
	s.editGo(t, "edited")
	waitFor(t, 3*time.Minute, "the edited Go handler to be served", func() bool {
		code, body := n.get(t, s.url+"hello")
		return code == 200 && strings.Contains(body, "Hello, edited world!")
	})
	out := s.out.String()
	if !strings.Contains(out, "Updated HelloFunction") || strings.Count(out, "Building ClockFunction") != 1 {
		t.Errorf("want HelloFunction alone rebuilt and updated:\n%s", out)
	}
	if code, _ := n.get(t, s.url+"time"); code != 200 {
		t.Errorf("GET /time after the edit = %d", code)
	}
}

// TestDevDebugBuild: `nimbus dev --debug HelloFunction` rebuilds that Go
// function for a debugger right after the deploy (DWARF, -N -l) and the
// function runs that build; the other function keeps deploy's stripped
// build.
func TestDevDebugBuild(t *testing.T) {
	n := startTestNode(t)
	s := startDev(t, n, "sam-http-api-go", "dev-debug", 2, "ApiUrl", "--debug", "HelloFunction")
	out := s.out.String()
	if !strings.Contains(out, "Updated HelloFunction") || strings.Contains(out, "Updated ClockFunction") {
		t.Fatalf("want HelloFunction alone rebuilt for the debugger:\n%s", out)
	}
	boot := filepath.Join(s.dir, ".nimbus", "dev", "HelloFunction", "root", "bootstrap")
	f, err := elf.Open(boot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // test
	if f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil {
		t.Errorf("%s has no DWARF", boot)
	}
	if code, body := n.get(t, s.url+"hello"); code != 200 || !strings.Contains(body, "Hello, world!") {
		t.Fatalf("the debug build answers %d %s", code, body)
	}
}

// BenchmarkDevEditToServedGo is BenchmarkDevEditToServed for a Go
// function (an incremental go build instead of a copy).
func BenchmarkDevEditToServedGo(b *testing.B) {
	n := startTestNode(b)
	s := startDev(b, n, "sam-http-api-go", "dev-bench-go", 2, "ApiUrl")
	i := 0
	for b.Loop() {
		i++
		word := fmt.Sprintf("v%d", i)
		s.editGo(b, word)
		waitFor(b, 2*time.Minute, "the edited Go handler to be served", func() bool {
			code, body := n.get(b, s.url+"hello")
			return code == 200 && strings.Contains(body, "Hello, "+word+" world!")
		})
	}
	reportUpdates(b, s.out.String())
}

// reportUpdates reports the mean build and update times of dev's
// "Updated X (name) in T (build B, update U)" lines.
func reportUpdates(b *testing.B, out string) {
	var build, update time.Duration
	n := 0
	for line := range strings.Lines(out) {
		_, rest, ok := strings.Cut(line, "(build ")
		if !ok || !strings.HasPrefix(line, "Updated ") {
			continue
		}
		bs, us, _ := strings.Cut(strings.TrimSuffix(strings.TrimSpace(rest), ")"), ", update ")
		bd, err1 := time.ParseDuration(bs)
		ud, err2 := time.ParseDuration(us)
		if err1 == nil && err2 == nil {
			build, update, n = build+bd, update+ud, n+1
		}
	}
	if n > 0 {
		b.ReportMetric(float64(build.Milliseconds())/float64(n), "build-ms/op")
		b.ReportMetric(float64(update.Milliseconds())/float64(n), "update-ms/op")
	}
}
