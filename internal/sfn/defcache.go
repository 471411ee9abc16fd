package sfn

import "sync"

// defCache keeps the definitions this node parsed lately, so an execution
// does not parse its machine's definition again: for a StartSyncExecution
// of a long chain the parse cost more than the run (a 1,000-state chain:
// 57% of the request). A parsed Definition is never changed by a run
// (values are copied on write, compiled paths and expressions are
// read-only), so executions share it. Keyed by the text and the machine
// type (Parse's arguments); only definitions that parse are kept.
type defCache struct {
	mu    sync.Mutex
	m     map[defKey]*Definition // guarded by mu
	bytes int                    // guarded by mu: the keys' text
	max   int
}

type defKey struct {
	text    string
	express bool
}

// maxDefCacheBytes bounds the cached definitions' text (a parsed
// definition takes a few times its text).
const maxDefCacheBytes = 8 << 20

func newDefCache(maxBytes int) *defCache {
	return &defCache{m: map[defKey]*Definition{}, max: maxBytes}
}

// parse is Parse(text, express), from the cache when it was parsed before.
func (c *defCache) parse(text string, express bool) (*Definition, error) {
	if c == nil || len(text) > c.max {
		return Parse(text, express)
	}
	k := defKey{text, express}
	c.mu.Lock()
	d := c.m[k]
	c.mu.Unlock()
	if d != nil {
		return d, nil
	}
	d, err := Parse(text, express)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		// Past the budget, forget arbitrary entries (map order): the
		// cache is a shortcut, any entry can be parsed again.
		for old := range c.m {
			if c.bytes+len(text) <= c.max {
				break
			}
			delete(c.m, old)
			c.bytes -= len(old.text)
		}
		c.m[k] = d
		c.bytes += len(text)
	}
	return d, nil
}
