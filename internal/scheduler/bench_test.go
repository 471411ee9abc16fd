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

// BenchmarkAtScheduleLateness measures how late a one-time at() schedule
// reaches its target on the real clock: each iteration creates 20
// schedules through the API, due at the next whole seconds (at() has a
// second's resolution), and waits for their deliveries. The baseline in
// the same run is a Go timer set for each due time (the process's own
// lateness under the machine's load); read the ratio.
//
//	go test -run x -bench BenchmarkAtScheduleLateness -benchtime 5x ./internal/scheduler
func BenchmarkAtScheduleLateness(b *testing.B) {
	st := storetest.Open(b)
	router := deliver.NewRouter()
	rec := &lateness{at: map[string]time.Time{}, seen: make(chan struct{}, 1000)}
	router.Handle("lambda", rec)
	svc, err := New(b.Context(), Options{JetStream: st.JetStream(), Targets: router, Region: region, AccountID: account, SingleNode: true})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const perRound = 20
	var late, timer []time.Duration
	var tmu sync.Mutex
	round := 0
	for b.Loop() {
		round++
		base := time.Now().Truncate(time.Second).Add(2 * time.Second)
		dues := make([]time.Time, perRound)
		for i := range perRound {
			due := base.Add(time.Duration(i%2) * time.Second)
			dues[i] = due
			name := fmt.Sprintf("r%d-%d", round, i)
			// The input names the schedule so the delivery can be matched.
			body, _ := json.Marshal(map[string]any{
				"ScheduleExpression": "at(" + due.UTC().Format("2006-01-02T15:04:05") + ")", "FlexibleTimeWindow": map[string]string{"Mode": "OFF"},
				"ActionAfterCompletion": "DELETE",
				"Target":                map[string]string{"Arn": fnArn, "RoleArn": role, "Input": `{"at": "` + name + `"}`},
			})
			resp, err := http.Post(srv.URL+"/schedules/"+name, "application/json", bytes.NewReader(body)) //nolint:noctx // a benchmark's loopback call
			if err != nil {
				b.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("CreateSchedule %s: %d", name, resp.StatusCode)
			}
			time.AfterFunc(time.Until(due), func() {
				tmu.Lock()
				timer = append(timer, time.Since(due))
				tmu.Unlock()
			})
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
	tmu.Lock()
	defer tmu.Unlock()
	q := func(ds []time.Duration, p float64) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(late, 0.50), "p50-ms")
	b.ReportMetric(q(late, 0.99), "p99-ms")
	if len(timer) > 0 {
		b.ReportMetric(q(timer, 0.50), "timer-p50-ms")
		b.ReportMetric(q(timer, 0.99), "timer-p99-ms")
	}
	b.ReportMetric(0, "ns/op")
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
	st := storetest.Open(b)
	router := deliver.NewRouter()
	const n, spread, lead = 1000, 60, 150 * time.Second
	rec := &lateness{at: map[string]time.Time{}, seen: make(chan struct{}, n)}
	router.Handle("lambda", rec)
	svc, err := New(b.Context(), Options{JetStream: st.JetStream(), Targets: router, Region: region, AccountID: account, SingleNode: true})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var late, timer []time.Duration
	var tmu sync.Mutex
	round := 0
	for b.Loop() {
		round++
		base := time.Now().Truncate(time.Second).Add(lead)
		dues := make([]time.Time, n)
		names := make([]string, n)
		for i := range n {
			dues[i] = base.Add(time.Duration(i*spread/n) * time.Second)
			names[i] = fmt.Sprintf("m%d-%d", round, i)
		}
		work := make(chan int)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range work {
					body, _ := json.Marshal(map[string]any{
						"ScheduleExpression": "at(" + dues[i].UTC().Format("2006-01-02T15:04:05") + ")", "FlexibleTimeWindow": map[string]string{"Mode": "OFF"},
						"ActionAfterCompletion": "DELETE",
						"Target":                map[string]string{"Arn": fnArn, "RoleArn": role, "Input": `{"at": "` + names[i] + `"}`},
					})
					resp, err := http.Post(srv.URL+"/schedules/"+names[i], "application/json", bytes.NewReader(body)) //nolint:noctx // a benchmark's loopback call
					if err != nil {
						b.Error(err)
						continue
					}
					_ = resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("CreateSchedule %s: %d", names[i], resp.StatusCode)
					}
				}
			})
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
		if time.Now().After(base) {
			b.Fatalf("creating %d schedules took longer than the %s lead: the first were due before they existed", n, lead)
		}
		for i := range n {
			due := dues[i]
			time.AfterFunc(time.Until(due), func() {
				tmu.Lock()
				timer = append(timer, time.Since(due))
				tmu.Unlock()
			})
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
	tmu.Lock()
	defer tmu.Unlock()
	q := func(ds []time.Duration, p float64) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(late, 0.50), "p50-ms")
	b.ReportMetric(q(late, 0.99), "p99-ms")
	b.ReportMetric(q(late, 1), "max-ms")
	b.ReportMetric(q(timer, 0.50), "timer-p50-ms")
	b.ReportMetric(q(timer, 0.99), "timer-p99-ms")
	b.ReportMetric(0, "ns/op")
}
