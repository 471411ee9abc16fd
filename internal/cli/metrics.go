package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
)

func newMetricsCmd(cf *clientFlags) *cobra.Command {
	var fn string
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Show per-function invocation metrics from the node's /metrics",
		Long: `Read the node's Prometheus endpoint (/metrics) and print, per function
version: invocations, errors, throttles, cold starts, average, p99 and
maximum duration, invocations in flight and GB-seconds. The p99 is estimated
from the duration histogram's buckets, within the shortest and longest
duration observed; an estimate is marked with "~".
Scrape /metrics with Prometheus for history; this is the node's view now.
With a node started with --metrics-listen or --metrics-token, set
NIMBUS_METRICS_LISTEN and NIMBUS_METRICS_TOKEN as for the server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fams, err := fetchMetrics(cmd.Context(), cf)
			if err != nil {
				return err
			}
			return printMetrics(cmd.OutOrStdout(), fams, fn)
		},
	}
	cf.bind(cmd)
	cmd.Flags().StringVar(&fn, "function", "", "only this function")
	return cmd
}

func fetchMetrics(ctx context.Context, cf *clientFlags) (map[string]*dto.MetricFamily, error) {
	c, err := cf.lambdaClient(ctx)
	if err != nil {
		return nil, err
	}
	endpoint := aws.ToString(c.Options().BaseEndpoint)
	if endpoint == "" {
		return nil, fmt.Errorf("no Nimbus endpoint: set --endpoint-url or AWS_ENDPOINT_URL")
	}
	// A node started with --metrics-listen / --metrics-token: the same
	// environment variables tell the client where and with what to scrape.
	if addr := os.Getenv("NIMBUS_METRICS_LISTEN"); addr != "" {
		endpoint = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+"/metrics", nil) //nolint:gosec // the user's own node address
	if err != nil {
		return nil, fmt.Errorf("build metrics request: %w", err)
	}
	req.Header.Set("Accept", "text/plain")
	if tok := os.Getenv("NIMBUS_METRICS_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := nodeHTTP(c.Options().HTTPClient).Do(req) //nolint:gosec // the user's own node address
	if err != nil {
		return nil, fmt.Errorf("get metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return fams, nil
}

// fnRow is one function version's numbers (aliases summed).
type fnRow struct {
	invocations, errors, throttles, coldStarts, concurrent, gbSeconds float64
	durSum, durCount                                                  float64
	durMin, durMax                                                    float64             // NaN until a node reports them
	buckets                                                           map[float64]float64 // upper bound -> cumulative count
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func printMetrics(w io.Writer, fams map[string]*dto.MetricFamily, only string) error {
	rows := map[[2]string]*fnRow{}
	row := func(m *dto.Metric) *fnRow {
		k := [2]string{labelOf(m, "function"), labelOf(m, "version")}
		if only != "" && k[0] != only {
			return nil
		}
		r := rows[k]
		if r == nil {
			r = &fnRow{buckets: map[float64]float64{}, durMin: math.NaN(), durMax: math.NaN()}
			rows[k] = r
		}
		return r
	}
	add := func(name string, f func(r *fnRow, m *dto.Metric)) {
		for _, m := range fams[name].GetMetric() {
			if r := row(m); r != nil {
				f(r, m)
			}
		}
	}
	add("nimbus_lambda_invocations_total", func(r *fnRow, m *dto.Metric) { r.invocations += m.GetCounter().GetValue() })
	add("nimbus_lambda_errors_total", func(r *fnRow, m *dto.Metric) { r.errors += m.GetCounter().GetValue() })
	add("nimbus_lambda_throttles_total", func(r *fnRow, m *dto.Metric) { r.throttles += m.GetCounter().GetValue() })
	add("nimbus_lambda_gb_seconds_total", func(r *fnRow, m *dto.Metric) { r.gbSeconds += m.GetCounter().GetValue() })
	add("nimbus_lambda_concurrent_executions", func(r *fnRow, m *dto.Metric) { r.concurrent += m.GetGauge().GetValue() })
	add("nimbus_lambda_init_duration_seconds", func(r *fnRow, m *dto.Metric) {
		r.coldStarts += float64(m.GetHistogram().GetSampleCount())
	})
	add("nimbus_lambda_duration_seconds", func(r *fnRow, m *dto.Metric) {
		h := m.GetHistogram()
		r.durSum += h.GetSampleSum()
		r.durCount += float64(h.GetSampleCount())
		for _, b := range h.GetBucket() {
			r.buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	})
	// Aliases of a version are summed: the version's bounds are the
	// smallest min and the largest max.
	add("nimbus_lambda_duration_min_seconds", func(r *fnRow, m *dto.Metric) {
		if v := m.GetGauge().GetValue(); math.IsNaN(r.durMin) || v < r.durMin {
			r.durMin = v
		}
	})
	add("nimbus_lambda_duration_max_seconds", func(r *fnRow, m *dto.Metric) {
		if v := m.GetGauge().GetValue(); math.IsNaN(r.durMax) || v > r.durMax {
			r.durMax = v
		}
	})
	keys := make([][2]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tVERSION\tINVOCATIONS\tERRORS\tTHROTTLES\tCOLD STARTS\tAVG MS\tP99 MS\tMAX MS\tIN FLIGHT\tGB-SECONDS")
	estimated := false
	for _, k := range keys {
		r := rows[k]
		avg, p99, mx := "-", "-", "-"
		if r.durCount > 0 {
			avg = fmt.Sprintf("%.2f", r.durSum/r.durCount*1000)
			v, exact := quantile(0.99, r.buckets, r.durCount, r.durMin, r.durMax)
			p99 = fmt.Sprintf("%.2f", v*1000)
			if !exact {
				p99, estimated = "~"+p99, true
			}
			if !math.IsNaN(r.durMax) {
				mx = fmt.Sprintf("%.2f", r.durMax*1000)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%.0f\t%.3f\n", k[0], k[1], r.invocations, r.errors, r.throttles,
			r.coldStarts, avg, p99, mx, r.concurrent, r.gbSeconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if estimated {
		_, err := fmt.Fprintln(w, "~ estimated from the duration histogram's buckets, within the shortest and longest duration observed")
		return err
	}
	return nil
}

// quantile estimates the q-quantile from cumulative buckets, interpolating
// linearly inside the bucket as Prometheus's histogram_quantile does, but
// within the real bounds of the data: lo and hi, the smallest and largest
// observation (NaN when the node does not report them), narrow the bucket
// the quantile falls in. Exact is true when the figure is not an estimate
// (every observation had the same value).
func quantile(q float64, buckets map[float64]float64, total, lo, hi float64) (v float64, exact bool) {
	if !math.IsNaN(lo) && !math.IsNaN(hi) && lo == hi {
		return hi, true
	}
	bounds := make([]float64, 0, len(buckets))
	for b := range buckets {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	clamp := func(x float64) float64 {
		if !math.IsNaN(lo) && x < lo {
			x = lo
		}
		if !math.IsNaN(hi) && x > hi {
			x = hi
		}
		return x
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		c := buckets[b]
		if c >= rank && c > below {
			// The quantile is in (lower, b]; the data in it lies within
			// [lo, hi] too.
			from, to := clamp(lower), clamp(b)
			if math.IsInf(to, 1) {
				return from, false // no known upper end: the bucket's lower bound
			}
			return from + (to-from)*(rank-below)/(c-below), false
		}
		lower, below = b, c
	}
	return clamp(lower), false
}
