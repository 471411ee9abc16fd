package cloudwatch

import (
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// The roll-up tiers, as CloudWatch keeps data: 1 s for 3 h (high
// resolution only), 60 s for 15 days, 5 min for 63 days, 1 h for 455 days.
var (
	tierRes  = [4]int64{1, 60, 300, 3600}
	tierKeep = [4]time.Duration{3 * time.Hour, 15 * 24 * time.Hour, 63 * 24 * time.Hour, 455 * 24 * time.Hour}
)

// point is one stored datum: a value set or statistic set at a time.
type point struct {
	Name  string      `json:"n"`
	Dims  []Dimension `json:"d,omitempty"`
	Unit  string      `json:"u,omitempty"`
	T     int64       `json:"t"` // unix milliseconds
	Res   int64       `json:"r,omitempty"`
	Count float64     `json:"c"`
	Sum   float64     `json:"s"`
	Min   float64     `json:"mn"`
	Max   float64     `json:"mx"`
	// Vals and Cnts are the individual values (for percentiles); empty
	// for a statistic set.
	Vals []float64 `json:"v,omitempty"`
	Cnts []float64 `json:"vc,omitempty"`
}

// batch is one published message: points of one namespace.
type batch struct {
	NS     string  `json:"ns"`
	Points []point `json:"p"`
}

// bucket is the aggregate of one tier interval.
type bucket struct {
	n, sum, min, max float64
	d                *dist
}

func (b *bucket) addPoint(p *point) {
	if b.n == 0 {
		b.min, b.max = p.Min, p.Max
	} else {
		b.min, b.max = math.Min(b.min, p.Min), math.Max(b.max, p.Max)
	}
	b.n += p.Count
	b.sum += p.Sum
	if len(p.Vals) > 0 {
		if b.d == nil {
			b.d = &dist{}
		}
		for i, v := range p.Vals {
			c := 1.0
			if i < len(p.Cnts) {
				c = p.Cnts[i]
			}
			b.d.add(v, c)
		}
	}
}

func (b *bucket) merge(o *bucket) {
	if o.n == 0 {
		return
	}
	if b.n == 0 {
		b.min, b.max = o.min, o.max
	} else {
		b.min, b.max = math.Min(b.min, o.min), math.Max(b.max, o.max)
	}
	b.n += o.n
	b.sum += o.sum
	if o.d != nil {
		if b.d == nil {
			b.d = &dist{}
		}
		b.d.merge(o.d)
	}
}

// series is one metric: its identity and its roll-ups.
type series struct {
	key   string
	ns    string
	name  string
	dims  []Dimension
	unit  string
	last  int64 // unix seconds of the newest datum
	tiers [4]map[int64]*bucket
	// saved maps the hours loaded from the roll-up stream to the last
	// datapoint-stream sequence each includes (rollups.go); nil once the
	// replay is past them.
	saved map[int64]uint64
}

func newSeries(key, ns, name string, dims []Dimension) *series {
	s := &series{key: key, ns: ns, name: name, dims: sortedDims(dims)}
	for t := range s.tiers {
		s.tiers[t] = map[int64]*bucket{}
	}
	return s
}

// db is the node's view of every metric: the stream folded into
// roll-ups. Its methods are safe for concurrent use.
type db struct {
	mu     sync.RWMutex
	series map[string]*series // guarded by mu
	// allFine keeps the 1 s tier for every datum (alarm-period scale
	// below 1: scaled periods are seconds long).
	allFine bool
	// seq is the last datapoint-stream sequence folded in; guarded by mu.
	seq uint64
	// dirty lists, by series key, the hours whose long tiers changed
	// since they were last taken for the roll-up stream; guarded by mu.
	dirty map[string]map[int64]struct{}
	// savedUpto is the highest sequence a loaded hour includes (0 when
	// none is pending); guarded by mu.
	savedUpto uint64
}

func newDB(allFine bool) *db { return &db{series: map[string]*series{}, allFine: allFine} }

// seriesKey identifies a metric: namespace, name and sorted dimensions.
func seriesKey(ns, name string, dims []Dimension) string {
	var b strings.Builder
	b.WriteString(ns)
	b.WriteByte(0)
	b.WriteString(name)
	for _, d := range sortedDims(dims) {
		b.WriteByte(0)
		b.WriteString(d.Name)
		b.WriteByte('=')
		b.WriteString(d.Value)
	}
	return b.String()
}

func sortedDims(dims []Dimension) []Dimension {
	out := append([]Dimension(nil), dims...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (db *db) len() int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return len(db.series)
}

func (db *db) has(key string) bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.series[key] != nil
}

// apply folds a batch, the datapoint stream's message seq, into the
// roll-ups.
func (db *db) apply(b *batch, seq uint64, now time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if seq > db.seq {
		db.seq = seq
	}
	for i := range b.Points {
		p := &b.Points[i]
		key := seriesKey(b.NS, p.Name, p.Dims)
		s := db.series[key]
		if s == nil {
			s = newSeries(key, b.NS, p.Name, p.Dims)
			db.series[key] = s
		}
		if p.Unit != "" {
			s.unit = p.Unit
		}
		sec := p.T / 1000
		if sec > s.last {
			s.last = sec
		}
		hour := sec - mod(sec, hourSeconds)
		upto, saved := s.saved[hour]
		for t, res := range tierRes {
			if t == 0 && p.Res != 1 && !db.allFine {
				continue
			}
			if now.Sub(time.Unix(sec, 0)) > tierKeep[t] {
				continue
			}
			if t >= rollupTierFive {
				if saved && seq <= upto {
					continue // the loaded hour includes this message
				}
				db.touch(key, hour)
			}
			k := sec - mod(sec, res)
			bk := s.tiers[t][k]
			if bk == nil {
				bk = &bucket{}
				s.tiers[t][k] = bk
			}
			bk.addPoint(p)
		}
	}
	if db.savedUpto > 0 && seq >= db.savedUpto {
		// Every later message is newer than every saved hour.
		for _, s := range db.series {
			s.saved = nil
		}
		db.savedUpto = 0
	}
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// prune drops buckets past their tier's retention and metrics with no
// data left.
func (db *db) prune(now time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for key, s := range db.series {
		empty := true
		for t := range s.tiers {
			limit := now.Add(-tierKeep[t]).Unix()
			for k := range s.tiers[t] {
				if k+tierRes[t] <= limit {
					delete(s.tiers[t], k)
				}
			}
			if len(s.tiers[t]) > 0 {
				empty = false
			}
		}
		if empty {
			delete(db.series, key)
		}
	}
}

// window is one period's aggregate.
type window struct {
	start int64
	bucket
}

// query aggregates the metric key over [start, end) in periods of period
// seconds (windows aligned to multiples of period), from the coarsest
// tier whose resolution divides the period. unit, when set, must match
// the metric's.
func (db *db) query(key string, start, end time.Time, period int64, unit string) ([]window, string, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	s := db.series[key]
	if s == nil {
		return nil, "", false
	}
	if unit != "" && s.unit != "" && unit != s.unit {
		return nil, s.unit, true
	}
	tier := 0
	for t := len(tierRes) - 1; t >= 0; t-- {
		if period%tierRes[t] == 0 && (t > 0 || len(s.tiers[0]) > 0) {
			tier = t
			break
		}
	}
	if tier == 0 && len(s.tiers[0]) == 0 {
		tier = 1
	}
	from := start.Unix() - mod(start.Unix(), period)
	to := end.Unix()
	byWin := map[int64]*window{}
	res := tierRes[tier]
	scan := func(k int64, b *bucket) {
		if k < from || k >= to {
			return
		}
		w := k - mod(k-from, period)
		win := byWin[w]
		if win == nil {
			win = &window{start: w}
			byWin[w] = win
		}
		win.merge(b)
	}
	m := s.tiers[tier]
	if n := (to - from) / res; n < int64(len(m)) {
		for k := from - mod(from, res); k < to; k += res {
			if b := m[k]; b != nil {
				scan(k, b)
			}
		}
	} else {
		for k, b := range m {
			scan(k, b)
		}
	}
	out := make([]window, 0, len(byWin))
	for _, w := range byWin {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out, s.unit, true
}

// metricInfo is a metric's identity for listing.
type metricInfo struct {
	key  string
	ns   string
	name string
	dims []Dimension
	last int64
}

// list returns the metrics that pass keep, sorted by key.
func (db *db) list(keep func(*metricInfo) bool) []metricInfo {
	db.mu.RLock()
	var out []metricInfo
	for _, s := range db.series {
		mi := metricInfo{key: s.key, ns: s.ns, name: s.name, dims: s.dims, last: s.last}
		if keep(&mi) {
			out = append(out, mi)
		}
	}
	db.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}
