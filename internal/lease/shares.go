package lease

// Shares divide a ceiling among the nodes of a cluster: at most N things
// (running invocations of a function, batches of an event source mapping)
// at once, cluster-wide, without asking the backbone for each one.
//
// Each ceiling is a key in a KV bucket whose value is every node's claim:
// {node: {n, want, until, hold}}. A node claims with compare-and-swap on
// the record's revision, granting itself at most what the other nodes'
// live claims leave of the ceiling, so the claims never add up to more
// than it. A claim counts until its until (the writer's clock when it
// sent the write, plus TTL) and then for hold more: the time the things
// it admitted before its claim lapsed may still take to end (a function's
// timeout). The claiming node itself stops admitting at its send time +
// TTL − TTL/5, so what it admitted has ended before anyone else may
// count its share as free. Like leases, this assumes the nodes' clocks
// agree to well within TTL/5.
//
// The bound, then: the things running cluster-wide never exceed the
// ceiling (as long as the ceiling is not lowered under them); capacity
// may be left unused — a node's share idles until its next renewal gives
// it back, a dead or cut-off node's share stays counted for TTL + hold,
// and a node whose claim it cannot renew (no quorum) admits nothing.
//
// Fairness: a node records what it wants beside what it was granted.
// While another live node wants more than it has, a node's grant is
// capped at an even split of the ceiling among the nodes that want some:
// it stops admitting above that split at once, and its written claim
// shrinks to it as what it runs drains (the claim always covers what the
// node runs); a busy node's surplus thus moves to the starved within two
// renewals.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultShareTTL is how long a share claim lasts without renewal.
const DefaultShareTTL = 6 * time.Second

// ShareOptions configure OpenShares.
type ShareOptions struct {
	JetStream jetstream.JetStream // required
	Bucket    string              // required
	// Description of the bucket.
	Description string
	// Replicas of the bucket (0 means 1).
	Replicas int
	// Node names this node in the records.
	Node string
	// TTL of a claim (DefaultShareTTL when zero).
	TTL time.Duration
	// MaxHold is the longest hold a claim may have: the bucket keeps
	// records that long after their last write.
	MaxHold time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// ShareBucket is one node's view of a bucket of shared ceilings.
type ShareBucket struct {
	kv   jetstream.KeyValue
	node string
	ttl  time.Duration
	now  func() time.Time
}

// OpenShares creates (or updates) the bucket of o.Bucket.
func OpenShares(ctx context.Context, o ShareOptions) (*ShareBucket, error) {
	if o.JetStream == nil || o.Bucket == "" {
		return nil, errors.New("lease: shares need JetStream and a bucket")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultShareTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Node == "" {
		o.Node = "local"
	}
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: o.Bucket, Description: o.Description, History: 1, Storage: jetstream.FileStorage,
		TTL: max(4*o.TTL, o.MaxHold+2*o.TTL), Replicas: max(o.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("lease: shares bucket %s: %w", o.Bucket, err)
	}
	return &ShareBucket{kv: kv, node: o.Node, ttl: o.TTL, now: o.Now}, nil
}

// TTL is how long a claim lasts without renewal.
func (b *ShareBucket) TTL() time.Duration { return b.ttl }

// Share is this node's part of the ceiling of key. Its Claim and Release
// are what internal/esm calls Slots.
func (b *ShareBucket) Share(key string, ceiling int) *Share {
	return &Share{b: b, key: key, ceiling: ceiling}
}

// Share is one node's claim on one shared ceiling. Safe for concurrent
// use.
type Share struct {
	b       *ShareBucket
	key     string
	ceiling int

	mu      sync.Mutex
	granted int       // guarded by mu: last written grant
	want    int       // guarded by mu: last written want
	until   time.Time // guarded by mu: when the written claim lapses (zero: none written)
}

type shareClaim struct {
	N     int   `json:"n"`
	Want  int   `json:"want,omitempty"`
	Until int64 `json:"until"`          // Unix ms
	Hold  int64 `json:"hold,omitempty"` // ms after Until the claim still counts
}

// Claim sets this node's share to at most want and returns the share
// granted (what the other nodes' live claims leave of the ceiling; no
// fairness cap, the caller resizes its own work).
func (s *Share) Claim(ctx context.Context, want int) (int, error) {
	g, _, err := s.claim(ctx, want, want, s.ceiling, 0, false)
	return g, err
}

// Release gives this node's share back (bounded: 2 s).
func (s *Share) Release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, _, _ = s.claim(ctx, 0, 0, s.ceiling, 0, false)
}

// claim writes this node's claim: want wanted (floor, what it runs now,
// is covered in any case), under ceiling, counting hold past its lapse.
// It returns how many this node may run (the grant, or less while
// fairness, if asked for, shrinks it) and until when (send time + TTL −
// TTL/5).
func (s *Share) claim(ctx context.Context, want, floor, ceiling int, hold time.Duration, fair bool) (int, time.Time, error) {
	ttl := s.b.ttl
	for range 20 {
		sent := s.b.now()
		nowMS := sent.UnixMilli()
		e, err := s.b.kv.Get(ctx, s.key)
		claims := map[string]shareClaim{}
		var rev uint64
		switch {
		case err == nil:
			rev = e.Revision()
			if json.Unmarshal(e.Value(), &claims) != nil {
				claims = map[string]shareClaim{}
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return 0, time.Time{}, fmt.Errorf("read claims %s: %w", s.key, err)
		}
		others, wanting, starved := 0, 0, false
		for node, c := range claims {
			if node == s.b.node {
				continue
			}
			if c.Until+c.Hold < nowMS {
				delete(claims, node) // lapsed, and what it admitted has ended
				continue
			}
			others += c.N
			if c.Until >= nowMS && max(c.Want, c.N) > 0 {
				wanting++
				starved = starved || c.Want > c.N
			}
		}
		// target is what this node may admit; grant, what it writes,
		// also covers what it runs now (floor) while that drains.
		avail := max(0, ceiling-others)
		target := min(want, avail)
		if fair && starved && want > 0 {
			target = min(target, (ceiling+wanting)/(wanting+1)) // ceil(ceiling / nodes wanting)
		}
		grant := max(target, min(floor, avail))
		s.mu.Lock()
		fresh := !s.until.IsZero() && s.until.Sub(sent) > ttl/2 && s.granted == grant && s.want == want
		valid := s.until.Add(-ttl / 5)
		s.mu.Unlock()
		if c, ok := claims[s.b.node]; fresh && ok && c.N == grant && c.Want == want {
			return target, valid, nil
		}
		until := sent.Add(ttl)
		if grant == 0 && want == 0 {
			delete(claims, s.b.node)
		} else {
			claims[s.b.node] = shareClaim{N: grant, Want: want, Until: until.UnixMilli(), Hold: hold.Milliseconds()}
		}
		b, _ := json.Marshal(claims)
		if rev == 0 {
			_, err = s.b.kv.Create(ctx, s.key, b)
		} else {
			_, err = s.b.kv.Update(ctx, s.key, b, rev)
		}
		if err != nil {
			if ctx.Err() != nil {
				return 0, time.Time{}, fmt.Errorf("write claim %s: %w", s.key, err)
			}
			continue // another node wrote meanwhile: read again
		}
		s.mu.Lock()
		s.granted, s.want, s.until = grant, want, until
		s.mu.Unlock()
		return target, until.Add(-ttl / 5), nil
	}
	return 0, time.Time{}, fmt.Errorf("write claim %s: the record kept changing", s.key)
}
