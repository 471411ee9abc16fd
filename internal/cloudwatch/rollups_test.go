package cloudwatch

import (
	"context"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// startRollupNode opens the store in dir and runs a Service on it, as a
// node would; stop ends both (a restart is stop, then start again).
func startRollupNode(t *testing.T, dir string) (*Service, func()) {
	t.Helper()
	st := storetest.OpenDir(t, dir)
	svc, err := New(t.Context(), Options{JetStream: st.JetStream()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- svc.Run(ctx, func(ctx context.Context, _ string, fn func(context.Context) error) error { return fn(ctx) })
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		closeStore(t, st)
	}
	t.Cleanup(stop)
	// Wait until the node has folded in the whole datapoint stream, or
	// with the stream empty, the roll-ups (the loop is a hang guard, not
	// a timing assertion).
	info, err := svc.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 500 {
		svc.mu.Lock()
		applied := svc.applied
		svc.mu.Unlock()
		if applied >= info.State.LastSeq || info.State.Msgs == 0 && svc.db.len() > 0 {
			return svc, stop
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the node never folded in the stream up to %d", info.State.LastSeq)
	return nil, nil
}

func closeStore(t *testing.T, st *store.Store) {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Errorf("close store: %v", err)
	}
}

// hourStats reads the metric's statistics over [from, from+span) in one
// period.
func hourStats(t *testing.T, svc *Service, from time.Time, period int64) (sum, count, p50 float64, found bool) {
	t.Helper()
	in := &GetMetricStatisticsInput{Namespace: "Shop", MetricName: "Basket",
		StartTime: &Time{from}, EndTime: &Time{from.Add(time.Hour)}, Period: &period, Statistics: []string{"Sum", "SampleCount"}}
	out, err := svc.getMetricStatistics(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	for _, dp := range out.Datapoints {
		sum += *dp.Sum
		count += *dp.SampleCount
	}
	in.Statistics, in.ExtendedStatistics = nil, []string{"p50"}
	pct, err := svc.getMetricStatistics(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	for _, dp := range pct.Datapoints {
		p50 = dp.ExtendedStatistics["p50"]
	}
	return sum, count, p50, len(out.Datapoints) > 0
}

// TestRollupsSurviveRestart: the 5 min and 1 h tiers of a closed hour are
// kept across a restart, without counting the replayed datapoints twice
// (a datum that arrived after the hour was saved counts once), and they
// outlive the datapoint stream (purged here as its 15-day MaxAge would).
func TestRollupsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	hour := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	svc, stop := startRollupNode(t, dir)
	var vals []float64
	for v := 1; v <= 10; v++ {
		vals = append(vals, float64(v))
	}
	put := func(svc *Service, at time.Time, vals ...float64) {
		t.Helper()
		if _, err := svc.putMetricData(t.Context(), &PutMetricDataInput{Namespace: "Shop",
			MetricData: []MetricDatum{{MetricName: "Basket", Timestamp: &Time{at}, Values: vals}}}); err != nil {
			t.Fatal(err)
		}
	}
	put(svc, hour.Add(10*time.Minute), vals...)
	if err := svc.writeRollups(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	// Late: after the hour was saved, before the restart, never saved.
	put(svc, hour.Add(50*time.Minute), 45)
	stop()

	svc, stop = startRollupNode(t, dir)
	for _, period := range []int64{3600, 300, 60} {
		if sum, n, _, _ := hourStats(t, svc, hour, period); sum != 100 || n != 11 {
			t.Errorf("after a restart, period %d: Sum %v SampleCount %v, want 100 and 11", period, sum, n)
		}
	}
	if err := svc.writeRollups(t.Context(), true); err != nil { // the late datum's hour again
		t.Fatal(err)
	}
	stop()

	// The datapoint stream loses the hour (its MaxAge); the long tiers
	// stay, percentiles included.
	st := storetest.OpenDir(t, dir)
	ds, err := st.JetStream().Stream(t.Context(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	closeStore(t, st)
	svc, _ = startRollupNode(t, dir)
	for _, period := range []int64{3600, 300} {
		if sum, n, p50, ok := hourStats(t, svc, hour, period); sum != 100 || n != 11 || (period == 3600 && p50 != 6) || !ok {
			t.Errorf("from the roll-ups alone, period %d: Sum %v SampleCount %v p50 %v, want 100, 11 and p50 6", period, sum, n, p50)
		}
	}
	if _, _, _, ok := hourStats(t, svc, hour, 60); ok {
		t.Error("the 1-minute tier outlived its stream")
	}
}
