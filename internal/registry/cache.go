package registry

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

const (
	fnPrefix  = "fn."
	verPrefix = "ver."
)

func fnKey(name string) string { return fnPrefix + name }

func verKey(name string, n int) string { return verPrefix + name + "." + strconv.Itoa(n) }

func verKeyPrefix(name string) string { return verPrefix + name + "." }

// record is the value of fn.<name>.
type record struct {
	Latest      function.Config            `json:"latest"`
	Tags        map[string]string          `json:"tags,omitempty"`
	LastVersion int                        `json:"lastVersion"`
	Versions    []int                      `json:"versions,omitempty"` // ascending
	Aliases     map[string]*function.Alias `json:"aliases,omitempty"`
	// PublishedFrom is latestDigest of $LATEST when version LastVersion
	// was published: PublishVersion publishes again only when $LATEST
	// has changed since (its description included). Empty in records
	// written before it existed.
	PublishedFrom string `json:"publishedFrom,omitempty"`
	// URLs are the function URL configurations by qualifier ($LATEST or
	// an alias name); see urls.go.
	URLs map[string]*function.URLConfig `json:"urls,omitempty"`
	// EventInvokeConfigs are the asynchronous-invocation settings by
	// qualifier ($LATEST, a version number or an alias name).
	EventInvokeConfigs map[string]*function.EventInvokeConfig `json:"eventInvokeConfigs,omitempty"`
	// Policies are the resource policies by qualifier; see policy.go.
	Policies map[string]*policy `json:"policies,omitempty"`
	// Reserved is the function's reserved concurrency (nil: none).
	Reserved *int `json:"reserved,omitempty"`
	// Provisioned holds the provisioned concurrency configurations by
	// qualifier (a version number or an alias name).
	Provisioned map[string]*Provisioned `json:"provisioned,omitempty"`
}

func (rec *record) hasVersion(n int) bool {
	for _, v := range rec.Versions {
		if v == n {
			return true
		}
	}
	return false
}

// fnEntry is a cached record; rec is never modified once cached.
type fnEntry struct {
	rec *record
	rev uint64
}

// cache mirrors the store's fn. and ver. keys. Records and configurations
// in it are immutable: a change replaces the pointer.
type cache struct {
	mu   sync.RWMutex
	fns  map[string]*fnEntry                 // guarded by mu
	vers map[string]map[int]*function.Config // guarded by mu
	revs map[string]uint64                   // guarded by mu; key -> newest revision applied, deletes included
	urls map[string]urlRef                   // guarded by mu; function URL id -> its function and qualifier
	// layers are the layer records by name (layers.go).
	layers map[string]*layerEntry // guarded by mu
	// changed gets a token (never blocking, coalesced) after every
	// change; Registry.Changes hands it to its one consumer.
	changed chan struct{}
	// gen counts changes (signal); reserved memoises TotalReserved for
	// the invoke path.
	gen      atomic.Uint64
	reserved struct {
		mu       sync.Mutex
		at       uint64 // gen the sum was computed at
		sum      int
		computed bool
	}
}

// signal tells the Changes consumer that something changed.
func (c *cache) signal() {
	c.gen.Add(1)
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func newCache() *cache {
	return &cache{
		fns:     map[string]*fnEntry{},
		vers:    map[string]map[int]*function.Config{},
		revs:    map[string]uint64{},
		urls:    map[string]urlRef{},
		layers:  map[string]*layerEntry{},
		changed: make(chan struct{}, 1),
	}
}

// apply records one change of a key, unless a newer revision of that key
// is already known.
func (c *cache) apply(u store.Update, log *slog.Logger) {
	defer c.signal()
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.Revision <= c.revs[u.Key] {
		return
	}
	c.revs[u.Key] = u.Revision
	switch {
	case strings.HasPrefix(u.Key, fnPrefix):
		name := u.Key[len(fnPrefix):]
		if u.Deleted {
			c.setRecordLocked(name, nil, 0)
			return
		}
		rec := new(record)
		if err := json.Unmarshal(u.Value, rec); err != nil {
			log.Warn("undecodable function record", "key", u.Key, "err", err)
			c.setRecordLocked(name, nil, 0)
			return
		}
		c.setRecordLocked(name, rec, u.Revision)
	case strings.HasPrefix(u.Key, layerPrefix):
		name := u.Key[len(layerPrefix):]
		if u.Deleted {
			delete(c.layers, name)
			return
		}
		rec := new(layerRecord)
		if err := json.Unmarshal(u.Value, rec); err != nil {
			log.Warn("undecodable layer record", "key", u.Key, "err", err)
			return
		}
		c.layers[name] = &layerEntry{rec: rec, rev: u.Revision}
	case strings.HasPrefix(u.Key, verPrefix):
		rest := u.Key[len(verPrefix):]
		i := strings.LastIndexByte(rest, '.')
		if i <= 0 {
			return
		}
		name := rest[:i]
		n, err := strconv.Atoi(rest[i+1:])
		if err != nil {
			return
		}
		if u.Deleted {
			if m := c.vers[name]; m != nil {
				delete(m, n)
				if len(m) == 0 {
					delete(c.vers, name)
				}
			}
			return
		}
		cfg := new(function.Config)
		if err := json.Unmarshal(u.Value, cfg); err != nil {
			log.Warn("undecodable version", "key", u.Key, "err", err)
			return
		}
		m := c.vers[name]
		if m == nil {
			m = map[int]*function.Config{}
			c.vers[name] = m
		}
		m[n] = cfg
	}
}

// putRecord caches a record this node just wrote at rev.
func (c *cache) putRecord(name string, rec *record, rev uint64) {
	defer c.signal()
	c.mu.Lock()
	defer c.mu.Unlock()
	key := fnKey(name)
	if rev <= c.revs[key] {
		return
	}
	c.revs[key] = rev
	c.setRecordLocked(name, rec, rev)
}

// dropRecord forgets a record this node just deleted; rev is the revision
// it deleted, so the delete itself is newer.
func (c *cache) dropRecord(name string, rev uint64) {
	defer c.signal()
	c.mu.Lock()
	defer c.mu.Unlock()
	key := fnKey(name)
	if rev+1 <= c.revs[key] {
		return
	}
	c.revs[key] = rev + 1
	c.setRecordLocked(name, nil, 0)
}

// putVersion caches a version configuration this node just wrote.
func (c *cache) putVersion(name string, n int, cfg *function.Config, rev uint64) {
	defer c.signal()
	c.mu.Lock()
	defer c.mu.Unlock()
	key := verKey(name, n)
	if rev <= c.revs[key] {
		return
	}
	c.revs[key] = rev
	m := c.vers[name]
	if m == nil {
		m = map[int]*function.Config{}
		c.vers[name] = m
	}
	m[n] = cfg
}

// dropVersion forgets a version this node just deleted at rev.
func (c *cache) dropVersion(name string, n int, rev uint64) {
	defer c.signal()
	c.mu.Lock()
	defer c.mu.Unlock()
	key := verKey(name, n)
	if rev+1 <= c.revs[key] {
		return
	}
	c.revs[key] = rev + 1
	if m := c.vers[name]; m != nil {
		delete(m, n)
		if len(m) == 0 {
			delete(c.vers, name)
		}
	}
}

// function returns the cached record of name, or nil.
func (c *cache) function(name string) *record {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.fns[name]; e != nil {
		return e.rec
	}
	return nil
}

// version returns version n of name as cached, whether or not the record
// lists it.
func (c *cache) version(name string, n int) *function.Config {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.vers[name][n]
}

func (c *cache) functionCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.fns)
}

// snapshot returns every cached record and the versions each lists (those
// whose configuration has arrived), for listing.
func (c *cache) snapshot() map[string]snap {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]snap, len(c.fns))
	for name, e := range c.fns {
		s := snap{rec: e.rec}
		for _, n := range e.rec.Versions {
			if cfg := c.vers[name][n]; cfg != nil {
				s.versions = append(s.versions, cfg)
			}
		}
		out[name] = s
	}
	return out
}

type snap struct {
	rec      *record
	versions []*function.Config // ascending
}

// codeReferenced reports whether any function, version or layer version
// may still use the code package sha. It errs on the side of yes: a
// listed version whose configuration has not arrived counts as a
// reference, and so does a stored version no record lists. A deleted layer
// version counts while a function or version lists it.
func (c *cache) codeReferenced(sha string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var deletedLayers []string // ARNs of deleted layer versions of sha
	for _, e := range c.layers {
		for _, v := range e.rec.Versions {
			if v.Content == nil || v.Content.CodeSha256 != sha {
				continue
			}
			if !v.Deleted {
				return true
			}
			deletedLayers = append(deletedLayers, v.LayerVersionArn)
		}
	}
	usesLayer := func(cfg *function.Config) bool {
		for _, l := range cfg.Layers {
			if slices.Contains(deletedLayers, l.Arn) {
				return true
			}
		}
		return false
	}
	if len(deletedLayers) > 0 {
		for _, e := range c.fns {
			if usesLayer(&e.rec.Latest) {
				return true
			}
		}
		for _, m := range c.vers {
			for _, cfg := range m {
				if usesLayer(cfg) {
					return true
				}
			}
		}
	}
	for name, e := range c.fns {
		if e.rec.Latest.CodeSha256 == sha {
			return true
		}
		for _, n := range e.rec.Versions {
			cfg := c.vers[name][n]
			if cfg == nil || cfg.CodeSha256 == sha {
				return true
			}
		}
	}
	for _, m := range c.vers {
		for _, cfg := range m {
			if cfg.CodeSha256 == sha {
				return true
			}
		}
	}
	return false
}

// layerEntry is a cached layer record; rec is never modified once cached.
type layerEntry struct {
	rec *layerRecord
	rev uint64
}

// putLayer caches a layer record this node just wrote at rev.
func (c *cache) putLayer(name string, rec *layerRecord, rev uint64) {
	defer c.signal()
	c.mu.Lock()
	defer c.mu.Unlock()
	key := layerKey(name)
	if rev <= c.revs[key] {
		return
	}
	c.revs[key] = rev
	c.layers[name] = &layerEntry{rec: rec, rev: rev}
}

// layer returns the cached record of layer name, or nil.
func (c *cache) layer(name string) *layerRecord {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.layers[name]; e != nil {
		return e.rec
	}
	return nil
}

// layerVersionByARN returns the layer version arn names, deleted or not,
// or nil.
func (c *cache) layerVersionByARN(arn string) *layerVersionRec {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.layerVersionByARNLocked(arn)
}

func (c *cache) layerVersionByARNLocked(arn string) *layerVersionRec {
	ref, ok := function.ParseLayerVersionARN(arn)
	if !ok {
		return nil
	}
	e := c.layers[ref.Name]
	if e == nil {
		return nil
	}
	v := e.rec.Versions[strconv.FormatInt(ref.Version, 10)]
	if v == nil || v.Content == nil || v.LayerVersionArn != arn {
		return nil
	}
	return v
}
