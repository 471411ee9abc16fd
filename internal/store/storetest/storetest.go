// Package storetest opens real backbones (package store: an embedded NATS
// JetStream server, ~10-20 ms to start) for tests, so that tests of the
// store's users run on the real thing instead of an in-memory stand-in.
//
// It is for tests only: import it from _test.go files of packages that
// use the backbone (registry, lambdaapi, daemon, ...), never from
// non-test code. The store's own tests cannot use it (import cycle).
package storetest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Open opens a store on a fresh t.TempDir() and closes it when the test
// ends. Register anything that uses the store (a registry's Run) after
// calling Open, so that it is stopped before the store closes.
func Open(t testing.TB) *store.Store {
	t.Helper()
	return OpenDir(t, t.TempDir())
}

// OpenDir is Open on dir, for tests that close a store and open it again
// (a restart). Closing it early is fine: Close may be called twice.
func OpenDir(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), store.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return st
}

// Put writes val under key whatever its current revision (or absence),
// as another node or an older version of Nimbus would, and returns the
// new revision. Watches see the write asynchronously.
func Put(t testing.TB, st *store.Store, key string, val []byte) uint64 {
	t.Helper()
	kv, err := st.JetStream().KeyValue(t.Context(), store.StateBucket)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	rev, err := kv.Put(t.Context(), key, val)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return rev
}

// HasCode reports whether a code package is stored under key.
func HasCode(t testing.TB, st *store.Store, key string) bool {
	t.Helper()
	_, err := st.GetCode(t.Context(), key)
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		return false
	}
	t.Fatalf("has code %s: %v", key, err)
	return false
}

// CodeKeys returns the keys of every stored code package, sorted.
func CodeKeys(t testing.TB, st *store.Store) []string {
	t.Helper()
	obj, err := st.JetStream().ObjectStore(t.Context(), store.CodeBucket)
	if err != nil {
		t.Fatalf("code keys: %v", err)
	}
	infos, err := obj.List(t.Context())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return []string{}
	}
	if err != nil {
		t.Fatalf("code keys: %v", err)
	}
	keys := make([]string, 0, len(infos))
	for _, info := range infos {
		keys = append(keys, info.Name)
	}
	slices.Sort(keys)
	return keys
}

// ErrorCase is an error a service's error writer gets and the answer it
// must give: Status and Code.
type ErrorCase struct {
	Err    error
	Status int
	Code   string
}

// UnavailableCases are the two errors every service's writer tells apart:
// the backbone electing a leader (store.Unavailable), answered 503
// ServiceUnavailable, which clients retry; and any other internal error,
// answered the service's own 500 internalCode. The second's text holds
// "secret", which no answer may show.
func UnavailableCases(internalCode string) []ErrorCase {
	return []ErrorCase{
		{fmt.Errorf("store: %w", store.Unavailable(nats.ErrNoResponders)), http.StatusServiceUnavailable, "ServiceUnavailable"},
		{errors.New("decode: secret detail"), http.StatusInternalServerError, internalCode},
	}
}
