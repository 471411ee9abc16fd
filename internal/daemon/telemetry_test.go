package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
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
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "counted", nil)
	fn := map[string]string{"function": "counted", "version": "$LATEST"}
	before := scrapeMetrics(t, n)
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
	if got := sample(fams, "nimbus_lambda_gb_seconds_total", fn); got <= 0 {
		t.Errorf("gb-seconds = %v", got)
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
