package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// maxAttempts bounds the read-modify-write retries of one change. Writers
// on one node queue on fnLocks, so conflicts come only from other nodes;
// past this many the caller gets ResourceConflictException, as AWS answers
// concurrent updates of one function.
const maxAttempts = 16

// conflictBackoff waits a random moment (up to 2 ms) after a lost CAS, so
// writers on different nodes that keep colliding fall out of step.
func conflictBackoff(ctx context.Context) error {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(2 * time.Millisecond)))) // #nosec G404 -- jitter, not a secret
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errNoChange from a mutation means: nothing to write, answer success.
var errNoChange = errors.New("no change")

// readRecord reads fn.<name> from the store.
func (r *Registry) readRecord(ctx context.Context, name string) (*record, uint64, error) {
	e, err := r.st.Get(ctx, fnKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, r.functionNotFound(name, "")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read function %s: %w", name, err)
	}
	rec := new(record)
	if err := json.Unmarshal(e.Value, rec); err != nil {
		return nil, 0, fmt.Errorf("decode function %s: %w", name, err)
	}
	return rec, e.Revision, nil
}

// mutate applies change to the current record of name and writes it back
// with a revision check, retrying on conflict. change may return
// errNoChange (nothing is written, the record is returned) or a client
// error. It returns the record as written (owned by the cache: read only).
func (r *Registry) mutate(ctx context.Context, name string, change func(rec *record) error) (*record, error) {
	unlock := r.lockFunction(name)
	defer unlock()
	for range maxAttempts {
		rec, rev, err := r.readRecord(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := change(rec); errors.Is(err, errNoChange) {
			return rec, nil
		} else if err != nil {
			return nil, err
		}
		val, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("encode function %s: %w", name, err)
		}
		newRev, err := r.st.Update(ctx, fnKey(name), val, rev)
		switch {
		case errors.Is(err, store.ErrConflict):
			if err := conflictBackoff(ctx); err != nil {
				return nil, err
			}
			continue
		case errors.Is(err, store.ErrNotFound):
			return nil, r.functionNotFound(name, "")
		case err != nil:
			return nil, fmt.Errorf("write function %s: %w", name, err)
		}
		r.cache.putRecord(name, rec, newRev)
		return rec, nil
	}
	return nil, errdefs.Conflict("The operation cannot be performed at this time. An update is in progress for resource: %s", r.arn(name, ""))
}

// writeVersion stores the configuration of version n, whose number the
// record has already reserved. A leftover key of a function deleted before
// under the same name is overwritten: the reservation makes n ours.
func (r *Registry) writeVersion(ctx context.Context, name string, n int, cfg *function.Config) error {
	val, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode version %s:%d: %w", name, n, err)
	}
	key := verKey(name, n)
	for range maxAttempts {
		rev, err := r.st.Create(ctx, key, val)
		if errors.Is(err, store.ErrExists) {
			e, gerr := r.st.Get(ctx, key)
			if errors.Is(gerr, store.ErrNotFound) {
				continue
			}
			if gerr != nil {
				return fmt.Errorf("write version %s:%d: %w", name, n, gerr)
			}
			rev, err = r.st.Update(ctx, key, val, e.Revision)
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("write version %s:%d: %w", name, n, err)
		}
		r.cache.putVersion(name, n, cfg, rev)
		return nil
	}
	return fmt.Errorf("write version %s:%d: too many conflicts", name, n)
}

// deleteVersionKey removes ver.<name>.<n> if present.
func (r *Registry) deleteVersionKey(ctx context.Context, name string, n int) error {
	key := verKey(name, n)
	for range maxAttempts {
		e, err := r.st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete version %s:%d: %w", name, n, err)
		}
		err = r.st.Delete(ctx, key, e.Revision)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete version %s:%d: %w", name, n, err)
		}
		r.cache.dropVersion(name, n, e.Revision)
		return nil
	}
	return fmt.Errorf("delete version %s:%d: too many conflicts", name, n)
}

// putCode stores a code package; the caller holds its lock.
func (r *Registry) putCode(ctx context.Context, sha string, zip []byte) error {
	key := function.CodeKey(sha)
	if err := r.st.PutCode(ctx, key, zip); err != nil {
		return fmt.Errorf("store code %s: %w", key, err)
	}
	return nil
}

// gcCode deletes the code package sha if nothing references it any more.
// Failures are logged: a leftover package costs space, not correctness.
func (r *Registry) gcCode(ctx context.Context, sha string) {
	key := function.CodeKey(sha)
	if key == "" {
		return
	}
	defer r.lockCode(key)()
	r.gcCodeLocked(ctx, sha)
}

func (r *Registry) gcCodeLocked(ctx context.Context, sha string) {
	if r.cache.codeReferenced(sha) {
		return
	}
	key := function.CodeKey(sha)
	if err := r.st.DeleteCode(ctx, key); err != nil && !errors.Is(err, store.ErrNotFound) {
		r.log.Warn("delete unused code package", "code_key", key, "err", err)
	}
}

// clone returns a deep copy of cfg that the caller may change.
func clone(cfg *function.Config) *function.Config {
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("registry: encode config: %v", err)) // plain data: cannot fail
	}
	out := new(function.Config)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("registry: decode config: %v", err))
	}
	return out
}

func cloneAlias(a *function.Alias) *function.Alias {
	out := *a
	if a.RoutingConfig != nil {
		w := make(map[string]float64, len(a.RoutingConfig.AdditionalVersionWeights))
		for k, v := range a.RoutingConfig.AdditionalVersionWeights {
			w[k] = v
		}
		out.RoutingConfig = &function.RoutingConfig{AdditionalVersionWeights: w}
	}
	return &out
}
