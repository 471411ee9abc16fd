package s3

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// bucketCache keeps the bucket records this node has seen, current
// through a watch of the backbone's bucket keys, so that an object
// request does not read its bucket from the backbone. A miss reads the
// backbone. This node's own bucket writes are applied at once; another
// node's arrive with the watch (milliseconds). Revisions order the two:
// an entry is only replaced by a newer one, and a deletion leaves a
// tombstone so that an older write arriving late is ignored.
type bucketCache struct {
	mu      sync.RWMutex
	entries map[string]*bucketRecord // guarded by mu
	deleted map[string]uint64        // guarded by mu: revision of the deletion
}

func newBucketCache() *bucketCache {
	return &bucketCache{entries: map[string]*bucketRecord{}, deleted: map[string]uint64{}}
}

func (c *bucketCache) get(name string) (*bucketRecord, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.entries[name]
	if !ok {
		return nil, false
	}
	cp := *b
	return &cp, true
}

// put records b (at b.rev) unless something newer is known.
func (c *bucketCache) put(b *bucketRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.entries[b.Name]; ok && cur.rev >= b.rev {
		return
	}
	if rev, ok := c.deleted[b.Name]; ok && rev >= b.rev {
		return
	}
	cp := *b
	c.entries[b.Name] = &cp
}

// remove records the deletion of name at rev (0: unknown revision, the
// entry is simply dropped).
func (c *bucketCache) remove(name string, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.entries[name]; ok && (rev == 0 || cur.rev < rev) {
		delete(c.entries, name)
	}
	if rev > c.deleted[name] {
		c.deleted[name] = rev
	}
}

// watch applies the backbone's bucket changes until ctx ends.
func (c *bucketCache) watch(ctx context.Context, st *store.Store) {
	ch, err := st.Watch(ctx, bucketKeyPrefix)
	if err != nil {
		return // reads fall back to the backbone
	}
	for u := range ch {
		name := strings.TrimPrefix(u.Key, bucketKeyPrefix)
		if u.Deleted {
			c.remove(name, u.Revision)
			continue
		}
		var b bucketRecord
		if json.Unmarshal(u.Value, &b) != nil {
			continue
		}
		b.rev = u.Revision
		c.put(&b)
	}
	// The watch ended: forget everything, reads go to the backbone.
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
