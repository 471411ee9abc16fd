package cost

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"time"
)

// Prices is a price table: what AWS Lambda charges per GB-second of each
// architecture and per million requests. Tiered discounts and the free
// tier are not modelled.
type Prices struct {
	Region          string             `json:"Region"`
	Currency        string             `json:"Currency"`
	GBSecond        map[string]float64 `json:"GBSecond"`
	PerMillionCalls float64            `json:"PerMillionRequests"`
}

// DefaultPrices are AWS Lambda's public on-demand prices in us-east-1
// (first tier): x86_64 $0.0000166667 and arm64 $0.0000133334 per GB-second,
// $0.20 per million requests.
func DefaultPrices() Prices {
	return Prices{
		Region: "us-east-1", Currency: "USD",
		GBSecond:        map[string]float64{"x86_64": 0.0000166667, "arm64": 0.0000133334},
		PerMillionCalls: 0.20,
	}
}

// LoadPrices reads a price table from a JSON file shaped like Prices;
// missing fields keep the defaults.
func LoadPrices(path string) (Prices, error) {
	p := DefaultPrices()
	b, err := os.ReadFile(path) // #nosec G304 -- the operator's own file
	if err != nil {
		return p, fmt.Errorf("read price file %s: %w", path, err)
	}
	var f Prices
	if err := json.Unmarshal(b, &f); err != nil {
		return p, fmt.Errorf("parse price file %s: %w", path, err)
	}
	if f.Region != "" {
		p.Region = f.Region
	}
	if f.Currency != "" {
		p.Currency = f.Currency
	}
	for k, v := range f.GBSecond {
		if v < 0 {
			return p, fmt.Errorf("price file %s: negative price for %s", path, k)
		}
		p.GBSecond[k] = v
	}
	if f.PerMillionCalls < 0 {
		return p, fmt.Errorf("price file %s: negative request price", path)
	}
	if f.PerMillionCalls > 0 {
		p.PerMillionCalls = f.PerMillionCalls
	}
	return p, nil
}

func (p Prices) gbSecond(arch string) float64 {
	if v, ok := p.GBSecond[arch]; ok {
		return v
	}
	return p.GBSecond["x86_64"]
}

// Row is the usage of one function version in one hour (UTC) on one
// architecture and memory size.
type Row struct {
	Hour         time.Time `json:"Hour"`
	Function     string    `json:"Function"`
	Version      string    `json:"Version"`
	Architecture string    `json:"Architecture"`
	MemoryMB     int       `json:"MemorySize"`
	Requests     int64     `json:"Requests"`
	Errors       int64     `json:"Errors"`
	BilledMs     int64     `json:"BilledDurationMs"`
	GBSeconds    float64   `json:"GBSeconds"`
	Cost         float64   `json:"Cost"`
	// MaxMemoryUsedMB is the peak of the hour's invocations.
	MaxMemoryUsedMB int `json:"MaxMemoryUsed"`
}

// Function is one function's totals over the report's period, with the
// right-sizing estimate.
type Function struct {
	Function  string  `json:"Function"`
	Requests  int64   `json:"Requests"`
	GBSeconds float64 `json:"GBSeconds"`
	Cost      float64 `json:"Cost"`
	// MemoryMB is the largest configured memory seen; MaxMemoryUsedMB the
	// peak any invocation used.
	MemoryMB        int `json:"MemorySize"`
	MaxMemoryUsedMB int `json:"MaxMemoryUsed"`
	// SuggestedMemoryMB is right-sizing: the peak plus 25% headroom,
	// rounded up to 64 MB, at least 128 MB (0 when no smaller size fits).
	// Savings is what the period would have cost less at that size, if
	// durations stayed the same (CPU shrinks with memory, so they may
	// not).
	SuggestedMemoryMB int     `json:"SuggestedMemorySize,omitempty"`
	Savings           float64 `json:"Savings,omitempty"`
}

// Report is what `nimbus cost` prints.
type Report struct {
	Since     time.Time  `json:"Since"`
	Until     time.Time  `json:"Until"`
	Prices    Prices     `json:"Prices"`
	Rows      []Row      `json:"Rows"`
	Functions []Function `json:"Functions"`
	Requests  int64      `json:"Requests"`
	GBSeconds float64    `json:"GBSeconds"`
	Cost      float64    `json:"Cost"`
}

// Summarize sums records into a report priced with p.
func Summarize(recs []Record, p Prices, since, until time.Time) *Report {
	return price(hourRows(recs), p, since, until)
}

// hourRows sums records per hour, function, version, architecture and
// memory size (unpriced).
func hourRows(recs []Record) []Row {
	type rowKey struct {
		hour          time.Time
		fn, ver, arch string
		mem           int
	}
	rows := map[rowKey]*Row{}
	for i := range recs {
		r := &recs[i]
		k := rowKey{r.Time.UTC().Truncate(time.Hour), r.Function, r.Version, r.Architecture, r.MemoryMB}
		row := rows[k]
		if row == nil {
			row = &Row{Hour: k.hour, Function: k.fn, Version: k.ver, Architecture: k.arch, MemoryMB: k.mem}
			rows[k] = row
		}
		row.Requests++
		row.BilledMs += r.BilledMs
		row.GBSeconds += r.GBSeconds()
		row.MaxMemoryUsedMB = max(row.MaxMemoryUsedMB, r.MaxMemMB)
		if r.Error {
			row.Errors++
		}
	}
	out := make([]Row, 0, len(rows))
	for _, row := range rows {
		out = append(out, *row)
	}
	return out
}

// price turns rows into a report: each row priced, totals per function
// with right-sizing, and the grand totals.
func price(rows []Row, p Prices, since, until time.Time) *Report {
	rep := &Report{Since: since, Until: until, Prices: p, Rows: make([]Row, 0, len(rows)), Functions: []Function{}}
	fns := map[string]*Function{}
	reqPrice := p.PerMillionCalls / 1e6
	for _, row := range rows {
		row.Cost = row.GBSeconds*p.gbSecond(row.Architecture) + float64(row.Requests)*reqPrice
		rep.Rows = append(rep.Rows, row)
		f := fns[row.Function]
		if f == nil {
			f = &Function{Function: row.Function}
			fns[row.Function] = f
		}
		f.Requests += row.Requests
		f.GBSeconds += row.GBSeconds
		f.Cost += row.Cost
		f.MemoryMB = max(f.MemoryMB, row.MemoryMB)
		f.MaxMemoryUsedMB = max(f.MaxMemoryUsedMB, row.MaxMemoryUsedMB)
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		a, b := rep.Rows[i], rep.Rows[j]
		if !a.Hour.Equal(b.Hour) {
			return a.Hour.Before(b.Hour)
		}
		if a.Function != b.Function {
			return a.Function < b.Function
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if a.Architecture != b.Architecture {
			return a.Architecture < b.Architecture
		}
		return a.MemoryMB < b.MemoryMB
	})
	for _, f := range fns {
		if s := suggest(f.MaxMemoryUsedMB); s > 0 && s < f.MemoryMB {
			f.SuggestedMemoryMB = s
			// Compute scales linearly with memory at equal duration.
			for _, row := range rep.Rows {
				if row.Function == f.Function && row.MemoryMB > s {
					f.Savings += row.GBSeconds * (1 - float64(s)/float64(row.MemoryMB)) * p.gbSecond(row.Architecture)
				}
			}
		}
		rep.Functions = append(rep.Functions, *f)
		rep.Requests += f.Requests
		rep.GBSeconds += f.GBSeconds
		rep.Cost += f.Cost
	}
	sort.Slice(rep.Functions, func(i, j int) bool {
		if rep.Functions[i].Cost != rep.Functions[j].Cost {
			return rep.Functions[i].Cost > rep.Functions[j].Cost
		}
		return rep.Functions[i].Function < rep.Functions[j].Function
	})
	return rep
}

// suggest is the right-sized memory for a peak use: 25% headroom, in
// 64 MB steps, at least Lambda's minimum of 128 MB; 0 if the peak is
// unknown.
func suggest(peakMB int) int {
	if peakMB <= 0 {
		return 0
	}
	s := int(math.Ceil(float64(peakMB)*1.25/64)) * 64
	return max(s, 128)
}

// Reporter answers cost reports from a Meter's records.
type Reporter struct {
	Meter  *Meter
	Prices Prices
}

// CostReport reports usage since now-since, of one function or all ("").
// Closed hours come from their stored rollups, so the whole period is
// counted by hour; the hours after the last rollup are summed from the
// records.
func (r *Reporter) CostReport(ctx context.Context, since time.Duration, fn string) (any, error) {
	until := time.Now().UTC()
	from := until.Add(-since)
	rows, err := r.Meter.Rows(ctx, from, fn)
	if err != nil {
		return nil, err
	}
	return price(rows, r.Prices, from, until), nil
}
