package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// call is one provider call the fake saw.
type call struct {
	Op, LogicalID, Type, PhysicalID string
	Props                           map[string]any
	// Actor is who the call acted as (ActorOf): "role:<arn>" for a
	// service role, else the caller's principal; "" for none.
	Actor string
}

// fakeProvider makes resources of the test types in memory. A change of
// the property "Name" needs replacement; other changes are in place.
// Failures and blocking calls are set per "op:LogicalID" (op is create,
// update or delete).
type fakeProvider struct {
	mu    sync.Mutex
	calls []call
	live  map[string]map[string]any // physical id -> properties
	n     int
	fail  map[string]*failSpec
	block map[string]chan struct{} // closed when the call starts; it then waits for its context
}

func newFake() *fakeProvider {
	return &fakeProvider{live: map[string]map[string]any{}, fail: map[string]*failSpec{}, block: map[string]chan struct{}{}}
}

// failSpec is a failure set on the fake: times calls fail (all if < 0).
type failSpec struct {
	msg   string
	times int
}

// setFail makes the next call of op:id fail with msg ("" clears it).
func (f *fakeProvider) setFail(key, msg string) { f.setFailN(key, msg, 1) }

// setFailN makes the next n calls of op:id fail (every one if n < 0).
func (f *fakeProvider) setFailN(key, msg string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if msg == "" {
		delete(f.fail, key)
	} else {
		f.fail[key] = &failSpec{msg: msg, times: n}
	}
}

// blockOn makes the next op:id call block until its context ends; the
// returned channel is closed when the call starts.
func (f *fakeProvider) blockOn(key string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	f.block[key] = ch
	return ch
}

// clearBlocks drops the blocks no call has hit.
func (f *fakeProvider) clearBlocks() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.block)
}

// enter records a call and applies the failure or block set for it.
func (f *fakeProvider) enter(ctx context.Context, op string, r *Request, physical string) error {
	f.mu.Lock()
	actor := ""
	if a, ok := ActorOf(ctx); ok {
		actor = a.Principal
		if a.ServiceRole != "" {
			actor = "role:" + a.ServiceRole
		}
	}
	f.calls = append(f.calls, call{Op: op, LogicalID: r.LogicalID, Type: r.Type, PhysicalID: physical, Props: r.Properties, Actor: actor})
	key := op + ":" + r.LogicalID
	if fs, ok := f.fail[key]; ok && fs.msg == "panic" {
		delete(f.fail, key)
		f.mu.Unlock()
		panic("provider bug")
	}
	if fs, ok := f.fail[key]; ok {
		if fs.times--; fs.times == 0 {
			delete(f.fail, key)
		}
		f.mu.Unlock()
		return errors.New(fs.msg)
	}
	ch, ok := f.block[key]
	delete(f.block, key)
	f.mu.Unlock()
	if ok {
		close(ch)
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func result(phys string, props map[string]any) *Result {
	return &Result{PhysicalID: phys, Attrs: map[string]any{"Arn": "arn:test:" + phys, "Name": props["Name"]}}
}

func (f *fakeProvider) Create(ctx context.Context, r *Request) (*Result, error) {
	if err := f.enter(ctx, "create", r, ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	phys := fmt.Sprintf("%s-%s-%d", r.StackName, r.LogicalID, f.n)
	f.live[phys] = r.Properties
	return result(phys, r.Properties), nil
}

func (f *fakeProvider) Update(ctx context.Context, r *Request, prev *Resource) (*Result, error) {
	if err := f.enter(ctx, "update", r, prev.PhysicalID); err != nil {
		return nil, err
	}
	if fmt.Sprint(prev.Properties["Name"]) != fmt.Sprint(r.Properties["Name"]) {
		return nil, fmt.Errorf("name change: %w", ErrReplace)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.live[prev.PhysicalID]; !ok {
		return nil, fmt.Errorf("update %s: no such resource", prev.PhysicalID)
	}
	f.live[prev.PhysicalID] = r.Properties
	return result(prev.PhysicalID, r.Properties), nil
}

func (f *fakeProvider) Delete(ctx context.Context, r *Request, cur *Resource) error {
	if err := f.enter(ctx, "delete", r, cur.PhysicalID); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.live, cur.PhysicalID)
	return nil
}

// callsOf returns the calls of op (all ops if "") on logical id (all if "").
func (f *fakeProvider) callsOf(op, id string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if (op == "" || c.Op == op) && (id == "" || c.LogicalID == id) {
			out = append(out, c)
		}
	}
	return out
}

// order returns "op:id" of every call, in order.
func (f *fakeProvider) order() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.Op + ":" + c.LogicalID
	}
	return out
}

func (f *fakeProvider) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// liveIDs returns the physical ids of the resources that exist, sorted.
func (f *fakeProvider) liveIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.live))
}

func (f *fakeProvider) props(phys string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live[phys]
}

// testTypes are the resource types the fake provider makes.
var testTypes = []string{
	"Test::Thing", "Test::Other", "AWS::IAM::Role",
	"AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage",
}

// startService runs a Service over st with prov for the test types until
// the returned stop is called (or the test ends).
func startService(t *testing.T, st *store.Store, prov Provider) (*Service, func()) {
	t.Helper()
	return startServiceWith(t, st, prov, Options{})
}

// startServiceWith is startService with opts (Store, Providers, Region and
// AccountID are set).
func startServiceWith(t *testing.T, st *store.Store, prov Provider, opts Options) (*Service, func()) {
	t.Helper()
	providers := map[string]Provider{}
	for _, typ := range testTypes {
		providers[typ] = prov
	}
	opts.Store, opts.Providers, opts.Region, opts.AccountID = st, providers, "eu-west-1", "123456789012"
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return svc, stop
}

// harness is a Service on a fresh store with a fake provider.
type harness struct {
	t    *testing.T
	st   *store.Store
	svc  *Service
	prov *fakeProvider
	stop func()
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, st: storetest.Open(t), prov: newFake()}
	h.svc, h.stop = startService(t, h.st, h.prov)
	return h
}

var allCaps = []string{CapabilityIAM, CapabilityNamedIAM, CapabilityAutoExpand}

// create starts a stack and waits for the end of the operation.
func (h *harness) create(name, body string, params map[string]string) Stack {
	h.t.Helper()
	id, err := h.svc.CreateStack(h.t.Context(), CreateInput{StackName: name, TemplateBody: body, Parameters: params, Capabilities: allCaps})
	if err != nil {
		h.t.Fatalf("CreateStack %s: %v", name, err)
	}
	return h.wait(id)
}

// update changes a stack and waits for the end of the operation.
func (h *harness) update(name, body string, params map[string]string) Stack {
	h.t.Helper()
	id, err := h.svc.UpdateStack(h.t.Context(), UpdateInput{CreateInput: CreateInput{StackName: name, TemplateBody: body, Parameters: params, Capabilities: allCaps}})
	if err != nil {
		h.t.Fatalf("UpdateStack %s: %v", name, err)
	}
	return h.wait(id)
}

// del deletes a stack and waits for the end of the operation.
func (h *harness) del(name string) Stack {
	h.t.Helper()
	st := h.describe(name)
	if err := h.svc.DeleteStack(h.t.Context(), name, ""); err != nil {
		h.t.Fatalf("DeleteStack %s: %v", name, err)
	}
	return h.wait(st.StackID)
}

func (h *harness) describe(nameOrID string) Stack {
	h.t.Helper()
	sts, err := h.svc.DescribeStacks(h.t.Context(), nameOrID)
	if err != nil || len(sts) != 1 {
		h.t.Fatalf("DescribeStacks %s = %v, %v", nameOrID, sts, err)
	}
	return sts[0]
}

// wait polls the stack until no operation is in progress (with a deadline).
func (h *harness) wait(id string) Stack {
	h.t.Helper()
	return waitFor(h.t, h.svc, id, func(s Stack) bool { return !inProgress(s.Status) })
}

func waitFor(t *testing.T, svc *Service, id string, done func(Stack) bool) Stack {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		sts, err := svc.DescribeStacks(t.Context(), id)
		if err != nil {
			t.Fatalf("DescribeStacks %s: %v", id, err)
		}
		if done(sts[0]) {
			return sts[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %s still %s after 30s", id, sts[0].Status)
		}
		<-tick.C
	}
}

// events returns "LogicalID STATUS" of a stack's events, oldest first.
func (h *harness) events(nameOrID string) []string {
	h.t.Helper()
	evs, err := h.svc.Events(h.t.Context(), nameOrID)
	if err != nil {
		h.t.Fatalf("Events %s: %v", nameOrID, err)
	}
	out := make([]string, 0, len(evs))
	for _, e := range slices.Backward(evs) {
		out = append(out, e.LogicalID+" "+e.Status)
	}
	return out
}

// event returns the newest event of id with status.
func (h *harness) event(nameOrID, id, status string) Event {
	h.t.Helper()
	evs, err := h.svc.Events(h.t.Context(), nameOrID)
	if err != nil {
		h.t.Fatalf("Events %s: %v", nameOrID, err)
	}
	for _, e := range evs {
		if e.LogicalID == id && e.Status == status {
			return e
		}
	}
	h.t.Fatalf("no %s event for %s in %v", status, id, h.events(nameOrID))
	return Event{}
}

// physical returns the physical id of a stack's resource ("" if none).
func (h *harness) physical(name, id string) string {
	h.t.Helper()
	rs, err := h.svc.Resources(h.t.Context(), name)
	if err != nil {
		h.t.Fatalf("Resources %s: %v", name, err)
	}
	for _, r := range rs {
		if r.LogicalID == id {
			return r.PhysicalID
		}
	}
	return ""
}

func output(st Stack, key string) string {
	for _, o := range st.Outputs {
		if o.Key == key {
			return o.Value
		}
	}
	return ""
}

// wantAPIError checks that err is a 400 *awsapi.Error with code whose
// message contains msg.
func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var e *awsapi.Error
	if !errors.As(err, &e) || e.Code != code || e.Status != 400 || !strings.Contains(e.Message, msg) {
		t.Fatalf("err = %v, want 400 %s containing %q", err, code, msg)
	}
}

func wantStatus(t *testing.T, st Stack, status string) {
	t.Helper()
	if st.Status != status {
		t.Fatalf("stack %s is %s (%s), want %s", st.StackName, st.Status, st.StatusReason, status)
	}
}
