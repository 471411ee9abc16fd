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
