package lease

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func openTestCounters(t *testing.T, ns *server.Server) *Counters {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCounters(t.Context(), CounterOptions{JetStream: js, Bucket: "test_counts", Keep: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Three nodes take from one count of 500 with eight workers each: the
// takes granted cluster-wide are never more than the limit, and the ones
// lost to unspent blocks are at most a block per node; a larger limit
// (the plan changed) admits again; another key is another count.
func TestCountersNeverExceedTheLimit(t *testing.T) {
	ns := startServer(t)
	const limit = 500
	var granted atomic.Int64
	nodes := []*Counters{openTestCounters(t, ns), openTestCounters(t, ns), openTestCounters(t, ns)}
	var wg sync.WaitGroup
	for _, c := range nodes {
		for range 8 {
			wg.Go(func() {
				for c.Take(t.Context(), "plan.key.2026-12-07", limit) {
					granted.Add(1)
				}
			})
		}
	}
	wg.Wait()
	block := max(1, min(limit/64, maxBlock))
	if g := granted.Load(); g > limit || g < limit-int64(len(nodes)*block) {
		t.Fatalf("granted %d of a limit of %d (blocks of %d on %d nodes)", g, limit, block, len(nodes))
	}
	if used, err := nodes[0].Used(t.Context(), "plan.key.2026-12-07"); err != nil || used != limit {
		t.Fatalf("count %d (%v), want %d", used, err, limit)
	}
	if nodes[1].Take(t.Context(), "plan.key.2026-12-07", limit) {
		t.Fatal("a take past the limit was granted")
	}
	if !nodes[1].Take(t.Context(), "plan.key.2026-12-07", limit+1) {
		t.Fatal("a raised limit does not admit again")
	}
	if !nodes[2].Take(t.Context(), "plan.key.2026-12-08", 1) || nodes[0].Take(t.Context(), "plan.key.2026-12-08", 1) {
		t.Fatal("a limit of 1 on a new key: want exactly one take")
	}
	if nodes[0].Take(t.Context(), "plan.key.x", 0) {
		t.Fatal("a limit of 0 granted a take")
	}
}
