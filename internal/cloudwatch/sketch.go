package cloudwatch

import (
	"math"
	"sort"
)

// dist is the distribution of a bucket's values, for percentiles: exact
// (value, count) pairs while there are few distinct values, then a
// logarithmic sketch whose quantiles are within 1% of the true value
// (DDSketch's scheme, gamma 1.02).
type dist struct {
	vals, cnts []float64
	pos, neg   map[int32]float64
	zero       float64
	total      float64
}

const (
	maxExact    = 128
	sketchGamma = 1.02
)

var logGamma = math.Log(sketchGamma)

func (d *dist) add(v, c float64) {
	if c <= 0 {
		return
	}
	d.total += c
	if d.pos == nil {
		for i, x := range d.vals {
			if x == v {
				d.cnts[i] += c
				return
			}
		}
		if len(d.vals) < maxExact {
			d.vals = append(d.vals, v)
			d.cnts = append(d.cnts, c)
			return
		}
		d.pos, d.neg = map[int32]float64{}, map[int32]float64{}
		vals, cnts := d.vals, d.cnts
		d.vals, d.cnts = nil, nil
		for i := range vals {
			d.sketch(vals[i], cnts[i])
		}
	}
	d.sketch(v, c)
}

func (d *dist) sketch(v, c float64) {
	switch {
	case v == 0 || math.Abs(v) < 1e-300:
		d.zero += c
	case v > 0:
		d.pos[int32(math.Ceil(math.Log(v)/logGamma))] += c
	default:
		d.neg[int32(math.Ceil(math.Log(-v)/logGamma))] += c
	}
}

func (d *dist) merge(o *dist) {
	if o == nil {
		return
	}
	if o.pos == nil {
		for i := range o.vals {
			d.add(o.vals[i], o.cnts[i])
		}
		return
	}
	for i := range o.vals {
		d.add(o.vals[i], o.cnts[i])
	}
	if d.pos == nil {
		d.pos, d.neg = map[int32]float64{}, map[int32]float64{}
		vals, cnts := d.vals, d.cnts
		d.vals, d.cnts = nil, nil
		for i := range vals {
			d.sketch(vals[i], cnts[i])
		}
	}
	for k, c := range o.pos {
		d.pos[k] += c
	}
	for k, c := range o.neg {
		d.neg[k] += c
	}
	d.zero += o.zero
	d.total += o.total
}

// quantile is the nearest-rank q-quantile (0 < q ≤ 1): the smallest
// value whose cumulative count reaches q of the total.
func (d *dist) quantile(q float64) (float64, bool) {
	if d == nil || d.total <= 0 {
		return 0, false
	}
	rank := q * d.total
	type kv struct{ v, c float64 }
	var items []kv
	if d.pos == nil {
		for i := range d.vals {
			items = append(items, kv{d.vals[i], d.cnts[i]})
		}
	} else {
		for k, c := range d.neg {
			items = append(items, kv{-2 * math.Pow(sketchGamma, float64(k)) / (1 + sketchGamma), c})
		}
		if d.zero > 0 {
			items = append(items, kv{0, d.zero})
		}
		for k, c := range d.pos {
			items = append(items, kv{2 * math.Pow(sketchGamma, float64(k)) / (1 + sketchGamma), c})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].v < items[j].v })
	cum := 0.0
	for _, it := range items {
		cum += it.c
		if cum >= rank-1e-9 {
			return it.v, true
		}
	}
	return items[len(items)-1].v, true
}
