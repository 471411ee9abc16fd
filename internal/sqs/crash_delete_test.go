package sqs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/crashtest"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// deleteChildMark, a file in the child's directory, makes crashChild run
// deleteChild.
const deleteChildMark = "deletes"

// Sizes of the delete test: messages sent, then deleted one batch after
// another before the child waits for the trimmer's purge.
const (
	crashDeleteSent   = 1000
	crashDeleteBefore = 200
)

// deleteChild sends crashDeleteSent messages (reporting "s <body>"),
// deletes the first crashDeleteBefore in order from one receiver
// ("d1 <body>"), waits until the trimmer purged them from the stream
// ("purged"), then receives and deletes from eight receivers ("d <body>"
// per delete answered) until it is killed.
func deleteChild(dir string) int {
	r := crashtest.Report()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		return fail(err)
	}
	s, err := New(ctx, Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		return fail(err)
	}
	q, err := s.CreateQueue(ctx, testAccount, "drain", map[string]string{"VisibilityTimeout": "5"}, nil)
	if err != nil {
		return fail(err)
	}
	for i := 0; i < crashDeleteSent; i += 10 {
		in := make([]*SendInput, 10)
		for j := range in {
			in[j] = &SendInput{Body: fmt.Sprintf("m%04d", i+j)}
		}
		_, errs, err := s.Send(ctx, testAccount, "drain", in)
		if err != nil {
			return fail(err)
		}
		for j, e := range errs {
			if e != nil {
				return fail(e)
			}
			r.Line("s " + in[j].Body)
		}
	}
	for deleted := 0; deleted < crashDeleteBefore; {
		msgs, err := s.Receive(ctx, testAccount, "drain", ReceiveInput{Max: 10, Wait: time.Second})
		if err != nil {
			return fail(err)
		}
		for _, m := range msgs {
			if err := s.Delete(ctx, testAccount, "drain", m.ReceiptHandle); err != nil {
				return fail(err)
			}
			r.Line("d1 " + m.Body)
			deleted++
		}
	}
	strm, err := s.stream(ctx, q)
	if err != nil {
		return fail(err)
	}
	for {
		info, err := strm.Info(ctx)
		if err != nil {
			return fail(err)
		}
		if info.State.Msgs <= crashDeleteSent-crashDeleteBefore {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling the trimmer's effect, not synchronising with it
	}
	r.Line("purged")
	return crashtest.Flood(r, 8, func(_, _ int) ([]string, error) {
		msgs, err := s.Receive(ctx, testAccount, "drain", ReceiveInput{Max: 10, Wait: time.Second})
		if err != nil {
			return nil, err
		}
		var lines []string
		for _, m := range msgs {
			if err := s.Delete(ctx, testAccount, "drain", m.ReceiptHandle); err != nil {
				return lines, err
			}
			lines = append(lines, "d "+m.Body)
		}
		return lines, nil
	})
}

// TestSIGKILLKeepsDeletesAndSends: a queue drained by receivers is
// killed with SIGKILL mid-drain. After the restart every message sent
// and not deleted is delivered (the trimmer never purges an unacknowledged
// message), no message deleted before the trimmer's purge comes back, and
// messages deleted in the last moments may come back once (SQS's
// at-least-once allowance; docs/design/queues.md, "Deletes").
func TestSIGKILLKeepsDeletesAndSends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, deleteChildMark), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sent, early, late := map[string]bool{}, map[string]bool{}, map[string]bool{}
	purged, after := false, 0
	crashtest.Kill(t, crashChildEnv, dir, func(line string) bool {
		kind, body, _ := strings.Cut(line, " ")
		switch kind {
		case "s":
			sent[body] = true
		case "d1":
			early[body] = true
		case "d":
			late[body] = true
			after++
		case "purged":
			purged = true
		}
		return purged && after >= 100
	})
	st := storetest.OpenDir(t, dir)
	s, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	got := map[string]bool{}
	for {
		msgs, err := s.Receive(t.Context(), testAccount, "drain", ReceiveInput{Max: 10, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got[m.Body] = true
			if err := s.Delete(t.Context(), testAccount, "drain", m.ReceiptHandle); err != nil {
				t.Fatal(err)
			}
		}
		if len(msgs) > 0 {
			continue
		}
		// Empty: done once nothing is in flight either (messages received
		// before the kill come back after their visibility timeout).
		a, err := s.Attributes(t.Context(), testAccount, "drain", []string{"All"})
		if err != nil {
			t.Fatal(err)
		}
		if a["ApproximateNumberOfMessages"] == "0" && a["ApproximateNumberOfMessagesNotVisible"] == "0" {
			break
		}
	}
	keep := map[string]bool{}
	for b := range sent {
		if !early[b] && !late[b] {
			keep[b] = true
		}
	}
	if lost := crashtest.Missing(keep, got); len(lost) > 0 {
		t.Fatalf("%d sent and undeleted messages lost after kill -9, first %q", len(lost), lost[0])
	}
	for b := range early {
		if got[b] {
			t.Fatalf("message %s, deleted and purged before the kill, delivered again", b)
		}
	}
	back := 0
	for b := range late {
		if got[b] {
			back++
		}
	}
	t.Logf("%d sent, %d deleted and purged, %d deleted during the drain (%d of them delivered again after the restart), %d delivered after it",
		len(sent), len(early), len(late), back, len(got))
}
