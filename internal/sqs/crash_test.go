package sqs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/crashtest"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// crashChildEnv makes the test binary run crashChild (see TestMain).
const crashChildEnv = "NIMBUS_SQS_CRASH_CHILD_DIR"

func TestMain(m *testing.M) { crashtest.Main(m, crashChildEnv, crashChild) }

// crashChild sends to queue "crash" from eight senders (single sends,
// which the intake packs together, and batches of 10, so group commit
// runs, and groups of 32 messages or more are atomic batches) until it
// is killed, reporting every body whose send was answered on fd 3.
func crashChild(dir string) int {
	if _, err := os.Stat(filepath.Join(dir, deleteChildMark)); err == nil {
		return deleteChild(dir)
	}
	acks := crashtest.Report()
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
	return crashtest.Flood(acks, 8, func(g, i int) ([]string, error) {
		n := 1 + (i%2)*9 // alternately 1 and 10 messages
		in := make([]*SendInput, n)
		for j := range in {
			in[j] = &SendInput{Body: fmt.Sprintf("g%d-%d-%d", g, i, j)}
		}
		_, errs, err := s.Send(ctx, testAccount, "crash", in)
		var answered []string
		for j, e := range errs {
			if e == nil {
				answered = append(answered, in[j].Body)
			}
		}
		return answered, err
	})
}

// TestSIGKILLKeepsAnsweredSends: every send answered before a kill -9 is
// delivered after the restart.
func TestSIGKILLKeepsAnsweredSends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	acked := crashtest.KillAfter(t, crashChildEnv, dir, 300)
	st := storetest.OpenDir(t, dir)
	left := uint64(0) // packs of single sends stored but not moved at the kill
	if intake, err := st.JetStream().Stream(t.Context(), intakeStream); err == nil {
		if info, err := intake.Info(t.Context()); err == nil {
			left = info.State.Msgs
		}
	}
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
	if lost := crashtest.Missing(acked, got); len(lost) > 0 {
		t.Fatalf("%d answered sends lost after kill -9, first %q (%d answered, %d delivered)", len(lost), lost[0], len(acked), len(got))
	}
	t.Logf("%d sends answered before the kill, %d messages delivered after the restart (%d intake packs moved at the start)", len(acked), len(got), left)
}
