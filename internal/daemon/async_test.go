package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// sink is a function that is never invoked: the recorder destination
// writes each record it receives into the sink's environment (RECORD), and
// the test watches the sink's key on the backbone, so it waits on an event,
// not on a clock.
type sink struct {
	name    string
	updates <-chan store.Update
}

func newSink(t *testing.T, n *node) *sink {
	t.Helper()
	createGoFunction(t, n, "sink", nil)
	return watchSink(t, n)
}

// watchSink watches an existing sink function.
func watchSink(t *testing.T, n *node) *sink {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := n.d.st.Watch(ctx, "fn.sink")
	if err != nil {
		t.Fatal(err)
	}
	return &sink{name: "sink", updates: ch}
}

// next returns the next record the recorder stored; the test fails if none
// comes within a generous bound (a hang guard, not a timing assertion).
func (s *sink) next(t *testing.T) []byte {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case u, ok := <-s.updates:
			if !ok {
				t.Fatal("sink watch ended")
			}
			var rec struct {
				Latest struct {
					Environment *struct{ Variables map[string]string }
				} `json:"latest"`
			}
			if err := json.Unmarshal(u.Value, &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Latest.Environment != nil && rec.Latest.Environment.Variables["RECORD"] != "" {
				return []byte(rec.Latest.Environment.Variables["RECORD"])
			}
		case <-timeout:
			t.Fatal("no record reached the destination")
			return nil
		}
	}
}

// asyncNode starts a node whose async delays run 100 times faster.
func asyncNode(t *testing.T) *node {
	t.Helper()
	return startNodeWith(t, t.TempDir(), func(c *config.Config) { c.AsyncDelayScale = 0.01 })
}

// recorderRole is the role of a testdata/recorder function: it may
// update the sink function's configuration, nothing else.
func recorderRole(t *testing.T, n *node, sink string) string {
	t.Helper()
	return createRole(t, n, "recorder-"+sink, allow([]string{"lambda:UpdateFunctionConfiguration"}, "arn:aws:lambda:*:*:function:"+sink))
}

// destination creates the recorder function that receives records and
// stores them in s.
func destination(t *testing.T, n *node, s *sink) string {
	t.Helper()
	out := create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("dest"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(recorderRole(t, n, s.name)), Timeout: aws.Int32(30),
		Code:        &types.FunctionCode{ZipFile: goZip(t, "./internal/daemon/testdata/recorder")},
		Environment: &types.Environment{Variables: map[string]string{"NIMBUS_TEST_SINK": s.name}},
	})
	return aws.ToString(out.FunctionArn)
}

func invokeEvent(t *testing.T, n *node, name string, payload string) string {
	t.Helper()
	out, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName:   aws.String(name),
		InvocationType: types.InvocationTypeEvent,
		Payload:        []byte(payload),
	})
	if err != nil {
		t.Fatalf("Invoke Event %s: %v", name, err)
	}
	if out.StatusCode != http.StatusAccepted {
		t.Fatalf("Invoke Event status = %d, want 202", out.StatusCode)
	}
	id, ok := awsmw.GetRequestIDMetadata(out.ResultMetadata)
	if !ok || id == "" {
		t.Fatal("Invoke Event answered without a request id")
	}
	return id
}

func decodeRecord(t *testing.T, b []byte) async.Record {
	t.Helper()
	var r async.Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("record %s: %v", b, err)
	}
	return r
}

func TestAsyncInvokeReachesFunctionAndOnSuccess(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	s := newSink(t, n)
	destArn := destination(t, n, s)
	createGoFunction(t, n, "work", sendsAs(t, n))
	ctx := context.Background()
	if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:      aws.String("work"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(destArn)}},
	}); err != nil {
		t.Fatal(err)
	}
	id := invokeEvent(t, n, "work", `{"action":"echo","value":"hi"}`)
	r := decodeRecord(t, s.next(t))
	if r.Version != "1.0" || r.RequestContext.Condition != async.ConditionSuccess || r.RequestContext.RequestID != id ||
		r.RequestContext.ApproximateInvokeCount != 1 || !strings.HasSuffix(r.RequestContext.FunctionArn, ":function:work:$LATEST") {
		t.Fatalf("record = %+v, want version 1.0, Success, request %s, 1 invoke, work:$LATEST", r, id)
	}
	if r.ResponseContext == nil || r.ResponseContext.StatusCode != 200 || r.ResponseContext.ExecutedVersion != "$LATEST" || r.ResponseContext.FunctionError != "" {
		t.Fatalf("responseContext = %+v", r.ResponseContext)
	}
	var req, resp map[string]any
	_ = json.Unmarshal(r.RequestPayload, &req)
	_ = json.Unmarshal(r.ResponsePayload, &resp)
	if req["value"] != "hi" || resp["value"] != "hi" || resp["requestId"] != id {
		t.Fatalf("requestPayload %s, responsePayload %s", r.RequestPayload, r.ResponsePayload)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", r.Timestamp, err)
	}
}

func TestAsyncFailureRetriesThenOnFailure(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	s := newSink(t, n)
	destArn := destination(t, n, s)
	createGoFunction(t, n, "bad", sendsAs(t, n))
	ctx := context.Background()
	if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:         aws.String("bad"),
		MaximumRetryAttempts: aws.Int32(1),
		DestinationConfig:    &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(destArn)}},
	}); err != nil {
		t.Fatal(err)
	}
	id := invokeEvent(t, n, "bad", `{"action":"error"}`)
	r := decodeRecord(t, s.next(t))
	if r.RequestContext.Condition != async.ConditionRetriesExhausted || r.RequestContext.RequestID != id || r.RequestContext.ApproximateInvokeCount != 2 {
		t.Fatalf("record context = %+v, want RetriesExhausted after 2 invokes of %s", r.RequestContext, id)
	}
	if r.ResponseContext == nil || r.ResponseContext.FunctionError != "Unhandled" {
		t.Fatalf("responseContext = %+v, want functionError Unhandled", r.ResponseContext)
	}
	if !strings.Contains(string(r.ResponsePayload), "something broke") {
		t.Fatalf("responsePayload = %s", r.ResponsePayload)
	}
	st, err := n.d.async.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retries != 1 || st.RetriesExhausted != 1 {
		t.Fatalf("stats = %+v, want 1 retry and 1 exhausted", st)
	}
}

func TestAsyncEventAgeExceeded(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	s := newSink(t, n)
	destArn := destination(t, n, s)
	createGoFunction(t, n, "old", sendsAs(t, n))
	// 60 s of age scaled by 0.01 is 0.6 s: shorter than the first retry
	// delay (1 min, scaled 0.6 s, counted from the failure), so the event
	// expires before it can be retried.
	if _, err := n.client.PutFunctionEventInvokeConfig(context.Background(), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:             aws.String("old"),
		MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig:        &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(destArn)}},
	}); err != nil {
		t.Fatal(err)
	}
	id := invokeEvent(t, n, "old", `{"action":"error"}`)
	r := decodeRecord(t, s.next(t))
	if r.RequestContext.Condition != async.ConditionEventAgeExceeded || r.RequestContext.RequestID != id || r.RequestContext.ApproximateInvokeCount != 1 {
		t.Fatalf("record context = %+v, want EventAgeExceeded after 1 invoke of %s", r.RequestContext, id)
	}
}

func TestAsyncRefusals(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	createGoFunction(t, n, "f", sendsAs(t, n))
	ctx := context.Background()
	check := func(err error, code string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code {
			t.Fatalf("err = %v, want %s", err, code)
		}
	}
	_, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	check(err, "ResourceNotFoundException")
	_, err = n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Qualifier: aws.String("nope"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	check(err, "ResourceNotFoundException")
	big := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`
	_, err = n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: types.InvocationTypeEvent, Payload: []byte(big)})
	check(err, "RequestTooLargeException")
	st, err := n.d.async.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Enqueued != 0 || st.QueueDepth != 0 {
		t.Fatalf("refused invokes queued something: %+v", st)
	}
}

// records returns the next n records the recorder stored, by request id.
func (s *sink) records(t *testing.T, n int) map[string]async.Record {
	t.Helper()
	out := map[string]async.Record{}
	for len(out) < n {
		r := decodeRecord(t, s.next(t))
		out[r.RequestContext.RequestID] = r
	}
	return out
}

func TestAsyncThrottledEventsWaitAndRetry(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	s := newSink(t, n)
	destArn := destination(t, n, s)
	createGoFunction(t, n, "busy", sendsAs(t, n))
	ctx := context.Background()
	if _, err := n.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("busy"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:      aws.String("busy"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(destArn)}},
	}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for range 4 {
		ids[invokeEvent(t, n, "busy", `{"action":"sleep","ms":200}`)] = true
	}
	for id, r := range s.records(t, 4) {
		if !ids[id] || r.RequestContext.Condition != async.ConditionSuccess || r.RequestContext.ApproximateInvokeCount != 1 {
			t.Fatalf("record %+v: want Success after one invoke of one of %v", r.RequestContext, ids)
		}
	}
	st, err := n.d.async.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Throttles == 0 || st.RetriesExhausted != 0 {
		t.Fatalf("stats %+v: want throttle retries (reserved concurrency 1, 4 events at once) and no failures", st)
	}
}

func TestAsyncReservedZeroGoesStraightToFailure(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	s := newSink(t, n)
	destArn := destination(t, n, s)
	createGoFunction(t, n, "off", sendsAs(t, n))
	ctx := context.Background()
	if _, err := n.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("off"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:      aws.String("off"),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(destArn)}},
	}); err != nil {
		t.Fatal(err)
	}
	id := invokeEvent(t, n, "off", `{"action":"echo"}`)
	r := decodeRecord(t, s.next(t))
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != async.ConditionRetriesExhausted || r.RequestContext.ApproximateInvokeCount != 0 || r.ResponseContext != nil {
		t.Fatalf("record %+v / %+v: want RetriesExhausted without an invoke", r.RequestContext, r.ResponseContext)
	}
}

func TestInvokeAsyncAPI(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	s := newSink(t, n)
	destArn := destination(t, n, s)
	createGoFunction(t, n, "old-api", sendsAs(t, n))
	ctx := context.Background()
	if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:      aws.String("old-api"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(destArn)}},
	}); err != nil {
		t.Fatal(err)
	}
	out, err := n.client.InvokeAsync(ctx, &lambda.InvokeAsyncInput{FunctionName: aws.String("old-api"), //nolint:staticcheck // the deprecated API is what this tests
		InvokeArgs: strings.NewReader(`{"action":"echo","value":"old"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != http.StatusAccepted {
		t.Fatalf("InvokeAsync status %d, want 202", out.Status)
	}
	id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
	r := decodeRecord(t, s.next(t))
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != async.ConditionSuccess || !strings.Contains(string(r.RequestPayload), `"old"`) {
		t.Fatalf("record %+v payload %s; want Success of %s", r.RequestContext, r.RequestPayload, id)
	}
}

// TestAsyncRetryStateSurvivesRestart stops the node while a failed event
// waits for its retry: after the restart the event is retried, not
// started over, and its record counts every attempt.
func TestAsyncRetryStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scale := func(c *config.Config) { c.AsyncDelayScale = 0.05 } // retries after 3 s, then 6 s
	n := startNodeWith(t, dir, scale)
	ctx := context.Background()
	createGoFunction(t, n, "flaky", sendsAs(t, n))
	createGoFunction(t, n, "sink", nil)
	zip := goZip(t, "./internal/daemon/testdata/recorder")
	if _, err := n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("dest"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(recorderRole(t, n, "sink")), Timeout: aws.Int32(30), Code: &types.FunctionCode{ZipFile: zip},
		Environment: &types.Environment{Variables: map[string]string{"NIMBUS_TEST_SINK": "sink"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:      aws.String("flaky"),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:lambda:us-east-1:000000000000:function:dest")}},
	}); err != nil {
		t.Fatal(err)
	}
	id := invokeEvent(t, n, "flaky", `{"action":"error"}`)
	// Wait for the first failure (its retry is then queued, due in 3 s).
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := n.d.async.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Retries == 1 {
			break
		}
		<-tick.C
	}
	n.stop()

	n = startNodeWith(t, dir, scale)
	s := watchSink(t, n)
	r := decodeRecord(t, s.next(t))
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != async.ConditionRetriesExhausted || r.RequestContext.ApproximateInvokeCount != 3 {
		t.Fatalf("record %+v: want RetriesExhausted of %s after 3 invokes across the restart", r.RequestContext, id)
	}
	st, err := n.d.async.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retries != 1 || st.RetriesExhausted != 1 {
		t.Fatalf("restarted node's stats %+v: want the one remaining retry, then exhaustion", st)
	}
}

// TestAsyncDeadLetterAndDestinationToSQS: an event that exhausts its
// retries goes, itself, to the function's DeadLetterConfig queue, and its
// invocation record to an OnFailure SQS queue, both through the node's
// delivery router.
func TestAsyncDeadLetterAndDestinationToSQS(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	ctx := context.Background()
	q := awssqs.NewFromConfig(n.awsConfig())
	queue := func(name string) (url, arn string) {
		out, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl), "arn:aws:sqs:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":" + name
	}
	deadURL, deadArn := queue("dead")
	failURL, failArn := queue("failures")
	createGoFunction(t, n, "dlq", func(in *lambda.CreateFunctionInput) {
		sendsAs(t, n)(in)
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(deadArn)}
	})
	if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:         aws.String("dlq"),
		MaximumRetryAttempts: aws.Int32(0),
		DestinationConfig:    &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(failArn)}},
	}); err != nil {
		t.Fatal(err)
	}
	id := invokeEvent(t, n, "dlq", `{"action":"error"}`)
	receive := func(url string) string {
		t.Helper()
		for range 60 { // each a 1 s long poll: a hang guard, not a timing assertion
			r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Messages) > 0 {
				return aws.ToString(r.Messages[0].Body)
			}
		}
		t.Fatalf("nothing reached %s", url)
		return ""
	}
	if got := receive(deadURL); got != `{"action":"error"}` {
		t.Errorf("dead-letter queue received %s, want the event itself", got)
	}
	r := decodeRecord(t, []byte(receive(failURL)))
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != async.ConditionRetriesExhausted || r.RequestContext.ApproximateInvokeCount != 1 {
		t.Fatalf("record %+v: want RetriesExhausted of %s after 1 invoke (MaximumRetryAttempts 0)", r.RequestContext, id)
	}
	st, err := n.d.async.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.DestinationFailures != 0 || st.DestinationDeliveries < 2 {
		t.Fatalf("stats %+v: want the dead letter and the record delivered, none failed", st)
	}
}
