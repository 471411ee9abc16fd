package events

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/crashtest"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// crashChildEnv makes the test binary run crashChild (see TestMain).
const crashChildEnv = "NIMBUS_EVENTS_CRASH_CHILD_DIR"

func TestMain(m *testing.M) { crashtest.Main(m, crashChildEnv, crashChild) }

// crashChild puts events from eight goroutines (so that calls share
// group commits) until it is killed, reporting each accepted event's
// detail on fd 3. It does not route: every put message stays stored.
func crashChild(dir string) int {
	acks := crashtest.Report()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := New(ctx, Options{JetStream: st.JetStream(), Functions: functions{}, Async: newRecorder(), Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return crashtest.Flood(acks, 8, func(g, i int) ([]string, error) {
		n := "g" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
		if err := s.PutEvent(ctx, DefaultBus, "crash.test", "Crash", `{"n":"`+n+`"}`, nil); err != nil {
			return nil, err
		}
		return []string{n}, nil
	})
}

// TestSIGKILLKeepsAcceptedEvents: every event PutEvent accepted before a
// kill -9 is in a stored put message after the restart (the router
// delivers what is stored at least once).
func TestSIGKILLKeepsAcceptedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	acked := crashtest.KillAfter(t, crashChildEnv, dir, 300)
	st := storetest.OpenDir(t, dir)
	str, err := st.JetStream().Stream(t.Context(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	puts := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := str.GetMsg(t.Context(), seq)
		if err != nil {
			continue // a gap
		}
		if m.Subject != subjectPut {
			continue
		}
		puts++
		var p putMsg
		if err := json.Unmarshal(m.Data, &p); err != nil {
			t.Fatalf("put message %d: %v", seq, err)
		}
		for _, e := range p.Events {
			var env struct{ Detail struct{ N string } }
			if err := json.Unmarshal(e.Event, &env); err != nil {
				t.Fatalf("event in put message %d: %v", seq, err)
			}
			got[env.Detail.N] = true
		}
	}
	if lost := crashtest.Missing(acked, got); len(lost) > 0 {
		t.Fatalf("%d accepted events lost after kill -9, first %q (%d accepted, %d stored)", len(lost), lost[0], len(acked), len(got))
	}
	if puts >= len(got) {
		t.Logf("no put message held more than one event: group commit did not run")
	}
	t.Logf("%d events accepted before the kill, %d stored in %d put messages after the restart", len(acked), len(got), puts)
}
