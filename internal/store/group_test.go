package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// recorder is a commit function that records its groups and, while
// hold is set, blocks each commit until released, so that callers pile
// up behind a commit under way (counted, never timed).
type recorder struct {
	mu      sync.Mutex
	groups  [][]int
	entered chan struct{}
	release chan struct{}
	fail    error
}

func newRecorder() *recorder {
	return &recorder{entered: make(chan struct{}, 100), release: make(chan struct{}, 100)}
}

func (r *recorder) commit(_ context.Context, items []int) error {
	r.entered <- struct{}{}
	<-r.release
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = append(r.groups, append([]int(nil), items...))
	return r.fail
}

// waiting reports how many calls wait in g.
func waiting(g *Group[int]) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// TestGroupSharesCommits: calls made while a commit is under way are
// written together by one commit, each call's items together, and every
// caller gets the answer.
func TestGroupSharesCommits(t *testing.T) {
	r := newRecorder()
	g := NewGroup(r.commit, nil, GroupLimits{MaxItems: 100, MaxBytes: 100})
	var wg sync.WaitGroup
	errs := make([]error, 11)
	wg.Go(func() { errs[0] = g.Do(t.Context(), []int{0}) })
	<-r.entered // the first call is the writer, its commit under way
	for i := 1; i <= 10; i++ {
		wg.Go(func() { errs[i] = g.Do(t.Context(), []int{i * 10, i*10 + 1}) })
	}
	for waiting(g) < 10 {
		// the ten calls queue behind the commit under way
		runtime.Gosched()
	}
	r.release <- struct{}{}
	<-r.entered
	r.release <- struct{}{}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if len(r.groups) != 2 || len(r.groups[0]) != 1 || len(r.groups[1]) != 20 {
		t.Fatalf("commits = %v, want [0] then the ten waiting calls' 20 items in one", r.groups)
	}
	seen := map[int]int{}
	for j, it := range r.groups[1] {
		seen[it] = j
	}
	for i := 1; i <= 10; i++ {
		a, okA := seen[i*10]
		b, okB := seen[i*10+1]
		if !okA || !okB || b != a+1 {
			t.Errorf("call %d's items not stored together in order: %v", i, r.groups[1])
		}
	}
}

// TestGroupLimitsAndFailure: a commit takes whole calls up to the limits;
// a failed commit answers each of its callers with the error and the
// next commit still runs.
func TestGroupLimitsAndFailure(t *testing.T) {
	r := newRecorder()
	g := NewGroup(r.commit, func(int) int { return 10 }, GroupLimits{MaxItems: 5, MaxBytes: 40})
	var wg sync.WaitGroup
	errs := make([]error, 5)
	wg.Go(func() { errs[0] = g.Do(t.Context(), []int{0}) })
	<-r.entered
	for i := 1; i <= 4; i++ {
		wg.Go(func() { errs[i] = g.Do(t.Context(), []int{i, i, i}) })
		for waiting(g) < i {
			runtime.Gosched()
		}
	}
	boom := errors.New("boom")
	r.mu.Lock()
	r.fail = boom
	r.mu.Unlock()
	r.release <- struct{}{} // the first commit fails
	for range 4 {           // each of the others alone: 3 items, 30 bytes
		<-r.entered
		r.mu.Lock()
		r.fail = nil
		r.mu.Unlock()
		r.release <- struct{}{}
	}
	wg.Wait()
	if !errors.Is(errs[0], boom) {
		t.Errorf("call 0 = %v, want its commit's error", errs[0])
	}
	for i := 1; i <= 4; i++ {
		if errs[i] != nil {
			t.Errorf("call %d: %v", i, errs[i])
		}
	}
	if len(r.groups) != 5 {
		t.Fatalf("commits = %v, want 5 (two calls of 3 exceed MaxItems 5 and 40 bytes)", r.groups)
	}
}

// TestGroupCancelledWhileWaiting: a call whose context ends before its
// items were taken is not written and says so; the writer's role still
// passes to the calls behind it.
func TestGroupCancelledWhileWaiting(t *testing.T) {
	r := newRecorder()
	g := NewGroup(r.commit, nil, GroupLimits{MaxItems: 100, MaxBytes: 100})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := g.Do(t.Context(), []int{1}); err != nil {
			t.Errorf("writer: %v", err)
		}
	})
	<-r.entered
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := make(chan error, 1)
	go func() { cancelled <- g.Do(ctx, []int{2}) }()
	for waiting(g) < 1 {
		runtime.Gosched()
	}
	wg.Go(func() {
		if err := g.Do(t.Context(), []int{3}); err != nil {
			t.Errorf("third: %v", err)
		}
	})
	for waiting(g) < 2 {
		runtime.Gosched()
	}
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call = %v, want context.Canceled", err)
	}
	r.release <- struct{}{}
	<-r.entered
	r.release <- struct{}{}
	wg.Wait()
	if fmt.Sprint(r.groups) != "[[1] [3]]" {
		t.Fatalf("commits = %v, want [[1] [3]] (the cancelled call not written)", r.groups)
	}
}

// TestPublishAtomic stores a batch in a stream that allows atomic
// batches and, one by one, in one that does not (an older queue's):
// exactly the messages given, in order, each once.
func TestPublishAtomic(t *testing.T) {
	s := openTest(t)
	js := s.JetStream()
	for _, atomic := range []bool{true, false} {
		name := "ATOMIC_" + strconv.FormatBool(atomic)
		if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: []string{name}, Storage: jetstream.FileStorage, AllowAtomicPublish: atomic}); err != nil {
			t.Fatal(err)
		}
		msgs := make([]*nats.Msg, 20)
		for i := range msgs {
			msgs[i] = &nats.Msg{Subject: name, Data: []byte(strconv.Itoa(i))}
		}
		if err := PublishAtomic(t.Context(), js, msgs); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		str, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := str.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 20 {
			t.Fatalf("%s holds %d messages, want 20", name, info.State.Msgs)
		}
		for i := range 20 {
			m, err := str.GetMsg(t.Context(), uint64(i+1))
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != strconv.Itoa(i) {
				t.Fatalf("%s seq %d = %q, want %d", name, i+1, m.Data, i)
			}
		}
	}
}

// TestPublishMany stores a few messages pipelined and many as an atomic
// batch: each exactly once.
func TestPublishMany(t *testing.T) {
	s := openTest(t)
	js := s.JetStream()
	str, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "MANY", Subjects: []string{"many"}, Storage: jetstream.FileStorage, AllowAtomicPublish: true})
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(0)
	for _, n := range []int{1, 5, AtomicMin - 1, AtomicMin, 100} {
		msgs := make([]*nats.Msg, n)
		for i := range msgs {
			msgs[i] = &nats.Msg{Subject: "many", Data: []byte(strconv.Itoa(i))}
		}
		if err := PublishMany(t.Context(), js, msgs); err != nil {
			t.Fatalf("%d messages: %v", n, err)
		}
		want += uint64(n)
		info, err := str.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != want {
			t.Fatalf("after %d messages the stream holds %d, want %d", n, info.State.Msgs, want)
		}
	}
}

// BenchmarkPublishAtomic is the cost of one commit on this disk: n
// messages stored by one writer as one atomic batch (n=1: a plain
// publish), against a stream with SyncAlways like a queue's. An atomic
// batch of a one-replica file stream is staged in a file store of its own
// (two directory fsyncs and the staged block's) before the stream's one
// fsync, so it pays only for groups of many messages:
//
//	go test -run x -bench BenchmarkPublishAtomic -benchtime 2s ./internal/store
func BenchmarkPublishAtomic(b *testing.B) {
	for _, n := range []int{1, 4, 16, 64} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			s := openTest(b)
			js := s.JetStream()
			if _, err := js.CreateStream(b.Context(), jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench"},
				Storage: jetstream.FileStorage, Retention: jetstream.WorkQueuePolicy, AllowAtomicPublish: true}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				msgs := make([]*nats.Msg, n)
				for i := range msgs {
					msgs[i] = &nats.Msg{Subject: "bench", Data: []byte("payload of a benchmark message")}
				}
				if err := PublishAtomic(b.Context(), js, msgs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
