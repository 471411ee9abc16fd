package logstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// batchVersion is the first byte of a stored batch.
const batchVersion = 1

// rawEvent is one event inside a stored batch.
type rawEvent struct {
	ts  int64 // ms since the epoch
	msg string
}

// encodeBatch is: version byte, then per event uvarint(ts) uvarint(len) msg.
func encodeBatch(dst []byte, evs []rawEvent) []byte {
	dst = append(dst, batchVersion)
	for _, e := range evs {
		dst = binary.AppendUvarint(dst, uint64(max(e.ts, 0))) // #nosec G115 -- clamped
		dst = binary.AppendUvarint(dst, uint64(len(e.msg)))
		dst = append(dst, e.msg...)
	}
	return dst
}

var errBadBatch = errors.New("malformed log batch")

func decodeBatch(b []byte) ([]rawEvent, error) {
	if len(b) == 0 || b[0] != batchVersion {
		return nil, errBadBatch
	}
	b = b[1:]
	var out []rawEvent
	for len(b) > 0 {
		ts, n := binary.Uvarint(b)
		if n <= 0 || ts > 1<<62 {
			return nil, errBadBatch
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) { // #nosec G115 -- len(b) >= n > 0
			return nil, errBadBatch
		}
		b = b[n:]
		out = append(out, rawEvent{ts: int64(ts), msg: string(b[:l])}) // #nosec G115 -- bounded above
		b = b[l:]
	}
	return out, nil
}

// Position is an event's place in the store: the stored batch's stream
// sequence and the event's index in it. Positions order events by
// ingestion.
type Position struct {
	Seq uint64
	Idx int
}

// Less orders positions.
func (p Position) Less(q Position) bool {
	return p.Seq < q.Seq || p.Seq == q.Seq && p.Idx < q.Idx
}

// ID is the event's eventId: digits, unique within the store.
func (p Position) ID() string { return fmt.Sprintf("%020d%06d", p.Seq, p.Idx) }

// ParsePosition reads a Position written by Token.
func ParsePosition(s string) (Position, bool) {
	if len(s) != 26 {
		return Position{}, false
	}
	seq, err1 := strconv.ParseUint(s[:20], 10, 64)
	idx, err2 := strconv.Atoi(s[20:])
	if err1 != nil || err2 != nil {
		return Position{}, false
	}
	return Position{seq, idx}, true
}

// Event is one stored log event.
type Event struct {
	Pos           Position
	Stream        string // log stream name
	Timestamp     int64  // ms since the epoch
	IngestionTime int64  // ms since the epoch
	Message       string
}

// Query selects events of one group.
type Query struct {
	Group string
	// Streams, when not empty, are the log streams to read; otherwise
	// every stream of the group.
	Streams []string
	// StartTime and EndTime (ms, inclusive start, exclusive end) bound
	// event timestamps; zero means unbounded.
	StartTime, EndTime int64
	// From, when set, skips events before it (a continuation token);
	// Before, when set, stops at it.
	From, Before *Position
	// Match, when set, keeps only matching messages.
	Match func(msg string) bool
	// Limit stops the scan after this many matches (0: no limit).
	Limit int
	// Last keeps the last Limit matches instead of the first ones.
	Last bool
}

// Scan returns the events q selects in ingestion order, and whether the
// scan stopped at Limit with more events possibly left.
func (s *Store) Scan(ctx context.Context, q Query) ([]Event, bool, error) {
	if _, err := s.Group(ctx, q.Group); err != nil {
		return nil, false, err
	}
	names := map[string]string{} // subject -> stream name
	var filters []string
	if len(q.Streams) > 0 {
		for _, n := range q.Streams {
			subj := subject(q.Group, n)
			if _, dup := names[subj]; dup {
				continue
			}
			names[subj] = n
			filters = append(filters, subj)
		}
	} else {
		streams, err := s.Streams(ctx, q.Group, "")
		if err != nil {
			return nil, false, err
		}
		for _, ls := range streams {
			names[subject(q.Group, ls.Name)] = ls.Name
		}
		filters = []string{groupSubjects(q.Group)}
	}
	info, err := s.stream.Info(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("scan log group %s: %w", q.Group, err)
	}
	last := info.State.LastSeq
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters}
	switch {
	case q.From != nil:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = max(q.From.Seq, 1)
	case q.StartTime > 0:
		// An event is ingested after it happened, so no event at or after
		// StartTime was ingested before it.
		t := time.UnixMilli(q.StartTime)
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &t
	}
	if last == 0 || q.From != nil && q.From.Seq > last {
		return nil, false, nil
	}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("scan log group %s: %w", q.Group, err)
	}
	var out []Event
	trimmed := false
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, false, fmt.Errorf("scan log group %s: %w", q.Group, err)
		}
		got, done := 0, false
		for m := range batch.Messages() {
			got++
			if done {
				continue // drain the fetched batch
			}
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			seq := md.Sequence.Stream
			if seq > last {
				done = true
				continue
			}
			evs, err := decodeBatch(m.Data())
			if err != nil {
				s.log.Warn("skipping malformed log batch", "seq", seq)
				continue
			}
			ingest := md.Timestamp.UnixMilli()
			for i, e := range evs {
				pos := Position{seq, i}
				if q.From != nil && pos.Less(*q.From) {
					continue
				}
				if q.Before != nil && !pos.Less(*q.Before) {
					done = true
					break
				}
				if q.StartTime > 0 && e.ts < q.StartTime || q.EndTime > 0 && e.ts >= q.EndTime {
					continue
				}
				if q.Match != nil && !q.Match(e.msg) {
					continue
				}
				out = append(out, Event{Pos: pos, Stream: names[m.Subject()], Timestamp: e.ts, IngestionTime: ingest, Message: e.msg})
				if q.Limit > 0 && len(out) > q.Limit {
					if !q.Last {
						return out[:q.Limit], true, nil
					}
					trimmed = true
					if len(out) >= 2*q.Limit { // keep the last Limit, amortised
						out = append(out[:0], out[len(out)-q.Limit:]...)
					}
				}
			}
			if seq == last || md.NumPending == 0 {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && got == 0 {
			return nil, false, fmt.Errorf("scan log group %s: %w", q.Group, err)
		}
		if done || got == 0 {
			if q.Last && q.Limit > 0 && len(out) > q.Limit {
				out = out[len(out)-q.Limit:]
			}
			return out, trimmed, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, false, fmt.Errorf("scan log group %s: %w", q.Group, err)
		}
	}
}

// End is the position after the last stored event: every event stored
// later is at End or after it (a live tail reads on from here).
func (s *Store) End(ctx context.Context) (Position, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return Position{}, fmt.Errorf("log store end: %w", err)
	}
	return Position{Seq: info.State.LastSeq + 1}, nil
}
