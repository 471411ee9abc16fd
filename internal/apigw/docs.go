package apigw

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Key prefixes of the API documents in the KV bucket.
const (
	keyPrefix     = "apigw."
	httpKeyPrefix = keyPrefix + "http."
	restKeyPrefix = keyPrefix + "rest."
)

// docs keeps the API documents: authoritative in the store, copied into
// memory for the invoke path. Writers go through update (CAS with retry)
// and apply their result locally at once, so a client that created an
// API can call it immediately; the watch applies everyone's writes.
type docs struct {
	st  *store.Store
	log *slog.Logger

	mu      sync.RWMutex
	http    map[string]*httpDoc   // guarded by mu
	rest    map[string]*restDoc   // guarded by mu
	domains map[string]*domainDoc // guarded by mu; custom domain names
	keysDoc *keysDoc              // guarded by mu; API keys and usage plans
	rev     map[string]uint64     // guarded by mu; revision of each key applied
}

func newDocs(st *store.Store, log *slog.Logger) *docs {
	return &docs{st: st, log: log, http: map[string]*httpDoc{}, rest: map[string]*restDoc{}, domains: map[string]*domainDoc{}, rev: map[string]uint64{}}
}

// run applies the store's changes to the in-memory copy until ctx ends.
func (d *docs) run(ctx context.Context) error {
	ch, err := d.st.Watch(ctx, keyPrefix)
	if err != nil {
		return fmt.Errorf("watch api documents: %w", err)
	}
	for u := range ch {
		d.apply(u.Key, u.Value, u.Revision, u.Deleted)
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("watch api documents: watch ended")
}

func (d *docs) apply(key string, val []byte, rev uint64, deleted bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rev < d.rev[key] {
		return
	}
	d.rev[key] = rev
	switch {
	case key == keysKey:
		if deleted {
			d.keysDoc = nil
			return
		}
		doc, err := decodeKeys(val)
		if err != nil {
			d.log.Warn("unreadable api keys document", "key", key, "err", err)
			return
		}
		d.keysDoc = doc
	case strings.HasPrefix(key, httpKeyPrefix):
		id := key[len(httpKeyPrefix):]
		if deleted {
			delete(d.http, id)
			return
		}
		var doc httpDoc
		if err := json.Unmarshal(val, &doc); err != nil {
			d.log.Warn("unreadable api document", "key", key, "err", err)
			return
		}
		doc.compile()
		d.http[id] = &doc
	case strings.HasPrefix(key, domainKeyPrefix):
		name := key[len(domainKeyPrefix):]
		if deleted {
			delete(d.domains, name)
			return
		}
		var doc domainDoc
		if err := json.Unmarshal(val, &doc); err != nil {
			d.log.Warn("unreadable domain name document", "key", key, "err", err)
			return
		}
		d.domains[name] = &doc
	case strings.HasPrefix(key, restKeyPrefix):
		id := key[len(restKeyPrefix):]
		if deleted {
			delete(d.rest, id)
			return
		}
		var doc restDoc
		if err := json.Unmarshal(val, &doc); err != nil {
			d.log.Warn("unreadable api document", "key", key, "err", err)
			return
		}
		doc.compile()
		d.rest[id] = &doc
	}
}

func (d *docs) httpAPI(id string) *httpDoc {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.http[id]
}

func (d *docs) domain(name string) *domainDoc {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.domains[name]
}

func (d *docs) restAPI(id string) *restDoc {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.rest[id]
}

// get reads the document under key into v and returns its revision.
func (d *docs) get(ctx context.Context, key string, v any) (uint64, error) {
	e, err := d.st.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return e.Revision, nil
}

// create stores a new document.
func (d *docs) create(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if len(b) > store.MaxValueSize {
		return tooBig()
	}
	rev, err := d.st.Create(ctx, key, b)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	d.apply(key, b, rev, false)
	return nil
}

// update applies change to the document under key with compare-and-swap,
// retrying when another writer got there first. notFound is returned when
// the document does not exist. change's error aborts the update.
func update[T any](ctx context.Context, d *docs, key string, notFound error, change func(doc *T) error) (*T, error) {
	for range 20 {
		var doc T
		rev, err := d.get(ctx, key, &doc)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound
		}
		if err != nil {
			return nil, err
		}
		if err := change(&doc); err != nil {
			return nil, err
		}
		b, err := json.Marshal(&doc)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		if len(b) > store.MaxValueSize {
			return nil, tooBig()
		}
		nrev, err := d.st.Update(ctx, key, b, rev)
		switch {
		case errors.Is(err, store.ErrConflict):
			continue
		case errors.Is(err, store.ErrNotFound):
			return nil, notFound
		case err != nil:
			return nil, fmt.Errorf("update %s: %w", key, err)
		}
		d.apply(key, b, nrev, false)
		return &doc, nil
	}
	return nil, conflict("Unable to complete operation due to concurrent modification. Please try again later.")
}

// remove deletes the document under key.
func (d *docs) remove(ctx context.Context, key string, notFound error) error {
	e, err := d.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	if err := d.st.Delete(ctx, key, e.Revision); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	d.apply(key, nil, e.Revision+1, true)
	return nil
}

// list reads every document under prefix.
func list[T any](ctx context.Context, d *docs, prefix string) ([]*T, error) {
	keys, err := d.st.Keys(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(keys))
	for _, k := range keys {
		var doc T
		if _, err := d.get(ctx, k, &doc); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, &doc)
	}
	return out, nil
}

// newID returns an API Gateway style id: n lowercase letters and digits.
func newID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// validID checks an id from a URL before it becomes part of a key.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// Errors of the API Gateway APIs (both share these names and statuses).
func notFound(format string, args ...any) error {
	return &awsapi.Error{Status: 404, Code: "NotFoundException", Type: "User", Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &awsapi.Error{Status: 400, Code: "BadRequestException", Type: "User", Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &awsapi.Error{Status: 409, Code: "ConflictException", Type: "User", Message: fmt.Sprintf(format, args...)}
}

func tooBig() error {
	return &awsapi.Error{Status: 400, Code: "LimitExceededException", Type: "User",
		Message: fmt.Sprintf("The API definition is larger than %d bytes, the most Nimbus stores per API.", store.MaxValueSize)}
}

// mapNotFound turns the store's not-found into the API's own error.
// isExists reports a create of a key that exists.
func isExists(err error) bool { return errors.Is(err, store.ErrExists) }

func mapNotFound(err, nf error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nf
	}
	return err
}
