package esm

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/lease"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// realQueues is the real SQS service as a poller sees it.
type realQueues struct{ s *sqs.Service }

func (q realQueues) IsFIFO(ctx context.Context, a, n string) (bool, error) {
	return q.s.IsFIFO(ctx, a, n)
}
func (q realQueues) Delete(ctx context.Context, a, n, h string) error {
	return q.s.Delete(ctx, a, n, h)
}
func (q realQueues) Receive(ctx context.Context, a, n string, max int, wait time.Duration) ([]Message, error) {
	got, err := q.s.Receive(ctx, a, n, sqs.ReceiveInput{Max: max, Wait: wait})
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(got))
	for i, m := range got {
		out[i] = Message{MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body, MD5OfBody: m.MD5OfBody}
	}
	return out, nil
}

func (q realQueues) Depth(ctx context.Context, a, n string) (int, error) {
	attrs, err := q.s.Attributes(ctx, a, n, []string{"ApproximateNumberOfMessages"})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(attrs["ApproximateNumberOfMessages"])
}

// gauge counts handlers running at once; each holds its batch until
// released.
type gauge struct {
	mu       sync.Mutex
	now, top int
	held     chan struct{} // closed to release the batches held now; guarded by mu
	changed  chan struct{}
	release  chan struct{}
}

func newGauge() *gauge {
	return &gauge{changed: make(chan struct{}, 10000), release: make(chan struct{}), held: make(chan struct{})}
}

// releaseHeld lets the batches held now finish.
func (g *gauge) releaseHeld() {
	g.mu.Lock()
	close(g.held)
	g.held = make(chan struct{})
	g.mu.Unlock()
}

// waitHandled waits until src has handled n batches since its last look
// (a hang guard, not a timing check).
func waitHandled(t *testing.T, g *gauge, src *QueueSource, n int64) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for src.handled.Load() < n {
		select {
		case <-g.changed:
		case <-timeout:
			t.Fatalf("%d batches handled, want %d", src.handled.Load(), n)
		}
	}
}

func (g *gauge) handle(ctx context.Context, _ []json.RawMessage) ([]string, error) {
	g.mu.Lock()
	g.now++
	g.top = max(g.top, g.now)
	held := g.held
	g.mu.Unlock()
	g.changed <- struct{}{}
	select {
	case <-g.release:
	case <-held:
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.now--
	g.mu.Unlock()
	g.changed <- struct{}{}
	return nil, nil
}

func (g *gauge) counts() (now, top int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.now, g.top
}

// waitRunning waits until n handlers run at once (a hang guard, not a
// timing check).
func (g *gauge) waitRunning(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		if now, _ := g.counts(); now >= n {
			return
		}
		select {
		case <-g.changed:
		case <-timeout:
			now, _ := g.counts()
			t.Fatalf("%d batches in flight, want %d", now, n)
		}
	}
}

func newQueue(t *testing.T, msgs int) (realQueues, string) {
	t.Helper()
	st := storetest.Open(t)
	ctx := t.Context()
	q, err := sqs.New(ctx, sqs.Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.CreateQueue(ctx, "000000000000", "work", map[string]string{"VisibilityTimeout": "300"}, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < msgs; i += 10 {
		var batch []*sqs.SendInput
		for j := range 10 {
			batch = append(batch, &sqs.SendInput{Body: fmt.Sprint(i + j)})
		}
		if _, _, err := q.Send(ctx, "000000000000", "work", batch); err != nil {
			t.Fatal(err)
		}
	}
	return realQueues{q}, "arn:aws:sqs:us-east-1:000000000000:work"
}

// TestPollersGrowWithTheBacklog: a mapping starts with five batches at
// once; while messages wait, each scaling look adds workers, up to the
// ceiling and never past it; an empty queue brings them down to two.
func TestPollersGrowWithTheBacklog(t *testing.T) {
	qs, arn := newQueue(t, 200)
	g := newGauge()
	tick := make(chan time.Time)
	src := &QueueSource{Queues: qs, Arn: arn, Region: "us-east-1", BatchSize: 1, Concurrency: 5, MaxConcurrency: 17,
		Depth: func(ctx context.Context) (int, error) { return qs.Depth(ctx, "000000000000", "work") }, Tick: tick}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx, g.handle) }()
	defer func() { cancel(); <-done }()

	g.waitRunning(t, 5)
	if now, top := g.counts(); now != 5 || top != 5 || src.Running() != 5 {
		t.Fatalf("before any scaling look: %d batches in flight (most %d), %d workers; want the starting 5", now, top, src.Running())
	}
	// Before each look every held batch is done (more handled than in
	// the look before): 5 -> 10 -> 15 -> 17.
	for i, n := range []int{10, 15, 17} {
		g.releaseHeld()
		waitHandled(t, g, src, int64(5+5*i))
		tick <- time.Now()
		g.waitRunning(t, n)
	}
	if _, top := g.counts(); top != 17 || src.Running() != 17 {
		t.Errorf("with a backlog: most %d batches at once, %d workers; want the ceiling 17", top, src.Running())
	}

	// Drain: every held batch goes, the rest flow through.
	close(g.release)
	for {
		n, err := qs.Depth(t.Context(), "000000000000", "work")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatal("the queue did not drain")
		}
	}
	for range 4 { // 17 -> 12 -> 7 -> 2 -> 2; the last send waits for the look before it
		tick <- time.Now()
	}
	if n := src.pool.wanted(); n != 2 {
		t.Errorf("with the queue empty: %d workers wanted, want AWS's 2", n)
	}
	if _, top := g.counts(); top > 17 {
		t.Errorf("most batches at once %d, past the ceiling 17", top)
	}
}

// TestConcurrencyIsTheMappingsAcrossNodes: two nodes' sources of one
// mapping share its ceiling through the claims record: together they
// never run more batches than MaximumConcurrency; when one node stops,
// the other grows into its share.
func TestConcurrencyIsTheMappingsAcrossNodes(t *testing.T) {
	qs, arn := newQueue(t, 100)
	st := storetest.Open(t)
	buckets := map[string]*lease.ShareBucket{}
	for _, name := range []string{"a", "b"} {
		b, err := openSlots(t.Context(), st.JetStream(), name)
		if err != nil {
			t.Fatal(err)
		}
		buckets[name] = b
	}
	g := newGauge()
	const ceil = 8
	type node struct {
		src    *QueueSource
		tick   chan time.Time
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(name string) *node {
		n := &node{tick: make(chan time.Time), done: make(chan struct{})}
		n.src = &QueueSource{Queues: qs, Arn: arn, BatchSize: 1, Concurrency: 5, MaxConcurrency: ceil,
			Depth: func(ctx context.Context) (int, error) { return qs.Depth(ctx, "000000000000", "work") },
			Slots: buckets[name].Share("mapping-1", ceil), Tick: n.tick}
		var ctx context.Context
		ctx, n.cancel = context.WithCancel(t.Context())
		go func() { defer close(n.done); n.src.Run(ctx, g.handle) }()
		return n
	}
	a := start("a")
	g.waitRunning(t, 5)
	b := start("b")
	g.waitRunning(t, ceil)
	for range 4 { // the last sends wait for the looks before them
		a.tick <- time.Now()
		b.tick <- time.Now()
	}
	if _, top := g.counts(); top != ceil || a.src.Running()+b.src.Running() != ceil {
		t.Fatalf("two nodes with a backlog: most %d batches at once, %d+%d workers; want %d in all",
			top, a.src.Running(), b.src.Running(), ceil)
	}
	// Node a stops (its batches are released first); b takes its share.
	stopped := make(chan struct{})
	go func() { a.cancel(); <-a.done; close(stopped) }()
	<-stopped
	g.releaseHeld() // b's batches finish: growing pays
	waitHandled(t, g, b.src, int64(b.src.Running()))
	b.tick <- time.Now()
	g.waitRunning(t, ceil)
	if _, top := g.counts(); top > ceil {
		t.Errorf("most %d batches at once, past MaximumConcurrency %d", top, ceil)
	}
	if n := b.src.Running(); n != ceil {
		t.Errorf("after node a stopped, node b runs %d workers; want all %d", n, ceil)
	}
	close(g.release)
	b.cancel()
	<-b.done
}

// waitWorkers waits until src runs n workers (a hang guard, not a timing
// check: workers past the wanted number stop after their batch).
func waitWorkers(t *testing.T, src *QueueSource, n int) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for src.Running() != n {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-timeout:
			t.Fatalf("%d workers, want %d", src.Running(), n)
		}
	}
}

// waitWanted waits until the scaling look under way set src's wanted
// workers to n (a hang guard: the tick's send returns before the look
// has run).
func waitWanted(t *testing.T, src *QueueSource, n int) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for src.pool.wanted() != n {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-timeout:
			t.Fatalf("%d workers wanted, want %d", src.pool.wanted(), n)
		}
	}
}

// TestPollersFollowReservedConcurrencyAndQuiet: a running mapping's
// ceiling follows the function's reserved concurrency (read at every
// look, no restart): lowered, the workers past it stop after their batch
// and no more batches run at once; removed, the workers grow again. A
// quiet queue brings the pollers down to two, and the first look that
// finds messages again brings back five.
func TestPollersFollowReservedConcurrencyAndQuiet(t *testing.T) {
	qs, arn := newQueue(t, 300)
	g := newGauge()
	tick := make(chan time.Time)
	var reserved, depthOverride atomic.Int64
	reserved.Store(17)
	depthOverride.Store(-1)
	src := &QueueSource{Queues: qs, Arn: arn, Region: "us-east-1", BatchSize: 1, Concurrency: 5, MaxConcurrency: 17,
		Ceiling: func() int { return int(reserved.Load()) },
		Depth: func(ctx context.Context) (int, error) {
			if d := depthOverride.Load(); d >= 0 {
				return int(d), nil
			}
			return qs.Depth(ctx, "000000000000", "work")
		}, Tick: tick}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx, g.handle) }()
	defer func() { close(g.release); cancel(); <-done }()
	g.waitRunning(t, 5)

	// PutFunctionConcurrency 3: the next look lowers the ceiling.
	reserved.Store(3)
	tick <- time.Now()
	waitWanted(t, src, 3)
	g.releaseHeld() // the five batches finish; workers 3 and 4 stop
	waitWorkers(t, src, 3)
	g.waitRunning(t, 3)
	if now, _ := g.counts(); now != 3 {
		t.Fatalf("after reserved concurrency 3: %d batches at once, want 3", now)
	}

	// DeleteFunctionConcurrency: the ceiling is the mapping's again: back
	// to five at the next look, and growing past with a backlog.
	reserved.Store(17)
	g.releaseHeld()
	waitHandled(t, g, src, 3)
	tick <- time.Now()
	g.waitRunning(t, 5)
	// Growing must pay: more batches handled before the next look than
	// before this one (at most 8).
	g.releaseHeld()
	waitHandled(t, g, src, 5)
	g.waitRunning(t, 5)
	g.releaseHeld()
	waitHandled(t, g, src, 10)
	tick <- time.Now()
	g.waitRunning(t, 10)
	if n := src.Running(); n != 10 {
		t.Fatalf("after the reserved concurrency was removed: %d workers, want 10", n)
	}

	// A quiet queue: 10 -> 5 -> 2.
	depthOverride.Store(0)
	tick <- time.Now()
	waitWanted(t, src, 5)
	tick <- time.Now()
	waitWanted(t, src, 2)
	g.releaseHeld()
	waitWorkers(t, src, 2)

	// Messages again: five at once.
	depthOverride.Store(-1)
	tick <- time.Now()
	g.waitRunning(t, 5)
	if n := src.Running(); n != 5 {
		t.Fatalf("when messages came back: %d workers, want 5", n)
	}
}
