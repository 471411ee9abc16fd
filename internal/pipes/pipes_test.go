package pipes

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/esm"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const (
	region   = "us-east-1"
	account  = "000000000000"
	role     = "arn:aws:iam::000000000000:role/pipe"
	enrichFn = "arn:aws:lambda:us-east-1:000000000000:function:enrich"
	targetFn = "arn:aws:lambda:us-east-1:000000000000:function:target"
)

// queues is the real SQS service as a pipe's source sees it.
type queues struct{ s *sqs.Service }

func (q queues) IsFIFO(ctx context.Context, a, n string) (bool, error) { return q.s.IsFIFO(ctx, a, n) }
func (q queues) Delete(ctx context.Context, a, n, h string) error      { return q.s.Delete(ctx, a, n, h) }
func (q queues) Receive(ctx context.Context, a, n string, max int, wait time.Duration) ([]esm.Message, error) {
	got, err := q.s.Receive(ctx, a, n, sqs.ReceiveInput{Max: max, Wait: wait})
	if err != nil {
		return nil, err
	}
	out := make([]esm.Message, len(got))
	for i, m := range got {
		out[i] = esm.Message{MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body, MD5OfBody: m.MD5OfBody}
	}
	return out, nil
}

// functions is a fake Lambda: the enrichment adds "extra" to each event;
// the target records its batches.
type functions struct {
	mu      sync.Mutex
	batches [][]json.RawMessage
	got     chan struct{}
}

func (f *functions) InvokeSync(_ context.Context, arn string, payload []byte) ([]byte, string, error) {
	var in []map[string]any
	if err := json.Unmarshal(payload, &in); err != nil {
		return []byte(`{"errorMessage":"not an array"}`), "Unhandled", nil
	}
	switch arn {
	case enrichFn:
		for _, ev := range in {
			ev["extra"] = "enriched"
		}
		b, _ := json.Marshal(in)
		return b, "", nil
	case targetFn:
		var batch []json.RawMessage
		_ = json.Unmarshal(payload, &batch)
		f.mu.Lock()
		f.batches = append(f.batches, batch)
		f.mu.Unlock()
		f.got <- struct{}{}
		return []byte(`null`), "", nil
	}
	return []byte(`{"errorMessage":"no such function"}`), "Unhandled", nil
}

type env struct {
	s   *Service
	sqs *sqs.Service
	fns *functions
	url string
	bus *busRecorder
}

type busRecorder struct {
	mu     sync.Mutex
	events []string
}

func (b *busRecorder) PutEvent(_ context.Context, bus, source, detailType, detail string, _ []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, bus+"|"+source+"|"+detailType+"|"+detail)
	return nil
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := storetest.Open(t)
	ctx := t.Context()
	q, err := sqs.New(ctx, sqs.Options{JetStream: st.JetStream(), Region: region, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	fns := &functions{got: make(chan struct{}, 100)}
	router := deliver.NewRouter()
	router.Handle("lambda", deliver.Func(func(context.Context, *deliver.Delivery) error { return nil }))
	router.Handle("sqs", deliver.Func(func(ctx context.Context, d *deliver.Delivery) error {
		p := strings.Split(d.TargetArn, ":")
		_, _, err := q.Send(ctx, p[4], p[5], []*sqs.SendInput{{Body: string(d.Body), GroupID: d.GroupID}})
		return err
	}))
	bus := &busRecorder{}
	s, err := New(ctx, Options{JetStream: st.JetStream(), Queues: queues{q}, Invoker: fns, Targets: router, Bus: bus,
		Region: region, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(rctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	for _, n := range []string{"src", "out"} {
		if _, err := q.CreateQueue(ctx, account, n, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return &env{s: s, sqs: q, fns: fns, url: srv.URL, bus: bus}
}

func (e *env) call(t *testing.T, method, path string, body any) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, e.url+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header.Get("X-Amzn-ErrorType")
}

// waitState polls DescribePipe until the pipe reaches state (a hang
// guard bounds it; nothing is asserted on time).
func (e *env) waitState(t *testing.T, name, state string) map[string]any {
	t.Helper()
	var last map[string]any
	for range 500 {
		_, out, _ := e.call(t, http.MethodGet, "/v1/pipes/"+name, nil)
		if out["CurrentState"] == state {
			return out
		}
		last = out
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pipe %s never reached %s: %v", name, state, last)
	return nil
}

func (e *env) send(t *testing.T, queue string, bodies ...string) {
	t.Helper()
	var in []*sqs.SendInput
	for _, b := range bodies {
		in = append(in, &sqs.SendInput{Body: b})
	}
	if _, _, err := e.sqs.Send(t.Context(), account, queue, in); err != nil {
		t.Fatal(err)
	}
}

const srcArn = "arn:aws:sqs:us-east-1:000000000000:src"

// TestPipeSQSFilterEnrichmentTemplate: a pipe from a queue drops what its
// filter rejects, enriches the rest, renders the target's InputTemplate
// per event and invokes the target with the batch; the states move as
// AWS reports them.
func TestPipeSQSFilterEnrichmentTemplate(t *testing.T) {
	e := newEnv(t)
	status, out, code := e.call(t, http.MethodPost, "/v1/pipes/orders", map[string]any{
		"Source": srcArn, "RoleArn": role, "Enrichment": enrichFn, "Target": targetFn,
		"SourceParameters": map[string]any{
			"FilterCriteria":     map[string]any{"Filters": []any{map[string]any{"Pattern": `{"body":{"kind":["order"]}}`}}},
			"SqsQueueParameters": map[string]any{"BatchSize": 10},
		},
		"TargetParameters": map[string]any{
			"InputTemplate": `{"id": <$.body.id>, "pipe": "<aws.pipes.pipe-name>", "note": "<$.extra>"}`,
		},
	})
	if status != 200 || out["CurrentState"] != "CREATING" || out["DesiredState"] != "RUNNING" ||
		out["Arn"] != "arn:aws:pipes:us-east-1:000000000000:pipe/orders" {
		t.Fatalf("create: %d %s %v", status, code, out)
	}
	e.waitState(t, "orders", "RUNNING")
	e.send(t, "src", `{"kind":"order","id":1}`, `{"kind":"refund","id":2}`, `{"kind":"order","id":3}`)
	var got []string
	for len(got) < 2 {
		select {
		case <-e.fns.got:
		case <-time.After(30 * time.Second):
			t.Fatalf("target got %v", got)
		}
		e.fns.mu.Lock()
		got = got[:0]
		for _, b := range e.fns.batches {
			for _, ev := range b {
				got = append(got, string(ev))
			}
		}
		e.fns.mu.Unlock()
	}
	want := map[string]bool{`{"id": 1, "pipe": "orders", "note": "enriched"}`: true, `{"id": 3, "pipe": "orders", "note": "enriched"}`: true}
	for _, g := range got {
		if !want[g] {
			t.Errorf("target got %s", g)
		}
	}
	if len(got) != 2 {
		t.Errorf("target got %d events, want 2: %v", len(got), got)
	}

	status, out, _ = e.call(t, http.MethodPost, "/v1/pipes/orders/stop", nil)
	if status != 200 || out["CurrentState"] != "STOPPING" || out["DesiredState"] != "STOPPED" {
		t.Fatalf("stop: %d %v", status, out)
	}
	e.waitState(t, "orders", "STOPPED")
	_, out, _ = e.call(t, http.MethodGet, "/v1/pipes?DesiredState=STOPPED", nil)
	if ps, _ := out["Pipes"].([]any); len(ps) != 1 {
		t.Fatalf("list stopped: %v", out)
	}
	status, out, _ = e.call(t, http.MethodPost, "/v1/pipes/orders/start", nil)
	if status != 200 || out["CurrentState"] != "STARTING" {
		t.Fatalf("start: %d %v", status, out)
	}
	e.waitState(t, "orders", "RUNNING")
	status, out, _ = e.call(t, http.MethodDelete, "/v1/pipes/orders", nil)
	if status != 200 || out["CurrentState"] != "DELETING" || out["DesiredState"] != "DELETED" {
		t.Fatalf("delete: %d %v", status, out)
	}
	for i := 0; ; i++ {
		status, _, code = e.call(t, http.MethodGet, "/v1/pipes/orders", nil)
		if status == 404 && code == "NotFoundException" {
			break
		}
		if i > 500 {
			t.Fatalf("pipe not deleted: %d %s", status, code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPipeToQueueAndBus: SQS targets get one message per event (a text
// template as the body); event-bus targets one event each with Pipes'
// default source and detail type.
func TestPipeToQueueAndBus(t *testing.T) {
	e := newEnv(t)
	if st, out, _ := e.call(t, http.MethodPost, "/v1/pipes/copy", map[string]any{
		"Source": srcArn, "RoleArn": role, "Target": "arn:aws:sqs:us-east-1:000000000000:out",
		"TargetParameters": map[string]any{"InputTemplate": `order <$.body.id> from <aws.pipes.source-arn>`},
	}); st != 200 {
		t.Fatalf("create: %v", out)
	}
	e.waitState(t, "copy", "RUNNING")
	e.send(t, "src", `{"id":7}`)
	var body string
	for range 100 {
		got, err := e.sqs.Receive(t.Context(), account, "out", sqs.ReceiveInput{Max: 1, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 {
			body = got[0].Body
			break
		}
	}
	if body != "order 7 from "+srcArn {
		t.Fatalf("queue target got %q", body)
	}
	e.call(t, http.MethodDelete, "/v1/pipes/copy", nil)

	if st, out, _ := e.call(t, http.MethodPost, "/v1/pipes/tobus", map[string]any{
		"Source": srcArn, "RoleArn": role, "Target": "arn:aws:events:us-east-1:000000000000:event-bus/default",
	}); st != 200 {
		t.Fatalf("create: %v", out)
	}
	e.waitState(t, "tobus", "RUNNING")
	e.send(t, "src", `{"id":8}`)
	for i := 0; ; i++ {
		e.bus.mu.Lock()
		n := len(e.bus.events)
		var ev string
		if n > 0 {
			ev = e.bus.events[0]
		}
		e.bus.mu.Unlock()
		if n > 0 {
			if !strings.HasPrefix(ev, "default|Pipe tobus|Event from aws:sqs|{") || !strings.Contains(ev, `"body":"{\"id\":8}"`) {
				t.Fatalf("bus got %s", ev)
			}
			break
		}
		if i > 1000 {
			t.Fatal("the bus got nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCreateRefusals: bad input gets AWS's errors and nothing is stored.
func TestCreateRefusals(t *testing.T) {
	e := newEnv(t)
	ok := map[string]any{"Source": srcArn, "RoleArn": role, "Target": targetFn}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range ok {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for name, c := range map[string]struct {
		path string
		body map[string]any
		code string
	}{
		"bad name":        {"/v1/pipes/bad%20name", ok, "ValidationException"},
		"no role":         {"/v1/pipes/p", with("RoleArn", "nope"), "ValidationException"},
		"missing queue":   {"/v1/pipes/p", with("Source", "arn:aws:sqs:us-east-1:000000000000:none"), "ValidationException"},
		"mq source":       {"/v1/pipes/p", with("Source", "arn:aws:mq:us-east-1:000000000000:broker:b:id"), "ValidationException"},
		"ecs target":      {"/v1/pipes/p", with("Target", "arn:aws:ecs:us-east-1:000000000000:cluster/c"), "ValidationException"},
		"log config":      {"/v1/pipes/p", with("LogConfiguration", map[string]any{"Level": "INFO"}), "ValidationException"},
		"kafka params":    {"/v1/pipes/p", with("SourceParameters", map[string]any{"SelfManagedKafkaParameters": map[string]any{}}), "ValidationException"},
		"bad pattern":     {"/v1/pipes/p", with("SourceParameters", map[string]any{"FilterCriteria": map[string]any{"Filters": []any{map[string]any{"Pattern": `{"body":`}}}}), "ValidationException"},
		"batch no window": {"/v1/pipes/p", with("SourceParameters", map[string]any{"SqsQueueParameters": map[string]any{"BatchSize": 100}}), "ValidationException"},
		"sfn sync":        {"/v1/pipes/p", with("Target", "arn:aws:states:us-east-1:000000000000:stateMachine:m"), "ValidationException"},
		"http enrich":     {"/v1/pipes/p", with("Enrichment", "arn:aws:execute-api:us-east-1:000000000000:a/b/GET/"), "ValidationException"},
		"bad state":       {"/v1/pipes/p", with("DesiredState", "PAUSED"), "ValidationException"},
	} {
		status, out, code := e.call(t, http.MethodPost, c.path, c.body)
		if status != 400 || code != c.code || out["message"] == "" {
			t.Errorf("%s: %d %s %v", name, status, code, out)
		}
	}
	_, out, _ := e.call(t, http.MethodGet, "/v1/pipes", nil)
	if ps, _ := out["Pipes"].([]any); len(ps) != 0 {
		t.Fatalf("refused pipes were stored: %v", out)
	}
	if st, _, code := e.call(t, http.MethodPost, "/v1/pipes/p", ok); st != 200 {
		t.Fatalf("create: %d %s", st, code)
	}
	if st, out, code := e.call(t, http.MethodPost, "/v1/pipes/p", ok); st != 409 || code != "ConflictException" || out["resourceId"] != "p" {
		t.Fatalf("second create: %d %s %v", st, code, out)
	}
	if st, _, code := e.call(t, http.MethodPut, "/v1/pipes/p", map[string]any{"Target": targetFn}); st != 400 || code != "ValidationException" {
		t.Fatalf("update without RoleArn: %d %s", st, code)
	}
	if st, _, code := e.call(t, http.MethodGet, "/v1/pipes/none", nil); st != 404 || code != "NotFoundException" {
		t.Fatalf("describe missing: %d %s", st, code)
	}
}

// TestInputTemplate: Pipes' placeholders with EventBridge's quoting rules.
func TestInputTemplate(t *testing.T) {
	p := &stored{Pipe: Pipe{Name: "p", Arn: "arn:aws:pipes:us-east-1:000000000000:pipe/p", Source: srcArn, Target: targetFn}}
	ev := json.RawMessage(`{"messageId":"m1","body":"{\"name\":\"Ann \\\"A\\\"\",\"n\":2,\"tags\":[\"x\"]}"}`)
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for tmpl, want := range map[string]string{
		`{"name": <$.body.name>, "n": <$.body.n>}`:                `{"name": "Ann \"A\"", "n": 2}`,
		`{"text": "hi <$.body.name>, n=<$.body.n>"}`:              `{"text": "hi Ann \"A\", n=2"}`,
		`{"tags": <$.body.tags>, "missing": <$.body.no>}`:         `{"tags": ["x"], "missing": null}`,
		`{"id": "<$.messageId>", "pipe": "<aws.pipes.pipe-arn>"}`: `{"id": "m1", "pipe": "arn:aws:pipes:us-east-1:000000000000:pipe/p"}`,
		`{"t": "<aws.pipes.event.ingestion-time>"}`:               `{"t": "2024-01-02T03:04:05Z"}`,
		`Hello <$.body.n>`:                 `"Hello 2"`,
		`{"body": <aws.pipes.event.json>}`: `{"body": {"body":{"name":"Ann \"A\"","n":2,"tags":["x"]},"messageId":"m1"}}`,
	} {
		if got := string(render(tmpl, ev, p, at)); got != want {
			t.Errorf("%s:\n got %s\nwant %s", tmpl, got, want)
		}
	}
}

// FuzzDecodeRequest: any body decodes and validates without panic, and an
// accepted pipe stays within AWS's limits.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"Source":"arn:aws:sqs:us-east-1:000000000000:q","Target":"arn:aws:lambda:us-east-1:000000000000:function:f","RoleArn":"arn:aws:iam::000000000000:role/r"}`))
	f.Add([]byte(`{"SourceParameters":{"SqsQueueParameters":{"BatchSize":100,"MaximumBatchingWindowInSeconds":1},"FilterCriteria":{"Filters":[{"Pattern":"{\"body\":{\"a\":[1]}}"}]}}}`))
	f.Add([]byte(`{"SourceParameters":{"DynamoDBStreamParameters":{"StartingPosition":"LATEST","BatchSize":5}}}`))
	s := &Service{}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeRequest(body)
		if err != nil {
			return
		}
		p := &stored{Pipe: Pipe{Name: "p", DesiredState: stateRunning, RoleArn: role, Source: srcArn, Target: targetFn,
			SourceParameters: r.SourceParameters, TargetParameters: r.TargetParameters}}
		if r.Source != nil {
			p.Source = *r.Source
		}
		if r.Target != nil {
			p.Target = *r.Target
		}
		if s.check(p) != nil {
			return
		}
		if sp := p.SourceParameters; sp != nil && sp.SqsQueueParameters != nil {
			q := sp.SqsQueueParameters
			if q.BatchSize != nil && (*q.BatchSize < 1 || *q.BatchSize > 10000) {
				t.Fatalf("accepted batch size %d", *q.BatchSize)
			}
		}
		if sp := p.SourceParameters; sp != nil && sp.FilterCriteria != nil && len(sp.FilterCriteria.Filters) > 5 {
			t.Fatal("accepted more than 5 filters")
		}
	})
}

// FuzzRender: any template renders to valid JSON for any event.
func FuzzRender(f *testing.F) {
	f.Add(`{"a": <$.body.a>, "b": "<$.body.b>"}`, `{"body":"{\"a\":1,\"b\":\"x\"}"}`)
	f.Add(`text <aws.pipes.event> <$.x[0]>`, `{"x":[1]}`)
	p := &stored{Pipe: Pipe{Name: "p"}}
	f.Fuzz(func(t *testing.T, tmpl, ev string) {
		if !json.Valid([]byte(ev)) {
			return
		}
		out := render(tmpl, json.RawMessage(ev), p, time.Unix(0, 0))
		if !json.Valid(out) {
			t.Fatalf("render(%q, %s) = %s: not JSON", tmpl, ev, out)
		}
	})
}

// memStream is a stream source of fixed records (the shape the daemon's
// Kinesis adapter gives: Lambda's Kinesis records).
type memStream struct{ recs []esm.StreamRecord }

func (m *memStream) Exists(string) bool { return true }
func (m *memStream) Latest(context.Context, string) (uint64, error) {
	return uint64(len(m.recs)) + 1, nil
}
func (m *memStream) Read(_ context.Context, _ string, from uint64, n int) ([]esm.StreamRecord, uint64, error) {
	var out []esm.StreamRecord
	next := from
	for _, r := range m.recs {
		if r.Sequence >= from && len(out) < n {
			out = append(out, r)
			next = r.Sequence + 1
		}
	}
	return out, next, nil
}

// TestPipeFromKinesis: a Kinesis source's records reach the target
// flattened (Pipes' shape), filtered on their data, in order, and the
// checkpoint moves past them.
func TestPipeFromKinesis(t *testing.T) {
	e := newEnv(t)
	const arn = "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"
	var recs []esm.StreamRecord
	for i, data := range []string{`{"kind":"click","n":1}`, `{"kind":"view","n":2}`, `{"kind":"click","n":3}`} {
		seq := uint64(i + 1)
		ev, _ := json.Marshal(map[string]any{"kinesis": map[string]any{"kinesisSchemaVersion": "1.0", "partitionKey": "k",
			"sequenceNumber": fmt.Sprint(seq), "data": base64.StdEncoding.EncodeToString([]byte(data))},
			"eventSource": "aws:kinesis", "eventSourceARN": arn})
		recs = append(recs, esm.StreamRecord{Sequence: seq, SequenceNumber: fmt.Sprint(seq), Event: ev, Created: time.Now(), ShardID: "shardId-000000000000"})
	}
	e.s.streams = &memStream{recs: recs}
	if st, out, code := e.call(t, http.MethodPost, "/v1/pipes/clicks", map[string]any{
		"Source": arn, "RoleArn": role, "Target": targetFn,
		"SourceParameters": map[string]any{
			"FilterCriteria":          map[string]any{"Filters": []any{map[string]any{"Pattern": `{"data":{"kind":["click"]}}`}}},
			"KinesisStreamParameters": map[string]any{"StartingPosition": "TRIM_HORIZON", "BatchSize": 10},
		},
		"TargetParameters": map[string]any{"InputTemplate": `{"n": <$.data.n>, "key": "<$.partitionKey>"}`},
	}); st != 200 {
		t.Fatalf("create: %d %s %v", st, code, out)
	}
	select {
	case <-e.fns.got:
	case <-time.After(30 * time.Second):
		t.Fatal("the target got nothing")
	}
	e.fns.mu.Lock()
	got := e.fns.batches[0]
	e.fns.mu.Unlock()
	if len(got) != 2 || string(got[0]) != `{"n": 1, "key": "k"}` || string(got[1]) != `{"n": 3, "key": "k"}` {
		t.Fatalf("target got %s", got)
	}
	for i := 0; ; i++ {
		if v, err := e.s.pos.Get(t.Context(), "clicks"); err == nil && string(v.Value()) == "4" {
			break
		}
		if i > 500 {
			t.Fatal("the checkpoint did not move past the batch")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, _, code := e.call(t, http.MethodPost, "/v1/pipes/nostart", map[string]any{"Source": arn, "RoleArn": role, "Target": targetFn}); st != 400 || code != "ValidationException" {
		t.Fatalf("a stream source without StartingPosition: %d %s", st, code)
	}
}
