package cloudwatch

import (
	"context"
	"math"
	"sync"
	"time"
)

// recorder aggregates Nimbus's own metrics (AWS/Lambda and the like) in
// memory and publishes them once a second as one batch per namespace,
// so an invocation never waits on the backbone.
type recorder struct {
	s  *Service
	mu sync.Mutex
	// pending by namespace, then series key; guarded by mu.
	pending map[string]map[string]*point
}

const maxOwnValues = 150

func newRecorder(s *Service) *recorder {
	return &recorder{s: s, pending: map[string]map[string]*point{}}
}

// Record adds one value of a metric of Nimbus's own (namespace AWS/...).
func (s *Service) Record(ns, name, unit string, dims []Dimension, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	r := s.own
	key := seriesKey(ns, name, dims)
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.pending[ns]
	if m == nil {
		m = map[string]*point{}
		r.pending[ns] = m
	}
	p := m[key]
	if p == nil {
		p = &point{Name: name, Dims: dims, Unit: unit, Res: 60, Min: v, Max: v}
		m[key] = p
	}
	p.Count++
	p.Sum += v
	p.Min, p.Max = math.Min(p.Min, v), math.Max(p.Max, v)
	for i, x := range p.Vals {
		if x == v {
			p.Cnts[i]++
			return
		}
	}
	if len(p.Vals) < maxOwnValues {
		p.Vals = append(p.Vals, v)
		p.Cnts = append(p.Cnts, 1)
	}
}

// RecordData stores data points of Nimbus's own making (EMF lines) like
// PutMetricData, without its AWS/ namespace check; invalid data is
// dropped.
func (s *Service) RecordData(ctx context.Context, ns string, data []MetricDatum) error {
	if err := checkNamespace(ns, "Namespace", false); err != nil {
		return err
	}
	return s.store(ctx, ns, data)
}

func (r *recorder) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The last batch, bounded: a node that lost its cluster's
			// quorum must not hold its stop up on metrics.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			r.flush(fctx)
			cancel()
			return
		case <-t.C:
			r.flush(ctx)
		}
	}
}

func (r *recorder) flush(ctx context.Context) {
	r.mu.Lock()
	pending := r.pending
	r.pending = map[string]map[string]*point{}
	r.mu.Unlock()
	now := r.s.now().UnixMilli()
	for ns, m := range pending {
		b := batch{NS: ns}
		for _, p := range m {
			p.T = now
			// Values beyond what was kept lose only their percentile
			// weight: the counts still sum to Count.
			b.Points = append(b.Points, *p)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := r.s.appendBatch(pctx, &b); err != nil {
			r.s.log.Warn("publish own metrics", "namespace", ns, "err", err)
		}
		cancel()
	}
}
