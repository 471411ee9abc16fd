package sqs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// crashChildEnv makes the test binary run crashChild (see TestMain).
const crashChildEnv = "NIMBUS_SQS_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// crashChild sends to queue "crash" from four senders (single sends and
// batches, so group commit runs) until it is killed, reporting every
// body whose send was answered on fd 3.
func crashChild(dir string) int {
	acks := os.NewFile(3, "acks")
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := New(ctx, Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err == nil {
		_, err = s.CreateQueue(ctx, testAccount, "crash", nil, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				n := 1 + (i%2)*9 // alternately 1 and 10 messages
				in := make([]*SendInput, n)
				for j := range in {
					in[j] = &SendInput{Body: fmt.Sprintf("g%d-%d-%d", g, i, j)}
				}
				_, errs, err := s.Send(ctx, testAccount, "crash", in)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				mu.Lock()
				for j, e := range errs {
					if e == nil {
						fmt.Fprintln(acks, in[j].Body)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return 2
}

// TestSIGKILLKeepsAnsweredSends: every send answered before a kill -9 is
// delivered after the restart.
func TestSIGKILLKeepsAnsweredSends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$") //nolint:gosec // re-executes this test binary
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	acked := map[string]bool{}
	sc := bufio.NewScanner(r)
	killed := false
	for sc.Scan() {
		acked[sc.Text()] = true
		if !killed && len(acked) >= 300 {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acks: %s", len(acked), stderr.String())
	}
	st := storetest.OpenDir(t, dir)
	s, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for {
		msgs, err := s.Receive(t.Context(), testAccount, "crash", ReceiveInput{Max: 10, Wait: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			got[m.Body] = true
		}
	}
	for b := range acked {
		if !got[b] {
			t.Fatalf("answered send %q lost after kill -9 (%d answered, %d delivered)", b, len(acked), len(got))
		}
	}
	t.Logf("%d sends answered before the kill, %d messages delivered after the restart", len(acked), len(got))
}
