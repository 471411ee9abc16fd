package cost

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func rec(id, fn string, start time.Time, billed time.Duration, mem, used int) *invoke.Record {
	return &invoke.Record{Start: start, RequestID: id, FunctionName: fn, Version: "$LATEST", Architecture: "x86_64",
		MemorySizeMB: mem, MaxMemoryUsedMB: used, Duration: billed, BilledDuration: billed}
}

// Records survive a restart of the backbone, a batch left at shutdown is
// stored by Run's last flush, and throttled invocations are not metered.
func TestMeterStoresDurably(t *testing.T) {
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	ctx := context.Background()
	m, err := New(ctx, Options{JetStream: st.JetStream()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(rctx) }()
	now := time.Now()
	for i := range 1500 { // more than one batch
		m.InvokeDone(ctx, rec(fmt.Sprintf("r%d", i), "f", now, 3*time.Millisecond, 128, 20))
	}
	m.InvokeDone(ctx, &invoke.Record{RequestID: "throttled", FunctionName: "f", Throttled: true})
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m.InvokeDone(ctx, rec("last", "g", now, time.Millisecond, 128, 20))
	stop() // Run stores "last" on its way out
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = storetest.OpenDir(t, dir)
	m, err = New(ctx, Options{JetStream: st.JetStream()})
	if err != nil {
		t.Fatal(err)
	}
	all, err := m.Records(ctx, now.Add(-time.Minute), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1501 {
		t.Fatalf("%d records after restart, want 1501", len(all))
	}
	g, err := m.Records(ctx, time.Time{}, "g")
	if err != nil || len(g) != 1 || g[0].RequestID != "last" {
		t.Errorf("records of g: %v %v", g, err)
	}
	later, err := m.Records(ctx, now.Add(time.Hour), "")
	if err != nil || len(later) != 0 {
		t.Errorf("records after the last one: %d %v", len(later), err)
	}
}

func TestSummarize(t *testing.T) {
	h := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	var recs []Record
	for _, r := range []*invoke.Record{
		rec("a", "f", h.Add(10*time.Minute), 1000*time.Millisecond, 1024, 100),
		rec("b", "f", h.Add(20*time.Minute), 500*time.Millisecond, 1024, 300),
		rec("c", "f", h.Add(70*time.Minute), 1500*time.Millisecond, 1024, 200),
		rec("d", "g", h, 2000*time.Millisecond, 2048, 0),
	} {
		recs = append(recs, *FromInvoke(r))
	}
	recs[3].Architecture = "arm64"
	p := DefaultPrices()
	rep := Summarize(recs, p, h, h.Add(2*time.Hour))
	if len(rep.Rows) != 3 {
		t.Fatalf("rows %+v", rep.Rows)
	}
	if r := rep.Rows[0]; r.Function != "f" || !r.Hour.Equal(h) || r.Requests != 2 || r.BilledMs != 1500 || r.GBSeconds != 1.5 {
		t.Errorf("first hour of f = %+v", r)
	}
	wantCost := 3*0.0000166667 + 4*0.0000133334 + 4*0.20/1e6
	if rep.Requests != 4 || rep.GBSeconds != 7 || math.Abs(rep.Cost-wantCost) > 1e-12 {
		t.Errorf("totals %d %v %v, want 4 7 %v", rep.Requests, rep.GBSeconds, rep.Cost, wantCost)
	}
	for _, f := range rep.Functions {
		switch f.Function {
		case "f": // peak 300 MB -> 375 -> 384 MB
			if f.SuggestedMemoryMB != 384 || math.Abs(f.Savings-3*(1-384.0/1024)*0.0000166667) > 1e-15 {
				t.Errorf("right-sizing f: %+v", f)
			}
		case "g": // peak unknown: no suggestion
			if f.SuggestedMemoryMB != 0 || f.Savings != 0 {
				t.Errorf("right-sizing g: %+v", f)
			}
		}
	}
}

func TestLoadPrices(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(path, []byte(`{"Region":"eu-central-1","GBSecond":{"arm64":0.0000134}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPrices(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Region != "eu-central-1" || p.GBSecond["arm64"] != 0.0000134 || p.GBSecond["x86_64"] != 0.0000166667 || p.PerMillionCalls != 0.20 {
		t.Errorf("prices %+v", p)
	}
	if err := os.WriteFile(path, []byte(`{"GBSecond":{"x86_64":-1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrices(path); err == nil {
		t.Error("negative price accepted")
	}
}

// Closed hours are summed once into rollups; a report over rollups plus
// the open hours' records equals the sum of all records, and survives a
// new Meter on the same backbone.
func TestRollupsEqualRecords(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	m, err := New(ctx, Options{JetStream: st.JetStream()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	m.now = func() time.Time { return now }
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(rctx) }()
	defer func() { stop(); <-done }()
	starts := []time.Duration{-5 * time.Hour, -5*time.Hour + 10*time.Minute, -3 * time.Hour, -90 * time.Minute, -10 * time.Minute, 0}
	for i, d := range starts {
		fn := "f"
		if i%2 == 1 {
			fn = "g"
		}
		m.InvokeDone(ctx, rec(fmt.Sprintf("r%d", i), fn, now.Add(d), time.Duration(100*(i+1))*time.Millisecond, 512, 40))
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.rollup(ctx); err != nil {
		t.Fatal(err)
	}
	last, ok, err := m.lastRolledUp(ctx)
	if err != nil || !ok || !last.Equal(now.Add(-rollupDelay).Truncate(time.Hour).Add(-time.Hour)) {
		t.Fatalf("last rolled up %v %v %v (now %v)", last, ok, err, now)
	}
	if _, err := m.kv.Get(ctx, hourKey(now.Add(-5*time.Hour).Truncate(time.Hour))); err != nil {
		t.Errorf("no rollup of the first hour: %v", err)
	}
	all, err := m.Records(ctx, now.Add(-6*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	want := Summarize(all, DefaultPrices(), time.Time{}, time.Time{})
	for _, mm := range []*Meter{m, func() *Meter {
		again, err := New(ctx, Options{JetStream: st.JetStream()})
		if err != nil {
			t.Fatal(err)
		}
		return again
	}()} {
		rows, err := mm.Rows(ctx, now.Add(-6*time.Hour), "")
		if err != nil {
			t.Fatal(err)
		}
		got := price(rows, DefaultPrices(), time.Time{}, time.Time{})
		if got.Requests != int64(len(starts)) || got.Requests != want.Requests || math.Abs(got.GBSeconds-want.GBSeconds) > 1e-9 || len(got.Rows) != len(want.Rows) {
			t.Errorf("from rollups: %d requests %v GB-s %d rows; from records: %d %v %d", got.Requests, got.GBSeconds, len(got.Rows), want.Requests, want.GBSeconds, len(want.Rows))
		}
	}
	g, err := m.Rows(ctx, now.Add(-6*time.Hour), "g")
	if err != nil || len(g) != 3 {
		t.Errorf("rows of g: %+v %v", g, err)
	}
	// A second pass changes nothing.
	if err := m.rollup(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := m.lastRolledUp(ctx); !again.Equal(last) {
		t.Errorf("second rollup moved the marker to %v", again)
	}
}

// An asynchronous event's retry runs under the event's request id, a
// minute after the first attempt (within the dedup window): its record,
// alone in its batch as the first attempt's was, is a second invocation to
// bill, not a retried publish of the first batch.
func TestMeterStoresEveryAttemptOfARequestID(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	m, err := New(ctx, Options{JetStream: st.JetStream()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(rctx) }()
	defer func() { stop(); <-done }()
	now := time.Now()
	for i := range 3 {
		m.InvokeDone(ctx, rec("retried", "f", now.Add(time.Duration(i)*time.Minute), 3*time.Millisecond, 128, 20))
		if err := m.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	all, err := m.Records(ctx, now.Add(-time.Minute), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d records of three attempts of one request id, want 3", len(all))
	}
}
