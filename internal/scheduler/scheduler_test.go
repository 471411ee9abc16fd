package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/fakeclock"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const (
	region  = "us-east-1"
	account = "000000000000"
	fnArn   = "arn:aws:lambda:us-east-1:000000000000:function:handler"
	queue   = "arn:aws:sqs:us-east-1:000000000000:dlq"
	role    = "arn:aws:iam::000000000000:role/scheduler"
)

// recorder records deliveries; fail makes the next ones fail.
type recorder struct {
	mu   sync.Mutex
	got  []*deliver.Delivery
	fail map[string]error // by target ARN
	ch   chan struct{}
}

func newRecorder() *recorder {
	return &recorder{fail: map[string]error{}, ch: make(chan struct{}, 1000)}
}

func (r *recorder) Deliver(_ context.Context, d *deliver.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[d.TargetArn]; err != nil {
		return err
	}
	r.got = append(r.got, d)
	r.ch <- struct{}{}
	return nil
}

func (r *recorder) all() []*deliver.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*deliver.Delivery(nil), r.got...)
}

// wait waits for n deliveries in all (a hang guard, not a timing check).
func (r *recorder) wait(t *testing.T, n int) []*deliver.Delivery {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for len(r.all()) < n {
		select {
		case <-r.ch:
		case <-timeout:
			t.Fatalf("%d deliveries, want %d", len(r.all()), n)
		}
	}
	return r.all()
}

type harness struct {
	svc  *Service
	url  string
	stop func()
}

func start(t *testing.T, st *store.Store, clock *fakeclock.Clock, rec *recorder) *harness {
	t.Helper()
	router := deliver.NewRouter()
	router.Handle("lambda", rec)
	router.Handle("sqs", rec)
	svc, err := New(t.Context(), Options{JetStream: st.JetStream(), Targets: router, Region: region, AccountID: account,
		SingleNode: true, DelayScale: 0.001, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	h := &harness{svc: svc, url: srv.URL, stop: func() { once.Do(func() { cancel(); <-done; srv.Close() }) }}
	t.Cleanup(h.stop)
	return h
}

// call sends one API request and decodes the answer into a map.
func (h *harness) call(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, h.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 300 {
		if out == nil {
			out = map[string]any{}
		}
		out["__type"] = resp.Header.Get("X-Amzn-ErrorType")
	}
	return resp.StatusCode, out
}

func schedule(expr string, target map[string]any, extra map[string]any) map[string]any {
	m := map[string]any{"ScheduleExpression": expr, "FlexibleTimeWindow": map[string]any{"Mode": "OFF"}, "Target": target}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func lambdaTarget(input string) map[string]any {
	t := map[string]any{"Arn": fnArn, "RoleArn": role}
	if input != "" {
		t["Input"] = input
	}
	return t
}

func TestSchedulesAndGroupsThroughTheAPI(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	h := start(t, storetest.Open(t), clock, newRecorder())
	if code, out := h.call(t, "POST", "/schedule-groups/team", map[string]any{}); code != 200 ||
		out["ScheduleGroupArn"] != "arn:aws:scheduler:us-east-1:000000000000:schedule-group/team" {
		t.Fatalf("CreateScheduleGroup = %d %v", code, out)
	}
	if code, out := h.call(t, "POST", "/schedule-groups/team", map[string]any{}); code != 409 || out["__type"] != "ConflictException" {
		t.Errorf("a second CreateScheduleGroup = %d %v", code, out)
	}
	code, out := h.call(t, "POST", "/schedules/nightly", schedule("cron(0 2 * * ? *)", lambdaTarget(""), map[string]any{
		"GroupName": "team", "ScheduleExpressionTimezone": "Europe/Paris", "Description": "d"}))
	if code != 200 || out["ScheduleArn"] != "arn:aws:scheduler:us-east-1:000000000000:schedule/team/nightly" {
		t.Fatalf("CreateSchedule = %d %v", code, out)
	}
	code, out = h.call(t, "GET", "/schedules/nightly?groupName=team", nil)
	target, _ := out["Target"].(map[string]any)
	rp, _ := target["RetryPolicy"].(map[string]any)
	if code != 200 || out["State"] != "ENABLED" || out["ScheduleExpressionTimezone"] != "Europe/Paris" ||
		rp["MaximumRetryAttempts"] != 185.0 || rp["MaximumEventAgeInSeconds"] != 86400.0 || out["CreationDate"] == nil {
		t.Errorf("GetSchedule = %d %v", code, out)
	}
	if code, out := h.call(t, "GET", "/schedules/nightly", nil); code != 404 || out["__type"] != "ResourceNotFoundException" {
		t.Errorf("GetSchedule in the default group = %d %v", code, out)
	}
	if code, out := h.call(t, "PUT", "/schedules/nightly", schedule("rate(1 hour)", lambdaTarget(""), map[string]any{
		"GroupName": "team", "State": "DISABLED"})); code != 200 {
		t.Errorf("UpdateSchedule = %d %v", code, out)
	}
	h.call(t, "POST", "/schedules/other", schedule("rate(5 minutes)", lambdaTarget(""), nil))
	code, out = h.call(t, "GET", "/schedules?State=DISABLED", nil)
	if l, _ := out["Schedules"].([]any); code != 200 || len(l) != 1 || l[0].(map[string]any)["Name"] != "nightly" {
		t.Errorf("ListSchedules State=DISABLED = %d %v", code, out)
	}
	code, out = h.call(t, "GET", "/schedules?MaxResults=1", nil)
	l, _ := out["Schedules"].([]any)
	tok, _ := out["NextToken"].(string)
	if code != 200 || len(l) != 1 || tok == "" {
		t.Fatalf("ListSchedules MaxResults=1 = %d %v", code, out)
	}
	if _, out := h.call(t, "GET", "/schedules?MaxResults=1&NextToken="+tok, nil); len(out["Schedules"].([]any)) != 1 || out["NextToken"] != nil {
		t.Errorf("second page = %v", out)
	}
	code, out = h.call(t, "GET", "/schedule-groups", nil)
	if gs, _ := out["ScheduleGroups"].([]any); code != 200 || len(gs) != 2 {
		t.Errorf("ListScheduleGroups = %d %v", code, out)
	}
	if code, out := h.call(t, "DELETE", "/schedule-groups/default", nil); code != 400 || out["__type"] != "ValidationException" {
		t.Errorf("DeleteScheduleGroup default = %d %v", code, out)
	}
	if code, _ := h.call(t, "DELETE", "/schedule-groups/team", nil); code != 200 {
		t.Errorf("DeleteScheduleGroup = %d", code)
	}
	if code, _ := h.call(t, "GET", "/schedules/nightly?groupName=team", nil); code != 404 {
		t.Errorf("a deleted group's schedule = %d", code)
	}
	if code, _ := h.call(t, "DELETE", "/schedules/other", nil); code != 200 {
		t.Errorf("DeleteSchedule = %d", code)
	}
	if code, out := h.call(t, "DELETE", "/schedules/other", nil); code != 404 {
		t.Errorf("DeleteSchedule again = %d %v", code, out)
	}
}

// TestRefusals (attack): bad expressions, an expression bomb, a cron that
// never fires, targets of another account or region, services Nimbus
// lacks and unsupported options are refused with ValidationException,
// and nothing is stored.
func TestRefusals(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	h := start(t, storetest.Open(t), clock, newRecorder())
	bomb := "cron(" + strings.Repeat("0,", 120) + "0 * * * ? *)"
	for name, body := range map[string]map[string]any{
		"rate too often":       schedule("rate(30 seconds)", lambdaTarget(""), nil),
		"rate overflow":        schedule("rate(99999999999999999999 minutes)", lambdaTarget(""), nil),
		"expression bomb":      schedule(bomb, lambdaTarget(""), nil),
		"cron never fires":     schedule("cron(0 0 30 2 ? *)", lambdaTarget(""), nil),
		"cron years passed":    schedule("cron(0 0 1 1 ? 2020)", lambdaTarget(""), nil),
		"bad at":               schedule("at(2026-13-01T00:00:00)", lambdaTarget(""), nil),
		"bad zone":             schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"ScheduleExpressionTimezone": "../../etc/passwd"}),
		"end before start":     schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"StartDate": 1.9e9, "EndDate": 1.8e9}),
		"no flexible window":   {"ScheduleExpression": "rate(5 minutes)", "Target": lambdaTarget("")},
		"flexible without max": schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"FlexibleTimeWindow": map[string]any{"Mode": "FLEXIBLE"}}),
		"other account":        schedule("rate(5 minutes)", map[string]any{"Arn": "arn:aws:lambda:us-east-1:999999999999:function:handler", "RoleArn": role}, nil),
		"other region":         schedule("rate(5 minutes)", map[string]any{"Arn": "arn:aws:lambda:eu-west-1:000000000000:function:handler", "RoleArn": role}, nil),
		"dlq other account": schedule("rate(5 minutes)", map[string]any{"Arn": fnArn, "RoleArn": role,
			"DeadLetterConfig": map[string]any{"Arn": "arn:aws:sqs:us-east-1:999999999999:q"}}, nil),
		"step functions":         schedule("rate(5 minutes)", map[string]any{"Arn": "arn:aws:states:us-east-1:000000000000:stateMachine:m", "RoleArn": role}, nil),
		"universal s3":           schedule("rate(5 minutes)", map[string]any{"Arn": "arn:aws:scheduler:::aws-sdk:s3:putObject", "RoleArn": role, "Input": "{}"}, nil),
		"ecs":                    schedule("rate(5 minutes)", map[string]any{"Arn": fnArn, "RoleArn": role, "EcsParameters": map[string]any{"TaskDefinitionArn": "x"}}, nil),
		"bad role":               schedule("rate(5 minutes)", map[string]any{"Arn": fnArn, "RoleArn": "role"}, nil),
		"kms":                    schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"KmsKeyArn": "arn:aws:kms:us-east-1:000000000000:key/k"}),
		"retry attempts":         schedule("rate(5 minutes)", map[string]any{"Arn": fnArn, "RoleArn": role, "RetryPolicy": map[string]any{"MaximumRetryAttempts": 186}}, nil),
		"bus without parameters": schedule("rate(5 minutes)", map[string]any{"Arn": "arn:aws:events:us-east-1:000000000000:event-bus/default", "RoleArn": role}, nil),
	} {
		code, out := h.call(t, "POST", "/schedules/bad", body)
		if code != 400 || out["__type"] != "ValidationException" {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
	if code, _ := h.call(t, "GET", "/schedules/bad", nil); code != 404 {
		t.Errorf("a refused schedule was stored: %d", code)
	}
	if code, out := h.call(t, "POST", "/schedules/x", schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"GroupName": "none"})); code != 404 {
		t.Errorf("a schedule in a missing group: %d %v", code, out)
	}
	if code, out := h.call(t, "POST", "/schedules/"+strings.Repeat("n", 65), schedule("rate(5 minutes)", lambdaTarget(""), nil)); code != 400 {
		t.Errorf("a 65-character name: %d %v", code, out)
	}
	// Schedules take no tags on AWS: only a schedule group's ARN is a resource.
	if code, out := h.call(t, "POST", "/tags/arn:aws:scheduler:us-east-1:000000000000:schedule/default/x", map[string]any{"Tags": []any{}}); code != 400 ||
		out["__type"] != "ValidationException" || !strings.Contains(fmt.Sprint(out["Message"]), "resourceArn") {
		t.Errorf("TagResource on a schedule: %d %v", code, out)
	}
}

// TestClientTokenAndGroupTags: a create repeated with its ClientToken
// answers the first result and stores one schedule; the token with
// another request is a ConflictException; schedule groups take tags.
func TestClientTokenAndGroupTags(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	h := start(t, storetest.Open(t), clock, newRecorder())
	body := schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"ClientToken": "tok-1"})
	for range 2 {
		if code, out := h.call(t, "POST", "/schedules/once", body); code != 200 ||
			out["ScheduleArn"] != "arn:aws:scheduler:us-east-1:000000000000:schedule/default/once" {
			t.Fatalf("CreateSchedule with ClientToken: %d %v", code, out)
		}
	}
	if code, out := h.call(t, "POST", "/schedules/once", schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"ClientToken": "tok-2"})); code != 409 ||
		out["__type"] != "ConflictException" {
		t.Errorf("a second create of the name with another token: %d %v", code, out)
	}
	other := schedule("rate(7 minutes)", lambdaTarget(""), map[string]any{"ClientToken": "tok-1"})
	if code, out := h.call(t, "POST", "/schedules/other", other); code != 409 || out["__type"] != "ConflictException" {
		t.Errorf("the token with another request: %d %v", code, out)
	}
	if code, _ := h.call(t, "GET", "/schedules/other", nil); code != 404 {
		t.Errorf("the refused request stored a schedule: %d", code)
	}
	if code, out := h.call(t, "POST", "/schedules/x", schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"ClientToken": "bad token!"})); code != 400 {
		t.Errorf("a malformed token: %d %v", code, out)
	}
	if _, out := h.call(t, "GET", "/schedules", nil); len(out["Schedules"].([]any)) != 1 {
		t.Errorf("ListSchedules = %v; want the one schedule", out)
	}

	arn := "arn:aws:scheduler:us-east-1:000000000000:schedule-group/team"
	if code, out := h.call(t, "POST", "/schedule-groups/team", map[string]any{"Tags": []map[string]string{{"Key": "env", "Value": "dev"}}}); code != 200 {
		t.Fatalf("CreateScheduleGroup with tags: %d %v", code, out)
	}
	if code, out := h.call(t, "POST", "/tags/"+arn, map[string]any{"Tags": []map[string]string{{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "a"}}}); code != 200 {
		t.Fatalf("TagResource: %d %v", code, out)
	}
	if _, out := h.call(t, "GET", "/tags/"+arn, nil); fmt.Sprint(out["Tags"]) != "[map[Key:env Value:prod] map[Key:team Value:a]]" {
		t.Errorf("ListTagsForResource = %v", out)
	}
	if code, out := h.call(t, "DELETE", "/tags/"+arn+"?TagKeys=env&TagKeys=none", nil); code != 200 {
		t.Fatalf("UntagResource: %d %v", code, out)
	}
	if _, out := h.call(t, "GET", "/tags/"+arn, nil); fmt.Sprint(out["Tags"]) != "[map[Key:team Value:a]]" {
		t.Errorf("after UntagResource: %v", out)
	}
	if _, out := h.call(t, "GET", "/schedule-groups/team", nil); out["Tags"] != nil {
		t.Errorf("GetScheduleGroup answers tags: %v", out)
	}
	if code, out := h.call(t, "GET", "/tags/arn:aws:scheduler:us-east-1:000000000000:schedule-group/none", nil); code != 404 ||
		out["__type"] != "ResourceNotFoundException" {
		t.Errorf("tags of a missing group: %d %v", code, out)
	}
	if code, out := h.call(t, "GET", "/tags/arn:aws:scheduler:us-east-1:999999999999:schedule-group/team", nil); code != 404 {
		t.Errorf("tags of another account's group: %d %v", code, out)
	}
	if code, out := h.call(t, "POST", "/tags/"+arn, map[string]any{"Tags": []map[string]string{{"Key": "", "Value": "v"}}}); code != 400 {
		t.Errorf("an empty tag key: %d %v", code, out)
	}
}

// TestClientTokenWaitsForItsRequest: a request whose ClientToken another
// request holds does not answer before that request finished (and then
// answers its ARN); a DeleteSchedule repeated with its token succeeds
// again, without the token it is a ResourceNotFoundException.
func TestClientTokenWaitsForItsRequest(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	h := start(t, storetest.Open(t), clock, newRecorder())
	ctx := t.Context()
	body := schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"ClientToken": "race-1"})
	raw, _ := json.Marshal(body)
	digest := requestDigest("CreateSchedule", "raced", raw)
	arn := "arn:aws:scheduler:us-east-1:000000000000:schedule/default/raced"
	// The first request has claimed the token and not finished.
	if _, done, err := h.svc.claimToken(ctx, "race-1", digest, arn); err != nil || done {
		t.Fatalf("claim: done %v, %v", done, err)
	}
	var finished atomic.Bool
	type answer struct {
		code     int
		out      map[string]any
		finished bool
	}
	answered := make(chan answer, 1)
	go func() {
		code, out := h.call(t, "POST", "/schedules/raced", body)
		answered <- answer{code, out, finished.Load()}
	}()
	// The first request's work, then its finish.
	b, _ := json.Marshal(stored{Schedule: Schedule{Name: "raced", GroupName: DefaultGroup, Arn: arn, ScheduleExpression: "rate(5 minutes)", State: "ENABLED"}})
	if _, err := h.svc.kv.Create(ctx, schedKey(DefaultGroup, "raced"), b); err != nil {
		t.Fatal(err)
	}
	finished.Store(true)
	h.svc.finishToken(ctx, "race-1", digest, arn)
	a := <-answered
	if a.code != 200 || a.out["ScheduleArn"] != arn {
		t.Fatalf("the racing create: %d %v; want the first request's ARN", a.code, a.out)
	}
	if !a.finished {
		t.Error("the racing create answered the ARN before the first request finished")
	}

	// A released claim lets the waiting request run itself.
	body2 := schedule("rate(5 minutes)", lambdaTarget(""), map[string]any{"ClientToken": "race-2"})
	raw2, _ := json.Marshal(body2)
	if _, _, err := h.svc.claimToken(ctx, "race-2", requestDigest("CreateSchedule", "second", raw2), "x"); err != nil {
		t.Fatal(err)
	}
	go func() {
		code, out := h.call(t, "POST", "/schedules/second", body2)
		answered <- answer{code: code, out: out}
	}()
	h.svc.releaseToken(ctx, "race-2")
	if a := <-answered; a.code != 200 || a.out["ScheduleArn"] != "arn:aws:scheduler:us-east-1:000000000000:schedule/default/second" {
		t.Fatalf("the create after a released claim: %d %v", a.code, a.out)
	}
	if code, _ := h.call(t, "GET", "/schedules/second", nil); code != 200 {
		t.Errorf("the create after a released claim stored nothing: %d", code)
	}

	checkDeleteToken(t, h, "/schedules/", "raced", "second", "del")

	// DeleteScheduleGroup honours its ClientToken the same way.
	for _, g := range []string{"g1", "g2"} {
		if code, out := h.call(t, "POST", "/schedule-groups/"+g, map[string]any{}); code != 200 {
			t.Fatalf("create group %s: %d %v", g, code, out)
		}
	}
	checkDeleteToken(t, h, "/schedule-groups/", "g1", "g2", "gdel")
	if code, out := h.call(t, "DELETE", "/schedule-groups/g2?clientToken=bad%20token", nil); code != 400 || out["__type"] != "ValidationException" {
		t.Errorf("DeleteScheduleGroup with a malformed token: %d %v", code, out)
	}
}

// TestScheduleFiresOnTheClock: a rate schedule fires at its due times on
// the (fake) clock with Scheduler's context attributes in its input; a
// one-time schedule with ActionAfterCompletion DELETE fires once and is
// deleted; a disabled schedule does not fire.
func TestScheduleFiresOnTheClock(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := fakeclock.New(t0)
	rec := newRecorder()
	h := start(t, storetest.Open(t), clock, rec)
	h.call(t, "POST", "/schedules/tick", schedule("rate(5 minutes)",
		lambdaTarget(`{"arn": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>", "n": <aws.scheduler.attempt-number>}`), nil))
	h.call(t, "POST", "/schedules/once", schedule("at(2026-06-01T12:02:00)", lambdaTarget(`{"once": true}`),
		map[string]any{"ActionAfterCompletion": "DELETE"}))
	h.call(t, "POST", "/schedules/off", schedule("rate(1 minute)", lambdaTarget(`{"off": true}`), map[string]any{"State": "DISABLED"}))
	clock.WaitFor(t, 1, t0.Add(2*time.Minute))
	clock.Advance(2 * time.Minute)
	got := rec.wait(t, 1)
	if string(got[0].Body) != `{"once": true}` || got[0].TargetArn != fnArn {
		t.Fatalf("first delivery %s to %s", got[0].Body, got[0].TargetArn)
	}
	clock.WaitFor(t, 1, t0.Add(5*time.Minute))
	clock.Advance(3 * time.Minute)
	got = rec.wait(t, 2)
	want := `{"arn": "arn:aws:scheduler:us-east-1:000000000000:schedule/default/tick", "at": "2026-06-01T12:05:00Z", "n": 1}`
	if string(got[1].Body) != want {
		t.Errorf("rate firing input %s, want %s", got[1].Body, want)
	}
	// The one-time schedule is gone once fired.
	for range 200 {
		if code, _ := h.call(t, "GET", "/schedules/once", nil); code == 404 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := h.call(t, "GET", "/schedules/once", nil); code != 404 {
		t.Error("the completed at() schedule with ActionAfterCompletion DELETE is still there")
	}
	clock.WaitFor(t, 1, t0.Add(10*time.Minute))
	clock.Advance(5 * time.Minute)
	got = rec.wait(t, 3)
	if len(got) != 3 || !strings.Contains(string(got[2].Body), "12:10:00Z") {
		t.Errorf("deliveries %d, last %s", len(got), got[len(got)-1].Body)
	}
	for _, d := range got {
		if strings.Contains(string(d.Body), "off") {
			t.Error("a disabled schedule fired")
		}
	}
}

// TestMissedDueTimesFireOnceAfterRestart: due times that passed while no
// node ran fire once after start (the latest), and the schedule goes on
// from there; a restart does not fire again what was fired.
func TestMissedDueTimesFireOnceAfterRestart(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := fakeclock.New(t0)
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	rec := newRecorder()
	h := start(t, st, clock, rec)
	h.call(t, "POST", "/schedules/tick", schedule("rate(1 minute)", lambdaTarget(`{"at": "<aws.scheduler.scheduled-time>"}`), nil))
	clock.WaitFor(t, 1, t0.Add(time.Minute))
	clock.Advance(time.Minute)
	rec.wait(t, 1)
	h.stop()
	clock.Advance(3 * time.Hour) // down for three hours: 180 due times
	h2 := start(t, st, clock, rec)
	got := rec.wait(t, 2)
	if string(got[1].Body) != `{"at": "2026-06-01T15:01:00Z"}` {
		t.Errorf("after restart %s, want the latest missed due time", got[1].Body)
	}
	h2.stop()
	h3 := start(t, st, clock, rec)
	clock.WaitFor(t, 1, clock.Now().Add(time.Minute))
	if n := len(rec.all()); n != 2 {
		t.Errorf("%d deliveries after a second restart, want 2", n)
	}
	_ = h3
}

// TestOneFiringAcrossNodes: two services on one backbone both run their
// firing loop; each due time is delivered once.
func TestOneFiringAcrossNodes(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := fakeclock.New(t0)
	st := storetest.Open(t)
	rec := newRecorder()
	a := start(t, st, clock, rec)
	_ = start(t, st, clock, rec)
	a.call(t, "POST", "/schedules/tick", schedule("rate(1 minute)", lambdaTarget(`{"at": "<aws.scheduler.scheduled-time>"}`), nil))
	for i := 1; i <= 3; i++ {
		// Both loops wait for the due time before it comes.
		clock.WaitFor(t, 2, t0.Add(time.Duration(i)*time.Minute))
		clock.Advance(time.Minute)
		rec.wait(t, i)
	}
	// Let a duplicate, if any, arrive: the stream is drained once the
	// consumer has nothing left.
	for range 400 {
		info, err := a.svc.cons.Info(t.Context())
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	seen := map[string]int{}
	for _, d := range rec.all() {
		seen[string(d.Body)]++
	}
	if len(seen) != 3 || len(rec.all()) != 3 {
		t.Errorf("deliveries %v, want each of three due times once", seen)
	}
}

// TestRetryThenDeadLetter: a target that fails is retried up to
// MaximumRetryAttempts, then the firing goes to the dead-letter queue
// with the error named; a target that cannot exist goes there at once.
func TestRetryThenDeadLetter(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := fakeclock.New(t0)
	rec := newRecorder()
	rec.fail[fnArn] = errors.New("the function is throttled")
	h := start(t, storetest.Open(t), clock, rec)
	h.call(t, "POST", "/schedules/flaky", schedule("rate(1 minute)", map[string]any{"Arn": fnArn, "RoleArn": role, "Input": `{"k": 1}`,
		"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 2},
		"DeadLetterConfig": map[string]any{"Arn": queue}}, nil))
	clock.WaitFor(t, 1, t0.Add(time.Minute))
	clock.Advance(time.Minute)
	got := rec.wait(t, 1)
	d := got[0]
	if d.TargetArn != queue || string(d.Body) != `{"k": 1}` || d.Attributes["RETRY_ATTEMPTS"].StringValue != "2" ||
		d.Attributes["TARGET_ARN"].StringValue != fnArn || !strings.Contains(d.Attributes["ERROR_MESSAGE"].StringValue, "throttled") {
		t.Errorf("dead letter %+v", d)
	}
	if st := h.svc.Stats(); st.FailedInvocations != 3 || st.DeadLetters != 1 {
		t.Errorf("stats %+v: want 3 failed attempts and one dead letter", st)
	}
}

// checkDeleteToken deletes first twice with one ClientToken (both
// succeed, as a retry would), then shows the token cannot be reused for
// second (409, second kept) and that a missing resource is still 404.
func checkDeleteToken(t *testing.T, h *harness, prefix, first, second, token string) {
	t.Helper()
	for i := range 2 {
		if code, out := h.call(t, "DELETE", prefix+first+"?clientToken="+token+"-1", nil); code != 200 {
			t.Fatalf("delete %s%s with ClientToken, call %d: %d %v", prefix, first, i+1, code, out)
		}
	}
	if code, out := h.call(t, "DELETE", prefix+first, nil); code != 404 || out["__type"] != "ResourceNotFoundException" {
		t.Errorf("delete of the deleted %s%s without a token: %d %v", prefix, first, code, out)
	}
	if code, out := h.call(t, "DELETE", prefix+second+"?clientToken="+token+"-1", nil); code != 409 || out["__type"] != "ConflictException" {
		t.Errorf("the delete token reused for %s%s: %d %v", prefix, second, code, out)
	}
	if code, _ := h.call(t, "GET", prefix+second, nil); code != 200 {
		t.Errorf("the refused delete deleted %s%s: %d", prefix, second, code)
	}
	if code, out := h.call(t, "DELETE", prefix+"none?clientToken="+token+"-2", nil); code != 404 {
		t.Errorf("delete of a missing %snone: %d %v", prefix, code, out)
	}
}
