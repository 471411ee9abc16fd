package lease

// Counters count things used up over a period (an API Gateway usage
// plan's quota: so many requests a day, week or month) across the nodes
// of a cluster, never more than the limit, without a backbone round trip
// for each one.
//
// Each count is a key in a KV bucket whose value is how many have been
// handed out. A node takes a block of what is left with compare-and-swap
// on the key's revision, and spends the block in memory; only when its
// block is used up does it take another. The bound: the things counted
// cluster-wide never exceed the limit; what a node took and did not
// spend (at most one block per node, per key) is lost to the period, so
// a quota may run out up to nodes × block early. Blocks are small (a
// 64th of the limit, at most maxBlock) to keep that loss small.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxBlock is the most a node takes of a count at once.
const maxBlock = 100

// CounterOptions configure OpenCounters.
type CounterOptions struct {
	JetStream jetstream.JetStream // required
	Bucket    string              // required
	// Description of the bucket.
	Description string
	// Replicas of the bucket (0 means 1).
	Replicas int
	// Keep is how long a count is kept after its last change: longer
	// than the longest period its keys count (a month).
	Keep time.Duration
}

// Counters is one node's view of a bucket of counts.
type Counters struct {
	kv jetstream.KeyValue

	mu   sync.Mutex
	keys map[string]*counter // guarded by mu
}

type counter struct {
	mu        sync.Mutex // held while a block is taken (one round trip per key at a time)
	left      int        // guarded by mu: this node's unspent block
	exhausted int        // guarded by mu: the limit the count was found used up at (0: not)
}

// OpenCounters creates (or updates) the bucket.
func OpenCounters(ctx context.Context, o CounterOptions) (*Counters, error) {
	if o.JetStream == nil || o.Bucket == "" {
		return nil, errors.New("lease: counters need JetStream and a bucket")
	}
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: o.Bucket, Description: o.Description, History: 1, Storage: jetstream.FileStorage,
		TTL: o.Keep, Replicas: max(o.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("lease: counters bucket %s: %w", o.Bucket, err)
	}
	return &Counters{kv: kv, keys: map[string]*counter{}}, nil
}

// Take counts one under key's limit; false when the limit is reached
// cluster-wide (or the backbone cannot be written: a node that cannot
// count refuses rather than overshoot). key names the count and its
// period (a new period is a new key): letters, digits, '-', '_', '.'
// and '/' only.
func (c *Counters) Take(ctx context.Context, key string, limit int) bool {
	if limit <= 0 {
		return false
	}
	c.mu.Lock()
	k := c.keys[key]
	if k == nil {
		k = &counter{}
		c.keys[key] = k
	}
	c.mu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.left > 0 {
		k.left--
		return true
	}
	if k.exhausted == limit {
		return false
	}
	got, err := c.takeBlock(ctx, key, limit)
	if err != nil || got == 0 {
		if err == nil {
			k.exhausted = limit
		}
		return false
	}
	k.exhausted = 0
	k.left = got - 1
	return true
}

// takeBlock adds a block to key's count with compare-and-swap and
// returns its size (0: the count has reached limit).
func (c *Counters) takeBlock(ctx context.Context, key string, limit int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for range 20 {
		used, rev := 0, uint64(0)
		e, err := c.kv.Get(ctx, key)
		switch {
		case err == nil:
			rev = e.Revision()
			if used, err = strconv.Atoi(string(e.Value())); err != nil {
				return 0, fmt.Errorf("count %s: damaged value %q", key, e.Value())
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return 0, fmt.Errorf("read count %s: %w", key, err)
		}
		left := limit - used
		if left <= 0 {
			return 0, nil
		}
		block := min(left, max(1, min(limit/64, maxBlock)))
		val := []byte(strconv.Itoa(used + block))
		if rev == 0 {
			_, err = c.kv.Create(ctx, key, val)
		} else {
			_, err = c.kv.Update(ctx, key, val, rev)
		}
		if err == nil {
			return block, nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("write count %s: %w", key, err)
		}
	}
	return 0, fmt.Errorf("write count %s: the count kept changing", key)
}

// Used is how many of key's count the cluster has handed out (blocks
// included, spent or not).
func (c *Counters) Used(ctx context.Context, key string) (int, error) {
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(e.Value()))
}
