package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/cost"
	"github.com/nimbus-serverless/nimbus/internal/trace"
)

// invokeWithHeader invokes name with one extra HTTP header.
func invokeWithHeader(t *testing.T, n *node, name, header, value string, payload string) map[string]any {
	t.Helper()
	out, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(name), Payload: []byte(payload),
	}, func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(header, value))
	})
	if err != nil {
		t.Fatalf("Invoke %s: %v", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Payload, &m); err != nil {
		t.Fatalf("payload %s: %v", out.Payload, err)
	}
	return m
}

// A trace id the client sends reaches the function as _X_AMZN_TRACE_ID
// (aws-lambda-go sets it from Lambda-Runtime-Trace-Id), with the client's
// sampling decision kept and the parent replaced by the platform's span;
// with none, Active tracing makes a sampled one.
func TestTraceHeaderReachesFunction(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "traced", nil)
	root := "1-5759e988-bd862e3fe1be46a994272793"
	env := invokeWithHeader(t, n, "traced", "X-Amzn-Trace-Id", "Root="+root+";Parent=53995c3f42cd8ad8;Sampled=1", `{"action":"env"}`)
	got, _ := env["_X_AMZN_TRACE_ID"].(string)
	if !strings.HasPrefix(got, "Root="+root+";Parent=") || !strings.HasSuffix(got, ";Sampled=1") || strings.Contains(got, "53995c3f42cd8ad8") {
		t.Errorf("function saw _X_AMZN_TRACE_ID %q", got)
	}
	env = invokeWithHeader(t, n, "traced", "traceparent", "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00", `{"action":"env"}`)
	if got, _ := env["_X_AMZN_TRACE_ID"].(string); !strings.HasPrefix(got, "Root="+root+";") || !strings.HasSuffix(got, ";Sampled=0") {
		t.Errorf("from traceparent the function saw %q", got)
	}

	createGoFunction(t, n, "active", func(in *lambda.CreateFunctionInput) {
		in.TracingConfig = &types.TracingConfig{Mode: types.TracingModeActive}
	})
	env = invokeWithHeader(t, n, "active", "X-Test", "1", `{"action":"env"}`)
	if got, _ := env["_X_AMZN_TRACE_ID"].(string); !strings.HasPrefix(got, "Root=1-") || !strings.HasSuffix(got, ";Sampled=1") {
		t.Errorf("Active tracing without a header: function saw %q", got)
	}
}

// scrapeMetrics GETs /metrics and parses it with the official text parser.
func scrapeMetrics(t *testing.T, n *node) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + n.d.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// sample is the value of the series of family name whose labels include
// want (a counter's value, a histogram's count, a gauge's value); 0 if
// there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestMetricsMoveWithInvocations(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "counted", nil)
	fn := map[string]string{"function": "counted", "version": "$LATEST"}
	before := scrapeMetrics(t, n)
	for _, name := range []string{"nimbus_apigw_requests_total", "nimbus_function_log_lines_dropped_total", "nimbus_metering_records_dropped_total", "nimbus_pool_environments"} {
		if before[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	if before["go_goroutines"] == nil || before["process_resident_memory_bytes"] == nil {
		t.Error("Go runtime and process collectors missing")
	}
	for range 3 {
		invoke(t, n, "counted", "", map[string]any{"action": "echo"})
	}
	invoke(t, n, "counted", "", map[string]any{"action": "error"})
	fams := scrapeMetrics(t, n)
	checks := []struct {
		name string
		want float64
	}{
		{"nimbus_lambda_invocations_total", 4},
		{"nimbus_lambda_errors_total", 1},
		{"nimbus_lambda_duration_seconds", 4},
		{"nimbus_lambda_init_duration_seconds", 1},
		{"nimbus_lambda_concurrent_executions", 0},
		{"nimbus_lambda_throttles_total", 0},
	}
	for _, c := range checks {
		if got := sample(fams, c.name, fn); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if got := sample(fams, "nimbus_pool_environments", nil); got != 1 {
		t.Errorf("environments = %v, want the one warm environment", got)
	}
	if got := sample(fams, "nimbus_lambda_gb_seconds_total", fn); got <= 0 {
		t.Errorf("gb-seconds = %v", got)
	}

	// An asynchronous event shows in the async families as soon as it is
	// accepted.
	createGoFunction(t, n, "queued", nil)
	if _, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("queued"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"action":"echo"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := sample(scrapeMetrics(t, n), "nimbus_lambda_async_events_received_total", nil); got != 1 {
		t.Errorf("async events received = %v, want 1", got)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + n.d.Addr() + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
		if p == "/readyz" && !strings.Contains(string(body), `"pool":"ok"`) {
			t.Errorf("readyz body %s", body)
		}
	}
}

// reportLine holds the numbers of a REPORT line.
type reportLine struct {
	requestID                    string
	billedMs, memoryMB, maxMemMB int64
	durationMs, initMs           float64
}

var reportRE = regexp.MustCompile(`REPORT RequestId: (\S+)\tDuration: ([0-9.]+) ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t(?:Init Duration: ([0-9.]+) ms\t)?`)

func parseReport(t *testing.T, tail string) reportLine {
	t.Helper()
	m := reportRE.FindStringSubmatch(tail)
	if m == nil {
		t.Fatalf("no REPORT line in %q", tail)
	}
	var r reportLine
	r.requestID = m[1]
	r.durationMs, _ = strconv.ParseFloat(m[2], 64)
	r.billedMs, _ = strconv.ParseInt(m[3], 10, 64)
	r.memoryMB, _ = strconv.ParseInt(m[4], 10, 64)
	r.maxMemMB, _ = strconv.ParseInt(m[5], 10, 64)
	if m[6] != "" {
		r.initMs, _ = strconv.ParseFloat(m[6], 64)
	}
	return r
}

// Every invocation is metered with the REPORT line's numbers, and the
// cost report's sums are the sums of those records.
func TestMeteringMatchesReportAndSums(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "billed", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(256) })
	createGoFunction(t, n, "other", func(in *lambda.CreateFunctionInput) {
		in.Architectures = []types.Architecture{types.ArchitectureArm64}
	})
	reports := map[string]reportLine{}
	for i, fn := range []string{"billed", "billed", "billed", "other"} {
		action := "echo"
		if i == 2 {
			action = "error"
		}
		out, _ := invoke(t, n, fn, "", map[string]any{"action": action})
		r := parseReport(t, logTail(t, out))
		reports[r.requestID] = r
	}
	ctx := context.Background()
	recs, err := n.d.meter.Records(ctx, time.Now().Add(-time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(reports) {
		t.Fatalf("%d metered records, want %d", len(recs), len(reports))
	}
	var gbs float64
	var billedReqs int64
	for _, rec := range recs {
		rep, ok := reports[rec.RequestID]
		if !ok {
			t.Fatalf("metered record of unknown request %s", rec.RequestID)
		}
		if rec.BilledMs != rep.billedMs || int64(rec.MemoryMB) != rep.memoryMB || int64(rec.MaxMemMB) != rep.maxMemMB ||
			fmt.Sprintf("%.2f", rec.DurationMs) != fmt.Sprintf("%.2f", rep.durationMs) || fmt.Sprintf("%.2f", rec.InitMs) != fmt.Sprintf("%.2f", rep.initMs) {
			t.Errorf("record %+v does not match REPORT %+v", rec, rep)
		}
		if want := int64(math.Ceil(rep.durationMs + rep.initMs)); rec.BilledMs < want-1 || rec.BilledMs > want+1 {
			t.Errorf("billed %d ms for %.2f + %.2f ms", rec.BilledMs, rep.durationMs, rep.initMs)
		}
		if rec.Function == "billed" {
			gbs += float64(rec.BilledMs) / 1000 * 256 / 1024
			billedReqs++
		}
	}

	// The cost report over the API sums the same records.
	rep := costReport(t, n, "billed")
	if rep.Requests != billedReqs || len(rep.Functions) != 1 || math.Abs(rep.GBSeconds-gbs) > 1e-9 {
		t.Errorf("report requests %d gb-s %v, want %d and %v", rep.Requests, rep.GBSeconds, billedReqs, gbs)
	}
	want := gbs*0.0000166667 + float64(billedReqs)*0.20/1e6
	if math.Abs(rep.Cost-want) > 1e-12 {
		t.Errorf("cost %v, want %v", rep.Cost, want)
	}
	var errs int64
	for _, row := range rep.Rows {
		errs += row.Errors
	}
	if errs != 1 {
		t.Errorf("errors in rows = %d, want 1", errs)
	}
	// The report is behind the API's authentication.
	resp, err := http.Get("http://" + n.d.Addr() + "/_nimbus/cost?since=1h")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned GET /_nimbus/cost: %d, want 403", resp.StatusCode)
	}
	all := costReport(t, n, "")
	if all.Requests != int64(len(reports)) || len(all.Functions) != 2 {
		t.Errorf("all functions: %d requests, %d functions", all.Requests, len(all.Functions))
	}
	for _, f := range all.Functions {
		if f.Function == "billed" && (f.SuggestedMemoryMB != 128 || f.Savings <= 0) {
			t.Errorf("right-sizing of a 256 MB function using %d MB: %+v", f.MaxMemoryUsedMB, f)
		}
	}
}

// costReport calls GET /_nimbus/cost, signed as the CLI signs it.
func costReport(t *testing.T, n *node, fn string) *cost.Report {
	t.Helper()
	u := "http://" + n.d.Addr() + "/_nimbus/cost?since=1h"
	if fn != "" {
		u += "&function=" + fn
	}
	req, _ := http.NewRequest("GET", u, nil)
	creds, err := n.client.Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(empty[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /_nimbus/cost: %d %s", resp.StatusCode, body)
	}
	var rep cost.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

// otlpReceiver is an OTLP/HTTP traces endpoint: it decodes each export
// (protobuf) and keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err != nil || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// The platform's spans of a sampled invocation reach an OTLP receiver in
// the invocation's X-Ray trace, with the function's Parent as the invoke
// span; an unsampled one exports nothing.
func TestOTLPExport(t *testing.T) {
	t.Parallel()
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	n := startNodeWith(t, t.TempDir(), func(c *config.Config) { c.OTLPEndpoint = srv.URL })
	createGoFunction(t, n, "spans", nil)
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	env := invokeWithHeader(t, n, "spans", "X-Amzn-Trace-Id", "Root="+root+";Parent=53995c3f42cd8ad8;Sampled=1", `{"action":"env"}`)
	fnHeader, err := trace.Parse(env["_X_AMZN_TRACE_ID"].(string))
	if err != nil {
		t.Fatal(err)
	}
	invokeWithHeader(t, n, "spans", "X-Amzn-Trace-Id", "Root=1-5759e988-000000000000000000000001;Sampled=0", `{"action":"echo"}`)
	// A function URL is a front door too: its invocation gets the same
	// span tree, in the trace its caller named.
	id := urlFunction(t, n, "urlspans", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeNone})
	if ans, body := urlRequest(t, n, id, "GET", "/hello", map[string]string{"X-Amzn-Trace-Id": "Root=1-5759e988-00000000000000000000abcd;Parent=1111111111111111;Sampled=1"}, nil); ans.StatusCode != 200 {
		t.Fatalf("function URL: %d %s", ans.StatusCode, body)
	}
	// An asynchronous event: its spans start when it was queued.
	createGoFunction(t, n, "asyncspans", nil)
	if _, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("asyncspans"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"action":"echo"}`)}, func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("X-Amzn-Trace-Id", "Root=1-5759e988-0000000000000000000a5a5a;Sampled=1"))
	}); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, n, "nimbus_lambda_invocations_total", map[string]string{"function": "asyncspans"}, 1)
	n.stop() // shutdown exports what is buffered

	recv.mu.Lock()
	defer recv.mu.Unlock()
	wantTrace, _ := hex.DecodeString("5759e988bd862e3fe1be46a994272793")
	urlTrace, _ := hex.DecodeString("5759e98800000000000000000000abcd")
	asyncTrace, _ := hex.DecodeString("5759e9880000000000000000000a5a5a")
	byName := map[string]*tracepb.Span{}
	urlSpans := map[string]*tracepb.Span{}
	asyncSpans := map[string]*tracepb.Span{}
	for _, s := range recv.spans {
		switch {
		case bytes.Equal(s.TraceId, asyncTrace):
			asyncSpans[s.Name] = s
		case bytes.Equal(s.TraceId, urlTrace):
			urlSpans[s.Name] = s
		case !bytes.Equal(s.TraceId, wantTrace):
			t.Errorf("span %s in trace %x (the unsampled invocation exported?)", s.Name, s.TraceId)
		default:
			byName[s.Name] = s
		}
	}
	if a, q := asyncSpans["nimbus.async"], asyncSpans["nimbus.queue"]; a == nil || q == nil || asyncSpans["nimbus.invoke"] == nil ||
		!bytes.Equal(q.ParentSpanId, a.SpanId) || q.StartTimeUnixNano != a.StartTimeUnixNano || asyncSpans["nimbus.frontdoor POST"] == nil {
		t.Errorf("async spans: %v", asyncSpans)
	}
	if d := urlSpans["nimbus.frontdoor GET"]; d == nil || hex.EncodeToString(d.ParentSpanId) != "1111111111111111" || urlSpans["nimbus.invoke"] == nil {
		t.Errorf("function URL spans: %v", urlSpans)
	}
	door := byName["nimbus.frontdoor POST"]
	if door == nil {
		t.Fatalf("no front-door span among %d spans", len(recv.spans))
	}
	if hex.EncodeToString(door.ParentSpanId) != "53995c3f42cd8ad8" {
		t.Errorf("front door's parent %x, want the caller's segment", door.ParentSpanId)
	}
	for _, name := range []string{"nimbus.init", "nimbus.invoke", "nimbus.response"} {
		s := byName[name]
		if s == nil {
			t.Errorf("no %s span", name)
			continue
		}
		if !bytes.Equal(s.ParentSpanId, door.SpanId) {
			t.Errorf("%s is not under the front door", name)
		}
		if s.StartTimeUnixNano < door.StartTimeUnixNano || s.EndTimeUnixNano > door.EndTimeUnixNano {
			t.Errorf("%s [%d,%d] outside the front door [%d,%d]", name, s.StartTimeUnixNano, s.EndTimeUnixNano, door.StartTimeUnixNano, door.EndTimeUnixNano)
		}
	}
	if s := byName["nimbus.invoke"]; s != nil && hex.EncodeToString(s.SpanId) != fnHeader.Parent {
		t.Errorf("invoke span %x, the function's Parent is %s", s.SpanId, fnHeader.Parent)
	}
}

// An Embedded Metric Format line a function prints (as Powertools Metrics
// does) becomes a metric on /metrics with its dimensions.
func TestEMFLineBecomesMetric(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "emitter", nil)
	line := `{"_aws":{"Timestamp":1732700000000,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["service"]],"Metrics":[{"Name":"Orders","Unit":"Count"}]}]},"service":"checkout","Orders":3}`
	for range 2 {
		invoke(t, n, "emitter", "", map[string]any{"action": "print", "value": line})
	}
	fams := scrapeMetrics(t, n)
	f := fams["nimbus_emf_Shop_Orders"]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("EMF family = %v", f)
	}
	m := f.GetMetric()[0]
	if m.GetSummary().GetSampleSum() != 6 || m.GetSummary().GetSampleCount() != 2 {
		t.Errorf("summary %v, want sum 6 of 2", m.GetSummary())
	}
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["service"] != "checkout" || labels["function"] != "emitter" || labels["version"] != "$LATEST" {
		t.Errorf("labels %v", labels)
	}
}

// Throttles and provisioned-concurrency invocations reach their families.
func TestMetricsThrottleAndProvisioned(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	createGoFunction(t, n, "capped", nil)
	if _, err := n.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	_, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("capped")}, func(o *lambda.Options) { o.RetryMaxAttempts = 1 })
	var tmr *types.TooManyRequestsException
	if !errors.As(err, &tmr) {
		t.Fatalf("invoke with reserved 0: %v", err)
	}

	createGoFunction(t, n, "warm", nil)
	v, err := n.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("warm")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("warm"), Qualifier: v.Version, ProvisionedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if st := waitProvisioned(t, n, "warm", aws.ToString(v.Version)); st.Status != types.ProvisionedConcurrencyStatusEnumReady {
		t.Fatalf("provisioned status %s", st.Status)
	}
	invoke(t, n, "warm", aws.ToString(v.Version), map[string]any{"action": "echo"})

	fams := scrapeMetrics(t, n)
	if got := sample(fams, "nimbus_lambda_throttles_total", map[string]string{"function": "capped"}); got != 1 {
		t.Errorf("throttles = %v, want 1", got)
	}
	if got := sample(fams, "nimbus_lambda_invocations_total", map[string]string{"function": "capped"}); got != 0 {
		t.Errorf("a throttled invoke counted as an invocation: %v", got)
	}
	want := map[string]string{"function": "warm", "version": aws.ToString(v.Version)}
	if got := sample(fams, "nimbus_lambda_provisioned_concurrency_invocations_total", want); got != 1 {
		t.Errorf("provisioned invocations = %v, want 1", got)
	}
	if got := sample(fams, "nimbus_lambda_init_duration_seconds", want); got != 0 {
		t.Errorf("a provisioned environment's invoke counted as a cold start: %v", got)
	}
}

// waitMetric polls /metrics, as a monitoring system would, until the
// series reaches want (asynchronous work finishing), or fails after 60 s.
func waitMetric(t *testing.T, n *node, name string, labels map[string]string, want float64) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for sample(scrapeMetrics(t, n), name, labels) < want {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s%v never reached %v", name, labels, want)
		}
	}
}
