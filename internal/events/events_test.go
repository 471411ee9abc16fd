package events

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/fakeclock"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const (
	region  = "us-east-1"
	account = "000000000000"
	fnArn   = "arn:aws:lambda:us-east-1:000000000000:function:handler"
)

// functions knows the functions named in it.
type functions map[string]bool

func (f functions) Resolve(_ context.Context, name, _ string) (*function.Config, error) {
	if !f[name] {
		return nil, errdefs.NotFound("Function not found: %s", name)
	}
	return &function.Config{FunctionName: name}, nil
}

// recorder is the async path as the router sees it: it keeps what is
// enqueued (deduplicated by DedupID, as the async queue does).
type recorder struct {
	mu     sync.Mutex
	events []*async.Event
	seen   map[string]bool
	got    chan struct{}
}

func newRecorder() *recorder {
	return &recorder{seen: map[string]bool{}, got: make(chan struct{}, 100)}
}

func (r *recorder) Enqueue(_ context.Context, ev *async.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[ev.DedupID] {
		return nil
	}
	r.seen[ev.DedupID] = true
	r.events = append(r.events, ev)
	r.got <- struct{}{}
	return nil
}

func (r *recorder) all() []*async.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*async.Event(nil), r.events...)
}

// wait waits for the n-th enqueued event.
func (r *recorder) wait(t *testing.T, n int) []*async.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for len(r.all()) < n {
		select {
		case <-r.got:
		case <-timeout:
			t.Fatalf("got %d events, want %d", len(r.all()), n)
		}
	}
	return r.all()
}

type harness struct {
	svc    *Service
	client *eventbridge.Client
	rec    *recorder
	st     *store.Store
	stop   func()
}

// start opens a Service on st with a real HTTP server and an
// aws-sdk-go-v2 client. With run false the router and scheduler do not
// start (events are only stored).
func start(t *testing.T, st *store.Store, clock Clock, run bool) *harness {
	t.Helper()
	return startWith(t, st, clock, run, newRecorder())
}

func startWith(t *testing.T, st *store.Store, clock Clock, run bool, rec *recorder) *harness {
	t.Helper()
	svc, err := New(t.Context(), Options{JetStream: st.JetStream(), Functions: functions{"handler": true},
		Async: rec, Region: region, AccountID: account, SingleNode: true, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if run {
			if err := svc.Run(ctx); err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}()
	h := &harness{svc: svc, rec: rec, st: st, stop: func() { cancel(); <-done; srv.Close() }}
	t.Cleanup(h.stop)
	if run {
		select {
		case <-svc.ready:
		case <-time.After(10 * time.Second):
			t.Fatal("rule cache not ready")
		}
	}
	h.client = eventbridge.New(eventbridge.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	return h
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// drained waits until the stream holds nothing to route.
func (h *harness) drained(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		info, err := h.svc.stream.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("events not routed")
}

func putRuleWithTarget(t *testing.T, h *harness, in *eventbridge.PutRuleInput, target ebtypes.Target) {
	t.Helper()
	if _, err := h.client.PutRule(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	out, err := h.client.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: in.Name, EventBusName: in.EventBusName,
		Targets: []ebtypes.Target{target}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 0 {
		t.Fatalf("failed entries: %+v", out.FailedEntries)
	}
}

func TestPatternRuleInvokesMatchingEventsOnly(t *testing.T) {
	h := start(t, storetest.Open(t), nil, true)
	ctx := t.Context()
	if _, err := h.client.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	putRuleWithTarget(t, h, &eventbridge.PutRuleInput{Name: aws.String("paid"), EventBusName: aws.String("orders"),
		EventPattern: aws.String(`{"source":["shop"],"detail":{"status":["paid"],"amount":[{"numeric":[">",10]}]}}`)},
		ebtypes.Target{Id: aws.String("fn"), Arn: aws.String(fnArn)})
	out, err := h.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("shop"), DetailType: aws.String("Order"), Detail: aws.String(`{"status":"paid","amount":5}`), EventBusName: aws.String("orders")},
		{Source: aws.String("shop"), DetailType: aws.String("Order"), Detail: aws.String(`{"status":"paid","amount":12}`), EventBusName: aws.String("orders"),
			Resources: []string{"arn:aws:s3:::b"}},
		{Source: aws.String("other"), DetailType: aws.String("Order"), Detail: aws.String(`{"status":"paid","amount":99}`), EventBusName: aws.String("orders")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 0 || len(out.Entries) != 3 {
		t.Fatalf("PutEvents: %+v", out)
	}
	h.rec.wait(t, 1)
	h.drained(t)
	got := h.rec.all()
	if len(got) != 1 {
		t.Fatalf("got %d invocations, want 1 (the matching event)", len(got))
	}
	ev := got[0]
	if ev.FunctionName != "handler" || ev.InvokedFunctionArn != fnArn {
		t.Errorf("invoked %s (%s)", ev.FunctionName, ev.InvokedFunctionArn)
	}
	var env map[string]any
	if err := json.Unmarshal(ev.Payload, &env); err != nil {
		t.Fatal(err)
	}
	if env["id"] != *out.Entries[1].EventId || env["source"] != "shop" || env["detail-type"] != "Order" ||
		env["account"] != account || env["region"] != region || env["version"] != "0" {
		t.Errorf("envelope: %v", env)
	}
	if d, _ := env["detail"].(map[string]any); d["amount"] != 12.0 {
		t.Errorf("detail: %v", env["detail"])
	}
	if r, _ := env["resources"].([]any); len(r) != 1 || r[0] != "arn:aws:s3:::b" {
		t.Errorf("resources: %v", env["resources"])
	}
	if _, err := time.Parse(time.RFC3339, env["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
}

func TestDisabledRuleAndTransformedInput(t *testing.T) {
	h := start(t, storetest.Open(t), nil, true)
	ctx := t.Context()
	putRuleWithTarget(t, h, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["app"]}`)},
		ebtypes.Target{Id: aws.String("t"), Arn: aws.String(fnArn), InputTransformer: &ebtypes.InputTransformer{
			InputPathsMap: map[string]string{"user": "$.detail.user", "n": "$.detail.n"},
			InputTemplate: aws.String(`{"text": "<user> did <n>", "n": <n>, "rule": "<aws.events.rule-name>"}`),
		}})
	if _, err := h.client.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("r")}); err != nil {
		t.Fatal(err)
	}
	put := func(user string) {
		if _, err := h.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String("app"), DetailType: aws.String("x"), Detail: aws.String(`{"user":"` + user + `","n":3}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	put("disabled")
	h.drained(t)
	if n := len(h.rec.all()); n != 0 {
		t.Fatalf("a disabled rule delivered %d events", n)
	}
	if _, err := h.client.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("r")}); err != nil {
		t.Fatal(err)
	}
	put("ann")
	got := h.rec.wait(t, 1)
	want := `{"text": "ann did 3", "n": 3, "rule": "r"}`
	if string(got[0].Payload) != want {
		t.Errorf("input = %s, want %s", got[0].Payload, want)
	}
}

func TestRateScheduleFiresOnTheClock(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC))
	h := start(t, storetest.Open(t), clock, true)
	putRuleWithTarget(t, h, &eventbridge.PutRuleInput{Name: aws.String("tick"), ScheduleExpression: aws.String("rate(1 minute)")},
		ebtypes.Target{Id: aws.String("fn"), Arn: aws.String(fnArn)})
	h.drained(t)
	if n := len(h.rec.all()); n != 0 {
		t.Fatalf("fired %d times before its time", n)
	}
	// The scheduler has seen the rule once it waits on the clock.
	clock.WaitFor(t, 1, time.Time{})
	clock.Advance(time.Minute)
	got := h.rec.wait(t, 1)
	var env Envelope
	if err := json.Unmarshal(got[0].Payload, &env); err != nil {
		t.Fatal(err)
	}
	wantArn := "arn:aws:events:us-east-1:000000000000:rule/tick"
	if env.Source != "aws.events" || env.DetailType != "Scheduled Event" || len(env.Resources) != 1 ||
		env.Resources[0] != wantArn || env.Time != "2026-03-01T12:01:30Z" || string(env.Detail) != "{}" {
		t.Errorf("scheduled event: %+v", env)
	}
	clock.WaitFor(t, 1, time.Time{})
	clock.Advance(time.Minute)
	h.rec.wait(t, 2)
	h.drained(t)
	if n := len(h.rec.all()); n != 2 {
		t.Fatalf("two minutes fired %d times", n)
	}
}

// TestScheduleFiresOnceAcrossNodes runs two schedulers (two nodes) on one
// backbone: each minute is delivered once.
func TestScheduleFiresOnceAcrossNodes(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	st := storetest.Open(t)
	a := start(t, st, clock, true)
	putRuleWithTarget(t, a, &eventbridge.PutRuleInput{Name: aws.String("tick"), ScheduleExpression: aws.String("cron(* * * * ? *)")},
		ebtypes.Target{Id: aws.String("fn"), Arn: aws.String(fnArn)})
	b := startWith(t, st, clock, true, a.rec) // both nodes enqueue into one async path
	clock.WaitFor(t, 2, time.Time{})
	clock.Advance(time.Minute)
	a.rec.wait(t, 1)
	a.drained(t)
	if n := len(a.rec.all()); n != 1 {
		t.Fatalf("one minute on two nodes fired %d times", n)
	}
	if s := a.svc.Stats().TriggeredRules + b.svc.Stats().TriggeredRules; s != 2 {
		t.Logf("schedulers published %d firings (deduplicated by the backbone)", s)
	}
}

func TestAcceptedEventsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	h := start(t, st, nil, false) // stores, routes nothing
	putRuleWithTarget(t, h, &eventbridge.PutRuleInput{Name: aws.String("all"), EventPattern: aws.String(`{"source":["app"]}`)},
		ebtypes.Target{Id: aws.String("fn"), Arn: aws.String(fnArn)})
	var ids []string
	for i := range 3 {
		out, err := h.client.PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String("app"), DetailType: aws.String("x"), Detail: aws.String(`{"i":` + string(rune('0'+i)) + `}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *out.Entries[0].EventId)
	}
	h.stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := start(t, storetest.OpenDir(t, dir), nil, true)
	got := h2.rec.wait(t, 3)
	seen := map[string]bool{}
	for _, ev := range got {
		var env Envelope
		_ = json.Unmarshal(ev.Payload, &env)
		seen[env.ID] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("event %s accepted before the restart was not delivered", id)
		}
	}
}

func TestRetriesThenGivesUp(t *testing.T) {
	st := storetest.Open(t)
	rec := &failing{n: 2}
	svc, err := New(t.Context(), Options{JetStream: st.JetStream(), Functions: functions{"handler": true},
		Async: rec, Region: region, AccountID: account, SingleNode: true, DelayScale: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	c := eventbridge.New(eventbridge.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	if _, err := c.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["app"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []ebtypes.Target{
		{Id: aws.String("retried"), Arn: aws.String(fnArn)},
		{Id: aws.String("once"), Arn: aws.String(fnArn + ":live"), RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(0)}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("app"), DetailType: aws.String("x"), Detail: aws.String(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if rec.calls("handler") >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// "retried" failed twice and was delivered on its third attempt;
	// "once" (MaximumRetryAttempts 0) was attempted once only.
	if n := rec.calls("handler"); n != 3 {
		t.Errorf("default policy: %d attempts, want 3", n)
	}
	info, _ := svc.stream.Info(t.Context())
	for info.State.Msgs > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		info, _ = svc.stream.Info(t.Context())
	}
	if n := rec.calls("handler:live"); n != 1 {
		t.Errorf("MaximumRetryAttempts 0: %d attempts, want 1", n)
	}
}

// failing fails every enqueue of a target n times, then accepts.
type failing struct {
	mu sync.Mutex
	n  int
	by map[string]int
}

func (f *failing) Enqueue(_ context.Context, ev *async.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by = map[string]int{}
	}
	key := ev.FunctionName
	if ev.Qualifier != "" {
		key += ":" + ev.Qualifier
	}
	f.by[key]++
	if f.by[key] <= f.n {
		return awsapi.Service("queue unavailable")
	}
	return nil
}

func (f *failing) calls(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.by[key]
}

func TestRefusals(t *testing.T) {
	h := start(t, storetest.Open(t), nil, true)
	ctx := t.Context()
	c := h.client
	check := func(name string, err error, code, inMessage string) {
		t.Helper()
		if apiCode(err) != code {
			t.Errorf("%s: error %v, want %s", name, err, code)
			return
		}
		if inMessage != "" && !strings.Contains(err.Error(), inMessage) {
			t.Errorf("%s: message %q lacks %q", name, err, inMessage)
		}
	}
	_, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":"x"}`)})
	check("pattern", err, "InvalidEventPatternException", "")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), ScheduleExpression: aws.String("rate(1 minutes)")})
	check("rate", err, "ValidationException", "ScheduleExpression")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), ScheduleExpression: aws.String("cron(0 12 * * * *)")})
	check("cron both days", err, "ValidationException", "ScheduleExpression")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), ScheduleExpression: aws.String("cron(0 0 30 2 ? *)")})
	check("cron that never fires", err, "ValidationException", "never fires")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad")})
	check("neither", err, "ValidationException", "EventPattern or ScheduleExpression")
	if _, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("bad")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("a refused rule was stored: %v", err)
	}
	_, err = c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("b")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("b")})
	check("bus exists", err, "ResourceAlreadyExistsException", "")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("s"), EventBusName: aws.String("b"), ScheduleExpression: aws.String("rate(5 minutes)")})
	check("schedule on custom bus", err, "ValidationException", "default event bus")
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("ok"), EventPattern: aws.String(`{"source":["a"]}`)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ok"), Targets: []ebtypes.Target{
		{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:000000000000:q")}}})
	check("sqs target", err, "ValidationException", "Amazon SQS")
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ok"), Targets: []ebtypes.Target{
		{Id: aws.String("sf"), Arn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:m")}}})
	check("step functions target", err, "ValidationException", "Step Functions")
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ok"), Targets: []ebtypes.Target{
		{Id: aws.String("f"), Arn: aws.String(fnArn), RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(186)}}}})
	check("retry attempts", err, "ValidationException", "185")
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ok"), Targets: []ebtypes.Target{
		{Id: aws.String("f"), Arn: aws.String(fnArn), DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String("arn:aws:sqs:us-east-1:000000000000:dlq")}}}})
	check("dlq", err, "ValidationException", "Amazon SQS")
	lt, err := c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("ok")})
	if err != nil || len(lt.Targets) != 0 {
		t.Errorf("refused targets were stored: %v %v", lt, err)
	}
	var many []ebtypes.Target
	for _, id := range []string{"1", "2", "3", "4", "5", "6"} {
		many = append(many, ebtypes.Target{Id: aws.String(id), Arn: aws.String(fnArn)})
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ok"), Targets: many})
	check("six targets", err, "LimitExceededException", "")
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ok"), Targets: many[:1]}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("ok")})
	check("delete with targets", err, "ValidationException", "targets")
	_, err = c.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("default")})
	check("delete default", err, "ValidationException", "")

	var eleven []ebtypes.PutEventsRequestEntry
	for range 11 {
		eleven = append(eleven, ebtypes.PutEventsRequestEntry{Source: aws.String("a"), DetailType: aws.String("b"), Detail: aws.String("{}")})
	}
	_, err = c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: eleven})
	check("eleven entries", err, "ValidationException", "")
	big := strings.Repeat("x", 200<<10)
	_, err = c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("a"), DetailType: aws.String("b"), Detail: aws.String(`{"a":"` + big + `"}`)},
		{Source: aws.String("a"), DetailType: aws.String("b"), Detail: aws.String(`{"a":"` + big[:60<<10] + `"}`)}}})
	check("over 256 KB", err, "ValidationException", "over the limit")
	out, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("a"), DetailType: aws.String("b"), Detail: aws.String(`{}`)},
		{DetailType: aws.String("b"), Detail: aws.String(`{}`)},
		{Source: aws.String("a"), DetailType: aws.String("b"), Detail: aws.String(`[1]`)},
		{Source: aws.String("a"), DetailType: aws.String("b"), Detail: aws.String(`{}`), EventBusName: aws.String("nope")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{}
	for _, e := range out.Entries {
		codes = append(codes, aws.ToString(e.ErrorCode))
	}
	if out.FailedEntryCount != 3 || out.Entries[0].EventId == nil ||
		strings.Join(codes, ",") != ",InvalidArgument,MalformedDetail,ResourceNotFoundException" {
		t.Errorf("per-entry results: %d failed, codes %v", out.FailedEntryCount, codes)
	}
	_, err = c.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("d"), ConnectionArn: aws.String("arn:aws:events:us-east-1:000000000000:connection/c/x"),
		InvocationEndpoint: aws.String("http://127.0.0.1/"), HttpMethod: "POST"})
	check("api destination", err, "UnsupportedOperationException", "API destinations")
}

func TestBusesRulesAndPatternsThroughTheAPI(t *testing.T) {
	h := start(t, storetest.Open(t), nil, true)
	ctx := t.Context()
	c := h.client
	buses, err := c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{})
	if err != nil || len(buses.EventBuses) != 1 || *buses.EventBuses[0].Name != "default" {
		t.Fatalf("buses: %+v %v", buses, err)
	}
	if _, err := c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("b1"), Description: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("arn:aws:events:us-east-1:000000000000:event-bus/b1")})
	if err != nil || *d.Name != "b1" || *d.Arn != "arn:aws:events:us-east-1:000000000000:event-bus/b1" || aws.ToString(d.Description) != "d" {
		t.Fatalf("describe: %+v %v", d, err)
	}
	for _, n := range []string{"r1", "r2", "r3"} {
		if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(n), EventBusName: aws.String("b1"),
			EventPattern: aws.String(`{"source":["s"]}`), State: ebtypes.RuleStateDisabled}); err != nil {
			t.Fatal(err)
		}
	}
	p1, err := c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("b1"), Limit: aws.Int32(2)})
	if err != nil || len(p1.Rules) != 2 || p1.NextToken == nil {
		t.Fatalf("page 1: %+v %v", p1, err)
	}
	p2, err := c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("b1"), Limit: aws.Int32(2), NextToken: p1.NextToken})
	if err != nil || len(p2.Rules) != 1 || *p2.Rules[0].Name != "r3" || p2.NextToken != nil {
		t.Fatalf("page 2: %+v %v", p2, err)
	}
	dr, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r2"), EventBusName: aws.String("b1")})
	if err != nil || *dr.Arn != "arn:aws:events:us-east-1:000000000000:rule/b1/r2" || dr.State != ebtypes.RuleStateDisabled {
		t.Fatalf("describe rule: %+v %v", dr, err)
	}
	_, err = c.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("b1")})
	if apiCode(err) != "ValidationException" {
		t.Errorf("deleting a bus with rules: %v", err)
	}
	for _, n := range []string{"r1", "r2", "r3"} {
		if _, err := c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(n), EventBusName: aws.String("b1")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("b1")}); err != nil {
		t.Fatal(err)
	}
	ev := `{"id":"1","account":"1","source":"s","time":"2020-01-01T00:00:00Z","region":"r","detail-type":"t","detail":{"n":5}}`
	for pat, want := range map[string]bool{`{"detail":{"n":[{"numeric":[">",4]}]}}`: true, `{"source":[{"prefix":""}]}`: true, `{"detail":{"n":[6]}}`: false} {
		out, err := c.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(pat), Event: aws.String(ev)})
		if err != nil || out.Result != want {
			t.Errorf("TestEventPattern %s = %v %v, want %v", pat, out, err, want)
		}
	}
	_, err = c.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"source":["s"]}`), Event: aws.String(`{"source":"s"}`)})
	if apiCode(err) != "ValidationException" {
		t.Errorf("an event without its envelope: %v", err)
	}
}

// TestConcurrentPutEventsAllDelivered: calls that share a group commit
// each get their own ids, and every event reaches the target once.
func TestConcurrentPutEventsAllDelivered(t *testing.T) {
	h := start(t, storetest.Open(t), nil, true)
	putRuleWithTarget(t, h, &eventbridge.PutRuleInput{Name: aws.String("all"), EventPattern: aws.String(`{"source":["c"]}`)},
		ebtypes.Target{Id: aws.String("fn"), Arn: aws.String(fnArn)})
	const calls = 32
	ids := make(chan string, calls*2)
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			out, err := h.client.PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
				{Source: aws.String("c"), DetailType: aws.String("x"), Detail: aws.String(`{}`)},
				{Source: aws.String("c"), DetailType: aws.String("x"), Detail: aws.String(`{}`)}}})
			if err != nil || out.FailedEntryCount != 0 {
				t.Errorf("PutEvents: %v", err)
				return
			}
			for _, e := range out.Entries {
				ids <- *e.EventId
			}
		})
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	if len(want) != calls*2 {
		t.Fatalf("%d distinct ids for %d entries", len(want), calls*2)
	}
	h.rec.wait(t, calls*2)
	h.drained(t)
	got := h.rec.all()
	if len(got) != calls*2 {
		t.Fatalf("%d deliveries for %d events", len(got), calls*2)
	}
	for _, ev := range got {
		var env Envelope
		_ = json.Unmarshal(ev.Payload, &env)
		if !want[env.ID] {
			t.Errorf("delivered unknown event %s", env.ID)
		}
		delete(want, env.ID)
	}
}

// TestTargetInAnotherAccountOrRegion (attack): a target or dead-letter ARN
// naming another account or region is refused, so an event can never
// reach this account's resource of the same name; nothing is stored.
func TestTargetInAnotherAccountOrRegion(t *testing.T) {
	h := start(t, storetest.Open(t), nil, true)
	ctx := t.Context()
	c := h.client
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["a"]}`)}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{
		"arn:aws:lambda:us-east-1:999999999999:function:handler",
		"arn:aws:lambda:eu-west-1:000000000000:function:handler",
		"arn:aws:lambda:us-east-1::function:handler",
	} {
		_, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []ebtypes.Target{
			{Id: aws.String("x"), Arn: aws.String(arn)}}})
		if apiCode(err) != "ValidationException" || !strings.Contains(err.Error(), "its own account") {
			t.Errorf("target %s: %v", arn, err)
		}
	}
	ts, err := c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r")})
	if err != nil || len(ts.Targets) != 0 {
		t.Errorf("a refused target was stored: %+v %v", ts, err)
	}
}
