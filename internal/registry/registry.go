// Package registry owns the control-plane state of Lambda functions: the
// $LATEST configuration of each function, its published versions, its
// aliases and its tags, stored on the backbone (package store) with a
// compare-and-swap on every write, and an in-memory cache kept current by a
// watch so the invoke path (Resolve) never touches the backbone.
//
// Who may import it: lambdaapi (the control plane and the Invoke edge), the
// daemon (wiring), and later other front doors that resolve functions. It
// imports store (types only), function, awsapi and errdefs (its errors are
// categories the edges map).
//
// # Keys
//
//	fn.<name>       record: $LATEST config, tags, version counter, the list
//	                of published versions, and the aliases
//	ver.<name>.<n>  the frozen configuration of published version n
//	layer.<name>    a layer: every version published, deleted ones as
//	                tombstones (layers.go)
//
// Code packages are stored by content (PutCode under function.CodeKey).
// Aliases live inside the function's record rather than under keys of their
// own: an alias must always point at a version that exists, and a version an
// alias points at must not be deleted, so both kinds of change go through
// one compare-and-swap on fn.<name>. Version configurations are immutable
// and stay under their own keys so the record does not grow with them.
//
// A version is published in two steps: the record reserves number n
// (LastVersion, Versions) by CAS, then ver.<name>.<n> is written. A reader
// that sees n listed before its configuration arrives treats the version as
// not there yet. Numbers are never reused.
//
// # States
//
// Nimbus stores the code durably before it answers, so a function is
// invocable as soon as CreateFunction returns. The registry therefore
// records the end states directly:
//
//	CreateFunction ──> State Active, LastUpdateStatus Successful
//	Update*        ──> LastUpdateStatus Successful (RevisionId rotated)
//	PublishVersion ──> State Active
//
// AWS answers Pending/InProgress first and reaches these states moments
// later; the SDK waiters (function-active-v2, function-updated-v2) accept
// either. The checks AWS makes against Pending and InProgress
// (ResourceConflictException) are kept, so a record written in one of those
// states by a later, asynchronous implementation is refused as AWS does.
//
// # Consistency
//
// Writes read the current record from the store, change it and write it
// back with the revision they read (retrying on conflict), so concurrent
// updates never lose data. Reads are served from the cache, which applies
// this node's own writes before the write returns and other nodes' writes
// when the watch delivers them. Revisions are assumed to increase across
// the whole store (they are JetStream stream sequences).
package registry

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Store is the part of the backbone the registry uses. *store.Store
// implements it, in tests too (package storetest).
type Store interface {
	Get(ctx context.Context, key string) (store.Entry, error)
	Create(ctx context.Context, key string, val []byte) (uint64, error)
	Update(ctx context.Context, key string, val []byte, lastRev uint64) (uint64, error)
	Delete(ctx context.Context, key string, lastRev uint64) error
	Keys(ctx context.Context, prefix string) ([]string, error)
	Watch(ctx context.Context, prefix string) (<-chan store.Update, error)
	PutCode(ctx context.Context, key string, data []byte) error
	GetCode(ctx context.Context, key string) ([]byte, error)
	DeleteCode(ctx context.Context, key string) error
}

// Options configures New.
type Options struct {
	Store     Store
	Region    string // for ARNs, e.g. us-east-1
	AccountID string // for ARNs, 12 digits
	Logger    *slog.Logger
	// Now returns the current time (LastModified); time.Now when nil.
	Now func() time.Time
	// Rand returns a float in [0,1) to pick a version of a weighted alias;
	// math/rand/v2's Float64 when nil.
	Rand func() float64
}

// Registry is the function registry of one node. Its methods are safe for
// concurrent use; Run must be running for reads to be answered.
type Registry struct {
	st        Store
	region    string
	account   string
	log       *slog.Logger
	now       func() time.Time
	rand      func() float64
	newRevID  func() string
	cache     *cache
	ready     chan struct{} // closed when the initial load is complete
	readyOnce sync.Once

	// codeLocks serialise storing a code package and deciding to delete it
	// (striped by key), so a package is never deleted between another
	// writer's PutCode and the record that references it.
	codeLocks [32]sync.Mutex

	// fnLocks serialise this node's read-modify-write cycles on one
	// function record (striped by name), so concurrent requests to one node
	// queue instead of racing each other's CAS; the CAS still arbitrates
	// between nodes. Lock order: fnLocks, then codeLocks.
	fnLocks [64]sync.Mutex

	// afterApply, set by tests before Run, sees every watched update once
	// the cache has applied it.
	afterApply func(store.Update)
}

// New returns a registry on opts.Store. Call Run to load the cache and keep
// it current.
func New(opts Options) (*Registry, error) {
	if opts.Store == nil {
		return nil, errors.New("new registry: Store is required")
	}
	if opts.Region == "" || opts.AccountID == "" {
		return nil, errors.New("new registry: Region and AccountID are required")
	}
	r := &Registry{
		st:       opts.Store,
		region:   opts.Region,
		account:  opts.AccountID,
		log:      opts.Logger,
		now:      opts.Now,
		rand:     opts.Rand,
		newRevID: uuid.NewString,
		cache:    newCache(),
		ready:    make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = randFloat
	}
	return r, nil
}

// Region is the region in the registry's ARNs.
func (r *Registry) Region() string { return r.region }

// AccountID is the account in the registry's ARNs.
func (r *Registry) AccountID() string { return r.account }

// Ready is closed once Run has loaded every function into the cache.
func (r *Registry) Ready() <-chan struct{} { return r.ready }

// Run loads the cache from the store and keeps it current until ctx ends
// (then it returns nil) or a watch fails (then it returns the error).
func (r *Registry) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Watch first, then load: a change between the two is seen by the
	// watch, and the revision check in apply drops what is already known.
	var chans []<-chan store.Update
	for _, prefix := range []string{fnPrefix, verPrefix, layerPrefix} {
		ch, err := r.st.Watch(ctx, prefix)
		if err != nil {
			return fmt.Errorf("registry watch %s: %w", prefix, err)
		}
		chans = append(chans, ch)
	}
	errc := make(chan error, len(chans))
	var wg sync.WaitGroup
	for _, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- r.consume(ctx, ch)
		}()
	}
	if err := r.load(ctx); err != nil {
		cancel()
		wg.Wait()
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	r.readyOnce.Do(func() { close(r.ready) })
	r.log.Info("registry loaded", "functions", r.cache.functionCount())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	wg.Wait()
	return err
}

// consume applies updates from ch until it is closed. It returns nil if ctx
// ended, an error if the watch ended by itself.
func (r *Registry) consume(ctx context.Context, ch <-chan store.Update) error {
	for u := range ch {
		r.cache.apply(u, r.log)
		if r.afterApply != nil {
			r.afterApply(u)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("registry watch ended")
}

// load reads every key once.
func (r *Registry) load(ctx context.Context) error {
	for _, prefix := range []string{fnPrefix, verPrefix, layerPrefix} {
		keys, err := r.st.Keys(ctx, prefix)
		if err != nil {
			return fmt.Errorf("registry load %s: %w", prefix, err)
		}
		for _, k := range keys {
			e, err := r.st.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile; the watch says so
			}
			if err != nil {
				return fmt.Errorf("registry load: %w", err)
			}
			r.cache.apply(store.Update{Key: e.Key, Value: e.Value, Revision: e.Revision}, r.log)
		}
	}
	return nil
}

// waitReady blocks until the initial load is complete.
func (r *Registry) waitReady(ctx context.Context) error {
	select {
	case <-r.ready:
		return nil
	default:
	}
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("registry not ready: %w", ctx.Err())
	}
}

// arn is the ARN of name, qualified when qualifier is not empty.
func (r *Registry) arn(name, qualifier string) string {
	return awsapi.FunctionARN(r.region, r.account, name, qualifier)
}

func (r *Registry) functionNotFound(name, qualifier string) error {
	return errdefs.NotFound("Function not found: %s", r.arn(name, qualifier))
}

// lockFunction locks the stripe of function name and returns its unlock.
func (r *Registry) lockFunction(name string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	m := &r.fnLocks[h.Sum32()%uint32(len(r.fnLocks))]
	m.Lock()
	return m.Unlock
}

// lockCode locks the stripe of code key and returns its unlock.
func (r *Registry) lockCode(key string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	m := &r.codeLocks[h.Sum32()%uint32(len(r.codeLocks))]
	m.Lock()
	return m.Unlock
}
