package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxKeyLen bounds keys and prefixes; NATS subjects travel in a control
// line of limited size.
const maxKeyLen = 1024

// validKey checks that key may be stored: 1..1024 bytes of ASCII
// letters, digits and "-_.=", not starting or ending with "." and without
// an empty "." segment (each segment is a NATS subject token).
func validKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if err := validKeyChars(key); err != nil {
		return err
	}
	if key[len(key)-1] == '.' {
		return fmt.Errorf("%w %q: ends with '.'", ErrInvalidKey, key)
	}
	return nil
}

// validPrefix checks a Keys/Watch prefix: like a key, but it may be empty
// and may end with ".".
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return validKeyChars(prefix)
}

func validKeyChars(s string) error {
	if len(s) > maxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKeyLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '=':
		case c == '.':
			if i == 0 {
				return fmt.Errorf("%w %q: starts with '.'", ErrInvalidKey, s)
			}
			if s[i-1] == '.' {
				return fmt.Errorf("%w %q: empty segment", ErrInvalidKey, s)
			}
		default:
			return fmt.Errorf("%w %q: byte %q at %d (allowed: letters, digits, -_.=)", ErrInvalidKey, s, c, i)
		}
	}
	return nil
}

// prefixFilter returns the NATS subject filter (relative to the bucket)
// that matches every key starting with prefix: the prefix up to its last
// ".", then ">". Keys are then matched by strings.HasPrefix. prefix must be
// valid.
func prefixFilter(prefix string) string {
	i := strings.LastIndexByte(prefix, '.')
	if i < 0 {
		return jetstream.AllKeys
	}
	return prefix[:i+1] + jetstream.AllKeys
}

// KV is the key-value part of the backbone that most services keep their
// state in; *Store implements it. Errors wrap ErrNotFound, ErrExists and
// ErrConflict. A service takes a KV rather than a *Store so that a test
// can wrap one (to lag a read, say).
type KV interface {
	Get(ctx context.Context, key string) (Entry, error)
	Create(ctx context.Context, key string, val []byte) (uint64, error)
	Update(ctx context.Context, key string, val []byte, lastRev uint64) (uint64, error)
	Delete(ctx context.Context, key string, lastRev uint64) error
	Keys(ctx context.Context, prefix string) ([]string, error)
}

func checkValue(key string, val []byte) error {
	if len(val) > MaxValueSize {
		return fmt.Errorf("value of %s is %d bytes, more than %d", key, len(val), MaxValueSize)
	}
	return nil
}

// Get returns key's current value, or an error wrapping ErrNotFound if the
// key is absent or deleted.
func (s *Store) Get(ctx context.Context, key string) (Entry, error) {
	if err := validKey(key); err != nil {
		return Entry{}, fmt.Errorf("get: %w", err)
	}
	e, err := s.current(ctx, key)
	if err != nil {
		return Entry{}, fmt.Errorf("get %s: %w", key, err)
	}
	return e, nil
}

// current reads key's live value: on a cluster from the state bucket's
// stream leader (leaderGet), so that a node sees every write it has had
// acknowledged; on one node from the bucket. The error wraps ErrNotFound
// for an absent or deleted key; a backbone failure that passes (no
// leader yet) is Unavailable, after waiting up to leaderWait for one.
func (s *Store) current(ctx context.Context, key string) (Entry, error) {
	if s.leaderReads {
		var deleted bool
		e, err := retryLeaderless(ctx, s.leaderReads, func() (e Entry, err error) {
			e, deleted, err = s.leaderGet(ctx, key)
			return e, err
		})
		if err == nil && deleted {
			err = ErrNotFound
		}
		return e, Unavailable(err)
	}
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Entry{}, ErrNotFound
		}
		return Entry{}, Unavailable(err)
	}
	return Entry{Key: key, Value: e.Value(), Revision: e.Revision()}, nil
}

// Create stores key only if it is absent (never written, or deleted) and
// returns the new revision. It returns an error wrapping ErrExists if the
// key has a value.
func (s *Store) Create(ctx context.Context, key string, val []byte) (uint64, error) {
	if err := validKey(key); err != nil {
		return 0, fmt.Errorf("create: %w", err)
	}
	if err := checkValue(key, val); err != nil {
		return 0, fmt.Errorf("create: %w", err)
	}
	if err := s.StorageErr(); err != nil {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	if err := s.majority(); err != nil {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	var rev uint64
	var err error
	if s.leaderReads {
		rev, err = s.clusterCreate(ctx, key, val)
	} else {
		rev, err = retryLeaderless(ctx, s.leaderReads, func() (uint64, error) { return s.kv.Create(ctx, key, val) })
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("create %s: %w", key, ErrExists)
		}
		return 0, fmt.Errorf("create %s: %w", key, s.writeErr(err))
	}
	return rev, nil
}

// clusterCreate is jetstream's KeyValue.Create with its check read from
// the stream leader. Create writes with "no message on this key yet"; when
// that fails because the key's last message is a delete marker it writes
// again over the marker's revision, and nats.go reads that marker with a
// direct get, which this node's replica answers: a replica that has not
// applied a delete this node just made still shows the old value, and
// the create of a key deleted a moment ago failed with "exists".
func (s *Store) clusterCreate(ctx context.Context, key string, val []byte) (uint64, error) {
	rev, err := retryLeaderless(ctx, s.leaderReads, func() (uint64, error) { return s.kv.Update(ctx, key, val, 0) })
	if err == nil || !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return rev, err
	}
	e, deleted, gerr := s.leaderGet(ctx, key)
	if gerr != nil || !deleted {
		return 0, jetstream.ErrKeyExists
	}
	rev, err = s.kv.Update(ctx, key, val, e.Revision)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, jetstream.ErrKeyExists // created (or changed) meanwhile
	}
	return rev, err
}

// Update replaces key's value if its current revision is lastRev and
// returns the new revision. It returns an error wrapping ErrNotFound if
// the key is absent or deleted, and ErrConflict if the revision differs.
func (s *Store) Update(ctx context.Context, key string, val []byte, lastRev uint64) (uint64, error) {
	if err := validKey(key); err != nil {
		return 0, fmt.Errorf("update: %w", err)
	}
	if err := checkValue(key, val); err != nil {
		return 0, fmt.Errorf("update: %w", err)
	}
	if err := s.majority(); err != nil {
		return 0, fmt.Errorf("update %s: %w", key, err)
	}
	// Read first: a revision CAS alone would accept the revision of a
	// delete marker (seen by Watch) and resurrect the key, and lastRev 0
	// would mean "create".
	if err := s.expectRevision(ctx, "update", key, lastRev); err != nil {
		return 0, err
	}
	if err := s.StorageErr(); err != nil {
		return 0, fmt.Errorf("update %s: %w", key, err)
	}
	rev, err := retryLeaderless(ctx, s.leaderReads, func() (uint64, error) { return s.kv.Update(ctx, key, val, lastRev) })
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, s.classifyMismatch(ctx, "update", key)
		}
		return 0, fmt.Errorf("update %s: %w", key, s.writeErr(err))
	}
	return rev, nil
}

// Delete removes key (keeping one delete marker, no history). With lastRev
// 0 it is unconditional and deleting an absent key is a no-op. Otherwise it
// returns an error wrapping ErrConflict if the current revision differs,
// and ErrNotFound if the key is absent or deleted.
func (s *Store) Delete(ctx context.Context, key string, lastRev uint64) error {
	if err := validKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := s.majority(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if lastRev == 0 {
		if _, err := s.current(ctx, key); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return fmt.Errorf("delete %s: %w", key, err)
		}
		if err := s.purge(ctx, key); err != nil {
			return fmt.Errorf("delete %s: %w", key, s.writeErr(err))
		}
		return nil
	}
	if err := s.expectRevision(ctx, "delete", key, lastRev); err != nil {
		return err
	}
	if err := s.purge(ctx, key, jetstream.LastRevision(lastRev)); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return s.classifyMismatch(ctx, "delete", key)
		}
		return fmt.Errorf("delete %s: %w", key, s.writeErr(err))
	}
	return nil
}

// purge is the bucket's Purge, waiting for a stream leader up to
// leaderWait.
func (s *Store) purge(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	_, err := retryLeaderless(ctx, s.leaderReads, func() (struct{}, error) { return struct{}{}, s.kv.Purge(ctx, key, opts...) })
	return err
}

// expectRevision checks that key has a live value at revision rev. It
// reads as Get does (from the leader on a cluster): a local replica that
// lags would call a key this node has just created absent, and an
// update right after the create (CreateFunction, then
// PutFunctionConcurrency on the same node) answered 404.
func (s *Store) expectRevision(ctx context.Context, op, key string, rev uint64) error {
	e, err := s.current(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	case err != nil:
		return fmt.Errorf("%s %s: %w", op, key, err)
	case e.Revision != rev:
		return fmt.Errorf("%s %s: revision is %d, not %d: %w", op, key, e.Revision, rev, ErrConflict)
	}
	return nil
}

// classifyMismatch turns a failed revision CAS into ErrNotFound (the key
// was deleted meanwhile) or ErrConflict.
func (s *Store) classifyMismatch(ctx context.Context, op, key string) error {
	if _, err := s.current(ctx, key); errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, ErrConflict)
}

// Keys returns the live keys that start with prefix (a plain string
// prefix: "fn.a" matches "fn.a" and "fn.ab"), sorted. It returns an empty,
// non-nil slice when there are none.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	w, err := s.kv.WatchFiltered(ctx, []string{prefixFilter(prefix)},
		jetstream.IgnoreDeletes(), jetstream.MetaOnly())
	if err != nil {
		return nil, fmt.Errorf("keys %q: %w", prefix, err)
	}
	defer stopWatcher(w)

	keys := []string{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("keys %q: watch ended early: %w", prefix, nats.ErrConnectionClosed)
			}
			if e == nil { // all current values seen
				slices.Sort(keys)
				return slices.Compact(keys), nil
			}
			if strings.HasPrefix(e.Key(), prefix) {
				keys = append(keys, e.Key())
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("keys %q: %w", prefix, ctx.Err())
		}
	}
}

// Watch reports the current value of every live key that starts with
// prefix (a plain string prefix, as for Keys), then every later change in
// revision order: puts, and deletes with Deleted set and no Value. Keys
// deleted before the call are not reported. The channel is closed when ctx
// ends or the store closes, and (logged as a warning) if the subscription
// fails. Keep reading until then: a slow reader holds up delivery.
//
// No marker separates the current values from later changes; a reader
// that needs to apply changes idempotently can compare revisions.
func (s *Store) Watch(ctx context.Context, prefix string) (<-chan Update, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("watch %q: %w", prefix, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("watch %q: %w", prefix, nats.ErrConnectionClosed)
	}
	s.watchers.Add(1)
	s.mu.Unlock()

	w, err := s.kv.WatchFiltered(ctx, []string{prefixFilter(prefix)})
	if err != nil {
		s.watchers.Done()
		return nil, fmt.Errorf("watch %q: %w", prefix, err)
	}
	out := make(chan Update, 64)
	go func() {
		defer s.watchers.Done()
		defer close(out)
		defer stopWatcher(w)
		s.forward(ctx, prefix, w, out)
	}()
	return out, nil
}

func (s *Store) forward(ctx context.Context, prefix string, w jetstream.KeyWatcher, out chan<- Update) {
	initial := true
	for {
		var e jetstream.KeyValueEntry
		select {
		case ev, ok := <-w.Updates():
			if !ok {
				s.log.Warn("watch ended by subscription", "prefix", prefix)
				return
			}
			e = ev
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		}
		if e == nil {
			initial = false
			continue
		}
		if !strings.HasPrefix(e.Key(), prefix) {
			continue
		}
		deleted := e.Operation() != jetstream.KeyValuePut
		if deleted && initial {
			continue // a marker of a key deleted before the watch began
		}
		u := Update{Key: e.Key(), Revision: e.Revision(), Deleted: deleted}
		if !deleted {
			u.Value = e.Value()
		}
		select {
		case out <- u:
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		}
	}
}

// stopWatcher unsubscribes w and drains its channel until nats.go closes
// it, so that its delivery goroutine, which blocks on a full channel,
// always exits.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop() // fails only if already stopped or the connection is closed
	for range w.Updates() {
	}
}
