package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func startServer(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		JetStream: true, StoreDir: t.TempDir(), DontListen: true, NoSigs: true, SyncAlways: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// contender is one node taking part in a lease over its own connection.
type contender struct {
	name string
	nc   *nats.Conn
	l    *Leases
}

func newContender(t *testing.T, ns *server.Server, name string, ttl time.Duration) *contender {
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
	l, err := Open(t.Context(), Options{JetStream: js, Bucket: "test_leases", TTL: ttl, Holder: name})
	if err != nil {
		t.Fatal(err)
	}
	return &contender{name: name, nc: nc, l: l}
}

// ledger records every holder's start and stop in order, and fails on two
// holders at once.
type ledger struct {
	mu      sync.Mutex
	active  string   // guarded by mu
	events  []string // guarded by mu
	tokens  []uint64 // guarded by mu: tokens in acquisition order
	causes  map[string]error
	overlap []string
	started chan string
}

func (g *ledger) work(who string) func(ctx context.Context, token uint64) error {
	return func(ctx context.Context, token uint64) error {
		g.mu.Lock()
		if g.active != "" {
			g.overlap = append(g.overlap, fmt.Sprintf("%s started while %s held the lease", who, g.active))
		}
		g.active = who
		g.events = append(g.events, "start "+who)
		g.tokens = append(g.tokens, token)
		g.mu.Unlock()
		g.started <- who
		<-ctx.Done()
		g.mu.Lock()
		g.active = ""
		g.events = append(g.events, "stop "+who)
		g.causes[who] = context.Cause(ctx)
		g.mu.Unlock()
		return nil
	}
}

// TestLeaseTakeoverAfterHolderDies: three contenders; the holder's
// connection dies (it can neither renew nor release, as in kill -9);
// another contender takes over, never while the first still runs, with a
// larger fencing token, and the first saw ErrLost.
func TestLeaseTakeoverAfterHolderDies(t *testing.T) {
	ns := startServer(t)
	const ttl = 1500 * time.Millisecond
	g := &ledger{causes: map[string]error{}, started: make(chan string, 10)}
	cs := map[string]*contender{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); wg.Wait() }()
	for _, n := range []string{"a", "b", "c"} {
		c := newContender(t, ns, n, ttl)
		cs[n] = c
		wg.Go(func() { _ = c.l.Run(ctx, "coordinator", g.work(n)) })
	}
	first := waitStart(t, g)
	info, ok, err := cs["a"].l.Current(ctx, "coordinator")
	if err != nil || !ok || info.Holder != first {
		t.Fatalf("Current = %+v, %v, %v; want holder %s", info, ok, err, first)
	}
	cs[first].nc.Close() // the holder "dies": no renewals, no release
	second := waitStart(t, g)
	if second == first {
		t.Fatalf("the dead holder %s acquired again", first)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.overlap) > 0 {
		t.Fatalf("two holders at once: %v (events %v)", g.overlap, g.events)
	}
	if !errors.Is(g.causes[first], ErrLost) {
		t.Fatalf("first holder's context cause = %v, want ErrLost", g.causes[first])
	}
	if len(g.tokens) != 2 || g.tokens[1] <= g.tokens[0] {
		t.Fatalf("fencing tokens %v must increase", g.tokens)
	}
}

// TestLeaseReleasedOnStop: a holder that stops (its Run's context ends)
// releases the lease, and another takes over without waiting for the
// TTL's expiry; every new holder's token is larger.
func TestLeaseReleasedOnStop(t *testing.T) {
	ns := startServer(t)
	g := &ledger{causes: map[string]error{}, started: make(chan string, 10)}
	// A TTL long enough that only a release explains a quick takeover.
	const ttl = time.Minute
	ctxs := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, n := range []string{"a", "b"} {
		c := newContender(t, ns, n, ttl)
		ctx, cancel := context.WithCancel(t.Context())
		ctxs[n] = cancel
		defer cancel()
		wg.Go(func() { _ = c.l.Run(ctx, "job", g.work(n)) })
	}
	first := waitStart(t, g)
	ctxs[first]()
	second := waitStartWithin(t, g, ttl/2)
	if second == first {
		t.Fatalf("stopped holder %s acquired again", first)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.overlap) > 0 || g.tokens[1] <= g.tokens[0] {
		t.Fatalf("overlap %v, tokens %v", g.overlap, g.tokens)
	}
}

// TestLeaseWorkReturningKeepsItRunning: work that returns on its own
// releases the lease and is started again (here or elsewhere).
func TestLeaseWorkReturningKeepsItRunning(t *testing.T) {
	ns := startServer(t)
	c := newContender(t, ns, "a", time.Minute)
	runs := make(chan uint64, 3)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.l.Run(ctx, "job", func(_ context.Context, token uint64) error {
			runs <- token
			return errors.New("boom")
		})
	}()
	t1, t2 := <-runs, <-runs
	cancel()
	<-done
	if t2 <= t1 {
		t.Fatalf("tokens %d then %d must increase", t1, t2)
	}
	if _, ok, err := c.l.Current(t.Context(), "job"); ok || err != nil {
		t.Fatalf("lease still held after Run returned: ok=%v err=%v", ok, err)
	}
}

func TestLeaseRejectsBadNames(t *testing.T) {
	ns := startServer(t)
	c := newContender(t, ns, "a", time.Second)
	for _, n := range []string{"", "a b", "a>b", "*", string(make([]byte, 129))} {
		if err := c.l.Run(t.Context(), n, nil); err == nil {
			t.Errorf("Run(%q) accepted", n)
		}
	}
}

func waitStart(t *testing.T, g *ledger) string { return waitStartWithin(t, g, time.Minute) }

func waitStartWithin(t *testing.T, g *ledger, d time.Duration) string {
	t.Helper()
	select {
	case who := <-g.started:
		return who
	case <-time.After(d):
		t.Fatalf("no holder started within %s", d)
		return ""
	}
}
