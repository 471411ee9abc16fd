package cloudwatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The long roll-up tiers (5 min for 63 days, 1 h for 455 days) outlive
// the datapoint stream (15 days), so a restarted node could not rebuild
// them from it. The holder of RollupLease writes each closed hour of a
// metric (its 1 h bucket and its twelve 5 min buckets) to a compacted
// stream, one subject per metric and hour: a late datum rewrites its
// hour, which replaces the hour's message. A node that starts loads the
// stream before it folds in the datapoint stream; each saved hour names
// the last datapoint-stream sequence it includes, and a replayed message
// at or below that sequence is left out of that hour's long tiers, so
// nothing is counted twice.
//
//	datapoint stream ──fold──▶ db tiers ──closed hours, once a minute──▶ NIMBUS_METRICS_ROLLUPS
//	       ▲ replay (seq > saved upto)          ▲ load at start ◀────────────────────┘

const (
	// RollupStreamName is the compacted stream of the long tiers.
	RollupStreamName = "NIMBUS_METRICS_ROLLUPS"
	// RollupLease is the lease whose holder writes it.
	RollupLease     = "cloudwatch-rollups"
	rollupSubject   = "nimbus.metrics.rollup"
	rollupMaxAge    = 455*24*time.Hour + time.Hour
	hourSeconds     = 3600
	fiveMinSeconds  = 300
	rollupTierFive  = 2
	rollupTierHour  = 3
	rollupWriteWait = 5 * time.Second
	rollupLoadWait  = 5 * time.Minute
	// DefaultRollupMaxBytes bounds the roll-up stream on disk; the oldest
	// hours go first.
	DefaultRollupMaxBytes = 256 << 20
)

// savedBucket is a bucket as the roll-up stream keeps it.
type savedBucket struct {
	K    int64             `json:"k"`
	N    float64           `json:"n"`
	Sum  float64           `json:"s"`
	Min  float64           `json:"mn"`
	Max  float64           `json:"mx"`
	Vals []float64         `json:"v,omitempty"`
	Cnts []float64         `json:"vc,omitempty"`
	Pos  map[int32]float64 `json:"p,omitempty"`
	Neg  map[int32]float64 `json:"ng,omitempty"`
	Zero float64           `json:"z,omitempty"`
	// Sk is set when the distribution is a sketch (Pos, Neg, Zero).
	Sk bool `json:"sk,omitempty"`
}

// savedHour is one metric's hour of the long tiers.
type savedHour struct {
	NS   string        `json:"ns"`
	Name string        `json:"n"`
	Dims []Dimension   `json:"d,omitempty"`
	Unit string        `json:"u,omitempty"`
	Hour int64         `json:"h"` // unix seconds
	Upto uint64        `json:"q"` // last datapoint-stream sequence included
	Five []savedBucket `json:"f,omitempty"`
	One  *savedBucket  `json:"o,omitempty"`
}

func saveBucket(k int64, b *bucket) savedBucket {
	sb := savedBucket{K: k, N: b.n, Sum: b.sum, Min: b.min, Max: b.max}
	if d := b.d; d != nil {
		if d.pos == nil {
			sb.Vals, sb.Cnts = append([]float64(nil), d.vals...), append([]float64(nil), d.cnts...)
		} else {
			sb.Sk, sb.Zero = true, d.zero
			sb.Pos, sb.Neg = make(map[int32]float64, len(d.pos)), make(map[int32]float64, len(d.neg))
			for k, c := range d.pos {
				sb.Pos[k] = c
			}
			for k, c := range d.neg {
				sb.Neg[k] = c
			}
		}
	}
	return sb
}

func (sb *savedBucket) bucket() *bucket {
	b := &bucket{n: sb.N, sum: sb.Sum, min: sb.Min, max: sb.Max}
	switch {
	case sb.Sk:
		b.d = &dist{pos: map[int32]float64{}, neg: map[int32]float64{}, zero: sb.Zero, total: sb.Zero}
		for k, c := range sb.Pos {
			b.d.pos[k] = c
			b.d.total += c
		}
		for k, c := range sb.Neg {
			b.d.neg[k] = c
			b.d.total += c
		}
	case len(sb.Vals) > 0 && len(sb.Vals) == len(sb.Cnts):
		b.d = &dist{}
		for i, v := range sb.Vals {
			b.d.add(v, sb.Cnts[i])
		}
	}
	return b
}

// rollupSubjectOf is the subject of a metric's hour.
func rollupSubjectOf(key string, hour int64) string {
	h := sha256.Sum256([]byte(key))
	return rollupSubject + "." + hex.EncodeToString(h[:12]) + "." + strconv.FormatInt(hour, 10)
}

// createRollupStream creates (or updates) the roll-up stream.
func createRollupStream(ctx context.Context, js jetstream.JetStream, maxBytes int64, replicas int) (jetstream.Stream, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              RollupStreamName,
		Description:       "CloudWatch's 5 min and 1 h roll-ups, one message per metric and hour",
		Subjects:          []string{rollupSubject + ".>"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxAge:            rollupMaxAge,
		MaxBytes:          maxBytes,
		Replicas:          max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", RollupStreamName, err)
	}
	return st, nil
}

// loadRollups folds the saved hours into the db, before the datapoint
// stream is replayed.
func (s *Service) loadRollups(ctx context.Context) error {
	info, err := s.rollups.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", RollupStreamName, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := s.rollups.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("read %s: %w", RollupStreamName, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", RollupStreamName, err)
	}
	defer it.Stop()
	// Bounded: a message that expires between Info and the read would
	// otherwise leave the load waiting for a sequence that never comes.
	lctx, cancel := context.WithTimeout(ctx, rollupLoadWait)
	defer cancel()
	stop := context.AfterFunc(lctx, it.Stop)
	defer stop()
	now := s.now()
	n := 0
	for {
		msg, err := it.Next()
		if err != nil {
			return fmt.Errorf("read %s: %w", RollupStreamName, err)
		}
		var h savedHour
		if err := json.Unmarshal(msg.Data(), &h); err == nil {
			s.db.load(&h, now)
			n++
		}
		md, err := msg.Metadata()
		if err != nil || md.Sequence.Stream >= last || md.NumPending == 0 {
			break
		}
	}
	s.log.Info("metric roll-ups loaded", "hours", n)
	return nil
}

// load folds one saved hour into the long tiers.
func (db *db) load(h *savedHour, now time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	key := seriesKey(h.NS, h.Name, h.Dims)
	s := db.series[key]
	if s == nil {
		s = newSeries(key, h.NS, h.Name, h.Dims)
		db.series[key] = s
	}
	if h.Unit != "" && s.unit == "" {
		s.unit = h.Unit
	}
	if end := h.Hour + hourSeconds - 1; end > s.last {
		s.last = end
	}
	put := func(t int, sb *savedBucket) {
		if now.Sub(time.Unix(sb.K, 0)) > tierKeep[t] {
			return
		}
		s.tiers[t][sb.K] = sb.bucket()
	}
	for i := range h.Five {
		put(rollupTierFive, &h.Five[i])
	}
	if h.One != nil {
		put(rollupTierHour, h.One)
	}
	if s.saved == nil {
		s.saved = map[int64]uint64{}
	}
	s.saved[h.Hour] = h.Upto
	db.savedUpto = max(db.savedUpto, h.Upto)
}

// takeClosed returns the hours touched since the last call whose end has
// passed, encoded for the roll-up stream, and forgets them.
func (db *db) takeClosed(now time.Time) []rollupMsg {
	db.mu.Lock()
	defer db.mu.Unlock()
	cut := now.Unix()
	var out []rollupMsg
	for key, hours := range db.dirty {
		s := db.series[key]
		for hour := range hours {
			if hour+hourSeconds > cut {
				continue
			}
			delete(hours, hour)
			if s == nil {
				continue
			}
			h := savedHour{NS: s.ns, Name: s.name, Dims: s.dims, Unit: s.unit, Hour: hour, Upto: db.seq}
			for k := hour; k < hour+hourSeconds; k += fiveMinSeconds {
				if b := s.tiers[rollupTierFive][k]; b != nil {
					h.Five = append(h.Five, saveBucket(k, b))
				}
			}
			if b := s.tiers[rollupTierHour][hour]; b != nil {
				sb := saveBucket(hour, b)
				h.One = &sb
			}
			data, err := json.Marshal(&h)
			if err != nil {
				continue
			}
			out = append(out, rollupMsg{key: key, hour: hour, subject: rollupSubjectOf(key, hour), data: data})
		}
		if len(hours) == 0 {
			delete(db.dirty, key)
		}
	}
	return out
}

// markDirty notes an hour again (its write failed).
func (db *db) markDirty(key string, hour int64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.touch(key, hour)
}

// touch notes that a metric's hour changed in the long tiers; mu held.
func (db *db) touch(key string, hour int64) {
	if db.dirty == nil {
		db.dirty = map[string]map[int64]struct{}{}
	}
	m := db.dirty[key]
	if m == nil {
		m = map[int64]struct{}{}
		db.dirty[key] = m
	}
	m[hour] = struct{}{}
}

// rollupMsg is one hour ready for the roll-up stream.
type rollupMsg struct {
	key     string
	hour    int64
	subject string
	data    []byte
}

// runRollups writes the closed hours once a (scaled) minute. Every node
// takes its closed hours, so none accumulates them; only the holder of
// RollupLease writes them.
func (s *Service) runRollups(ctx context.Context, holder *atomic.Bool) {
	every := max(time.Duration(float64(time.Minute)*s.opts.PeriodScale), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.writeRollups(ctx, holder.Load()); err != nil && ctx.Err() == nil {
				s.log.Warn("write metric roll-ups", "err", err)
			}
		}
	}
}

// writeRollups takes the closed hours and, when write is set, stores
// them; an hour whose write fails is taken again next time.
func (s *Service) writeRollups(ctx context.Context, write bool) error {
	msgs := s.db.takeClosed(s.now())
	if !write {
		return nil
	}
	var errs []error
	for i, m := range msgs {
		pctx, cancel := context.WithTimeout(ctx, rollupWriteWait)
		_, err := s.js.Publish(pctx, m.subject, m.data)
		cancel()
		if err != nil {
			for _, rest := range msgs[i:] {
				s.db.markDirty(rest.key, rest.hour)
			}
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}
