package lease

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func openTestShares(t *testing.T, ns *server.Server, node string, ttl time.Duration, now func() time.Time) *ShareBucket {
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
	b, err := OpenShares(t.Context(), ShareOptions{JetStream: js, Bucket: "test_shares", Node: node, TTL: ttl,
		MaxHold: time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTokensNeverExceedTheCeiling: three nodes' admissions under one
// ceiling of 10, each node hammered by 10 workers while renewals shrink
// and move shares: the tokens out at once, cluster-wide, never exceed
// 10, and every node gets some (fairness moves shares to the starved).
func TestTokensNeverExceedTheCeiling(t *testing.T) {
	ns := startServer(t)
	const ceiling, perNode = 10, 10
	var running, top atomic.Int64
	admitted := make([]atomic.Int64, 3)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var renewers sync.WaitGroup
	for i, name := range []string{"a", "b", "c"} {
		tk := NewTokens(openTestShares(t, ns, name, 600*time.Millisecond, nil), nil)
		renewers.Go(func() { tk.Run(ctx) })
		for range perNode {
			wg.Go(func() {
				for ctx.Err() == nil {
					if !tk.TryTake("fn", ceiling, time.Second) && !tk.Take(ctx, "fn", ceiling, time.Second) {
						continue
					}
					n := running.Add(1)
					for {
						m := top.Load()
						if n <= m || top.CompareAndSwap(m, n) {
							break
						}
					}
					admitted[i].Add(1)
					time.Sleep(time.Millisecond) // hold the token a while: simultaneity is the point
					running.Add(-1)
					tk.Put("fn")
				}
			})
		}
	}
	// Run until every node has been admitted a fair number of times
	// (renewals every 200 ms move shares to starved nodes).
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if admitted[0].Load() > 50 && admitted[1].Load() > 50 && admitted[2].Load() > 50 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	renewers.Wait()
	t.Logf("admitted per node %d/%d/%d, most at once %d", admitted[0].Load(), admitted[1].Load(), admitted[2].Load(), top.Load())
	if top.Load() > ceiling {
		t.Fatalf("%d tokens out at once, past the ceiling %d", top.Load(), ceiling)
	}
	for i := range admitted {
		if admitted[i].Load() <= 50 {
			t.Errorf("node %d was admitted %d times in a minute: starved", i, admitted[i].Load())
		}
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestTokensOfASilentNodeStayCounted: a node that stops renewing (dead,
// or cut off) stops admitting before its claim lapses, and the others
// count its share until the claim's hold (how long what it admitted may
// still run) has passed too; then they may use it.
func TestTokensOfASilentNodeStayCounted(t *testing.T) {
	ns := startServer(t)
	clk := &fakeClock{t: time.Now()}
	const ttl, hold = 6 * time.Second, 20 * time.Second
	a := NewTokens(openTestShares(t, ns, "a", ttl, clk.now), nil)
	b := NewTokens(openTestShares(t, ns, "b", ttl, clk.now), nil)
	ctx := t.Context()
	for i := range 4 {
		if !a.TryTake("fn", 4, hold) && !a.Take(ctx, "fn", 4, hold) {
			t.Fatalf("a's take %d refused under the ceiling", i)
		}
	}
	if b.Take(ctx, "fn", 4, hold) {
		t.Fatal("b took a token while a holds the whole ceiling")
	}
	a.Put("fn") // one ends; a never renews again (it died, or lost the backbone)
	clk.add(ttl - ttl/5)
	if a.TryTake("fn", 4, hold) {
		t.Fatal("a admitted past its claim's validity")
	}
	clk.add(ttl / 5)
	if b.Take(ctx, "fn", 4, hold) {
		t.Fatal("b took a's share while what a admitted may still run")
	}
	clk.add(hold + ttl + time.Second) // the claim's hold is the function's plus a TTL
	if !b.Take(ctx, "fn", 4, hold) {
		t.Fatal("b cannot take a's share after its claim and hold lapsed")
	}
}

// TestShareClaimIsTheCeilingsRemainder: Claim (the event source mappings'
// Slots) grants what the others' claims leave, with no fairness cap.
func TestShareClaimIsTheCeilingsRemainder(t *testing.T) {
	ns := startServer(t)
	a := openTestShares(t, ns, "a", time.Minute, nil).Share("m", 8)
	b := openTestShares(t, ns, "b", time.Minute, nil).Share("m", 8)
	ctx := t.Context()
	if g, err := a.Claim(ctx, 6); err != nil || g != 6 {
		t.Fatalf("a claims 6: %d %v", g, err)
	}
	if g, err := b.Claim(ctx, 6); err != nil || g != 2 {
		t.Fatalf("b claims 6 beside a's 6 of 8: %d %v, want 2", g, err)
	}
	if g, err := a.Claim(ctx, 8); err != nil || g != 6 {
		t.Fatalf("a claims 8 while b holds 2: %d %v, want 6 (no fairness cap for Claim)", g, err)
	}
	a.Release(ctx)
	if g, err := b.Claim(ctx, 8); err != nil || g != 8 {
		t.Fatalf("b claims 8 after a released: %d %v", g, err)
	}
}
