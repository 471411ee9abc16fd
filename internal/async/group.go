package async

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A message on the queue is one event (a JSON object) or a group of events
// committed together by the publisher (a JSON array of them). A group is
// acknowledged when every event in it is done; until then in-progress
// acks keep it. An event of a group that must run again later is
// re-published as a message of its own (a new generation) before the group
// is acknowledged. If the node stops, or such a re-publication fails, the
// group is left unacknowledged and runs again as a whole: its finished
// events run twice (at-least-once), none is lost.

// decodeGroup decodes a group message.
func decodeGroup(data []byte) ([]*envelope, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("decode event group: %w", err)
	}
	if len(raws) == 0 {
		return nil, errors.New("decode event group: empty")
	}
	out := make([]*envelope, len(raws))
	for i, r := range raws {
		env, err := decodeEnvelope(r)
		if err != nil {
			return nil, err
		}
		out[i] = env
	}
	return out, nil
}

func isGroup(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '['
}

// handleMsg runs the event or the events of one pulled message. Every
// event holds one of the node's slots while it runs.
func (s *Service) handleMsg(ctx context.Context, msg jetstream.Msg) {
	if !isGroup(msg.Data()) {
		env, err := decodeEnvelope(msg.Data())
		if err != nil {
			s.log.Error("drop undecodable async event", "err", err)
			_ = msg.TermWithReason("undecodable")
			return
		}
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-s.slots }()
		s.handle(ctx, msgLease{s: s, msg: msg}, env)
		return
	}
	envs, err := decodeGroup(msg.Data())
	if err != nil {
		s.log.Error("drop undecodable async event group", "err", err)
		_ = msg.TermWithReason("undecodable")
		return
	}
	s.handleGroup(ctx, msg, envs)
}

// handleGroup runs the events of a group message side by side (within the
// node's slots) and acknowledges the message once all are done.
func (s *Service) handleGroup(ctx context.Context, msg jetstream.Msg, envs []*envelope) {
	stop := make(chan struct{})
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(s.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	var (
		wg      sync.WaitGroup
		pending atomic.Int64 // events not finished with ack or later
	)
	pending.Store(int64(len(envs)))
	for _, env := range envs {
		acquired := false
		select {
		case s.slots <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if !acquired {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.slots }()
			s.handle(ctx, &memberLease{s: s, pending: &pending}, env)
		}()
	}
	wg.Wait()
	close(stop)
	<-beat
	if ctx.Err() != nil {
		return // stopping: the group runs again
	}
	if n := pending.Load(); n > 0 {
		s.log.Warn("async event group incomplete; it runs again", "events", len(envs), "unfinished", n)
		_ = msg.NakWithDelay(s.scaled(minBackoff))
		return
	}
	msgLease{s: s, msg: msg}.ack(envs[0])
}

// memberLease is an event of a group message.
type memberLease struct {
	s       *Service
	pending *atomic.Int64
	once    sync.Once
}

func (m *memberLease) finish() { m.once.Do(func() { m.pending.Add(-1) }) }

func (m *memberLease) ack(*envelope) { m.finish() }

// later re-publishes the event as a message of its own, due after d.
func (m *memberLease) later(ctx context.Context, env *envelope, d time.Duration) {
	env.Gen++
	env.NotBefore = m.s.now().Add(d).UnixMilli()
	if err := m.s.publishDirect(ctx, env); err != nil {
		m.s.log.Warn("requeue async event of a group", "request_id", env.RequestID, "err", err)
		return
	}
	m.finish()
}

// inProgress: handleGroup keeps the whole message alive.
func (m *memberLease) inProgress() {}
