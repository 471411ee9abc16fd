package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report as tables.
func (rep *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(tw, format+"\n", args...) }
	m := rep.Machine
	p("machine: %d CPUs, %d MB; sandbox %s; concurrency limit %d, memory budget %d MB", m.CPUs, m.MemoryMB, m.Sandbox, m.ConcurrencyLimit, m.MemoryBudgetMB)
	p("")
	p("WARM INVOKE LATENCY (concurrency 1)\tn\tp50 ms\tp99 ms\tp99.9 ms")
	wl := rep.Warm
	p("Go no-op invoke\t%d\t%.3f\t%.3f\t%.3f", wl.Invoke.N, wl.Invoke.P50, wl.Invoke.P99, wl.Invoke.P999)
	p("Go HTTP echo (baseline)\t%d\t%.3f\t%.3f\t%.3f", wl.Echo.N, wl.Echo.P50, wl.Echo.P99, wl.Echo.P999)
	p("ratio invoke/echo\t\t%.2f×\t%.2f×\t", wl.RatioP50, wl.RatioP99)
	p("")
	p("THROUGHPUT (no-op)\tconcurrency\treq/s\tof echo\terrors")
	for _, t := range rep.Throughput {
		p("%s\t%d\t%.0f\t%.0f%%\t%d", t.Target, t.Concurrency, t.RPS, t.Ratio*100, t.Errors)
	}
	p("")
	p("COLD START\tn\tinit p50 ms\tinit p99 ms\ttotal p50 ms\ttotal p99 ms")
	for _, c := range rep.ColdStarts {
		p("%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f", c.Runtime, c.Init.N, c.Init.P50, c.Init.P99, c.Total.P50, c.Total.P99)
	}
	p("")
	s := rep.ScaleOut
	p("SCALE-OUT\tenvironments\tdistinct\tseconds\tenvironments/s")
	p("Go no-op, all at once\t%d\t%d\t%.3f\t%.0f", s.Environments, s.Distinct, s.Seconds, s.PerSecond)
	p("")
	p("IDLE ENVIRONMENT MEMORY\tenvironments\tfunction PSS KB\tplatform overhead KB\tfit (budget)\tfit (footprint)")
	for _, mm := range rep.Memory {
		p("%s\t%d\t%d\t%.0f\t%d\t%d", mm.Runtime, mm.Environments, mm.FunctionPSSKB, mm.PlatformOverheadKB, mm.FitByBudget, mm.FitByFootprint)
	}
	if len(rep.Skipped) > 0 {
		p("")
		p("skipped: %s", strings.Join(rep.Skipped, "; "))
	}
	return tw.Flush()
}
