package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Events are kept in two values per stack so that recording one rewrites
// a small value: the latest (at most recentEvents) under keyEvents, and
// the older ones (at most maxEvents in all, and maxEventBytes) under
// keyOldEvents, which is rewritten once every spillEvents events.
const (
	// maxEvents bounds the events kept per stack; older ones are dropped.
	maxEvents = 1000
	// recentEvents is the most events the latest value holds; past it,
	// all but the newest recentEvents-spillEvents move to the older value.
	recentEvents = 100
	spillEvents  = 50
	// maxEventBytes bounds the older value, under the store's value limit.
	maxEventBytes = 768 << 10
	// maxEventProps bounds the ResourceProperties kept in one event.
	maxEventProps = 4 << 10
)

func (s *Service) readEvents(ctx context.Context, key string) ([]Event, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get stack events %s: %w", key, err)
	}
	var evs []Event
	if err := json.Unmarshal(e.Value, &evs); err != nil {
		return nil, 0, fmt.Errorf("decode stack events %s: %w", key, err)
	}
	return evs, e.Revision, nil
}

func (s *Service) writeEvents(ctx context.Context, key string, evs []Event, rev uint64) error {
	b, err := json.Marshal(evs)
	for err == nil && len(b) > maxEventBytes && len(evs) > 1 {
		evs = evs[:len(evs)*3/4]
		b, err = json.Marshal(evs)
	}
	if err != nil {
		return fmt.Errorf("encode stack events %s: %w", key, err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, b)
	} else {
		_, err = s.kv.Update(ctx, key, b, rev)
	}
	return err
}

// events returns the events of stack id, newest first.
func (s *Service) events(ctx context.Context, id string) ([]Event, error) {
	recent, _, err := s.readEvents(ctx, keyEvents+id)
	if err != nil {
		return nil, err
	}
	old, _, err := s.readEvents(ctx, keyOldEvents+id)
	if err != nil {
		return nil, err
	}
	// An event may be in both after a spill that lost a race (addEvents).
	seen := make(map[string]bool, len(recent))
	out := make([]Event, 0, len(recent)+len(old))
	for _, e := range recent {
		seen[e.EventID] = true
		out = append(out, e)
	}
	for _, e := range old {
		if !seen[e.EventID] && len(out) < maxEvents {
			out = append(out, e)
		}
	}
	return out, nil
}

// addEvents records evs (oldest first) as the newest events of stack id.
func (s *Service) addEvents(ctx context.Context, id string, evs ...Event) error {
	for range 10 {
		recent, rev, err := s.readEvents(ctx, keyEvents+id)
		if err != nil {
			return err
		}
		all := make([]Event, 0, len(recent)+len(evs))
		for i := len(evs) - 1; i >= 0; i-- {
			all = append(all, evs[i])
		}
		all = append(all, recent...)
		if len(all) > recentEvents {
			keep := recentEvents - spillEvents
			if err := s.spillEvents(ctx, id, all[keep:]); err != nil {
				return err
			}
			all = all[:keep]
		}
		err = s.writeEvents(ctx, keyEvents+id, all, rev)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("save stack events %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("save stack events %s: too many conflicts", id)
}

// spillEvents prepends evs (newest first) to the older events of stack id,
// skipping those already there.
func (s *Service) spillEvents(ctx context.Context, id string, evs []Event) error {
	for range 10 {
		old, rev, err := s.readEvents(ctx, keyOldEvents+id)
		if err != nil {
			return err
		}
		have := make(map[string]bool, len(old))
		for _, e := range old {
			have[e.EventID] = true
		}
		all := make([]Event, 0, len(evs)+len(old))
		for _, e := range evs {
			if !have[e.EventID] {
				all = append(all, e)
			}
		}
		all = append(all, old...)
		if len(all) > maxEvents-recentEvents+spillEvents {
			all = all[:maxEvents-recentEvents+spillEvents]
		}
		err = s.writeEvents(ctx, keyOldEvents+id, all, rev)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("save older stack events %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("save older stack events %s: too many conflicts", id)
}
