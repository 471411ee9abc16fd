package sfn

import "sync"

// journalCache keeps the journals this node read or wrote lately, so a
// run reads only the messages appended since (a Standard execution is
// replayed at every run: without it, a parent woken once per child of a
// Map Run, or per callback, read its whole history each time, which made
// a run of n children cost O(n²) backbone reads). Journal messages are
// immutable and a subject's sequence only grows, so a cached prefix
// stays true; what others appended is read after it. Events in the cache
// are shared with the journals that load them and are never changed
// (a journal changes only its own pending events, before they are
// stored). Bounded by maxCacheBytes of message data; the least recently
// used journals go first.
type journalCache struct {
	mu      sync.Mutex
	entries map[string]*cachedJournal // guarded by mu
	bytes   int                       // guarded by mu
	clock   uint64                    // guarded by mu
	max     int
}

type cachedJournal struct {
	evs  []*Event
	pos  uint64
	size int
	used uint64
}

// maxCacheBytes bounds the journals kept (their messages' sizes).
const maxCacheBytes = 64 << 20

func newJournalCache(max int) *journalCache {
	return &journalCache{entries: map[string]*cachedJournal{}, max: max}
}

// get returns a copy of the cached journal of subject (its events slice
// may be appended to by the caller without touching the cache's).
func (c *journalCache) get(subject string) (cachedJournal, bool) {
	if c == nil {
		return cachedJournal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[subject]
	if !ok {
		return cachedJournal{}, false
	}
	c.clock++
	e.used = c.clock
	return cachedJournal{evs: e.evs[:len(e.evs):len(e.evs)], pos: e.pos, size: e.size}, true
}

// put records subject's journal up to pos, unless a longer one is
// cached.
func (c *journalCache) put(subject string, evs []*Event, pos uint64, size int) {
	if c == nil || size > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[subject]; ok {
		if e.pos >= pos {
			return
		}
		c.bytes -= e.size
	}
	c.clock++
	c.entries[subject] = &cachedJournal{evs: evs[:len(evs):len(evs)], pos: pos, size: size, used: c.clock}
	c.bytes += size
	c.evict()
}

// extend adds events a journal appended at seq after last, if the cache
// holds that journal up to last.
func (c *journalCache) extend(subject string, last uint64, evs []*Event, seq uint64, size int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[subject]
	if !ok || e.pos != last || e.size+size > c.max/4 {
		return
	}
	all := make([]*Event, 0, len(e.evs)+len(evs))
	all = append(append(all, e.evs...), evs...)
	c.clock++
	e.evs, e.pos, e.size, e.used = all, seq, e.size+size, c.clock
	c.bytes += size
	c.evict()
}

// drop forgets subject's journal (its execution ended).
func (c *journalCache) drop(subject string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[subject]; ok {
		c.bytes -= e.size
		delete(c.entries, subject)
	}
}

// evict removes the least recently used journals until the cache fits.
func (c *journalCache) evict() {
	for c.bytes > c.max && len(c.entries) > 0 {
		var oldest string
		var at uint64
		for k, e := range c.entries {
			if oldest == "" || e.used < at {
				oldest, at = k, e.used
			}
		}
		c.bytes -= c.entries[oldest].size
		delete(c.entries, oldest)
	}
}
