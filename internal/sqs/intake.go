package sqs

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// The intake: group commit of single sends. JetStream's one-replica file
// store fsyncs every message it stores (SyncAlways) and shares no fsync
// between concurrent publishes, and its atomic batch costs about four
// fsyncs of staging, so concurrent SendMessage calls to standard queues
// are written as one *pack*: one message on the node's intake subject
// (stream SQS_INTAKE, subject sqsin.<node incarnation>) carrying all of
// them, one fsync for the group. Each caller is answered once the pack is
// stored. The node's mover then copies the pack's messages into their
// queues' streams (per queue, as many packs as have gathered at once:
// pipelined publishes below store.AtomicMin messages, one atomic batch
// from there, so the mover's batches grow with the load to where atomic
// batches pay) and purges the moved packs from the intake.
//
//	SendMessage ─> intake group ─(1 call)──> queue stream (as before)
//	                    └─(n calls)─> pack on sqsin.<node> ─answer all─> mover
//	mover: packs ─> store.PublishMany per queue stream ─> purge sqsin.<node> below the last pack
//	start: every pack left in the intake (a crash between store and purge) is moved again
//
// A single send to a queue no other single send of this node is writing
// to at the moment is published straight to its queue (claim), so a
// lone client sees its message at once and an SNS fan-out's sends to
// many queues are stored side by side; only sends that meet another to
// the same queue gather into packs. A receive or attribute read on
// a queue waits (at most a second) for this node's unmoved packs of that
// queue, so a client that sent through this node reads its own writes.
// A crash after a pack's messages were moved but before the purge moves
// them again on restart: duplicates, which a standard queue's
// at-least-once delivery allows; FIFO queues never use the intake. In a
// cluster a node moves what was left in the intake when it starts, and
// every node's sweeper moves packs another node left for longer than a
// minute (docs/design/queues.md).

// intakeStream holds packs of single sends not yet moved to their queues.
const intakeStream = "SQS_INTAKE"

// intakePrefix is the subject prefix of packs: sqsin.<node incarnation>.
const intakePrefix = "sqsin."

// intakeLimits bound one pack: the server's max_payload is sized for 1
// MiB messages plus headers, so a pack stays well below.
var intakeLimits = store.GroupLimits{MaxItems: 256, MaxBytes: 1 << 20}

// maxMove is the most messages the mover writes to one queue at once
// (an atomic batch: the server allows 1,000).
const maxMove = 512

// moveWait bounds how long a receive waits for this node's unmoved packs.
const moveWait = time.Second

type intake struct {
	s       *Service
	subject string
	group   *store.Group[*nats.Msg]

	mu      sync.Mutex
	packs   []pack         // guarded by mu: stored, not yet moved; in sequence order
	moving  bool           // guarded by mu: a mover runs
	closed  bool           // guarded by mu: close was called, no mover starts
	unmoved map[string]int // guarded by mu: messages per queue stream in packs not yet moved
	direct  map[string]int // guarded by mu: single sends published straight to each queue stream, under way
	moved   chan struct{}  // guarded by mu: closed (and replaced) when a move ends
	stop    chan struct{}  // closed by close: a failing move gives up
	// ctx is the mover's and the sweeper's; close cancels it if they do
	// not finish in closeGrace (a cluster that lost quorum).
	ctx     context.Context
	cancel  context.CancelFunc
	stopped sync.Once
	wg      sync.WaitGroup // the mover
}

type pack struct {
	seq  uint64
	msgs []*nats.Msg
}

func intakeStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:      intakeStream,
		Subjects:  []string{intakePrefix + ">"},
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
		Discard:   jetstream.DiscardNew,
		MaxAge:    14 * 24 * time.Hour, // the longest retention a queue has
		// A pack of intakeLimits.MaxBytes of messages with their headers
		// and framing.
		MaxMsgSize: 2 << 20,
		Replicas:   replicas,
	}
}

// newIntake opens the intake stream and moves what an earlier run left
// in it.
func newIntake(ctx context.Context, s *Service) (*intake, error) {
	if _, err := s.js.CreateOrUpdateStream(ctx, intakeStreamConfig(s.replicas)); err != nil {
		return nil, fmt.Errorf("open sqs intake: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	in := &intake{s: s, subject: intakePrefix + hex.EncodeToString(id[:]), unmoved: map[string]int{}, direct: map[string]int{}, moved: make(chan struct{}), stop: make(chan struct{})}
	in.ctx, in.cancel = context.WithCancel(context.WithoutCancel(ctx))
	in.group = store.NewGroup(in.commit, func(m *nats.Msg) int { return len(m.Data) + 512 }, intakeLimits)
	if err := in.recover(ctx); err != nil {
		return nil, err
	}
	in.wg.Go(in.sweeper)
	return in, nil
}

// commit stores a group of single sends: a lone one straight to its
// queue, more as one pack handed to the mover.
func (in *intake) commit(ctx context.Context, msgs []*nats.Msg) error {
	if len(msgs) == 1 {
		_, err := in.s.js.PublishMsg(ctx, msgs[0])
		return err
	}
	data, err := encodePack(msgs)
	if err != nil {
		return err
	}
	ack, err := in.s.js.PublishMsg(ctx, &nats.Msg{Subject: in.subject, Data: data})
	if err != nil {
		return fmt.Errorf("store pack: %w", err)
	}
	in.mu.Lock()
	in.packs = append(in.packs, pack{seq: ack.Sequence, msgs: msgs})
	for _, m := range msgs {
		in.unmoved[streamOfSubject(m.Subject)]++
	}
	if !in.moving && !in.closed {
		// (Once closed, packs wait in the intake for the next start.)
		in.moving = true
		in.wg.Go(in.move)
	}
	in.mu.Unlock()
	return nil
}

// claim reports whether a single send to stream may be published
// straight to it: no other single send to it is under way on this node
// (one that is goes through the group and a pack). Sends to different
// queues, such as an SNS topic's fan-out to its subscribed queues, are
// then stored side by side, each with its stream's fsync, rather than
// one after the other behind a pack and the mover. A true answer must be
// followed by release.
func (in *intake) claim(stream string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.direct[stream] > 0 || in.unmoved[stream] > 0 {
		return false
	}
	in.direct[stream]++
	return true
}

// release ends a claim.
func (in *intake) release(stream string) {
	in.mu.Lock()
	if in.direct[stream]--; in.direct[stream] <= 0 {
		delete(in.direct, stream)
	}
	in.mu.Unlock()
}

// move runs while packs wait: it takes all of them, writes their
// messages to their queues, purges them from the intake, and exits when
// none are left.
func (in *intake) move() {
	ctx := in.ctx
	for {
		in.mu.Lock()
		packs := in.packs
		in.packs = nil
		if len(packs) == 0 {
			in.moving = false
			in.mu.Unlock()
			return
		}
		in.mu.Unlock()
		if err := in.moveAll(ctx, packs); err != nil {
			// Left in the intake: moved at the next start.
			in.s.log.Warn("sqs intake move stopped", "error", err)
		} else if err := in.purge(ctx, in.subject, packs[len(packs)-1].seq); err != nil {
			// Left in the intake: moved again (duplicates) at the next start.
			in.s.log.Warn("sqs intake purge failed", "error", err)
		}
		in.mu.Lock()
		for _, p := range packs {
			for _, m := range p.msgs {
				st := streamOfSubject(m.Subject)
				if in.unmoved[st]--; in.unmoved[st] <= 0 {
					delete(in.unmoved, st)
				}
			}
		}
		close(in.moved)
		in.moved = make(chan struct{})
		in.mu.Unlock()
	}
}

// moveAll writes the packs' messages to their queues' streams
// (store.PublishMany, at most maxMove messages at once), the queues side by
// side (their streams fsync independently: a topic's fan-out to 20
// queues is one pack, and its 20th queue must not wait for the 19
// others), retrying until stored or the queue is gone; it fails only
// when the service closes.
func (in *intake) moveAll(ctx context.Context, packs []pack) error {
	byStream := map[string][]*nats.Msg{}
	var order []string
	for _, p := range packs {
		for _, m := range p.msgs {
			st := streamOfSubject(m.Subject)
			if _, ok := byStream[st]; !ok {
				order = append(order, st)
			}
			byStream[st] = append(byStream[st], m)
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		slots = make(chan struct{}, moveParallel)
	)
	for _, st := range order {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			msgs := byStream[st]
			for len(msgs) > 0 {
				n := min(len(msgs), maxMove)
				if err := in.publish(ctx, st, msgs[:n]); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
				msgs = msgs[n:]
			}
		})
	}
	wg.Wait()
	return first
}

// moveParallel is the most queues a mover writes to at once.
const moveParallel = 32

func (in *intake) publish(ctx context.Context, stream string, msgs []*nats.Msg) error {
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		// An atomic batch sets its headers on the messages it is given:
		// copies keep the packs' messages as they were sent.
		out := make([]*nats.Msg, len(msgs))
		for i, m := range msgs {
			out[i] = &nats.Msg{Subject: m.Subject, Header: cloneHeader(m.Header), Data: m.Data}
		}
		err := store.PublishMany(ctx, in.s.js, out)
		if err == nil {
			return nil
		}
		if _, serr := in.s.js.Stream(ctx, stream); errors.Is(serr, jetstream.ErrStreamNotFound) {
			return nil // the queue was deleted: its messages go with it
		}
		if in.s.nc.IsClosed() {
			return fmt.Errorf("move to %s: %w", stream, err)
		}
		in.s.log.Warn("sqs intake move failed, retrying", "stream", stream, "messages", len(msgs), "error", err)
		select {
		case <-time.After(wait):
		case <-in.stop:
			return fmt.Errorf("move to %s: %w", stream, err)
		}
	}
}

func (in *intake) purge(ctx context.Context, subject string, last uint64) error {
	st, err := in.s.js.Stream(ctx, intakeStream)
	if err != nil {
		return fmt.Errorf("open sqs intake: %w", err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(last+1)); err != nil {
		return fmt.Errorf("purge sqs intake %s: %w", subject, err)
	}
	return nil
}

// recover moves every pack an earlier run (of this or another node) left
// in the intake, then purges them.
func (in *intake) recover(ctx context.Context) error {
	n, err := in.sweep(ctx, 0, "")
	if n > 0 {
		in.s.log.Info("sqs intake recovered", "packs", n)
	}
	return err
}

// sweepEvery and sweepAge pace the sweeper: every sweepEvery it moves
// the packs of other nodes that waited longer than sweepAge (their node
// died before moving them; a node alive moves its own within moments).
const (
	sweepEvery = 30 * time.Second
	sweepAge   = time.Minute
)

// sweeper moves dead nodes' packs until the service closes.
func (in *intake) sweeper() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(in.ctx, sweepEvery)
		if n, err := in.sweep(ctx, sweepAge, in.subject); err != nil {
			in.s.log.Warn("sqs intake sweep failed", "error", err)
		} else if n > 0 {
			in.s.log.Info("sqs intake moved packs a stopped node left", "packs", n)
		}
		cancel()
	}
}

// sweep moves the packs in the intake stored longer than olderThan ago,
// except those on subject skip (this node's own, which its mover
// moves), and purges what it moved. It answers how many it moved.
func (in *intake) sweep(ctx context.Context, olderThan time.Duration, skip string) (int, error) {
	st, err := in.s.js.Stream(ctx, intakeStream)
	if err != nil {
		return 0, fmt.Errorf("open sqs intake: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read sqs intake: %w", err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, fmt.Errorf("read sqs intake: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	last := map[string]uint64{} // by subject: the last pack moved
	moved := 0
	for seen, done := uint64(0), false; !done && seen < info.State.LastSeq; {
		batch, err := c.Fetch(64, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return moved, fmt.Errorf("read sqs intake: %w", err)
		}
		var packs []pack
		read := 0
		for m := range batch.Messages() {
			read++
			meta, err := m.Metadata()
			if err != nil {
				return moved, fmt.Errorf("read sqs intake: %w", err)
			}
			seen = meta.Sequence.Stream
			if done || meta.Timestamp.After(cutoff) {
				done = true // stored in sequence order: the rest are younger
				continue
			}
			if m.Subject() == skip {
				continue
			}
			last[m.Subject()] = seen
			msgs, err := decodePack(m.Data())
			if err != nil {
				in.s.log.Error("sqs intake pack unreadable, dropped", "seq", seen, "error", err)
				continue
			}
			packs = append(packs, pack{seq: seen, msgs: msgs})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return moved, fmt.Errorf("read sqs intake: %w", err)
		}
		if err := in.moveAll(ctx, packs); err != nil {
			return moved, err
		}
		moved += len(packs)
		if read == 0 {
			break // nothing more to read (purged meanwhile)
		}
	}
	for subject, seq := range last {
		if err := in.purge(ctx, subject, seq); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// awaitMoved waits (at most moveWait) until no pack this node stored for
// stream waits to be moved.
func (in *intake) awaitMoved(ctx context.Context, stream string) {
	timer := time.NewTimer(moveWait)
	defer timer.Stop()
	for {
		in.mu.Lock()
		n, ch := in.unmoved[stream], in.moved
		in.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// unmovedOf is how many messages of this node's packs wait to be moved
// to stream.
func (in *intake) unmovedOf(stream string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return max(in.unmoved[stream], 0)
}

// close waits for the mover (one that cannot write gives up: the next
// start moves what it held).
func (in *intake) close() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	in.stopped.Do(func() { close(in.stop) })
	done := make(chan struct{})
	go func() { in.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		in.cancel() // what is not moved waits in the intake for the next start
		<-done
	}
	in.cancel()
}

// closeGrace is how long close lets the mover finish before it cancels
// its writes.
const closeGrace = 2 * time.Second

// streamOfSubject is the stream of a standard queue's subject (sqs.<id>).
func streamOfSubject(subject string) string {
	return "SQS_" + strings.TrimPrefix(subject, "sqs.")
}

func cloneHeader(h nats.Header) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// A pack is the concatenation of its messages, each: subject, number of
// header values, each value's key and value, data; every field a
// uvarint length and its bytes (counts a bare uvarint).

func encodePack(msgs []*nats.Msg) ([]byte, error) {
	var b []byte
	field := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for _, m := range msgs {
		if !strings.HasPrefix(m.Subject, "sqs.") {
			return nil, fmt.Errorf("encode pack: subject %q is not a queue's", m.Subject)
		}
		field([]byte(m.Subject))
		n := 0
		for _, v := range m.Header {
			n += len(v)
		}
		b = binary.AppendUvarint(b, uint64(n))
		for k, vs := range m.Header {
			for _, v := range vs {
				field([]byte(k))
				field([]byte(v))
			}
		}
		field(m.Data)
	}
	return b, nil
}

var errBadPack = errors.New("malformed pack")

func decodePack(b []byte) ([]*nats.Msg, error) {
	count := func() (uint64, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return n, true
	}
	field := func() ([]byte, bool) {
		n, ok := count()
		if !ok || n > uint64(len(b)) {
			return nil, false
		}
		f := b[:n:n]
		b = b[n:]
		return f, true
	}
	n, ok := count()
	if !ok || n > uint64(len(b)) { // every message takes at least a byte
		return nil, errBadPack
	}
	msgs := make([]*nats.Msg, 0, n)
	for range n {
		subj, ok := field()
		if !ok || !strings.HasPrefix(string(subj), "sqs.") {
			return nil, errBadPack
		}
		m := &nats.Msg{Subject: string(subj), Header: nats.Header{}}
		nh, ok := count()
		if !ok || nh > uint64(len(b)) {
			return nil, errBadPack
		}
		for range nh {
			k, ok1 := field()
			v, ok2 := field()
			if !ok1 || !ok2 {
				return nil, errBadPack
			}
			m.Header[string(k)] = append(m.Header[string(k)], string(v))
		}
		if m.Data, ok = field(); !ok {
			return nil, errBadPack
		}
		msgs = append(msgs, m)
	}
	if len(b) != 0 {
		return nil, errBadPack
	}
	return msgs, nil
}
