package logstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func open(t *testing.T) (*Store, *Writer) {
	t.Helper()
	st := storetest.Open(t)
	ls, err := Open(t.Context(), st.JetStream(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(ls, WriterOptions{})
	t.Cleanup(w.Close)
	return ls, w
}

func TestWriteScanAndStreams(t *testing.T) {
	ls, w := open(t)
	base := time.UnixMilli(1_700_000_000_000)
	for i := range 10 {
		stream := "2026/11/27/[$LATEST]aaaa"
		if i%2 == 1 {
			stream = "2026/11/27/[$LATEST]bbbb"
		}
		if !w.Log(Line{Group: "/aws/lambda/fn", Stream: stream, Time: base.Add(time.Duration(i) * time.Second), Message: fmt.Sprintf("line %d", i)}) {
			t.Fatal("line dropped")
		}
	}
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	evs, more, err := ls.Scan(t.Context(), Query{Group: "/aws/lambda/fn"})
	if err != nil || more {
		t.Fatalf("scan: %v more=%v", err, more)
	}
	if len(evs) != 10 {
		t.Fatalf("got %d events, want 10", len(evs))
	}
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Message] = true
		if e.IngestionTime == 0 || !strings.Contains(e.Stream, "[$LATEST]") {
			t.Errorf("event %+v lacks ingestion time or stream", e)
		}
	}
	if len(seen) != 10 {
		t.Errorf("messages not distinct: %v", seen)
	}

	// One stream, a time window, a limit and a continuation.
	evs, more, err = ls.Scan(t.Context(), Query{Group: "/aws/lambda/fn", Streams: []string{"2026/11/27/[$LATEST]aaaa"},
		StartTime: base.Add(2 * time.Second).UnixMilli(), Limit: 2})
	if err != nil || !more || len(evs) != 2 || evs[0].Message != "line 2" || evs[1].Message != "line 4" {
		t.Fatalf("window scan = %+v more=%v err=%v", evs, more, err)
	}
	next := evs[1].Pos
	next.Idx++
	evs, _, err = ls.Scan(t.Context(), Query{Group: "/aws/lambda/fn", Streams: []string{"2026/11/27/[$LATEST]aaaa"}, From: &next})
	if err != nil || len(evs) != 2 || evs[0].Message != "line 6" || evs[1].Message != "line 8" {
		t.Fatalf("continued scan = %+v err=%v", evs, err)
	}
	// The last two of a stream.
	evs, more, err = ls.Scan(t.Context(), Query{Group: "/aws/lambda/fn", Streams: []string{"2026/11/27/[$LATEST]bbbb"}, Limit: 2, Last: true})
	if err != nil || !more || len(evs) != 2 || evs[0].Message != "line 7" || evs[1].Message != "line 9" {
		t.Fatalf("last scan = %+v more=%v err=%v", evs, more, err)
	}
	// Match.
	evs, _, _ = ls.Scan(t.Context(), Query{Group: "/aws/lambda/fn", Match: func(m string) bool { return strings.HasSuffix(m, "3") }})
	if len(evs) != 1 || evs[0].Message != "line 3" {
		t.Fatalf("match scan = %+v", evs)
	}

	streams, err := ls.Streams(t.Context(), "/aws/lambda/fn", "")
	if err != nil || len(streams) != 2 {
		t.Fatalf("streams = %+v, %v", streams, err)
	}
	if s := streams[1]; s.Name != "2026/11/27/[$LATEST]bbbb" || s.FirstEventTimestamp != base.Add(time.Second).UnixMilli() ||
		s.LastEventTimestamp != base.Add(9*time.Second).UnixMilli() || s.CreationTime == 0 {
		t.Errorf("stream = %+v", s)
	}
	groups, err := ls.Groups(t.Context(), "/aws/")
	if err != nil || len(groups) != 1 || groups[0].Name != "/aws/lambda/fn" {
		t.Fatalf("groups = %+v, %v", groups, err)
	}
	if g, _ := ls.Groups(t.Context(), "/other"); len(g) != 0 {
		t.Errorf("prefix /other listed %+v", g)
	}
}

func TestGroupLifecycleAndRetention(t *testing.T) {
	ls, w := open(t)
	now := time.Now()
	if err := ls.CreateGroup(t.Context(), "app", now); err != nil {
		t.Fatal(err)
	}
	if err := ls.CreateGroup(t.Context(), "app", now); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	w.Log(Line{Group: "app", Stream: "s", Time: now, Message: "old"})
	w.Log(Line{Group: "keep", Stream: "s", Time: now, Message: "kept"})
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := ls.SetRetention(t.Context(), "app", 1); err != nil {
		t.Fatal(err)
	}
	if err := ls.SetRetention(t.Context(), "missing", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retention on a missing group: %v", err)
	}
	g, err := ls.Group(t.Context(), "app")
	if err != nil || g.RetentionDays != 1 {
		t.Fatalf("group = %+v, %v", g, err)
	}
	// Half a day later nothing expires; two days later "old" does, and
	// the group without a policy keeps its events.
	if err := ls.Sweep(t.Context(), now.Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if evs, _, _ := ls.Scan(t.Context(), Query{Group: "app"}); len(evs) != 1 {
		t.Fatalf("after 12h: %+v", evs)
	}
	if err := ls.Sweep(t.Context(), now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if evs, _, _ := ls.Scan(t.Context(), Query{Group: "app"}); len(evs) != 0 {
		t.Fatalf("after 48h: %+v", evs)
	}
	if evs, _, _ := ls.Scan(t.Context(), Query{Group: "keep"}); len(evs) != 1 {
		t.Fatalf("group without retention lost events: %+v", evs)
	}
	// A new line after the purge is kept.
	w.Log(Line{Group: "app", Stream: "s", Time: time.Now(), Message: "new"})
	_ = w.Flush(t.Context())
	if evs, _, _ := ls.Scan(t.Context(), Query{Group: "app"}); len(evs) != 1 || evs[0].Message != "new" {
		t.Fatalf("after purge and a new line: %+v", evs)
	}

	if err := ls.DeleteGroup(t.Context(), "app"); err != nil {
		t.Fatal(err)
	}
	if err := ls.DeleteGroup(t.Context(), "app"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, _, err := ls.Scan(t.Context(), Query{Group: "app"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("scan of a deleted group: %v", err)
	}
	// Lines written later recreate the group, empty of the old events.
	w.Log(Line{Group: "app", Stream: "s2", Time: time.Now(), Message: "again"})
	_ = w.Flush(t.Context())
	if evs, _, err := ls.Scan(t.Context(), Query{Group: "app"}); err != nil || len(evs) != 1 || evs[0].Message != "again" {
		t.Fatalf("recreated group: %+v, %v", evs, err)
	}
}

func TestWriterDropsInsteadOfBlocking(t *testing.T) {
	// A writer whose loop is not running: the buffer holds one line.
	w := &Writer{ch: make(chan item, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	if !w.Log(Line{Message: "a"}) {
		t.Fatal("first line dropped")
	}
	if w.Log(Line{Message: "b"}) {
		t.Fatal("second line accepted by a full buffer")
	}
	if w.Dropped() != 1 {
		t.Fatalf("Dropped = %d, want 1", w.Dropped())
	}
	// The byte budget bounds the buffer too (lines may be 256 KB each).
	w = &Writer{ch: make(chan item, 10), stop: make(chan struct{}), exited: make(chan struct{}), maxBytes: 10}
	if !w.Log(Line{Message: "12345678"}) || w.Log(Line{Message: "12345678"}) || !w.Log(Line{Message: "12"}) {
		t.Fatal("byte budget not applied")
	}
	if w.Dropped() != 1 {
		t.Fatalf("Dropped = %d, want 1", w.Dropped())
	}
}

func TestWriterCloseStoresBuffered(t *testing.T) {
	st := storetest.Open(t)
	ls, err := Open(t.Context(), st.JetStream(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(ls, WriterOptions{})
	for i := range 100 {
		w.Log(Line{Group: "g", Stream: "s", Time: time.Now(), Message: fmt.Sprint(i)})
	}
	w.Close()
	if w.Log(Line{Group: "g", Stream: "s", Message: "late"}) {
		t.Error("a closed writer accepted a line")
	}
	evs, _, err := ls.Scan(t.Context(), Query{Group: "g"})
	if err != nil || len(evs) != 100 || w.Stored() != 100 {
		t.Fatalf("after close: %d events, stored %d, err %v", len(evs), w.Stored(), err)
	}
	for i, e := range evs {
		if e.Message != fmt.Sprint(i) {
			t.Fatalf("event %d = %q: order lost", i, e.Message)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch(nil, []rawEvent{{1, "a"}, {2, "hello"}}))
	f.Add([]byte{1, 0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := decodeBatch(b)
		if err != nil {
			return
		}
		again, err := decodeBatch(encodeBatch(nil, evs))
		if err != nil || len(again) != len(evs) {
			t.Fatalf("round trip of %q failed: %v", b, err)
		}
	})
}
