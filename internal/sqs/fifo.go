package sqs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FIFO queues: one batch in flight per message group, cluster-wide.
//
// Every message of a FIFO queue is published on its group's subject,
// sqs.<queue id>.g.<hash of MessageGroupId>, and the queue's one
// consumer reads every subject. A delivered message is handed out only
// if it is its group's head: the first message on its subject still in
// the stream (the stream answers "next message on subject S from
// sequence 1"), or the next one on the subject after a message taken
// into the same batch. A group's message stays in the stream until it
// is deleted, so while any of its messages is in flight (or waits to
// come back after its visibility timeout) no later one passes: order
// within a group holds, one batch per group is out, and other groups
// flow. The stream is the shared state, so this holds across nodes
// without a lock.
//
// A delivered message that is not its group's head is held back: naked
// with a short delay that grows with its holds (100 ms, doubling, up to
// 2 s). Each hold counts as a JetStream delivery, so the number of holds
// is kept in the KV bucket HoldsBucket (key <queue id>.<sequence>) and
// subtracted from ApproximateReceiveCount and from the count
// maxReceiveCount is checked against.
//
// Messages stored before group subjects (on the queue's bare subject)
// form one group: they keep their order among themselves.

// HoldsBucket is the KV bucket counting FIFO holds per message.
const HoldsBucket = "nimbus_sqs_holds"

// holdsTTL outlives any message: retention is at most 14 days.
const holdsTTL = 15 * 24 * time.Hour

const (
	holdBase = 100 * time.Millisecond
	holdMax  = 2 * time.Second
)

// groupSubject is the subject of a FIFO group's messages.
func (q *queue) groupSubject(group string) string {
	sum := sha256.Sum256([]byte(group))
	return q.subject() + ".g." + hex.EncodeToString(sum[:16])
}

// receiveFIFO is Receive for a FIFO queue.
func (s *Service) receiveFIFO(ctx context.Context, q *queue, c jetstream.Consumer, in ReceiveInput) ([]*Received, error) {
	st, err := s.stream(ctx, q)
	if err != nil {
		return nil, err
	}
	deadline := s.now().Add(in.Wait)
	for {
		msgs, err := s.fetch(ctx, c, in.Max, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			return nil, nil
		}
		if out := s.gate(ctx, q, st, msgs, in.Visibility); len(out) > 0 {
			return out, nil
		}
		// Everything fetched was held back: wait before fetching again
		// rather than walk a busy group's backlog.
		if !s.waitTick(ctx, deadline) {
			return nil, nil
		}
	}
}

// gate hands out the fetched messages that are their group's head (in
// stream order) and holds back the others.
func (s *Service) gate(ctx context.Context, q *queue, st jetstream.Stream, msgs []jetstream.Msg, visibility *int) []*Received {
	type fetched struct {
		m    jetstream.Msg
		meta *jetstream.MsgMetadata
	}
	fs := make([]fetched, 0, len(msgs))
	for _, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			s.log.Warn("receive message", "queue", q.Name, "err", err)
			continue
		}
		fs = append(fs, fetched{m, meta})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].meta.Sequence.Stream < fs[j].meta.Sequence.Stream })
	next := map[string]uint64{} // subject → the sequence its next message is looked up from
	blocked := map[string]bool{}
	var out []*Received
	for _, f := range fs {
		subj, seq := f.m.Subject(), f.meta.Sequence.Stream
		if !blocked[subj] {
			from := max(next[subj], 1)
			head, err := st.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subj))
			if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				s.log.Warn("read group head", "queue", q.Name, "err", err)
			}
			blocked[subj] = err != nil || head.Sequence != seq
		}
		if blocked[subj] {
			s.hold(ctx, q, f.m, seq)
			continue
		}
		r, err := s.take(ctx, q, f.m, visibility)
		if err != nil {
			s.log.Warn("receive message", "queue", q.Name, "err", err)
		}
		if r == nil {
			// Delayed, moved to the DLQ or failed: the group's later
			// messages wait for the next receive.
			blocked[subj] = true
			continue
		}
		out = append(out, r)
		next[subj] = seq + 1
	}
	return out
}

func holdKey(q *queue, seq uint64) string { return q.ID + "." + strconv.FormatUint(seq, 10) }

// hold puts back a message whose group has earlier messages outstanding,
// recording the hold first so its redelivery is not counted as a receive.
func (s *Service) hold(ctx context.Context, q *queue, m jetstream.Msg, seq uint64) {
	n := s.heldCount(ctx, q, seq)
	if _, err := s.holds.Put(ctx, holdKey(q, seq), []byte(strconv.Itoa(n+1))); err != nil {
		s.log.Warn("record fifo hold", "queue", q.Name, "err", err)
	}
	if err := m.NakWithDelay(min(holdBase<<min(n, 5), holdMax)); err != nil {
		s.log.Warn("hold fifo message", "queue", q.Name, "err", err)
	}
}

// heldCount is how many times the message at seq was held back.
func (s *Service) heldCount(ctx context.Context, q *queue, seq uint64) int {
	e, err := s.holds.Get(ctx, holdKey(q, seq))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(string(e.Value()))
	return n
}

// stream is the queue's stream (cached).
func (s *Service) stream(ctx context.Context, q *queue) (jetstream.Stream, error) {
	s.mu.Lock()
	st := s.streams[q.streamName()]
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := s.js.Stream(ctx, q.streamName())
	if err != nil {
		return nil, fmt.Errorf("open queue stream: %w", err)
	}
	s.mu.Lock()
	s.streams[q.streamName()] = st
	s.mu.Unlock()
	return st, nil
}
