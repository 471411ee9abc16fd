package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report as tables.
func (rep *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(tw, format+"\n", args...) }
	m := rep.Machine
	p("machine: %d CPUs, %d MB; sandbox %s; concurrency limit %d, memory budget %d MB, spare inits %d (--spare-inits)", m.CPUs, m.MemoryMB, m.Sandbox, m.ConcurrencyLimit, m.MemoryBudgetMB, m.SpareInits)
	p("")
	c := rep.CLIStart
	p("CLI START (median wall time of %d runs)\tms\tpeak RSS KB", c.Runs)
	p("nimbus version\t%.2f\t%d", c.P50, c.MaxRSSKB)
	p("%s (baseline)\t%.2f\t", c.Baseline, c.BaselineP50)
	p("ratio\t%.2f×\t", c.Ratio)
	p("")
	if rep.Warm.Invoke.N > 0 {
		p("WARM INVOKE LATENCY (concurrency 1)\tn\tp50 ms\tp99 ms\tp99.9 ms")
		wl := rep.Warm
		p("Go no-op invoke\t%d\t%.3f\t%.3f\t%.3f", wl.Invoke.N, wl.Invoke.P50, wl.Invoke.P99, wl.Invoke.P999)
		p("Go HTTP echo (baseline)\t%d\t%.3f\t%.3f\t%.3f", wl.Echo.N, wl.Echo.P50, wl.Echo.P99, wl.Echo.P999)
		p("ratio invoke/echo\t\t%.2f×\t%.2f×\t", wl.RatioP50, wl.RatioP99)
		p("")
	}
	if len(rep.Throughput) > 0 {
		p("THROUGHPUT (no-op)\tconcurrency\treq/s\tof echo\terrors")
		for _, t := range rep.Throughput {
			p("%s\t%d\t%.0f\t%.0f%%\t%d", t.Target, t.Concurrency, t.RPS, t.Ratio*100, t.Errors)
		}
		p("")
	}
	if ev := rep.Events; ev != nil {
		p("EVENTBRIDGE (%d clients, %d rules)\tper second\tof echo\terrors", ev.Clients, ev.Rules)
		p("PutEvents entries, durable\t%.0f\t%.0f%%\t%d", ev.EntriesPerSecond, ev.Ratio*100, ev.Errors)
		p("Go HTTP echo (baseline)\t%.0f\t\t", ev.EchoRPS)
		p("matcher: events against %d rules\t%.0f\t\t", ev.Rules, ev.MatchesPerSecond)
		p("")
		p("EVENT TO FUNCTION TARGET\tn\tp50 ms\tp99 ms")
		p("PutEvents → Go no-op handler, warm\t%d\t%.2f\t%.2f", ev.ToLambda.N, ev.ToLambda.P50, ev.ToLambda.P99)
		p("")
	}
	if len(rep.ColdStarts) > 0 {
		p("COLD START\tn\tinit p50 ms\tinit p99 ms\ttotal p50 ms\ttotal p99 ms")
		for _, cs := range rep.ColdStarts {
			p("%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f", cs.Runtime, cs.Init.N, cs.Init.P50, cs.Init.P99, cs.Total.P50, cs.Total.P99)
		}
		p("")
		cs := rep.ColdStarts
		if ph := rep.ScaleOut.Phases; ph != nil {
			cs = append(slices.Clone(cs), ColdStart{Runtime: fmt.Sprintf("burst of %d", rep.ScaleOut.Environments), Phases: ph})
		}
		writePhases(p, cs)
	}
	if s := rep.ScaleOut; s.Environments > 0 {
		p("SCALE-OUT (concurrency limit %d)\tenvironments\tdistinct\tseconds\tenvironments/s\tto handler p50 ms\tp99 ms", rep.Machine.ConcurrencyLimit)
		p("Go no-op, all at once\t%d\t%d\t%.3f\t%.0f\t%.1f\t%.1f", s.Environments, s.Distinct, s.Seconds, s.PerSecond, s.ToHandler.P50, s.ToHandler.P99)
		if s.RefillPerSecond > 0 {
			p("spare inits made again after it, per second (the sustained rate)\t\t\t\t%.0f\t\t", s.RefillPerSecond)
		}
		if s.FloorPerSecond > 0 {
			p("floor: %d processes in new namespaces at once (no cgroup, link, mounts, runtime)\t%d\t\t%.3f\t%.0f\t\t", s.Environments, s.Environments,
				float64(s.Environments)/s.FloorPerSecond, s.FloorPerSecond)
		}
		p("")
	}
	if len(rep.Memory) > 0 {
		p("IDLE ENVIRONMENT MEMORY\tenvironments\tfunction PSS KB\tplatform overhead KB\tfit (budget)\tfit (footprint)")
		for _, mm := range rep.Memory {
			p("%s\t%d\t%d\t%.0f\t%d\t%d", mm.Runtime, mm.Environments, mm.FunctionPSSKB, mm.PlatformOverheadKB, mm.FitByBudget, mm.FitByFootprint)
		}
		p("")
	}
	if rep.Queues != nil {
		writeQueues(p, rep.Queues)
		p("")
	}
	if rep.Tables != nil {
		writeTables(p, rep.Tables)
		p("")
	}
	if rep.Objects != nil {
		writeObjects(p, rep.Objects)
		p("")
	}
	if rep.Workflows != nil {
		writeWorkflows(p, rep.Workflows)
		p("")
	}
	if cw := rep.CloudWatch; cw != nil {
		p("")
		p("CLOUDWATCH PutMetricData (%d datapoints a request)	concurrency	req/s	datapoints/s	of echo	errors", cw.DatapointsPerRequest)
		p("PutMetricData	%d	%.0f	%.0f	%.0f%%	%d", cw.Concurrency, cw.PutRequestsPerSecond, cw.DatapointsPerSecond, cw.PutRatio*100, cw.PutErrors)
		p("Go HTTP echo, same bodies (baseline)	%d	%.0f			", cw.Concurrency, cw.EchoRequestsPerSec)
		p("CLOUDWATCH GetMetricData (%d metrics × %d points, 1 min)	n	p50 ms	p99 ms	p99.9 ms", cw.GetMetrics, cw.GetPointsPerMetric)
		p("GetMetricData	%d	%.3f	%.3f	%.3f", cw.Get.N, cw.Get.P50, cw.Get.P99, cw.Get.P999)
		p("Go HTTP echo, same request (baseline)	%d	%.3f	%.3f	%.3f", cw.GetEcho.N, cw.GetEcho.P50, cw.GetEcho.P99, cw.GetEcho.P999)
		p("ratio		%.2f×		", cw.GetRatioP50)
	}
	if len(rep.Skipped) > 0 {
		p("skipped: %s", strings.Join(rep.Skipped, "; "))
	}
	return tw.Flush()
}

// writePhases prints the cold-start breakdown, one column per runtime.
func writePhases(p func(string, ...any), cs []ColdStart) {
	var ph []*Phases
	head := "COLD-START BREAKDOWN (median ms)"
	for _, c := range cs {
		if c.Phases != nil {
			ph = append(ph, c.Phases)
			head += "\t" + c.Runtime
		}
	}
	if len(ph) == 0 {
		return
	}
	p("%s", head)
	row := func(name string, f func(*Phases) float64) {
		line := name
		for _, x := range ph {
			line += fmt.Sprintf("\t%.2f", f(x))
		}
		p("%s", line)
	}
	row("admit (limits, retire old revision)", func(x *Phases) float64 { return x.Admit })
	row("code and layers", func(x *Phases) float64 { return x.Code })
	row("prepare (dirs, logs, credentials)", func(x *Phases) float64 { return x.Prepare })
	row("sandbox", func(x *Phases) float64 { return x.Sandbox })
	row("  claim spare (or launch init)", func(x *Phases) float64 { return x.ClaimSpare })
	row("  cgroup limits, stdio", func(x *Phases) float64 { return x.Limits })
	row("  egress link (no spare's ready)", func(x *Phases) float64 { return x.Egress })
	row("  handshake with init", func(x *Phases) float64 { return x.Handshake })
	row("    mount root (code, runtime, /tmp)", func(x *Phases) float64 { return x.MountRoot })
	row("    privileges, listeners", func(x *Phases) float64 { return x.Setup })
	row("    exec runtime", func(x *Phases) float64 { return x.ExecRuntime })
	row("runtime init (exec to first /next)", func(x *Phases) float64 { return x.RuntimeInit })
	row("first invoke", func(x *Phases) float64 { return x.FirstInvoke })
	row("front door (client round trip less the above)", func(x *Phases) float64 { return x.FrontDoor })
	row("share claiming a spare init", func(x *Phases) float64 { return x.SpareShare })
	p("")
}
