package apigw

import (
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// maxCacheEntries bounds each cache; expired entries are dropped first,
// then the oldest.
const maxCacheEntries = 10000

// ttlCache is a bounded map of entries with expiry times.
type ttlCache[V any] struct {
	mu sync.Mutex
	m  map[string]ttlEntry[V] // guarded by mu
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any]() *ttlCache[V] { return &ttlCache[V]{m: map[string]ttlEntry[V]{}} }

func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.expires) {
		delete(c.m, key)
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(key string, v V, expires time.Time, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCacheEntries {
		var oldest string
		var oldestAt time.Time
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
				continue
			}
			if oldest == "" || e.expires.Before(oldestAt) {
				oldest, oldestAt = k, e.expires
			}
		}
		if len(c.m) >= maxCacheEntries {
			delete(c.m, oldest)
		}
	}
	c.m[key] = ttlEntry[V]{v: v, expires: expires}
}

// flush drops every entry whose key starts with prefix.
func (c *ttlCache[V]) flush(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(c.m, k)
		}
	}
}

// respCache is the REST stage caches: responses by stage and cache key.
type respCache = ttlCache[*httpevent.Response]

func newRespCache() *respCache { return newTTLCache[*httpevent.Response]() }

// authzCache holds Lambda authorizer decisions by authorizer and identity.
type authzCache = ttlCache[*authzResult]

func newAuthzCache() *authzCache { return newTTLCache[*authzResult]() }
