package logstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Line is one log event to store.
type Line struct {
	Group, Stream string
	Time          time.Time
	Message       string
}

// WriterOptions configures a Writer.
type WriterOptions struct {
	// Buffer is how many lines may wait for the backbone (default 65536)
	// and BufferBytes how many bytes of them (default 64 MiB). Beyond
	// either, lines are dropped and counted, never waited for.
	Buffer      int
	BufferBytes int64
	// SweepEvery is how often retention policies are applied (default one
	// hour); Now is the clock (default time.Now).
	SweepEvery time.Duration
	Now        func() time.Time
	// Linger is how long the writer waits after a line for more before it
	// writes a batch (default 20 ms): fewer, larger writes, less CPU taken
	// from invocations. Flush does not wait for it.
	Linger time.Duration
}

// Writer takes log lines from the invoke path without blocking it and
// stores them in batches: whatever accumulated while the previous batch
// was being written goes in the next one, one JetStream message per log
// stream, so a burst costs one fsync per stream instead of one per line.
//
// If the backbone falls behind and the buffer fills, Log drops the line
// and counts it (Dropped): an invocation is never slowed down or failed
// for its logs. Close stores what is buffered and stops.
type Writer struct {
	st       *Store
	now      func() time.Time
	ch       chan item
	stop     chan struct{}
	exited   chan struct{} // closed when the loop has returned
	wg       sync.WaitGroup
	idBase   string
	nextID   uint64 // used only by the loop goroutine
	maxBytes int64
	linger   time.Duration
	pending  atomic.Int64 // bytes of queued lines
	dropped  atomic.Uint64
	stored   atomic.Uint64
	failed   atomic.Uint64

	closeOnce sync.Once
}

type item struct {
	line  Line
	flush chan struct{} // a Flush marker instead of a line
}

// NewWriter starts a writer on st; Close stops it.
func NewWriter(st *Store, opts WriterOptions) *Writer {
	if opts.Buffer <= 0 {
		opts.Buffer = 65536
	}
	if opts.BufferBytes <= 0 {
		opts.BufferBytes = 64 << 20
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Linger <= 0 {
		opts.Linger = 20 * time.Millisecond
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	w := &Writer{st: st, now: opts.Now, ch: make(chan item, opts.Buffer), stop: make(chan struct{}),
		exited: make(chan struct{}), maxBytes: opts.BufferBytes, linger: opts.Linger, idBase: hex.EncodeToString(b) + "-"}
	w.wg.Add(2)
	go w.loop()
	go w.sweep(opts.SweepEvery)
	return w
}

// Log queues a line; it never blocks. It reports false when the line was
// dropped because the buffer is full or the writer is closed.
func (w *Writer) Log(l Line) bool {
	select {
	case <-w.stop:
		w.dropped.Add(1)
		return false
	default:
	}
	n := int64(len(l.Message))
	if w.maxBytes > 0 && w.pending.Add(n) > w.maxBytes {
		w.pending.Add(-n)
		w.dropped.Add(1)
		return false
	}
	select {
	case w.ch <- item{line: l}:
		return true
	default:
		w.pending.Add(-n)
		w.dropped.Add(1)
		return false
	}
}

// Flush waits until every line queued before the call is stored (or
// dropped after a failed write).
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case w.ch <- item{flush: done}:
	case <-w.stop:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-w.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dropped counts lines lost to a full buffer or a failed write.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() + w.failed.Load() }

// Stored counts lines stored.
func (w *Writer) Stored() uint64 { return w.stored.Load() }

// Close stores the buffered lines and stops the writer's goroutines.
func (w *Writer) Close() {
	w.closeOnce.Do(func() { close(w.stop) })
	w.wg.Wait()
}

func (w *Writer) sweep(every time.Duration) {
	defer w.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := w.st.Sweep(ctx, w.now()); err != nil {
				w.st.log.Warn("log retention sweep failed", "err", err)
			}
			cancel()
		}
	}
}

const maxBatchLines = 16384

func (w *Writer) loop() {
	defer w.wg.Done()
	defer close(w.exited)
	var batch []item
	for {
		batch = batch[:0]
		select {
		case it := <-w.ch:
			batch = append(batch, it)
		case <-w.stop:
			// Drain what is queued, then stop.
			for {
				select {
				case it := <-w.ch:
					batch = append(batch, it)
					if len(batch) < maxBatchLines {
						continue
					}
					w.write(batch)
					batch = batch[:0]
					continue
				default:
				}
				break
			}
			w.write(batch)
			return
		}
		// Linger a little so that a burst becomes one batch (one fsync),
		// unless someone is waiting (Flush) or the batch is full.
		linger := time.NewTimer(w.linger)
	fill:
		for len(batch) < maxBatchLines && batch[len(batch)-1].flush == nil {
			select {
			case it := <-w.ch:
				batch = append(batch, it)
			case <-linger.C:
				break fill
			case <-w.stop:
				break fill
			}
		}
		linger.Stop()
		w.write(batch)
	}
}

type streamID struct{ group, stream string }

// write stores one batch: one message per log stream, published
// asynchronously and then awaited together.
func (w *Writer) write(batch []item) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := w.now()
	var order []streamID
	per := map[streamID][]rawEvent{}
	var flushes []chan struct{}
	for _, it := range batch {
		if it.flush != nil {
			flushes = append(flushes, it.flush)
			continue
		}
		l := it.line
		w.pending.Add(-int64(len(l.Message)))
		id := streamID{l.Group, l.Stream}
		if _, ok := per[id]; !ok {
			order = append(order, id)
		}
		msg := l.Message
		if len(msg) > MaxEventSize {
			msg = msg[:MaxEventSize]
		}
		per[id] = append(per[id], rawEvent{ts: l.Time.UnixMilli(), msg: msg})
	}
	type pending struct {
		f jetstream.PubAckFuture
		n int
	}
	var pend []pending
	for _, id := range order {
		evs := per[id]
		if err := w.st.ensure(ctx, id.group, id.stream, now); err != nil {
			w.st.log.Warn("log stream metadata not stored", "err", err)
		}
		for len(evs) > 0 {
			n, size := 0, 1
			for n < len(evs) && (n == 0 || size+len(evs[n].msg)+20 <= maxBatchBytes) {
				size += len(evs[n].msg) + 20
				n++
			}
			data := encodeBatch(make([]byte, 0, size), evs[:n])
			w.nextID++
			msg := &nats.Msg{Subject: subject(id.group, id.stream), Data: data, Header: nats.Header{}}
			msg.Header.Set(jetstream.MsgIDHeader, w.idBase+strconv.FormatUint(w.nextID, 10))
			f, err := w.st.js.PublishMsgAsync(msg)
			if err != nil {
				w.failed.Add(uint64(n)) // #nosec G115 -- n > 0
				w.st.log.Warn("log batch not stored", "err", err)
			} else {
				pend = append(pend, pending{f, n})
			}
			evs = evs[n:]
		}
	}
	for _, p := range pend {
		select {
		case <-p.f.Ok():
			w.stored.Add(uint64(p.n)) // #nosec G115 -- n > 0
		case err := <-p.f.Err():
			// One retry with the same message id (deduplicated if the
			// first attempt was stored after all).
			if _, err2 := w.st.js.PublishMsg(ctx, p.f.Msg()); err2 != nil {
				w.failed.Add(uint64(p.n)) // #nosec G115 -- n > 0
				w.st.log.Warn("log batch not stored", "err", err, "retry_err", err2)
			} else {
				w.stored.Add(uint64(p.n)) // #nosec G115 -- n > 0
			}
		case <-ctx.Done():
			w.failed.Add(uint64(p.n)) // #nosec G115 -- n > 0
		}
	}
	for _, f := range flushes {
		close(f)
	}
}
