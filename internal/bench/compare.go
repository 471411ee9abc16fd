package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"text/tabwriter"
)

// Comparison is one figure of this run beside the same figure of another
// nimbus (`nimbus bench --compare`). Ratio is This/Other; Better says
// which way is an improvement ("lower" or "higher").
type Comparison struct {
	Figure string  `json:"figure"`
	This   float64 `json:"this"`
	Other  float64 `json:"other"`
	Ratio  float64 `json:"ratio"`
	Better string  `json:"better"`
}

// Compared is the JSON of `nimbus bench --compare --json`: both reports
// and the ratios.
type Compared struct {
	This       *Report      `json:"this"`
	Other      *Report      `json:"other"`
	OtherFrom  string       `json:"other_from"`
	Comparison []Comparison `json:"comparison"`
}

// LoadOther returns the report to compare with: path is either the JSON of
// an earlier `nimbus bench --json`, or another nimbus binary, which is run
// now (`path bench --json args...`, args being this run's own flags) so
// both are measured on the machine as it is today. Its progress goes to
// progress.
func LoadOther(ctx context.Context, path string, args []string, progress io.Writer) (*Report, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the user's own file
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return decodeReport(data)
	}
	cmd := exec.CommandContext(ctx, path, append([]string{"bench", "--json"}, args...)...) //nolint:gosec // the user's own binary
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, progress
	if progress == nil {
		cmd.Stderr = io.Discard
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("compare: run %s bench: %w", path, err)
	}
	return decodeReport(out.Bytes())
}

func decodeReport(data []byte) (*Report, error) {
	var c Compared // a --compare run's JSON holds its own report in "this"
	if err := json.Unmarshal(data, &c); err == nil && c.This != nil {
		return c.This, nil
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("compare: not a bench report: %w", err)
	}
	if rep.Machine.CPUs == 0 {
		return nil, errors.New("compare: not a bench report (no machine section)")
	}
	return &rep, nil
}

// Compare lists the figures both reports have, this beside other.
func Compare(this, other *Report) []Comparison {
	var out []Comparison
	add := func(fig string, a, b float64, better string) {
		if a == 0 || b == 0 {
			return
		}
		out = append(out, Comparison{Figure: fig, This: a, Other: b, Ratio: math.Round(a/b*1000) / 1000, Better: better})
	}
	add("CLI start p50 ms", this.CLIStart.P50, other.CLIStart.P50, "lower")
	add("warm invoke p50 ms", this.Warm.Invoke.P50, other.Warm.Invoke.P50, "lower")
	add("warm invoke p99 ms", this.Warm.Invoke.P99, other.Warm.Invoke.P99, "lower")
	for _, t := range this.Throughput {
		for _, o := range other.Throughput {
			if t.Target == o.Target && t.Concurrency == o.Concurrency && t.Target != "echo" {
				add(t.Target+" req/s at "+strconv.Itoa(t.Concurrency), t.RPS, o.RPS, "higher")
			}
		}
	}
	for _, c := range this.ColdStarts {
		for _, o := range other.ColdStarts {
			if c.Runtime != o.Runtime {
				continue
			}
			add(c.Runtime+" cold init p50 ms", c.Init.P50, o.Init.P50, "lower")
			add(c.Runtime+" cold init p99 ms", c.Init.P99, o.Init.P99, "lower")
			add(c.Runtime+" cold total p50 ms", c.Total.P50, o.Total.P50, "lower")
		}
	}
	add("scale-out environments/s", this.ScaleOut.PerSecond, other.ScaleOut.PerSecond, "higher")
	add("spawn+namespaces floor /s", this.ScaleOut.FloorPerSecond, other.ScaleOut.FloorPerSecond, "higher")
	add("scale-out to handler p99 ms", this.ScaleOut.ToHandler.P99, other.ScaleOut.ToHandler.P99, "lower")
	for _, m := range this.Memory {
		for _, o := range other.Memory {
			if m.Runtime == o.Runtime {
				add(m.Runtime+" idle overhead KB", m.PlatformOverheadKB, o.PlatformOverheadKB, "lower")
			}
		}
	}
	if ob, o := this.Objects, other.Objects; ob != nil && o != nil {
		add("S3 PutObject 4 KB/s", ob.Put4K, o.Put4K, "higher")
		add("S3 GetObject 4 KB/s", ob.Get4K, o.Get4K, "higher")
		add("S3 PutObject 256 MB share of disk", ob.PutBigShare, o.PutBigShare, "higher")
		add("S3 GetObject 256 MB share of disk", ob.GetBigShare, o.GetBigShare, "higher")
		add("S3 ListObjectsV2 1,000 keys p50 ms", ob.List.P50, o.List.P50, "lower")
	}
	if w, o := this.Workflows, other.Workflows; w != nil && o != nil {
		add("express transitions/s", w.ExpressTransitions, o.ExpressTransitions, "higher")
		add("standard transitions/s", w.StandardTransitions, o.StandardTransitions, "higher")
		add("three-lambda sync execution p50 ms", w.Sync.P50, o.Sync.P50, "lower")
	}
	return out
}

// WriteComparison prints the comparison as a table.
func WriteComparison(w io.Writer, cs []Comparison, otherFrom string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintf(tw, "COMPARED WITH %s\tthis\tother\tratio\tbetter\n", otherFrom)
	for _, c := range cs {
		_, _ = fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.3f×\t%s\n", c.Figure, c.This, c.Other, c.Ratio, c.Better)
	}
	return tw.Flush()
}
