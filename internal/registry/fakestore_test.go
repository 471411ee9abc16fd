package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// fakeStore is an in-memory Store with the real one's semantics: one
// revision counter for the whole store, CAS writes, watches that report
// current values first.
type fakeStore struct {
	mu   sync.Mutex
	rev  uint64                 // guarded by mu
	kv   map[string]store.Entry // guarded by mu
	code map[string][]byte      // guarded by mu
	subs []*fakeSub             // guarded by mu
	// beforeUpdate, when set, runs before every Update (outside mu).
	beforeUpdate func(key string)
}

func newFakeStore() *fakeStore {
	return &fakeStore{kv: map[string]store.Entry{}, code: map[string][]byte{}}
}

type fakeSub struct {
	prefix string
	mu     sync.Mutex
	queue  []store.Update // guarded by mu
	notify chan struct{}
}

func (s *fakeSub) push(u store.Update) {
	s.mu.Lock()
	s.queue = append(s.queue, u)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (f *fakeStore) publishLocked(u store.Update) {
	for _, s := range f.subs {
		if strings.HasPrefix(u.Key, s.prefix) {
			s.push(u)
		}
	}
}

func (f *fakeStore) Get(_ context.Context, key string) (store.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.kv[key]
	if !ok {
		return store.Entry{}, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	e.Value = slices.Clone(e.Value)
	return e, nil
}

func (f *fakeStore) Create(_ context.Context, key string, val []byte) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.kv[key]; ok {
		return 0, fmt.Errorf("create %s: %w", key, store.ErrExists)
	}
	return f.putLocked(key, val), nil
}

func (f *fakeStore) Update(_ context.Context, key string, val []byte, lastRev uint64) (uint64, error) {
	if f.beforeUpdate != nil {
		f.beforeUpdate(key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.kv[key]
	if !ok {
		return 0, fmt.Errorf("update %s: %w", key, store.ErrNotFound)
	}
	if e.Revision != lastRev {
		return 0, fmt.Errorf("update %s: %w", key, store.ErrConflict)
	}
	return f.putLocked(key, val), nil
}

func (f *fakeStore) putLocked(key string, val []byte) uint64 {
	f.rev++
	f.kv[key] = store.Entry{Key: key, Value: slices.Clone(val), Revision: f.rev}
	f.publishLocked(store.Update{Key: key, Value: slices.Clone(val), Revision: f.rev})
	return f.rev
}

func (f *fakeStore) Delete(_ context.Context, key string, lastRev uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.kv[key]
	if !ok {
		if lastRev == 0 {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, store.ErrNotFound)
	}
	if lastRev != 0 && e.Revision != lastRev {
		return fmt.Errorf("delete %s: %w", key, store.ErrConflict)
	}
	delete(f.kv, key)
	f.rev++
	f.publishLocked(store.Update{Key: key, Revision: f.rev, Deleted: true})
	return nil
}

func (f *fakeStore) Keys(_ context.Context, prefix string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := []string{}
	for k := range f.kv {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (f *fakeStore) Watch(ctx context.Context, prefix string) (<-chan store.Update, error) {
	s := &fakeSub{prefix: prefix, notify: make(chan struct{}, 1)}
	f.mu.Lock()
	var initial []store.Entry
	for k, e := range f.kv {
		if strings.HasPrefix(k, prefix) {
			initial = append(initial, e)
		}
	}
	slices.SortFunc(initial, func(a, b store.Entry) int { return cmp.Compare(a.Revision, b.Revision) })
	for _, e := range initial {
		s.queue = append(s.queue, store.Update{Key: e.Key, Value: slices.Clone(e.Value), Revision: e.Revision})
	}
	f.subs = append(f.subs, s)
	f.mu.Unlock()

	out := make(chan store.Update)
	go func() {
		defer close(out)
		defer func() {
			f.mu.Lock()
			f.subs = slices.DeleteFunc(f.subs, func(x *fakeSub) bool { return x == s })
			f.mu.Unlock()
		}()
		for {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.mu.Unlock()
				select {
				case <-s.notify:
					continue
				case <-ctx.Done():
					return
				}
			}
			u := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			select {
			case out <- u:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (f *fakeStore) PutCode(_ context.Context, key string, data []byte) error {
	if key == "" {
		return errors.New("put code: empty key")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.code[key] = slices.Clone(data)
	return nil
}

func (f *fakeStore) GetCode(_ context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.code[key]
	if !ok {
		return nil, fmt.Errorf("get code %s: %w", key, store.ErrNotFound)
	}
	return slices.Clone(d), nil
}

func (f *fakeStore) DeleteCode(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.code, key)
	return nil
}

func (f *fakeStore) hasCode(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.code[key]
	return ok
}

// put writes a raw value, as another node or an older version would.
func (f *fakeStore) put(key string, val []byte) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.putLocked(key, val)
}
