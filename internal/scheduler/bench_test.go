package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// lateness records when each delivery of a schedule arrived.
type lateness struct {
	mu   sync.Mutex
	at   map[string]time.Time // by the "at" its input carries
	seen chan struct{}
}

func (l *lateness) Deliver(_ context.Context, d *deliver.Delivery) error {
	now := time.Now()
	var in struct{ At string }
	if err := json.Unmarshal(d.Body, &in); err != nil {
		return fmt.Errorf("decode input: %w", err)
	}
	l.mu.Lock()
	l.at[in.At] = now
	l.mu.Unlock()
	l.seen <- struct{}{}
	return nil
}

// latenessBench starts the scheduler on a fresh store with rec as its
// Lambda target, serves its API, and runs it until the benchmark ends.
func latenessBench(b *testing.B, capacity int) (*lateness, string) {
	b.Helper()
	st := storetest.Open(b)
	router := deliver.NewRouter()
	rec := &lateness{at: map[string]time.Time{}, seen: make(chan struct{}, capacity)}
	router.Handle("lambda", rec)
	svc, err := New(b.Context(), Options{JetStream: st.JetStream(), Targets: router, Region: region, AccountID: account, SingleNode: true})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; srv.Close() })
	return rec, srv.URL
}

// createAt creates a one-time schedule due at due whose input names it,
// so its delivery can be matched.
func createAt(url, name string, due time.Time) error {
	body, _ := json.Marshal(map[string]any{
		"ScheduleExpression": "at(" + due.UTC().Format("2006-01-02T15:04:05") + ")", "FlexibleTimeWindow": map[string]string{"Mode": "OFF"},
		"ActionAfterCompletion": "DELETE",
		"Target":                map[string]string{"Arn": fnArn, "RoleArn": role, "Input": `{"at": "` + name + `"}`},
	})
	resp, err := http.Post(url+"/schedules/"+name, "application/json", bytes.NewReader(body)) //nolint:noctx // a benchmark's loopback call
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("CreateSchedule %s: %d", name, resp.StatusCode)
	}
	return nil
}

// timers measures the baseline: how late a Go timer set for each due
// time fires under the machine's load.
type timers struct {
	mu   sync.Mutex
	late []time.Duration
}

func (t *timers) set(due time.Time) {
	time.AfterFunc(time.Until(due), func() {
		t.mu.Lock()
		t.late = append(t.late, time.Since(due))
		t.mu.Unlock()
	})
}

// report records the schedules' and the timers' lateness percentiles.
func report(b *testing.B, late []time.Duration, t *timers, ps map[string]float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := func(ds []time.Duration, p float64) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	for unit, p := range ps {
		b.ReportMetric(q(late, p), unit)
	}
	if len(t.late) > 0 {
		b.ReportMetric(q(t.late, 0.50), "timer-p50-ms")
		b.ReportMetric(q(t.late, 0.99), "timer-p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAtScheduleLateness measures how late a one-time at() schedule
// reaches its target on the real clock: each iteration creates 20
// schedules through the API, due at the next whole seconds (at() has a
// second's resolution), and waits for their deliveries. The baseline in
// the same run is a Go timer set for each due time (the process's own
// lateness under the machine's load); read the ratio.
//
//	go test -run x -bench BenchmarkAtScheduleLateness -benchtime 5x ./internal/scheduler
func BenchmarkAtScheduleLateness(b *testing.B) {
	rec, url := latenessBench(b, 1000)
	const perRound = 20
	var late []time.Duration
	base := &timers{}
	round := 0
	for b.Loop() {
		round++
		first := time.Now().Truncate(time.Second).Add(2 * time.Second)
		dues := make([]time.Time, perRound)
		for i := range perRound {
			dues[i] = first.Add(time.Duration(i%2) * time.Second)
			if err := createAt(url, fmt.Sprintf("r%d-%d", round, i), dues[i]); err != nil {
				b.Fatal(err)
			}
			base.set(dues[i])
		}
		for range perRound {
			select {
			case <-rec.seen:
			case <-time.After(30 * time.Second):
				b.Fatal("a schedule did not fire within 30 s of its due time")
			}
		}
		rec.mu.Lock()
		for i := range perRound {
			late = append(late, rec.at[fmt.Sprintf("r%d-%d", round, i)].Sub(dues[i]))
		}
		rec.mu.Unlock()
	}
	report(b, late, base, map[string]float64{"p50-ms": 0.50, "p99-ms": 0.99})
}

// BenchmarkSchedulerMinute is the figure: 1,000 one-time at()
// schedules due over one minute (about 17 a second), created through the
// API before the first is due (16 concurrent creators; creating them
// took more than 30 s at load ~40, so the minute starts 150 s after the
// run), each firing's
// lateness measured from its due time to the target's delivery. The
// baseline in the same run is a Go timer per due time.
//
//	go test -run x -bench BenchmarkSchedulerMinute -benchtime 1x -timeout 10m ./internal/scheduler
func BenchmarkSchedulerMinute(b *testing.B) {
	const n, spread, lead = 1000, 60, 150 * time.Second
	rec, url := latenessBench(b, n)
	var late []time.Duration
	base := &timers{}
	round := 0
	for b.Loop() {
		round++
		first := time.Now().Truncate(time.Second).Add(lead)
		dues := make([]time.Time, n)
		names := make([]string, n)
		for i := range n {
			dues[i] = first.Add(time.Duration(i*spread/n) * time.Second)
			names[i] = fmt.Sprintf("m%d-%d", round, i)
		}
		work := make(chan int)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range work {
					if err := createAt(url, names[i], dues[i]); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
		if time.Now().After(first) {
			b.Fatalf("creating %d schedules took longer than the %s lead: the first were due before they existed", n, lead)
		}
		for i := range n {
			base.set(dues[i])
		}
		for range n {
			select {
			case <-rec.seen:
			case <-time.After(spread*time.Second + lead + 30*time.Second):
				b.Fatal("a schedule did not fire within 30 s of the minute's end")
			}
		}
		rec.mu.Lock()
		for i := range n {
			late = append(late, rec.at[names[i]].Sub(dues[i]))
		}
		rec.mu.Unlock()
	}
	report(b, late, base, map[string]float64{"p50-ms": 0.50, "p99-ms": 0.99, "max-ms": 1})
}
