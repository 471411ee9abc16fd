package cost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Hourly rollups: once an hour is closed (rollupDelay after its end, longer
// than Lambda's 15-minute timeout, so every invocation that started in it
// has been stored), the meter sums its records per function, version,
// architecture and memory size and puts the rows in the KV bucket
// nimbus_cost_hourly under h.<yyyymmddhh>, then moves the marker key
// "last". A rollup is a pure function of the records, so redoing one after
// a crash is harmless. Reports read closed hours from the rollups and scan
// records only after the marker.
const (
	RollupBucket    = "nimbus_cost_hourly"
	RollupRetention = 400 * 24 * time.Hour
	rollupDelay     = 20 * time.Minute
	rollupEvery     = time.Minute
	lastKey         = "last"
	hourFormat      = "2006010215"
)

func hourKey(h time.Time) string { return "h." + h.UTC().Format(hourFormat) }

// rollupLogged rolls up the closed hours, logging a failure (the next tick
// retries).
func (m *Meter) rollupLogged(ctx context.Context) {
	if err := m.rollup(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("roll up metering hours", "err", err)
	}
}

// lastRolledUp is the newest hour rolled up; ok false when none is.
func (m *Meter) lastRolledUp(ctx context.Context) (time.Time, bool, error) {
	e, err := m.kv.Get(ctx, lastKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read %s: %w", lastKey, err)
	}
	h, err := time.Parse(hourFormat, string(e.Value()))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read %s: %w", lastKey, err)
	}
	return h, true, nil
}

// rollup sums every closed hour after the marker in one pass over their
// records.
func (m *Meter) rollup(ctx context.Context) error {
	last, ok, err := m.lastRolledUp(ctx)
	if err != nil {
		return err
	}
	var first time.Time
	if ok {
		first = last.Add(time.Hour)
	} else {
		// Nothing rolled up yet: start at the oldest record's hour.
		info, err := m.stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("read stream %s: %w", StreamName, err)
		}
		if info.State.Msgs == 0 {
			return nil
		}
		msg, err := m.stream.GetMsg(ctx, info.State.FirstSeq)
		if err != nil {
			return fmt.Errorf("read first record: %w", err)
		}
		var r Record
		if err := json.NewDecoder(bytes.NewReader(msg.Data)).Decode(&r); err != nil {
			return fmt.Errorf("read first record: %w", err)
		}
		first = r.Time.UTC().Truncate(time.Hour)
	}
	// Closed hours: [first, end).
	end := m.now().UTC().Add(-rollupDelay).Truncate(time.Hour)
	if !first.Before(end) {
		return nil
	}
	byHour := map[time.Time][]Record{}
	err = m.scan(ctx, first, "", func(r *Record) {
		h := r.Time.UTC().Truncate(time.Hour)
		if !h.Before(first) && h.Before(end) {
			byHour[h] = append(byHour[h], *r)
		}
	})
	if err != nil {
		return err
	}
	for h := first; h.Before(end); h = h.Add(time.Hour) {
		if recs := byHour[h]; len(recs) > 0 {
			b, err := json.Marshal(hourRows(recs))
			if err != nil {
				return fmt.Errorf("encode rollup %s: %w", hourKey(h), err)
			}
			if _, err := m.kv.Put(ctx, hourKey(h), b); err != nil {
				return fmt.Errorf("store rollup %s: %w", hourKey(h), err)
			}
		}
		if _, err := m.kv.Put(ctx, lastKey, []byte(h.Format(hourFormat))); err != nil {
			return fmt.Errorf("store %s: %w", lastKey, err)
		}
	}
	return nil
}

// Rows is the usage since from of fn ("" for all) as hourly rows
// (unpriced): closed hours from their rollups (whole hours: the first may
// start before from), the rest summed from the records.
func (m *Meter) Rows(ctx context.Context, from time.Time, fn string) ([]Row, error) {
	if err := m.Flush(ctx); err != nil {
		return nil, fmt.Errorf("flush metering: %w", err)
	}
	last, ok, err := m.lastRolledUp(ctx)
	if err != nil {
		return nil, err
	}
	var rows []Row
	scanFrom := from
	if ok && !last.Before(from.UTC().Truncate(time.Hour)) {
		for h := from.UTC().Truncate(time.Hour); !h.After(last); h = h.Add(time.Hour) {
			e, err := m.kv.Get(ctx, hourKey(h))
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue // no usage that hour
			}
			if err != nil {
				return nil, fmt.Errorf("read rollup %s: %w", hourKey(h), err)
			}
			var hr []Row
			if err := json.Unmarshal(e.Value(), &hr); err != nil {
				return nil, fmt.Errorf("read rollup %s: %w", hourKey(h), err)
			}
			for _, r := range hr {
				if fn == "" || r.Function == fn {
					rows = append(rows, r)
				}
			}
		}
		scanFrom = last.Add(time.Hour)
	}
	var recs []Record
	err = m.scan(ctx, scanFrom, fn, func(r *Record) {
		if !r.Time.Before(scanFrom) && (!ok || r.Time.UTC().Truncate(time.Hour).After(last)) {
			recs = append(recs, *r)
		}
	})
	if err != nil {
		return nil, err
	}
	return append(rows, hourRows(recs)...), nil
}
