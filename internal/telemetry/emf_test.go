package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// powertools is a line as Powertools for AWS Lambda (Python) writes it.
const powertools = `{"_aws":{"Timestamp":1732700000000,"CloudWatchMetrics":[{"Namespace":"ShoppingCart","Dimensions":[["service","environment"]],"Metrics":[{"Name":"CartUpdated","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},"service":"cart","environment":"prod","CartUpdated":[1.0,2.0],"Latency":12.5,"requestId":"abc"}`

func TestParseEMF(t *testing.T) {
	ms, err := ParseEMF([]byte(powertools))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("got %d metrics: %+v", len(ms), ms)
	}
	cu, lat := ms[0], ms[1]
	if cu.Namespace != "ShoppingCart" || cu.Name != "CartUpdated" || cu.Unit != "Count" || len(cu.Values) != 2 || cu.Values[1] != 2 {
		t.Errorf("CartUpdated = %+v", cu)
	}
	want := []EMFDimension{{"service", "cart"}, {"environment", "prod"}}
	if len(lat.Dimensions) != 2 || lat.Dimensions[0] != want[0] || lat.Dimensions[1] != want[1] || lat.Values[0] != 12.5 {
		t.Errorf("Latency = %+v", lat)
	}
	// The Node runtime's text format prefixes the JSON.
	prefixed := "2026-11-27T08:00:00.000Z\tabc\tINFO\t" + powertools
	if ms, err := ParseEMF([]byte(prefixed)); err != nil || len(ms) != 2 {
		t.Errorf("prefixed line: %v %v", ms, err)
	}
	// Two dimension sets: one datum per set.
	two := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["a"],["a","b"]],"Metrics":[{"Name":"m"}]}]},"a":"x","b":"y","m":1}`
	if ms, err := ParseEMF([]byte(two)); err != nil || len(ms) != 2 || len(ms[1].Dimensions) != 2 {
		t.Errorf("two sets: %+v %v", ms, err)
	}
}

func TestParseEMFRefuses(t *testing.T) {
	for name, line := range map[string]string{
		"plain text":     "hello world",
		"json, no _aws":  `{"msg":"hi"}`,
		"_aws in string": `{"msg":"\"_aws\""}`,
		"not json":       `{"_aws": `,
	} {
		if _, err := ParseEMF([]byte(line)); !errors.Is(err, ErrNotEMF) {
			t.Errorf("%s: err %v, want ErrNotEMF", name, err)
		}
	}
	for name, line := range map[string]string{
		"no timestamp":      `{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`,
		"no namespace":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`,
		"missing value":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]}}`,
		"string value":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":"1"}`,
		"numeric dimension": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["d"]],"Metrics":[{"Name":"m"}]}]},"m":1,"d":3}`,
		"bad resolution":    `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m","StorageResolution":5}]}]},"m":1}`,
		"no directives":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}`,
	} {
		if _, err := ParseEMF([]byte(line)); err == nil || errors.Is(err, ErrNotEMF) {
			t.Errorf("%s: err %v, want a format error", name, err)
		}
	}
}

// scrape renders m's registry in the text format and parses it back with
// the official parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	out, err := p.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("text format does not parse: %v\n%s", err, b.String())
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestEMFLineBecomesMetric(t *testing.T) {
	m := NewMetrics(MetricsOptions{})
	m.EMFLine("cart-fn", "$LATEST", []byte(powertools))
	m.EMFLine("cart-fn", "$LATEST", []byte(powertools))
	m.EMFLine("cart-fn", "$LATEST", []byte("just a log line"))
	m.EMFLine("cart-fn", "$LATEST", []byte(`{"_aws":{"Timestamp":1}}`))
	fams := scrape(t, m)
	f := fams["nimbus_emf_ShoppingCart_CartUpdated"]
	if f == nil || f.GetType() != dto.MetricType_SUMMARY || len(f.Metric) != 1 {
		t.Fatalf("CartUpdated family = %v", f)
	}
	s := f.Metric[0]
	if s.GetSummary().GetSampleCount() != 4 || s.GetSummary().GetSampleSum() != 6 {
		t.Errorf("CartUpdated summary = %v", s.GetSummary())
	}
	if label(s, "service") != "cart" || label(s, "environment") != "prod" || label(s, "function") != "cart-fn" || label(s, "version") != "$LATEST" {
		t.Errorf("labels = %v", s.GetLabel())
	}
	if last := fams["nimbus_emf_ShoppingCart_Latency_last"]; last == nil || last.Metric[0].GetGauge().GetValue() != 12.5 {
		t.Errorf("Latency_last = %v", last)
	}
	if inv := fams["nimbus_emf_invalid_lines_total"]; inv == nil || inv.Metric[0].GetCounter().GetValue() != 1 {
		t.Errorf("invalid lines = %v", inv)
	}
}

func TestEMFSeriesCap(t *testing.T) {
	m := NewMetrics(MetricsOptions{MaxEMFSeries: 3})
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		m.EMFLine("f", "1", []byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["req"]],"Metrics":[{"Name":"m"}]}]},"req":"`+id+`","m":1}`))
	}
	fams := scrape(t, m)
	if n := len(fams["nimbus_emf_N_m"].GetMetric()); n != 3 {
		t.Errorf("%d series, want the cap of 3", n)
	}
	if d := fams["nimbus_emf_series_dropped_total"].GetMetric()[0].GetCounter().GetValue(); d != 2 {
		t.Errorf("dropped = %v, want 2", d)
	}
}

// FuzzParseEMF: ParseEMF never panics; what it accepts respects the
// format's limits, and feeding it to the collector keeps the exposition
// parseable.
func FuzzParseEMF(f *testing.F) {
	f.Add([]byte(powertools))
	f.Add([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["a"],["a","b"]],"Metrics":[{"Name":"m"}]}]},"a":"x","b":"y","m":[1,2,3]}`))
	f.Add([]byte("ts\tid\tINFO\t" + `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N s/ä","Dimensions":[["1 d"]],"Metrics":[{"Name":"__x"}]}]},"1 d":"v","__x":1e308}`))
	f.Add([]byte(`{"_aws":null}`))
	f.Add([]byte(`not json "_aws"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ms, err := ParseEMF(line)
		if err != nil {
			return
		}
		for _, em := range ms {
			if em.Namespace == "" || em.Name == "" || len(em.Values) == 0 || len(em.Values) > emfMaxValues || len(em.Dimensions) > emfMaxDimensions {
				t.Fatalf("accepted %+v", em)
			}
		}
		m := NewMetrics(MetricsOptions{MaxEMFSeries: 50})
		m.EMFLine("f", "1", line)
		scrape(t, m)
	})
}

func TestInvokeDoneCounts(t *testing.T) {
	m := NewMetrics(MetricsOptions{})
	base := invoke.Record{FunctionName: "f", Version: "2", Qualifier: "live", Architecture: "x86_64", MemorySizeMB: 2048,
		Duration: 10 * time.Millisecond, BilledDuration: 500 * time.Millisecond}
	cold := base
	cold.ColdStart, cold.InitDuration = true, 5*time.Millisecond
	failed := base
	failed.FunctionError = "Unhandled"
	throttled := invoke.Record{FunctionName: "f", Version: "2", Qualifier: "live", Architecture: "x86_64", Throttled: true}
	for _, r := range []invoke.Record{cold, base, failed, throttled} {
		m.InvokeStart(context.Background(), &function.Config{FunctionName: "f", Version: "2"}, nil)
		m.InvokeDone(context.Background(), &r)
	}
	fams := scrape(t, m)
	get := func(name string) *dto.Metric {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Fatalf("%s = %v", name, f)
		}
		return f.Metric[0]
	}
	if v := get("nimbus_lambda_invocations_total"); v.GetCounter().GetValue() != 3 || label(v, "alias") != "live" {
		t.Errorf("invocations %v", v)
	}
	if v := get("nimbus_lambda_errors_total").GetCounter().GetValue(); v != 1 {
		t.Errorf("errors %v", v)
	}
	if v := get("nimbus_lambda_throttles_total").GetCounter().GetValue(); v != 1 {
		t.Errorf("throttles %v", v)
	}
	if v := get("nimbus_lambda_init_duration_seconds").GetHistogram().GetSampleCount(); v != 1 {
		t.Errorf("cold starts %v", v)
	}
	if v := get("nimbus_lambda_gb_seconds_total").GetCounter().GetValue(); v != 3 {
		t.Errorf("gb-seconds %v, want 3 x 0.5 s x 2 GB", v)
	}
	if v := get("nimbus_lambda_concurrent_executions").GetGauge().GetValue(); v != 0 {
		t.Errorf("concurrency %v after all ended", v)
	}
}

func TestAsyncFamilies(t *testing.T) {
	m := NewMetrics(MetricsOptions{Async: func(context.Context) (AsyncStat, error) {
		return AsyncStat{Depth: 7, OldestAge: 3 * time.Second, DroppedForAge: 2, DestinationFailures: 1}, nil
	}})
	fams := scrape(t, m)
	if v := fams["nimbus_lambda_async_events_queued"].GetMetric()[0].GetGauge().GetValue(); v != 7 {
		t.Errorf("queued %v", v)
	}
	if v := fams["nimbus_lambda_async_event_age_seconds"].GetMetric()[0].GetGauge().GetValue(); v != 3 {
		t.Errorf("age %v", v)
	}
	for _, m := range fams["nimbus_lambda_async_events_dropped_total"].GetMetric() {
		if want := map[string]float64{"event_age": 2}[label(m, "reason")]; m.GetCounter().GetValue() != want {
			t.Errorf("dropped %s = %v", label(m, "reason"), m.GetCounter().GetValue())
		}
	}
	if v := fams["nimbus_lambda_destination_delivery_failures_total"].GetMetric()[0].GetCounter().GetValue(); v != 1 {
		t.Errorf("destination failures %v", v)
	}
}

// The duration's min and max gauges are the real bounds a quantile
// estimated from the histogram is clamped to.
func TestDurationBounds(t *testing.T) {
	m := NewMetrics(MetricsOptions{})
	for _, d := range []time.Duration{7 * time.Millisecond, 0, 1003 * time.Millisecond, 20 * time.Millisecond} {
		r := invoke.Record{FunctionName: "f", Version: "1", Duration: d}
		m.InvokeStart(context.Background(), &function.Config{FunctionName: "f", Version: "1"}, nil)
		m.InvokeDone(context.Background(), &r)
	}
	// A throttle ran no code: it does not move the bounds.
	m.InvokeDone(context.Background(), &invoke.Record{FunctionName: "f", Version: "1", Throttled: true, Duration: time.Hour})
	fams := scrape(t, m)
	for name, want := range map[string]float64{"nimbus_lambda_duration_min_seconds": 0, "nimbus_lambda_duration_max_seconds": 1.003} {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 || f.Metric[0].GetGauge().GetValue() != want {
			t.Errorf("%s = %v, want %v", name, f, want)
		}
	}
}
