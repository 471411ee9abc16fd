package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// crashChildEnv makes the test binary run crashChild instead of the tests
// (see TestMain): the child writes to a store until the parent SIGKILLs it.
const crashChildEnv = "NIMBUS_STORE_CRASH_CHILD_DIR"

// crashCode is the code package the child stores first.
var crashCode = bytes.Repeat([]byte("crash code "), 50_000) // ~550 KB, one chunk

func crashValue(key string) []byte { return []byte(strings.Repeat(key+";", 20)) }

// crashChild opens the store in dir, stores crashCode, then creates keys
// without end. After each acknowledged write it reports it on fd 3 (a
// pipe to the parent): "code" or the key. It returns only on error.
func crashChild(dir string) int {
	acks := os.NewFile(3, "acks")
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		return fail(err)
	}
	if err := s.PutCode(ctx, codeKey(crashCode), crashCode); err != nil {
		return fail(err)
	}
	if _, err := fmt.Fprintln(acks, "code"); err != nil {
		return fail(err)
	}
	for i := 0; ; i++ {
		key := fmt.Sprintf("crash.k%06d", i)
		if _, err := s.Create(ctx, key, crashValue(key)); err != nil {
			return fail(err)
		}
		if _, err := fmt.Fprintln(acks, key); err != nil {
			return fail(err)
		}
	}
}

// TestSIGKILLKeepsAcknowledgedWrites runs the test binary as a child that
// writes until it is SIGKILLed, then reopens its store and checks that
// every write the child saw acknowledged is there. The pipe tells the
// parent what was acknowledged; nothing waits for time.
func TestSIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const killAfter = 100 // acknowledged keys before the kill

	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$") //nolint:gosec // re-executes this test binary
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = w.Close() // the child holds the only write end: EOF when it dies

	var acked []string
	sc := bufio.NewScanner(r)
	killed := false
	for sc.Scan() {
		acked = append(acked, sc.Text())
		if !killed && len(acked) == 1+killAfter {
			// The child keeps writing while the signal is on its way; any
			// ack it reports before dying is read below and checked too.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	waitErr := cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acks before being killed: %v\nstderr:\n%s", len(acked), waitErr, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !ws.Signaled() {
		t.Fatalf("child was not killed by a signal: %v\nstderr:\n%s", waitErr, stderr.String())
	}
	if acked[0] != "code" {
		t.Fatalf("first ack = %q, want code", acked[0])
	}

	s := openDir(t, dir)
	ctx := t.Context()
	for _, key := range acked[1:] {
		e, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("acknowledged key %s lost after SIGKILL: %v", key, err)
		}
		if !bytes.Equal(e.Value, crashValue(key)) {
			t.Fatalf("key %s has value %q after SIGKILL", key, e.Value)
		}
	}
	got, err := s.GetCode(ctx, codeKey(crashCode))
	if err != nil || !bytes.Equal(got, crashCode) {
		t.Fatalf("acknowledged code package after SIGKILL: %d bytes, %v", len(got), err)
	}
	keys, err := s.Keys(ctx, "crash.")
	if err != nil {
		t.Fatal(err)
	}
	// Writes in flight at the kill may or may not have landed.
	if len(keys) < len(acked)-1 {
		t.Fatalf("Keys lists %d keys, %d were acknowledged", len(keys), len(acked)-1)
	}
	t.Logf("%d writes acknowledged before the kill landed; %d keys stored", len(acked)-1, len(keys))
}
