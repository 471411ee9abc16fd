package cli

import (
	"bytes"
	"context"
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

// devSession is `nimbus dev` running in process in a copy of the Python
// REST API example.
type devSession struct {
	dir   string // the copy
	items string // the local URL of /items/
	out   *lockedBuffer
	stop  func() int
}

func startDev(tb testing.TB, n *testNode, stack string) *devSession {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "app")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", "sam-rest-api-python"))); err != nil {
		tb.Fatal(err)
	}
	_ = os.RemoveAll(filepath.Join(dir, ".nimbus"))
	tb.Chdir(dir)
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- Main(ctx, []string{"dev", "--stack-name", stack, "--data-dir", n.dataDir}, out, out) }()
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
		return strings.Contains(out.String(), "Watching 1 function(s) of stack "+stack)
	})
	s.items = localURLs(out.String())["ItemsApiUrl"]
	if s.items == "" {
		tb.Fatalf("dev printed no ItemsApiUrl:\n%s", out)
	}
	return s
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
	j := strings.Index(src[i:], "{item_id}")
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
	s := startDev(t, n, "dev-python")
	if code, body := n.get(t, s.items+"7"); code != 200 || !strings.Contains(body, `"item 7"`) {
		t.Fatalf("before the edit: %d %s", code, body)
	}
	before := strings.Count(s.out.String(), "UPDATE_COMPLETE")
	s.edit(t, "edited")
	waitFor(t, 2*time.Minute, "the edited handler to be served", func() bool {
		code, body := n.get(t, s.items+"7")
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
	s := startDev(b, n, "dev-bench")
	i := 0
	for b.Loop() {
		i++
		word := fmt.Sprintf("v%d", i)
		s.edit(b, word)
		waitFor(b, 2*time.Minute, "the edited handler to be served", func() bool {
			code, body := n.get(b, s.items+"1")
			return code == 200 && strings.Contains(body, `"`+word+` 1"`)
		})
	}
}
