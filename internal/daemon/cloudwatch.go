package daemon

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cloudwatch"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/function"
	nimbusinvoke "github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/pool"
	"github.com/nimbus-serverless/nimbus/internal/telemetry"
)

// minMetricsBytes is the smallest metrics stream the node starts with.
const minMetricsBytes = 1 << 20

// metricsBytes sizes CloudWatch's metrics stream: a sixteenth of the
// budget, at most cloudwatch.DefaultMaxBytes.
func metricsBytes(budget int64) (int64, error) {
	s := streamBytes{name: "CloudWatch metrics stream (stream " + cloudwatch.StreamName + ")", flag: "--log-max-bytes or --async-max-bytes lower",
		share: 16, max: cloudwatch.DefaultMaxBytes, min: minMetricsBytes}
	return s.size(budget)
}

// rollupBytes sizes CloudWatch's roll-up stream (the 5 min and 1 h tiers
// kept across restarts): a 32nd of the budget, at most
// cloudwatch.DefaultRollupMaxBytes.
func rollupBytes(budget int64) (int64, error) {
	s := streamBytes{name: "CloudWatch roll-up stream (stream " + cloudwatch.RollupStreamName + ")", flag: "--log-max-bytes or --async-max-bytes lower",
		share: 32, max: cloudwatch.DefaultRollupMaxBytes, min: minMetricsBytes}
	return s.size(budget)
}

// newCloudWatch builds the CloudWatch service; its actions and events
// are wired by wireCloudWatch once the delivery router and EventBridge
// exist.
func (d *Daemon) newCloudWatch(ctx context.Context, budget int64) error {
	n, err := metricsBytes(budget)
	if err != nil {
		return err
	}
	r, err := rollupBytes(budget)
	if err != nil {
		return err
	}
	d.cw, err = cloudwatch.New(ctx, cloudwatch.Options{
		JetStream: d.st.JetStream(), Replicas: d.st.Replicas(), MaxBytes: n, RollupMaxBytes: r,
		Region: d.cfg.Region, AccountID: d.cfg.AccountID, PeriodScale: d.cfg.AlarmPeriodScale,
		Logger: d.log.With("component", "cloudwatch"),
	})
	if err != nil {
		return fmt.Errorf("create cloudwatch service: %w",
			noRoom(err, "CloudWatch metrics stream (stream "+cloudwatch.StreamName+")", "--log-max-bytes", n, budget))
	}
	d.cwObs.svc.Store(d.cw)
	return nil
}

// cwActions delivers alarm actions through the node's delivery router,
// as CloudWatch for the alarm: a function target's resource policy must
// allow lambda.alarms.cloudwatch.amazonaws.com (AWS's principal for
// Lambda alarm actions) with the alarm as aws:SourceArn, a topic's
// policy cloudwatch.amazonaws.com — the default topic policy does, for
// the account's own alarms (AWS:SourceOwner), as in AWS.
type cwActions struct{ r *deliver.Router }

func (a cwActions) Deliver(ctx context.Context, alarmArn, arn, subject string, body []byte) error {
	src := &deliver.Source{Service: "cloudwatch.amazonaws.com", Arn: alarmArn, Account: accountOfArn(alarmArn)}
	if deliver.Service(arn) == "lambda" {
		src.Service = "lambda.alarms.cloudwatch.amazonaws.com"
	}
	return a.r.Deliver(ctx, &deliver.Delivery{TargetArn: arn, DedupID: uuid.NewString(), Body: body, Subject: subject, Source: src})
}

// accountOfArn is the account field of an ARN.
func accountOfArn(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		return parts[4]
	}
	return ""
}

func (a cwActions) Check(arn string) error { return a.r.Check(arn) }

// cwEvents puts an event on the default bus through EventBridge's own
// PutEvents, in-process.
func (d *Daemon) cwEvents(ctx context.Context, source, detailType string, resources []string, detail []byte) error {
	body, err := json.Marshal(map[string]any{"Entries": []map[string]any{{
		"Source": source, "DetailType": detailType, "Resources": resources, "Detail": string(detail),
	}}})
	if err != nil {
		return err
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	rec := httptest.NewRecorder()
	d.events.ServeHTTP(rec, req)
	var out struct{ FailedEntryCount int }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.FailedEntryCount != 0 {
		return fmt.Errorf("put event %s: status %d: %s", detailType, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return nil
}

// cwObserver records the AWS/Lambda metrics of every invocation in
// CloudWatch: Invocations, Errors, Throttles, Duration and
// ConcurrentExecutions (and Nimbus/Lambda ColdStarts), by FunctionName, by FunctionName and Resource
// (function:qualifier) when a qualifier was named, and for the account.
type cwObserver struct {
	svc atomic.Pointer[cloudwatch.Service]

	mu      sync.Mutex
	running map[string]int // guarded by mu: invocations in flight by function
	total   int            // guarded by mu
}

func newCWObserver() *cwObserver { return &cwObserver{running: map[string]int{}} }

func (o *cwObserver) concurrency(fn string, delta int) (int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.running[fn] += delta
	o.total += delta
	n := o.running[fn]
	if n <= 0 {
		delete(o.running, fn)
	}
	return n, o.total
}

// InvokeStart implements pool.Observer.
func (o *cwObserver) InvokeStart(_ context.Context, fn *function.Config, _ *nimbusinvoke.Request) {
	s := o.svc.Load()
	if s == nil {
		return
	}
	n, total := o.concurrency(fn.FunctionName, 1)
	s.Record("AWS/Lambda", "ConcurrentExecutions", "Count", []cloudwatch.Dimension{{Name: "FunctionName", Value: fn.FunctionName}}, float64(n))
	s.Record("AWS/Lambda", "ConcurrentExecutions", "Count", nil, float64(total))
}

// InvokeDone implements pool.Observer.
func (o *cwObserver) InvokeDone(_ context.Context, r *nimbusinvoke.Record) {
	s := o.svc.Load()
	if s == nil {
		return
	}
	if !r.Throttled {
		o.concurrency(r.FunctionName, -1)
	}
	dimSets := [][]cloudwatch.Dimension{nil, {{Name: "FunctionName", Value: r.FunctionName}}}
	if r.Qualifier != "" {
		dimSets = append(dimSets, []cloudwatch.Dimension{{Name: "FunctionName", Value: r.FunctionName},
			{Name: "Resource", Value: r.FunctionName + ":" + r.Qualifier}})
	}
	for _, dims := range dimSets {
		if r.Throttled {
			s.Record("AWS/Lambda", "Throttles", "Count", dims, 1)
			continue
		}
		if r.PlatformError {
			continue
		}
		s.Record("AWS/Lambda", "Invocations", "Count", dims, 1)
		s.Record("AWS/Lambda", "Errors", "Count", dims, b2f(r.FunctionError != ""))
		s.Record("AWS/Lambda", "Duration", "Milliseconds", dims, float64(r.Duration.Microseconds())/1000)
		if r.ColdStart {
			// AWS/Lambda has no cold-start metric; Nimbus's own namespace
			// does (nimbus top reads it).
			s.Record("Nimbus/Lambda", "ColdStarts", "Count", dims, 1)
		}
	}
}

// recordIteratorAge records AWS/Lambda IteratorAge (milliseconds) of a
// stream event source mapping's batch, by FunctionName, and by
// FunctionName and Resource when the mapping names a qualifier.
func (d *Daemon) recordIteratorAge(functionArn string, age time.Duration) {
	ref, err := awsapi.ParseFunctionRef(functionArn)
	if err != nil || d.cw == nil {
		return
	}
	ms := float64(max(age, 0).Microseconds()) / 1000
	fn := []cloudwatch.Dimension{{Name: "FunctionName", Value: ref.Name}}
	d.cw.Record("AWS/Lambda", "IteratorAge", "Milliseconds", fn, ms)
	if ref.Qualifier != "" {
		d.cw.Record("AWS/Lambda", "IteratorAge", "Milliseconds", append(fn, cloudwatch.Dimension{Name: "Resource", Value: ref.Name + ":" + ref.Qualifier}), ms)
	}
}

// serveExecuteAPI serves a request to an API's invoke URL and records
// its AWS/ApiGateway metrics: Count, the 4XX and 5XX errors (REST APIs'
// 4XXError/5XXError by ApiName, HTTP APIs' 4xx/5xx by ApiId) and Latency
// (ms, the gateway's whole answer).
func (d *Daemon) serveExecuteAPI(w http.ResponseWriter, r *http.Request, apiID string) {
	sw := &statusWriter{ResponseWriter: w}
	t0 := time.Now()
	d.gw.ServeInvoke(sw, r, apiID)
	lat := time.Since(t0)
	dim, value, rest, ok := d.gw.MetricsIdentity(apiID)
	if !ok || d.cw == nil {
		return
	}
	dims := []cloudwatch.Dimension{{Name: dim, Value: value}}
	e4, e5 := "4xx", "5xx"
	if rest {
		e4, e5 = "4XXError", "5XXError"
	}
	status := cmp.Or(sw.status, http.StatusOK)
	d.cw.Record("AWS/ApiGateway", "Count", "Count", dims, 1)
	d.cw.Record("AWS/ApiGateway", e4, "Count", dims, b2f(status >= 400 && status < 500))
	d.cw.Record("AWS/ApiGateway", e5, "Count", dims, b2f(status >= 500))
	d.cw.Record("AWS/ApiGateway", "Latency", "Milliseconds", dims, float64(lat.Microseconds())/1000)
}

// statusWriter notes the status an http.Handler answers with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// statesMetrics names the AWS/States count of each execution event.
var statesMetrics = map[string]string{"STARTED": "ExecutionsStarted", "SUCCEEDED": "ExecutionsSucceeded",
	"FAILED": "ExecutionsFailed", "TIMED_OUT": "ExecutionsTimedOut", "ABORTED": "ExecutionsAborted",
	"REDRIVEN": "ExecutionsRedriven", "REDRIVEN_SUCCEEDED": "RedrivenExecutionsSucceeded", "REDRIVEN_FAILED": "RedrivenExecutionsFailed",
	"REDRIVEN_TIMED_OUT": "RedrivenExecutionsTimedOut", "REDRIVEN_ABORTED": "RedrivenExecutionsAborted"}

// recordExecution records a Step Functions execution's start or end in
// AWS/States by StateMachineArn: the count of its event and, at an end,
// ExecutionTime (ms). A redriven execution's end also counts in
// RedrivenExecutions<Status> (status "REDRIVEN_<STATUS>", no time).
func (d *Daemon) recordExecution(machineArn, status string, elapsed time.Duration) {
	name, ok := statesMetrics[status]
	if !ok || d.cw == nil {
		return
	}
	dims := []cloudwatch.Dimension{{Name: "StateMachineArn", Value: machineArn}}
	d.cw.Record("AWS/States", name, "Count", dims, 1)
	if status != "STARTED" && !strings.HasPrefix(status, "REDRIVEN") {
		d.cw.Record("AWS/States", "ExecutionTime", "Milliseconds", dims, float64(max(elapsed, 0).Microseconds())/1000)
	}
}

// recordTableRequest records a DynamoDB request in AWS/DynamoDB:
// SuccessfulRequestLatency (ms) by TableName and Operation; UserErrors
// (4xx, for the account, as AWS counts them), ConditionalCheckFailedRequests
// by TableName, SystemErrors (5xx) by TableName and Operation.
func (d *Daemon) recordTableRequest(op, table string, elapsed time.Duration, status int, code string) {
	if d.cw == nil {
		return
	}
	if i := strings.LastIndex(table, ":table/"); i >= 0 {
		table = table[i+len(":table/"):]
	}
	var byOp []cloudwatch.Dimension
	if table != "" {
		byOp = []cloudwatch.Dimension{{Name: "Operation", Value: op}, {Name: "TableName", Value: table}}
	}
	switch {
	case status == 0:
		if byOp != nil {
			d.cw.Record("AWS/DynamoDB", "SuccessfulRequestLatency", "Milliseconds", byOp, float64(elapsed.Microseconds())/1000)
		}
	case status < 500:
		d.cw.Record("AWS/DynamoDB", "UserErrors", "Count", nil, 1)
		if code == "ConditionalCheckFailedException" && table != "" {
			d.cw.Record("AWS/DynamoDB", "ConditionalCheckFailedRequests", "Count", []cloudwatch.Dimension{{Name: "TableName", Value: table}}, 1)
		}
	case byOp != nil:
		d.cw.Record("AWS/DynamoDB", "SystemErrors", "Count", byOp, 1)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// cwEMFSink turns the EMF lines of function logs into CloudWatch
// metrics, as CloudWatch Logs does.
type cwEMFSink struct{ svc *cloudwatch.Service }

func (s cwEMFSink) Log(rec pool.LogRecord) {
	if rec.Platform || !strings.Contains(rec.Message, `"_aws"`) {
		return
	}
	ms, err := telemetry.ParseEMF([]byte(rec.Message))
	if err != nil {
		return
	}
	for _, m := range ms {
		dims := make([]cloudwatch.Dimension, len(m.Dimensions))
		for i, d := range m.Dimensions {
			dims[i] = cloudwatch.Dimension{Name: d.Name, Value: d.Value}
		}
		for _, v := range m.Values {
			s.svc.Record(m.Namespace, m.Name, m.Unit, dims, v)
		}
	}
}

// observers joins the pool's observers, leaving out nil ones.
func observers(obs ...pool.Observer) pool.Observer {
	var out pool.Observers
	for _, o := range obs {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

// runOnce runs fn on one node of the cluster (the holder of lease name;
// on a single node, here) until ctx ends.
func (d *Daemon) runOnce(ctx context.Context, name string, fn func(context.Context) error) error {
	if d.leases == nil {
		return fn(ctx)
	}
	return d.leases.Run(ctx, name, func(ctx context.Context, _ uint64) error { return fn(ctx) })
}

// cloudWatchGuard verifies SigV4 for "monitoring" and answers refusals in
// the protocol the request speaks (RPC v2 CBOR, JSON 1.0 or query), with
// the body bounded before the signature check reads it.
func (d *Daemon) cloudWatchGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, cloudwatch.MaxRequestBytes)
		}
		id, err := d.auth.Verify(r, cloudwatch.SigningName)
		if err == nil {
			next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
			return
		}
		p, ap := awsapi.ProtocolQuery, auth.Query
		switch {
		case strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor") || cloudwatch.IsCBOR(r):
			p, ap = awsapi.ProtocolRPCv2CBOR, auth.JSON
		case r.Header.Get("X-Amz-Target") != "":
			p, ap = awsapi.ProtocolJSON10, auth.JSON
		}
		var mbe *http.MaxBytesError
		e := auth.ErrorFor(ap, err)
		switch {
		case errors.As(err, &mbe):
			e = &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Type: "User",
				Message: fmt.Sprintf("Request must be smaller than %d bytes.", cloudwatch.MaxRequestBytes)}
		case e == nil:
			d.log.Error("verify request", "err", err)
			e = &awsapi.Error{Status: http.StatusInternalServerError, Code: "InternalServiceFault", Type: "Service",
				Message: "The request could not be completed; retry it."}
		default:
			d.log.Info("request refused", "service", cloudwatch.SigningName, "method", r.Method, "path", r.URL.Path,
				"remote_addr", r.RemoteAddr, "status", e.Status)
		}
		awsapi.WriteProtocolError(w, p, awsapi.ProtocolError{Error: e})
	})
}

// callJSON calls a JSON-protocol handler of the node in-process (the
// samplers' reads of SQS).
func callJSON(ctx context.Context, h http.Handler, target, contentType string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("%s: status %d", target, rec.Code)
	}
	return json.Unmarshal(rec.Body.Bytes(), out)
}

// sampleServiceMetrics records, once a (scaled) minute, the AWS/Events
// counters' increase (Invocations, FailedInvocations, MatchedEvents,
// TriggeredRules, DeadLetterInvocations, for the account) and each
// queue's AWS/SQS depth (ApproximateNumberOfMessagesVisible,
// NotVisible and Delayed, by QueueName), until ctx ends.
func (d *Daemon) sampleServiceMetrics(ctx context.Context) {
	every := time.Duration(float64(time.Minute) * d.cfg.AlarmPeriodScale)
	every = max(every, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	last := d.events.Stats()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := d.events.Stats()
		for _, m := range []struct {
			name      string
			now, prev uint64
		}{{"Invocations", st.Invocations, last.Invocations}, {"FailedInvocations", st.FailedInvocations, last.FailedInvocations},
			{"MatchedEvents", st.MatchedEvents, last.MatchedEvents}, {"TriggeredRules", st.TriggeredRules, last.TriggeredRules},
			{"DeadLetterInvocations", st.DeadLetterInvocations, last.DeadLetterInvocations}} {
			if m.now > m.prev {
				d.cw.Record("AWS/Events", m.name, "Count", nil, float64(m.now-m.prev))
			}
		}
		last = st
		d.sampleQueues(ctx)
	}
}

func (d *Daemon) sampleQueues(ctx context.Context) {
	var list struct{ QueueUrls []string }
	if err := callJSON(ctx, d.sqsAPI, "AmazonSQS.ListQueues", "application/x-amz-json-1.0", map[string]any{"MaxResults": 1000}, &list); err != nil {
		return
	}
	for _, u := range list.QueueUrls {
		var attrs struct{ Attributes map[string]string }
		if err := callJSON(ctx, d.sqsAPI, "AmazonSQS.GetQueueAttributes", "application/x-amz-json-1.0",
			map[string]any{"QueueUrl": u, "AttributeNames": []string{"All"}}, &attrs); err != nil {
			continue
		}
		name := u[strings.LastIndexByte(u, '/')+1:]
		dims := []cloudwatch.Dimension{{Name: "QueueName", Value: name}}
		for attr, metric := range map[string]string{"ApproximateNumberOfMessages": "ApproximateNumberOfMessagesVisible",
			"ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
			"ApproximateNumberOfMessagesDelayed":    "ApproximateNumberOfMessagesDelayed"} {
			if v, err := strconv.ParseFloat(attrs.Attributes[attr], 64); err == nil {
				d.cw.Record("AWS/SQS", metric, "Count", dims, v)
			}
		}
	}
}
