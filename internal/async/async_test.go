package async

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// unused fails the test if the dispatcher side is reached: these tests
// exercise the queue alone.
type unused struct{ t testing.TB }

func (u unused) Resolve(context.Context, string, string) (*function.Config, error) {
	u.t.Error("Resolve called")
	return nil, fmt.Errorf("unused")
}
func (u unused) AsyncSettings(string, string) *function.EventInvokeConfig { return nil }
func (u unused) Ready() <-chan struct{}                                   { return nil }
func (u unused) Invoke(context.Context, *function.Config, *invoke.Request) (*invoke.Result, error) {
	u.t.Error("Invoke called")
	return nil, fmt.Errorf("unused")
}

// queueOnly opens a real store and a Service whose publisher runs (no
// dispatcher), so the queue's contents can be inspected.
func queueOnly(t testing.TB) *Service {
	t.Helper()
	st := storetest.Open(t)
	s, err := New(context.Background(), Options{JetStream: st.JetStream(), Functions: unused{t}, Invoker: unused{t},
		Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.pub.run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// queued reads every message in the queue.
func queued(t *testing.T, s *Service) []*envelope {
	t.Helper()
	ctx := context.Background()
	info, err := s.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*envelope
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.stream.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted
		}
		if isGroup(m.Data) {
			envs, err := decodeGroup(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, envs...)
			continue
		}
		env, err := decodeEnvelope(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

func TestEnqueueConcurrentSharesCommits(t *testing.T) {
	s := queueOnly(t)
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Enqueue(context.Background(), &Event{RequestID: fmt.Sprintf("req-%03d", i), FunctionName: "f",
				InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:f", Payload: []byte(`{"i":` + fmt.Sprint(i) + `}`)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	envs := queued(t, s)
	if len(envs) != n {
		t.Fatalf("queue holds %d events, want %d", len(envs), n)
	}
	seen := map[string]bool{}
	for _, e := range envs {
		seen[e.RequestID] = true
		var p map[string]int
		if err := json.Unmarshal(e.Payload, &p); err != nil || fmt.Sprintf("req-%03d", p["i"]) != e.RequestID {
			t.Fatalf("event %s carries payload %s", e.RequestID, e.Payload)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct request ids, want %d", len(seen), n)
	}
	if c := s.pub.commits.Load(); c >= n {
		t.Fatalf("%d commits for %d concurrent events: no group commit", c, n)
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.QueueDepth != n || st.Enqueued != n {
		t.Fatalf("stats %+v, want depth and enqueued %d", st, n)
	}
}

func TestEnqueueDedup(t *testing.T) {
	s := queueOnly(t)
	// A client's or the dispatcher's repeated publish of one event (same
	// id, a message of its own) is stored once.
	for range 3 {
		ev := &Event{RequestID: "same", FunctionName: "f", InvokedFunctionArn: "arn", Payload: []byte(`{}`)}
		if err := s.Enqueue(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	env := &envelope{RequestID: "r", Function: "f", InvokedArn: "arn", Payload: []byte(`{}`), Enqueued: 1, DedupID: "r", Gen: 2, NotBefore: 5}
	for range 2 {
		if err := s.publishDirect(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	count := map[string]int{}
	for _, e := range queued(t, s) {
		count[e.RequestID]++
	}
	if count["same"] != 1 || count["r"] != 1 || len(count) != 2 {
		t.Fatalf("queue = %v, want one 'same' and one 'r'", count)
	}
}

// TestGroupsSharingAFirstEventAreBothStored: after a crash, a group
// message that ran again re-queues its finished events' destination
// records, which form new groups. A new group whose first event (and size)
// equals an older group's holds other events: it must be stored, not taken
// for a duplicate of the older one, or its other events (records, or
// events a client was answered 202 for) are lost.
func TestGroupsSharingAFirstEventAreBothStored(t *testing.T) {
	s := queueOnly(t)
	req := func(id string) *pubReq {
		env := &envelope{RequestID: id, Function: "f", InvokedArn: "arn", Payload: []byte(`{}`), Enqueued: 1, DedupID: id}
		data, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return &pubReq{data: data, msgID: env.msgID(), done: make(chan error, 1)}
	}
	commit := func(ids ...string) {
		t.Helper()
		group := make([]*pubReq, len(ids))
		for i, id := range ids {
			group[i] = req(id)
		}
		s.pub.commit(context.Background(), group)
		for _, r := range group {
			if err := <-r.done; err != nil {
				t.Fatal(err)
			}
		}
	}
	commit("x/success", "a")
	commit("x/success", "b") // x's record again (the group ran twice), beside a new event
	commit("x/success", "a") // the same group again: a true duplicate
	count := map[string]int{}
	for _, e := range queued(t, s) {
		count[e.RequestID]++
	}
	if count["a"] != 1 || count["b"] != 1 || count["x/success"] != 2 || len(count) != 3 {
		t.Fatalf("queue = %v, want x/success twice, a and b once", count)
	}
}

func TestGroupDecode(t *testing.T) {
	a := `{"requestId":"a","function":"f","dedupId":"a","enqueued":1,"payload":{"x":1}}`
	b := `{"requestId":"b","function":"f","dedupId":"b","enqueued":2}`
	envs, err := decodeGroup([]byte("[" + a + "," + b + "]"))
	if err != nil || len(envs) != 2 || envs[0].RequestID != "a" || envs[1].RequestID != "b" || string(envs[1].Payload) != "{}" {
		t.Fatalf("decodeGroup = %+v, %v", envs, err)
	}
	for _, bad := range []string{"[]", "[{}]", "[" + a + ",1]", "[" + a} {
		if _, err := decodeGroup([]byte(bad)); err == nil {
			t.Errorf("decodeGroup(%s) accepted", bad)
		}
	}
	if !isGroup([]byte(" [")) || isGroup([]byte(a)) {
		t.Error("isGroup")
	}
}

func TestDelays(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 40: 5 * time.Minute} {
		if got := backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
	if functionErrorDelay(1) != time.Minute || functionErrorDelay(2) != 2*time.Minute {
		t.Errorf("function error delays %s, %s; want 1m, 2m", functionErrorDelay(1), functionErrorDelay(2))
	}
	s := &Service{scale: 0.01}
	if got := s.scaled(time.Minute); got != 600*time.Millisecond {
		t.Errorf("scaled(1m) at 0.01 = %s", got)
	}
}

func TestRecordShape(t *testing.T) {
	now := time.Date(2019, 11, 14, 18, 16, 5, 568e6, time.UTC)
	s := &Service{region: "us-east-2", account: "123456789012", now: func() time.Time { return now }}
	env := &envelope{RequestID: "e4b46cbf", Function: "my-function", Payload: json.RawMessage(`{"ORDER_IDS":[1]}`), Invokes: 3,
		Last: &outcome{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled", Payload: json.RawMessage(`{"errorMessage":"x"}`)}}
	got := string(s.record(env, ConditionRetriesExhausted))
	want := `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"e4b46cbf","functionArn":"arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":{"ORDER_IDS":[1]},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"responsePayload":{"errorMessage":"x"}}`
	if got != want {
		t.Fatalf("record\n got %s\nwant %s", got, want)
	}
	if p := jsonPayload([]byte("plain text")); string(p) != `"plain text"` {
		t.Fatalf("non-JSON response became %s", p)
	}
}

func TestUndeliverableTargets(t *testing.T) {
	for arn, svc := range map[string]string{"arn:aws:sqs:us-east-1:000000000000:q": "sqs", "arn:aws:lambda:us-east-1:000000000000:function:f": "lambda", "nope": ""} {
		if got := deliver.Service(arn); got != svc {
			t.Errorf("deliver.Service(%q) = %q, want %q", arn, got, svc)
		}
	}
	if name, q, ok := ParseFunctionArn("arn:aws:lambda:us-east-1:000000000000:function:f:live"); !ok || name != "f" || q != "live" {
		t.Errorf("ParseFunctionArn = %q %q %v", name, q, ok)
	}
}

// FuzzDecodeEnvelope: whatever sits in the queue, decoding (of an event
// or a group) does not panic and an accepted event has what the
// dispatcher needs.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"requestId":"r","function":"f","dedupId":"r","enqueued":1,"payload":{}}`))
	f.Add([]byte(`{"requestId":"r","function":"f","dedupId":"r","enqueued":1,"last":{"statusCode":200,"payload":"x"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`nope`))
	f.Add([]byte(`[{"requestId":"r","function":"f","dedupId":"r","enqueued":1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if isGroup(data) {
			envs, err := decodeGroup(data)
			if err == nil && len(envs) == 0 {
				t.Fatal("accepted an empty group")
			}
			return
		}
		env, err := decodeEnvelope(data)
		if err != nil {
			return
		}
		if env.RequestID == "" || env.Function == "" || env.DedupID == "" || env.Enqueued <= 0 || len(env.Payload) == 0 {
			t.Fatalf("accepted %+v", env)
		}
		if !strings.HasPrefix(env.msgID(), env.DedupID) {
			t.Fatalf("msg id %q", env.msgID())
		}
	})
}

// FuzzParseFunctionArn: destination ARNs come from clients.
func FuzzParseFunctionArn(f *testing.F) {
	f.Add("arn:aws:lambda:us-east-1:000000000000:function:f")
	f.Add("arn:aws:lambda:us-east-1:000000000000:function:f:1")
	f.Add("arn:aws:sqs:us-east-1:000000000000:q")
	f.Add("arn:aws:lambda:::function::")
	f.Fuzz(func(t *testing.T, arn string) {
		name, q, ok := ParseFunctionArn(arn)
		if !ok {
			return
		}
		if name == "" || strings.Contains(name, ":") || strings.Contains(q, ":") || deliver.Service(arn) != "lambda" {
			t.Fatalf("ParseFunctionArn(%q) = %q, %q", arn, name, q)
		}
	})
}
