package pool

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// fakeCluster is ClusterLimits with fixed shares per key: TryTake admits
// from share, Take grants grow more (then admits), Put gives back.
type fakeCluster struct {
	mu     sync.Mutex
	share  map[string]int // guarded by mu
	used   map[string]int // guarded by mu
	grow   int            // guarded by mu: what Take may add
	takes  int            // guarded by mu: Take calls
	putErr string         // guarded by mu: a Put without a token
}

func (f *fakeCluster) TryTake(key string, ceiling int, _ time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.used[key] >= min(f.share[key], ceiling) {
		return false
	}
	f.used[key]++
	return true
}

func (f *fakeCluster) Take(_ context.Context, key string, ceiling int, _ time.Duration) bool {
	f.mu.Lock()
	f.takes++
	if f.grow > 0 {
		f.share[key] += f.grow
		f.grow = 0
	}
	f.mu.Unlock()
	return f.TryTake(key, ceiling, 0)
}

func (f *fakeCluster) Put(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.used[key] == 0 {
		f.putErr = key
		return
	}
	f.used[key]--
}

// TestClusterSharesBoundInvokes: on a node of a cluster an invoke needs a
// token of the cluster-wide limit (the function's reservation, else the
// account's); with this node's share used up and the cluster granting
// no more it is throttled with the limit's reason although the node
// itself has room, and every token is given back.
func TestClusterSharesBoundInvokes(t *testing.T) {
	t.Parallel()
	b := newBarrier(t)
	fc := &fakeCluster{share: map[string]int{"reserved.capped": 1, accountKey: 1}, used: map[string]int{}}
	h := newHarness(t, b.api, func(o *Options) {
		o.Reservations = fixedReservations{"capped": 5}
		o.Cluster = fc
	})
	capped, shared := h.fn("capped", nil), h.fn("shared", nil)
	o1 := h.invokeAsync(capped, map[string]any{"action": "barrier"})
	o2 := h.invokeAsync(shared, map[string]any{"action": "barrier"})
	b.await(t, 2, o1, o2)
	_, err := h.m.Invoke(context.Background(), capped, &invoke.Request{Payload: []byte(`{"action":"echo"}`)})
	wantThrottle(t, err, "ReservedFunctionConcurrentInvocationLimitExceeded")
	_, err = h.m.Invoke(context.Background(), shared, &invoke.Request{Payload: []byte(`{"action":"echo"}`)})
	wantThrottle(t, err, "ConcurrentInvocationLimitExceeded")
	// The cluster grants one more: the next invoke asks (Take) and runs.
	fc.mu.Lock()
	fc.grow = 1
	fc.mu.Unlock()
	res, _ := h.call(t, shared, map[string]any{"action": "echo"})
	wantOK(t, res)
	b.release()
	for _, o := range []<-chan error{o1, o2} {
		if err := <-o; err != nil {
			t.Fatal(err)
		}
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.takes != 3 {
		t.Errorf("Take called %d times, want 3 (once per invoke past the share)", fc.takes)
	}
	for k, n := range fc.used {
		if n != 0 {
			t.Errorf("%d tokens of %s never given back", n, k)
		}
	}
	if fc.putErr != "" {
		t.Errorf("a token of %s was given back twice", fc.putErr)
	}
}
