package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// CloudWatch is the CloudWatch metrics figures: how many datapoints a
// second PutMetricData accepts from Concurrency clients (each request 20
// metrics of 50 values), beside the echo server answering the same
// request bodies at the same concurrency; and the latency of one
// GetMetricData of 20 metrics over 3 hours at 1-minute resolution (180
// datapoints each), beside the echo's round trip of the same request.
type CloudWatch struct {
	Concurrency          int     `json:"put_concurrency"`
	DatapointsPerRequest int     `json:"put_datapoints_per_request"`
	PutRequestsPerSecond float64 `json:"put_requests_per_second"`
	DatapointsPerSecond  float64 `json:"put_datapoints_per_second"`
	EchoRequestsPerSec   float64 `json:"echo_requests_per_second"`
	PutRatio             float64 `json:"put_ratio_to_echo"`
	PutErrors            int     `json:"put_errors"`
	GetMetrics           int     `json:"get_metrics"`
	GetPointsPerMetric   int     `json:"get_points_per_metric"`
	Get                  Latency `json:"get_metric_data"`
	GetEcho              Latency `json:"get_echo"`
	GetRatioP50          float64 `json:"get_ratio_p50"`
}

const (
	cwTarget       = "GraniteServiceVersion20100801."
	cwContentType  = "application/x-amz-json-1.0"
	cwPutMetrics   = 20
	cwPutValues    = 50
	cwGetMetrics   = 20
	cwGetHistory   = 3 * time.Hour
	cwSeedPerBatch = 900
)

// cwCall sends one CloudWatch JSON 1.0 request, signed for "monitoring".
func (r *runner) cwCall(ctx context.Context, op string, body []byte) (time.Duration, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.api+"/", bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", cwContentType)
	req.Header.Set("X-Amz-Target", cwTarget+op)
	sum := sha256.Sum256(body)
	t0 := time.Now()
	if err := r.signer.SignHTTP(ctx, r.creds, req, hex.EncodeToString(sum[:]), "monitoring", r.region, t0); err != nil {
		return 0, nil, fmt.Errorf("sign request: %w", err)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	out, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	lat := time.Since(t0)
	if err != nil {
		return 0, nil, fmt.Errorf("read %s: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return lat, out, fmt.Errorf("%s: %d: %s", op, resp.StatusCode, out)
	}
	return lat, out, nil
}

// echoCall posts body to the echo server and times the round trip.
func (r *runner) echoCall(ctx context.Context, echo string, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, echo, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return time.Since(t0), err
}

// putBody is a PutMetricData request of cwPutMetrics metrics with
// cwPutValues distinct values each.
func putBody(worker int) []byte {
	type datum struct {
		MetricName string
		Dimensions []map[string]string
		Values     []float64
		Unit       string
	}
	data := make([]datum, cwPutMetrics)
	for i := range data {
		vals := make([]float64, cwPutValues)
		for j := range vals {
			vals[j] = float64(j*7%101) + float64(i)/10
		}
		data[i] = datum{MetricName: "Latency" + strconv.Itoa(i), Unit: "Milliseconds", Values: vals,
			Dimensions: []map[string]string{{"Name": "Worker", "Value": strconv.Itoa(worker)}}}
	}
	b, _ := json.Marshal(map[string]any{"Namespace": "Bench/Put", "MetricData": data})
	return b
}

// metrics measures the CloudWatch figures.
func (r *runner) metrics(ctx context.Context, rep *Report, echo string) error {
	c := r.opts.Concurrency[len(r.opts.Concurrency)-1]
	cw := CloudWatch{Concurrency: c, DatapointsPerRequest: cwPutMetrics * cwPutValues, GetMetrics: cwGetMetrics}
	r.logf("cloudwatch: PutMetricData from %d clients for %s, beside the echo", c, r.opts.Duration)
	bodies := make([][]byte, c)
	for i := range bodies {
		bodies[i] = putBody(i)
	}
	put := func(i int) error { _, _, err := r.cwCall(ctx, "PutMetricData", bodies[i]); return err }
	toEcho := func(i int) error { _, err := r.echoCall(ctx, echo, bodies[i]); return err }
	if _, _, _, err := loadFor(ctx, c, r.opts.Duration/5, put); err != nil { // warm-up
		return err
	}
	n, errs, putTime, err := loadFor(ctx, c, r.opts.Duration, put)
	if err != nil {
		return err
	}
	e, _, echoTime, err := loadFor(ctx, c, r.opts.Duration, toEcho)
	if err != nil {
		return err
	}
	cw.PutRequestsPerSecond = math.Round(float64(n) / putTime.Seconds())
	cw.DatapointsPerSecond = math.Round(float64(n*cw.DatapointsPerRequest) / putTime.Seconds())
	cw.EchoRequestsPerSec = math.Round(float64(e) / echoTime.Seconds())
	cw.PutRatio = ratio(float64(n)/putTime.Seconds(), float64(e)/echoTime.Seconds())
	cw.PutErrors = errs

	// 20 metrics with a datapoint a minute for the last 3 hours.
	end := time.Now().Truncate(time.Minute)
	start := end.Add(-cwGetHistory)
	r.logf("cloudwatch: GetMetricData of %d metrics over %s at 1-minute resolution", cwGetMetrics, cwGetHistory)
	type datum struct {
		MetricName string
		Timestamp  int64
		Value      float64
	}
	var seed []datum
	for m := range cwGetMetrics {
		for t := start; t.Before(end); t = t.Add(time.Minute) {
			seed = append(seed, datum{MetricName: "Series" + strconv.Itoa(m), Timestamp: t.Unix(), Value: float64(t.Minute() + m)})
		}
	}
	for len(seed) > 0 {
		k := min(len(seed), cwSeedPerBatch)
		b, _ := json.Marshal(map[string]any{"Namespace": "Bench/History", "MetricData": seed[:k]})
		if _, _, err := r.cwCall(ctx, "PutMetricData", b); err != nil {
			return err
		}
		seed = seed[k:]
	}
	queries := make([]map[string]any, cwGetMetrics)
	for m := range queries {
		queries[m] = map[string]any{"Id": "m" + strconv.Itoa(m), "MetricStat": map[string]any{
			"Metric": map[string]any{"Namespace": "Bench/History", "MetricName": "Series" + strconv.Itoa(m)},
			"Period": 60, "Stat": "Average"}}
	}
	get, _ := json.Marshal(map[string]any{"MetricDataQueries": queries, "StartTime": start.Unix(), "EndTime": end.Unix()})
	// The answer must hold every datapoint, or the figure means nothing.
	_, out, err := r.cwCall(ctx, "GetMetricData", get)
	if err != nil {
		return err
	}
	var res struct {
		MetricDataResults []struct{ Values []float64 }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("GetMetricData answer: %w", err)
	}
	want := int(cwGetHistory / time.Minute)
	if len(res.MetricDataResults) != cwGetMetrics {
		return fmt.Errorf("GetMetricData answered %d results, want %d", len(res.MetricDataResults), cwGetMetrics)
	}
	for _, mr := range res.MetricDataResults {
		if len(mr.Values) != want {
			return fmt.Errorf("GetMetricData answered %d datapoints for a metric, want %d", len(mr.Values), want)
		}
	}
	cw.GetPointsPerMetric = want
	samples := max(r.opts.Requests/10, 20)
	var gets, echoes []time.Duration
	for i := range samples {
		if err := ctx.Err(); err != nil {
			return err
		}
		lat, _, err := r.cwCall(ctx, "GetMetricData", get)
		if err != nil {
			return err
		}
		el, err := r.echoCall(ctx, echo, get)
		if err != nil {
			return err
		}
		if i >= samples/10 { // the first tenth warms up
			gets, echoes = append(gets, lat), append(echoes, el)
		}
	}
	cw.Get, cw.GetEcho = latencyOf(gets), latencyOf(echoes)
	cw.GetRatioP50 = ratio(cw.Get.P50, cw.GetEcho.P50)
	rep.CloudWatch = &cw
	return nil
}

// loadFor runs c workers each calling f(worker) until d has passed, and
// counts the calls that succeeded and those that failed, with the time
// until the last call ended: a call started within d counts, so on a slow
// machine whose calls outlast d the rate is still measured, over the
// longer time.
func loadFor(ctx context.Context, c int, d time.Duration, f func(worker int) error) (int, int, time.Duration, error) {
	start := time.Now()
	end := start.Add(d)
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				err := f(w)
				switch {
				case err == nil:
					ok.Add(1)
				case ctx.Err() != nil:
				default:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil && ok.Load() == 0 {
		return 0, int(failed.Load()), elapsed, err
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, elapsed, err
	}
	return int(ok.Load()), int(failed.Load()), elapsed, nil
}
