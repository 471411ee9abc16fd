package cli

import (
	"bytes"
	"math"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

func TestQuantile(t *testing.T) {
	nan := math.NaN()
	// 100 observations: 50 under 10 ms, 40 more under 100 ms, 10 under 1 s.
	b := map[float64]float64{0.01: 50, 0.1: 90, 1: 100, math.Inf(1): 100}
	for _, c := range []struct{ q, want float64 }{{0.5, 0.01}, {0.25, 0.005}, {0.9, 0.1}, {0.95, 0.55}} {
		if got, exact := quantile(c.q, b, 100, nan, nan); math.Abs(got-c.want) > 1e-9 || exact {
			t.Errorf("quantile(%v) = %v %v, want an estimate %v", c.q, got, exact, c.want)
		}
	}
	// Everything in the +Inf bucket and no known maximum: the highest
	// finite bound.
	if got, _ := quantile(0.99, map[float64]float64{1: 0, math.Inf(1): 5}, 5, nan, nan); got != 1 {
		t.Errorf("+Inf quantile = %v", got)
	}
}

// The p99 never exceeds the longest duration observed, nor falls under
// the shortest: the estimate interpolates within the real bounds.
func TestQuantileWithinObservedBounds(t *testing.T) {
	// 100 invocations of about 1 s each (1.000 to 1.010 s): all in the
	// (1, 2.5] bucket. Interpolating over the whole bucket said 2.485 s.
	b := map[float64]float64{0.5: 0, 1: 0, 2.5: 100, math.Inf(1): 100}
	got, exact := quantile(0.99, b, 100, 1.000, 1.010)
	if got > 1.010 || got < 1.000 || exact {
		t.Errorf("p99 = %v (exact %v), want an estimate within [1.000, 1.010]", got, exact)
	}
	// 0 ms invocations: every one the same, so the figure is exact (it
	// was 0.99 ms, the first bucket interpolated).
	if got, exact := quantile(0.99, map[float64]float64{0.001: 10, math.Inf(1): 10}, 10, 0, 0); got != 0 || !exact {
		t.Errorf("p99 of zeros = %v (exact %v)", got, exact)
	}
	// Beyond the last finite bucket, the maximum bounds the estimate.
	if got, _ := quantile(0.99, map[float64]float64{900: 0, math.Inf(1): 4}, 4, 901, 1000); got < 901 || got > 1000 {
		t.Errorf("p99 in the +Inf bucket = %v, want within [901, 1000]", got)
	}
	// The minimum bounds it from below.
	if got, _ := quantile(0.5, map[float64]float64{0.001: 0, 0.1: 10, math.Inf(1): 10}, 10, 0.09, 0.1); got < 0.09 {
		t.Errorf("p50 = %v, under the shortest 0.09", got)
	}
}

func TestPrintMetricsMarksEstimates(t *testing.T) {
	lbl := func(fn string) []*dto.LabelPair {
		return []*dto.LabelPair{{Name: proto.String("function"), Value: proto.String(fn)}, {Name: proto.String("version"), Value: proto.String("$LATEST")}, {Name: proto.String("alias"), Value: proto.String("")}}
	}
	hist := func(fn string, sum float64, count uint64, buckets map[float64]uint64) *dto.Metric {
		h := &dto.Histogram{SampleSum: proto.Float64(sum), SampleCount: proto.Uint64(count)}
		for _, ub := range []float64{0.001, 0.5, 1, 2.5} {
			h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(ub), CumulativeCount: proto.Uint64(buckets[ub])})
		}
		return &dto.Metric{Label: lbl(fn), Histogram: h}
	}
	gauge := func(fn string, v float64) *dto.Metric {
		return &dto.Metric{Label: lbl(fn), Gauge: &dto.Gauge{Value: proto.Float64(v)}}
	}
	fams := map[string]*dto.MetricFamily{
		"nimbus_lambda_duration_seconds": {Metric: []*dto.Metric{
			hist("slow", 100.2, 100, map[float64]uint64{2.5: 100}),
			hist("zero", 0, 10, map[float64]uint64{0.001: 10, 0.5: 10, 1: 10, 2.5: 10}),
		}},
		"nimbus_lambda_duration_min_seconds": {Metric: []*dto.Metric{gauge("slow", 1.001), gauge("zero", 0)}},
		"nimbus_lambda_duration_max_seconds": {Metric: []*dto.Metric{gauge("slow", 1.003), gauge("zero", 0)}},
	}
	var buf bytes.Buffer
	if err := printMetrics(&buf, fams, ""); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	var slow, zero string
	for _, l := range lines {
		switch f := strings.Fields(l); {
		case len(f) > 0 && f[0] == "slow":
			slow = l
		case len(f) > 0 && f[0] == "zero":
			zero = l
		}
	}
	sf, zf := strings.Fields(slow), strings.Fields(zero)
	if len(sf) < 9 || len(zf) < 9 {
		t.Fatalf("rows missing:\n%s", out)
	}
	// Columns: function version invocations errors throttles cold avg p99 max ...
	if sf[7] != "~1002.98" || sf[8] != "1003.00" {
		t.Errorf("slow p99/max = %s %s, want ~1002.98 1003.00 (it was 2485 before the bounds):\n%s", sf[7], sf[8], out)
	}
	if zf[7] != "0.00" || zf[8] != "0.00" {
		t.Errorf("zero p99/max = %s %s, want exact 0.00:\n%s", zf[7], zf[8], out)
	}
	if !strings.Contains(out, "~ estimated") {
		t.Errorf("no note on the estimate:\n%s", out)
	}
}
