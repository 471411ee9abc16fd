package pool

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// barrier is the handler the "barrier" action calls (as the node's API,
// on the environment's own loopback): each request waits until the test
// opens it. reached(n) is closed when n requests are waiting.
type barrier struct {
	handler http.Handler
	open    chan struct{}
	mu      sync.Mutex
	arrived int
	waits   map[int]chan struct{}
}

func newBarrier(t *testing.T) *barrier {
	b := &barrier{open: make(chan struct{}), waits: map[int]chan struct{}{}}
	b.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.arrived++
		if ch := b.waits[b.arrived]; ch != nil {
			close(ch)
			delete(b.waits, b.arrived)
		}
		b.mu.Unlock()
		select {
		case <-b.open:
			_, _ = w.Write([]byte("released"))
		case <-r.Context().Done():
		}
	})
	t.Cleanup(b.release)
	return b
}

// api serves b to the environments as the node's API.
func (b *barrier) api(o *Options) { o.APIHandler = b.handler }

func (b *barrier) reached(n int) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan struct{})
	if b.arrived >= n {
		close(ch)
		return ch
	}
	b.waits[n] = ch
	return ch
}

// await waits until n requests wait at the barrier; an invocation of outs
// that ends first (it can only have failed) fails the test instead of
// leaving it waiting.
func (b *barrier) await(t *testing.T, n int, outs ...<-chan error) {
	t.Helper()
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(b.reached(n))}}
	for _, o := range outs {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(o)})
	}
	i, v, _ := reflect.Select(cases)
	if i > 0 {
		t.Fatalf("invocation %d ended before %d reached the barrier: %v", i-1, n, v.Interface())
	}
}

func (b *barrier) release() {
	select {
	case <-b.open:
	default:
		close(b.open)
	}
}

// fixedReservations is a Reservations with fixed values: the pool's view
// of a registry (whose own implementation is tested in package registry
// and end to end in package daemon).
type fixedReservations map[string]int

func (f fixedReservations) ReservedConcurrency(name string) (int, bool) {
	n, ok := f[name]
	return n, ok
}

func (f fixedReservations) TotalReserved() int {
	n := 0
	for _, v := range f {
		n += v
	}
	return n
}

// invokeAsync starts an invocation and returns its outcome on a channel.
func (h *harness) invokeAsync(fn *function.Config, ev map[string]any) <-chan error {
	out := make(chan error, 1)
	payload, _ := json.Marshal(ev)
	go func() {
		res, err := h.m.Invoke(context.Background(), fn, &invoke.Request{RequestID: newRequestID(), Payload: payload})
		if err == nil && res.FunctionError != "" {
			err = errors.New("function error: " + string(res.Payload))
		}
		out <- err
	}()
	return out
}

func wantThrottle(t *testing.T, err error, reason string) {
	t.Helper()
	e := errdefs.As(err)
	if !errors.Is(err, errdefs.ErrThrottled) || e.Reason != reason || e.RetryAfterSeconds <= 0 {
		t.Fatalf("got %v (%+v), want errdefs.ErrThrottled with Reason %s and a Retry-After", err, e, reason)
	}
}

func TestManyConcurrentInvokesRunAtOnce(t *testing.T) {
	t.Parallel()
	b := newBarrier(t)
	h := newHarness(t, b.api)
	fn := h.fn("wide", nil)
	const n = 6
	var outs []<-chan error
	for range n {
		outs = append(outs, h.invokeAsync(fn, map[string]any{"action": "barrier"}))
	}
	// All n are inside the function at the same time: none can finish
	// before the barrier opens, and it opens only when n have arrived.
	b.await(t, n, outs...)
	if got := h.m.ConcurrentExecutions(fn.FunctionName); got != n {
		t.Errorf("ConcurrentExecutions %d, want %d", got, n)
	}
	b.release()
	for _, o := range outs {
		if err := <-o; err != nil {
			t.Fatal(err)
		}
	}
	if s := h.m.Stats(); s.Environments != n || s.Idle != n || s.Concurrent != 0 {
		t.Errorf("stats %+v, want %d idle environments", s, n)
	}
}

func TestReservedConcurrencyLimitsAndThrottles(t *testing.T) {
	t.Parallel()
	const k = 2
	b := newBarrier(t)
	h := newHarness(t, b.api, func(o *Options) {
		o.Reservations = fixedReservations{"capped": k, "off": 0}
	})
	fn := h.fn("capped", nil)
	var outs []<-chan error
	for range k {
		outs = append(outs, h.invokeAsync(fn, map[string]any{"action": "barrier"}))
	}
	b.await(t, k, outs...)
	// k are running: the next ones are throttled, with the reserved reason.
	for range 3 {
		_, err := h.m.Invoke(context.Background(), fn, &invoke.Request{Payload: []byte(`{"action":"echo"}`)})
		wantThrottle(t, err, "ReservedFunctionConcurrentInvocationLimitExceeded")
	}
	// Another function is not affected by this one's cap.
	other := h.fn("uncapped", nil)
	res, _ := h.call(t, other, map[string]any{"action": "echo"})
	wantOK(t, res)
	b.release()
	for _, o := range outs {
		if err := <-o; err != nil {
			t.Fatal(err)
		}
	}
	// Below the cap again, it runs.
	res, _ = h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if s := h.m.Stats(); s.Environments != k+1 {
		t.Errorf("stats %+v: never more than %d environments of the capped function", s, k)
	}

	// Reserved concurrency 0 throttles everything, and starts nothing.
	off := h.fn("off", nil)
	_, err := h.m.Invoke(context.Background(), off, &invoke.Request{Payload: []byte(`{"action":"echo"}`)})
	wantThrottle(t, err, "ReservedFunctionConcurrentInvocationLimitExceeded")
	if s := h.m.Stats(); s.Environments != k+1 {
		t.Errorf("stats %+v after a throttled invoke of a function reserved at 0", s)
	}
}

func TestAccountLimitThrottlesUnreserved(t *testing.T) {
	t.Parallel()
	// Limit 3, of which 1 is reserved: the others share 2.
	b := newBarrier(t)
	h := newHarness(t, b.api, func(o *Options) {
		o.ConcurrencyLimit = 3
		o.Reservations = fixedReservations{"reserved": 1}
	})
	fn := h.fn("shared", nil)
	a1 := h.invokeAsync(fn, map[string]any{"action": "barrier"})
	a2 := h.invokeAsync(h.fn("shared2", nil), map[string]any{"action": "barrier"})
	b.await(t, 2, a1, a2)
	_, err := h.m.Invoke(context.Background(), fn, &invoke.Request{Payload: []byte(`{"action":"echo"}`)})
	wantThrottle(t, err, "ConcurrentInvocationLimitExceeded")
	// The reserved function still has its own concurrency.
	res, _ := h.call(t, h.fn("reserved", nil), map[string]any{"action": "echo"})
	wantOK(t, res)
	b.release()
	for _, o := range []<-chan error{a1, a2} {
		if err := <-o; err != nil {
			t.Fatal(err)
		}
	}
}

func TestMemoryBudgetEvictsIdleLRU(t *testing.T) {
	t.Parallel()
	bar := newBarrier(t)
	h := newHarness(t, bar.api, func(o *Options) { o.MemoryBudgetMB = 256 })
	a, bfn, c := h.fn("mem-a", nil), h.fn("mem-b", nil), h.fn("mem-c", nil)
	for _, fn := range []*function.Config{a, bfn} {
		res, _ := h.call(t, fn, map[string]any{"action": "echo"})
		wantOK(t, res)
	}
	// The budget holds two 128 MB environments: a third evicts the least
	// recently used idle one (a's), not b's.
	res, _ := h.call(t, c, map[string]any{"action": "echo"})
	wantOK(t, res)
	if s := h.m.Stats(); s.MemoryMB > 256 {
		t.Errorf("stats %+v: memory budget overcommitted", s)
	}
	_, m := h.call(t, bfn, map[string]any{"action": "echo"})
	if m["count"] != 2.0 {
		t.Errorf("b's environment was evicted (count %v); the least recently used was a's", m["count"])
	}
	_, m = h.call(t, a, map[string]any{"action": "echo"})
	if m["count"] != 1.0 {
		t.Errorf("a's environment survived (count %v)", m["count"])
	}

	// A budget full of busy environments throttles.
	o1 := h.invokeAsync(a, map[string]any{"action": "barrier"})
	o2 := h.invokeAsync(bfn, map[string]any{"action": "barrier"})
	bar.await(t, 2, o1, o2)
	_, err := h.m.Invoke(context.Background(), c, &invoke.Request{Payload: []byte(`{"action":"echo"}`)})
	wantThrottle(t, err, "ConcurrentInvocationLimitExceeded")
	bar.release()
	for _, o := range []<-chan error{o1, o2} {
		if err := <-o; err != nil {
			t.Fatal(err)
		}
	}
}

// fakeClock is an injected clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestIdlePoolScalesToZero(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	destroyed := make(chan struct{}, 16)
	b := newBarrier(t)
	h := newHarness(t, b.api, func(o *Options) {
		o.Now = clk.now
		o.IdleTimeout = time.Hour // the keep-alive: the real ticker never gets there
	})
	h.m.mu.Lock()
	h.m.hookDestroyed = func() { destroyed <- struct{}{} }
	h.m.mu.Unlock()
	fn := h.fn("zero", nil)
	o1 := h.invokeAsync(fn, map[string]any{"action": "barrier"})
	o2 := h.invokeAsync(fn, map[string]any{"action": "barrier"})
	b.await(t, 2, o1, o2)
	b.release()
	for _, o := range []<-chan error{o1, o2} {
		if err := <-o; err != nil {
			t.Fatal(err)
		}
	}
	if s := h.m.Stats(); s.Environments != 2 || s.Idle != 2 {
		t.Fatalf("stats %+v, want 2 idle", s)
	}
	clk.advance(time.Hour - time.Second)
	if n := h.m.reapOnce(); n != 0 {
		t.Fatalf("reclaimed %d environments before the keep-alive ran out", n)
	}
	clk.advance(time.Second)
	if n := h.m.reapOnce(); n != 2 {
		t.Fatalf("reclaimed %d environments, want 2", n)
	}
	<-destroyed
	<-destroyed
	h.m.mu.Lock()
	pools := len(h.m.pools)
	h.m.mu.Unlock()
	if s := h.m.Stats(); s.Environments != 0 || s.MemoryMB != 0 || pools != 0 {
		t.Fatalf("stats %+v, %d pools: want zero", s, pools)
	}
	// And back up from zero.
	res, m := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 1.0 || res.InitDuration == 0 {
		t.Errorf("after scale to zero: count %v, init %v; want a cold start", m["count"], res.InitDuration)
	}
}

func TestProvisionedConcurrency(t *testing.T) {
	t.Parallel()
	b := newBarrier(t)
	h := newHarness(t, b.api)
	ready := make(chan struct{}, 16)
	h.m.mu.Lock()
	h.m.hookProvisioned = func() { ready <- struct{}{} }
	h.m.mu.Unlock()
	fn := h.fn("prov", nil)
	fn.Version = "1"
	fn.FunctionArn += ":1"
	h.m.SetProvisioned([]ProvisionedConfig{{FunctionName: "prov", Qualifier: "live",
		Targets: []ProvisionedTarget{{Config: fn, Count: 2}}}})
	<-ready
	<-ready
	st, ok := h.m.ProvisionedStatus("prov", "live")
	if !ok || st.Status != ProvisionedReady || st.Allocated != 2 {
		t.Fatalf("status %+v %v, want READY with 2", st, ok)
	}
	if s := h.m.Stats(); s.Environments != 2 || s.Provisioned != 2 || s.Idle != 2 {
		t.Fatalf("stats %+v", s)
	}
	// The first invoke on a provisioned environment has no init.
	res, env := h.call(t, fn, map[string]any{"action": "env"})
	wantOK(t, res)
	if res.InitDuration != 0 || env["AWS_LAMBDA_INITIALIZATION_TYPE"] != "provisioned-concurrency" {
		t.Errorf("init %v, AWS_LAMBDA_INITIALIZATION_TYPE %v", res.InitDuration, env["AWS_LAMBDA_INITIALIZATION_TYPE"])
	}
	if got := string(res.LogTail); containsInit(got) {
		t.Errorf("REPORT of a provisioned environment's first invoke has an Init Duration:\n%s", got)
	}
	// Three at once: two on provisioned environments, one spills over to
	// an on-demand one.
	var outs []<-chan error
	for range 3 {
		outs = append(outs, h.invokeAsync(fn, map[string]any{"action": "barrier"}))
	}
	b.await(t, 3, outs...)
	b.release()
	for _, o := range outs {
		if err := <-o; err != nil {
			t.Fatal(err)
		}
	}
	if s := h.m.Stats(); s.Environments != 3 || s.Provisioned != 2 {
		t.Fatalf("stats %+v, want 2 provisioned + 1 on demand", s)
	}
	// Provisioned environments are not reclaimed by the keep-alive.
	h.m.mu.Lock()
	h.m.keepAlive = FixedKeepAlive{Timeout: time.Nanosecond}
	h.m.mu.Unlock()
	if n := h.m.reapOnce(); n != 1 {
		t.Errorf("reclaimed %d, want only the on-demand one", n)
	}
	// Removing the configuration turns them into on-demand environments.
	h.m.SetProvisioned(nil)
	if _, ok := h.m.ProvisionedStatus("prov", "live"); ok {
		t.Error("status still there after removal")
	}
	if n := h.m.reapOnce(); n != 2 {
		t.Errorf("reclaimed %d after removal, want 2", n)
	}
}

func TestProvisionedInitFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ready := make(chan struct{}, 4)
	h.m.mu.Lock()
	h.m.hookProvisioned = func() { ready <- struct{}{} }
	h.m.mu.Unlock()
	fn := h.fn("provfail", map[string]string{"POOL_TEST_INIT": "error"})
	fn.Version = "3"
	h.m.SetProvisioned([]ProvisionedConfig{{FunctionName: "provfail", Qualifier: "3",
		Targets: []ProvisionedTarget{{Config: fn, Count: 1}}}})
	<-ready
	st, _ := h.m.ProvisionedStatus("provfail", "3")
	if st.Status != ProvisionedFailed || st.Reason == "" || st.Allocated != 0 {
		t.Fatalf("status %+v, want FAILED with a reason", st)
	}
}

func containsInit(s string) bool { return strings.Contains(s, "Init Duration") }

// TestFrozenTimerDoesNotFire: between invocations an environment is
// frozen, so a timer the function armed does not fire while it is idle,
// as in Lambda. The function arms a timer due in a second (a process runs
// until its runtime asks for the next event, which a loaded machine can
// delay by a good part of a second, so a shorter timer could fire before
// the freeze, as it would on Lambda); the test lets
// the wall clock pass the due time (with margin), then notes the time
// and invokes again: a timer that fired while idle would carry a firing
// time before that note.
func TestFrozenTimerDoesNotFire(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("frozen", nil)
	res, m := h.call(t, fn, map[string]any{"action": "arm", "ms": 1000})
	wantOK(t, res)
	due := time.Unix(0, int64(m["due"].(float64)))
	<-time.After(time.Until(due) + 400*time.Millisecond) // idle time passing is the condition under test
	before := time.Now()
	res, m = h.call(t, fn, map[string]any{"action": "check"})
	wantOK(t, res)
	fired := int64(m["fired"].(float64))
	if fired != 0 && time.Unix(0, fired).Before(before) {
		t.Fatalf("the timer fired at %v while the environment was idle (due %v, invoked again at %v)",
			time.Unix(0, fired), due, before)
	}
}

// setAside reports no reservation but n units set aside (provisioned
// concurrency of functions without one).
type setAside int

func (setAside) ReservedConcurrency(string) (int, bool) { return 0, false }
func (s setAside) TotalReserved() int                   { return int(s) }

// TestProvisionedOutsideUnreservedPool: provisioned concurrency of a
// function without a reservation is set aside from the account's pool, and
// invocations on it are not throttled when the rest of the pool is busy.
func TestProvisionedOutsideUnreservedPool(t *testing.T) {
	t.Parallel()
	b := newBarrier(t)
	h := newHarness(t, b.api, func(o *Options) {
		o.ConcurrencyLimit = 3
		o.Reservations = setAside(1)
	})
	ready := make(chan struct{}, 4)
	h.m.mu.Lock()
	h.m.hookProvisioned = func() { ready <- struct{}{} }
	h.m.mu.Unlock()
	prov := h.fn("aside", nil)
	prov.Version, prov.FunctionArn = "1", prov.FunctionArn+":1"
	h.m.SetProvisioned([]ProvisionedConfig{{FunctionName: "aside", Qualifier: "1",
		Targets: []ProvisionedTarget{{Config: prov, Count: 1}}}})
	<-ready
	// The unreserved pool is 3 - 1 = 2: two busy invocations fill it.
	o1 := h.invokeAsync(h.fn("busy1", nil), map[string]any{"action": "barrier"})
	o2 := h.invokeAsync(h.fn("busy2", nil), map[string]any{"action": "barrier"})
	b.await(t, 2, o1, o2)
	_, err := h.m.Invoke(context.Background(), h.fn("other", nil), &invoke.Request{Payload: []byte(`{"action":"echo"}`)})
	wantThrottle(t, err, "ConcurrentInvocationLimitExceeded")
	res, _ := h.call(t, prov, map[string]any{"action": "echo"})
	wantOK(t, res)
	if !res.Provisioned {
		t.Error("the invocation did not run on the provisioned environment")
	}
	b.release()
	for _, o := range []<-chan error{o1, o2} {
		if err := <-o; err != nil {
			t.Fatal(err)
		}
	}
}

// TestProvisionedReplacedWhenItDies: a provisioned environment whose
// process dies while idle is replaced.
func TestProvisionedReplacedWhenItDies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ready := make(chan struct{}, 4)
	h.m.mu.Lock()
	h.m.hookProvisioned = func() { ready <- struct{}{} }
	h.m.mu.Unlock()
	fn := h.fn("phoenix", nil)
	fn.Version, fn.FunctionArn = "1", fn.FunctionArn+":1"
	h.m.SetProvisioned([]ProvisionedConfig{{FunctionName: "phoenix", Qualifier: "1",
		Targets: []ProvisionedTarget{{Config: fn, Count: 1}}}})
	<-ready
	h.m.mu.Lock()
	var victim *environment
	for _, p := range h.m.pools {
		if len(p.provIdle) == 1 {
			victim = p.provIdle[0]
		}
	}
	h.m.mu.Unlock()
	if victim == nil {
		t.Fatal("no idle provisioned environment")
	}
	// Killed as a crash would, outside the pool (under fmu, so not in
	// the middle of a freeze).
	victim.fmu.Lock()
	err := victim.proc.Kill()
	victim.fmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	<-ready // its replacement
	st, _ := h.m.ProvisionedStatus("phoenix", "1")
	if st.Status != ProvisionedReady || st.Allocated != 1 {
		t.Fatalf("status %+v after the replacement", st)
	}
	res, env := h.call(t, fn, map[string]any{"action": "env"})
	wantOK(t, res)
	if !res.Provisioned || env["AWS_LAMBDA_INITIALIZATION_TYPE"] != "provisioned-concurrency" {
		t.Errorf("the replacement is not provisioned: %v %v", res.Provisioned, env["AWS_LAMBDA_INITIALIZATION_TYPE"])
	}
}
