package lease

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Tokens count things admitted under shared ceilings (a function's
// reserved concurrency, the account's unreserved concurrency) on one
// node. TryTake admits from the node's share without touching the
// backbone; only when the share is used up (or lapsed) does Take claim
// more, and Run renews the shares in use every TTL/3, shrinking each to
// what its key used since the last renewal.
//
//	key's share:  TryTake ok while used < granted and now < valid
//	              used = granted ─► Take: claim(used+1+used/2) ─► granted'
//	              every TTL/3: claim(max(used, peak)) ─► granted', valid'
//	              while a claim is in flight, admissions stop at its floor
type Tokens struct {
	b   *ShareBucket
	log *slog.Logger

	mu   sync.Mutex
	keys map[string]*tokenKey // guarded by mu
}

type tokenKey struct {
	share   *Share
	ceiling int
	hold    time.Duration
	used    int       // things admitted, not yet put back
	peak    int       // most used since the last renewal
	granted int       // the share written
	valid   time.Time // admissions stop then unless renewed
	// claiming is closed when the claim in flight ends (nil: none);
	// while it is in flight admissions stop at capAt (its floor).
	claiming chan struct{}
	capAt    int
}

// NewTokens counts tokens of the ceilings in b.
func NewTokens(b *ShareBucket, log *slog.Logger) *Tokens {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tokens{b: b, log: log.With("component", "shares"), keys: map[string]*tokenKey{}}
}

func (t *Tokens) keyLocked(key string, ceiling int, hold time.Duration) *tokenKey {
	k := t.keys[key]
	if k == nil {
		k = &tokenKey{share: t.b.Share(key, ceiling)}
		t.keys[key] = k
	}
	k.ceiling = ceiling
	k.hold = max(k.hold, hold)
	return k
}

func (k *tokenKey) takeLocked(now time.Time) bool {
	limit := min(k.granted, k.ceiling)
	if k.claiming != nil {
		limit = min(limit, k.capAt)
	}
	if k.used >= limit || !now.Before(k.valid) {
		return false
	}
	k.used++
	k.peak = max(k.peak, k.used)
	return true
}

// TryTake takes a token of key from this node's share without waiting;
// ceiling is the key's cluster-wide limit and hold how long a thing
// admitted now may run.
func (t *Tokens) TryTake(key string, ceiling int, hold time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keyLocked(key, ceiling, hold).takeLocked(t.b.now())
}

// Take takes a token of key, claiming a larger share over the backbone
// when this node's is used up. False: the ceiling is reached (or the
// backbone cannot be written, as on the minority side of a partition).
func (t *Tokens) Take(ctx context.Context, key string, ceiling int, hold time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for range 3 {
		t.mu.Lock()
		k := t.keyLocked(key, ceiling, hold)
		if k.takeLocked(t.b.now()) {
			t.mu.Unlock()
			return true
		}
		if ch := k.claiming; ch != nil {
			t.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return false
			}
		}
		if k.used >= ceiling {
			t.mu.Unlock()
			return false
		}
		want := min(ceiling, k.used+1+k.used/2)
		t.claimLocked(ctx, k, want)
		ok := k.takeLocked(t.b.now())
		t.mu.Unlock()
		return ok
	}
	return false
}

// claimLocked writes k's claim (t.mu is released during the write and
// held again on return). Admissions stop at the floor, what k uses now,
// until it ends.
func (t *Tokens) claimLocked(ctx context.Context, k *tokenKey, want int) {
	ch := make(chan struct{})
	k.claiming, k.capAt = ch, k.used
	floor, ceiling, hold := k.used, k.ceiling, k.hold+t.b.ttl
	want = max(want, floor)
	t.mu.Unlock()
	g, valid, err := k.share.claim(ctx, want, floor, ceiling, hold, true)
	t.mu.Lock()
	k.claiming = nil
	close(ch)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Warn("cannot claim a share of a cluster-wide limit", "key", k.share.key, "err", err)
		}
		return
	}
	k.granted, k.valid = g, valid
}

// Put gives back a token TryTake or Take took.
func (t *Tokens) Put(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k := t.keys[key]; k != nil && k.used > 0 {
		k.used--
	}
}

// Run renews the shares in use every TTL/3 until ctx ends, then gives
// them back (bounded: 2 s in all). Call it after nothing takes tokens
// any more, or give the shares back later: a share given back while its
// tokens are still out lets the ceiling be exceeded.
func (t *Tokens) Run(ctx context.Context) {
	tick := time.NewTicker(t.b.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.release()
			return
		case <-tick.C:
		}
		t.renew(ctx)
	}
}

func (t *Tokens) renew(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.keys))
	for key := range t.keys {
		keys = append(keys, key)
	}
	for _, key := range keys {
		k := t.keys[key]
		if k == nil || k.claiming != nil {
			continue
		}
		want := max(k.used, k.peak)
		k.peak = k.used
		if want == 0 && k.granted == 0 {
			delete(t.keys, key)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		t.claimLocked(cctx, k, want)
		cancel()
	}
}

func (t *Tokens) release() {
	t.mu.Lock()
	shares := make([]*Share, 0, len(t.keys))
	for _, k := range t.keys {
		shares = append(shares, k.share)
	}
	t.keys = map[string]*tokenKey{}
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range shares {
		_, _, _ = s.claim(ctx, 0, 0, s.ceiling, 0, false)
	}
}
