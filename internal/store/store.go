// Package store is Nimbus's durable backbone: an embedded NATS server with
// JetStream, the control-plane key-value bucket (functions, versions,
// aliases, ...) and the Object Store bucket that holds code packages.
//
// It owns the NATS server's lifecycle, the client connection, the bucket
// configuration and the durability settings: every acknowledged write is
// fsynced before the acknowledgement (SyncAlways), so it survives kill -9
// (tested) and, on a file system that honours fsync, power loss (not
// testable here; see shared/reference/backbone.md §2.4).
//
// Who may import it: internal/registry (control-plane state), the daemon
// (wiring), internal/apigw and internal/stack (their state documents),
// internal/kms, internal/secretsmanager and internal/ssm (keys, secrets and
// parameters, sealed before they reach the store),
// internal/s3 (bucket records), internal/iam (roles, users, policies and
// access keys), internal/sqs and internal/events (the shared group commit,
// [Group], and [PublishAtomic]),
// storetest (a store for tests) and later backbone users such as the async
// invoke queue, which use [Store.JetStream] and [Store.Conn]. Nothing on the invoke hot path
// should read the KV bucket directly; it goes through the registry's cache.
//
// Group commit (group.go): concurrent writes to one stream share one
// commit and one fsync, and each writer is answered once it is durable.
//
// Lifecycle:
//
//	Open: lock DataDir -> start nats-server (JetStream, in-process only)
//	      -> connect in-process -> create or update buckets
//	Close: stop watches -> drain connection -> server Shutdown
//	       -> WaitForShutdown -> unlock DataDir
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Sentinel errors. Errors returned by Store wrap one of these where the
// category applies; test with errors.Is.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrConflict   = errors.New("revision conflict")
	ErrInvalidKey = errors.New("invalid key")
)

const (
	// StateBucket is the control-plane key-value bucket.
	StateBucket = "nimbus_state"
	// CodeBucket is the Object Store bucket of code packages.
	CodeBucket = "nimbus_code"

	// MaxPayload is the largest NATS message the embedded server accepts
	// (sync invoke payloads of 6 MB must fit with headers).
	MaxPayload = 8 << 20
	// MaxValueSize is the largest value the KV bucket accepts.
	MaxValueSize = 1 << 20

	stateHistory = 5
	// headerRoom is added to the bucket's max_msg_size, which counts
	// headers (CAS expectations, delete markers) as well as the value.
	headerRoom    = 4 << 10
	codeChunkSize = 1 << 20
	readyTimeout  = 30 * time.Second
	lockFileName  = "store.lock"
)

// Options configures Open.
type Options struct {
	// DataDir holds the JetStream files (under DataDir/jetstream) and the
	// lock file that keeps a second process from opening the same store.
	// Required unless NATSURL is set.
	DataDir string
	// NATSURL, when set, connects to an external NATS server (with
	// JetStream) instead of embedding one. The same code paths are used.
	NATSURL string
	// Logger receives the store's and the embedded server's logs. Nil
	// discards them.
	Logger *slog.Logger
	// Cluster, when set, makes the embedded server join its peers over
	// routes (see cluster.go). Exclusive with NATSURL.
	Cluster *ClusterOptions
	// Replicas is how many copies the buckets keep (0 means 1). Streams
	// other packages create should use [Store.Replicas] too.
	Replicas int
}

// Entry is a key's current value in the KV bucket.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
}

// Update is one change seen by [Store.Watch].
type Update struct {
	Key      string
	Value    []byte
	Revision uint64
	Deleted  bool
}

// Store is an open backbone. Its methods are safe for concurrent use.
type Store struct {
	log   *slog.Logger
	ns    *server.Server // nil with Options.NATSURL
	nc    *nats.Conn
	ncEnd chan struct{} // closed by the connection's ClosedHandler
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	obj   jetstream.ObjectStore
	lock  *os.File // nil with Options.NATSURL

	replicas int
	node     string // the embedded server's name ("" with NATSURL)
	// leaderReads: Get asks the stream leader (on a cluster; see
	// leaderGet).
	leaderReads bool

	mu       sync.Mutex
	closed   bool          // guarded by mu
	closing  chan struct{} // closed under mu when Close starts; stops watches
	watchers sync.WaitGroup

	code keyedMutex

	space spaceState // the embedded server's disk (space.go)

	closeOnce sync.Once
	closeErr  error
}

// Open starts (or connects to) NATS and makes sure both buckets exist with
// the configuration this package expects. ctx bounds waiting for the
// server and creating the buckets, but not the embedded server's recovery
// of its files, which cannot be interrupted. The Store lives until Close.
func Open(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store")
	s := &Store{
		log:     log,
		ncEnd:   make(chan struct{}),
		closing: make(chan struct{}),
	}
	s.code.init()
	s.replicas = max(opts.Replicas, 1)
	s.leaderReads = opts.Cluster != nil || opts.NATSURL != ""
	if err := s.open(ctx, opts); err != nil {
		return nil, errors.Join(err, s.teardown())
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, opts Options) error {
	connOpts := []nats.Option{
		nats.Name("nimbus-store"),
		nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(s.ncEnd) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { s.log.Info("nats reconnected") }),
	}
	if opts.NATSURL != "" {
		nc, err := nats.Connect(opts.NATSURL, connOpts...)
		if err != nil {
			return fmt.Errorf("open store: connect %s: %w", opts.NATSURL, err)
		}
		s.nc = nc
	} else {
		if opts.DataDir == "" {
			return errors.New("open store: DataDir is required without NATSURL")
		}
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		lock, err := lockDir(filepath.Join(opts.DataDir, lockFileName))
		if err != nil {
			return fmt.Errorf("open store %s: %w", opts.DataDir, err)
		}
		s.lock = lock
		sopts, err := serverOptions(opts)
		if err != nil {
			return fmt.Errorf("open store %s: %w", opts.DataDir, err)
		}
		s.node = sopts.ServerName
		ns, err := startServer(ctx, sopts, s.log, s.space.noteWriteFailure)
		if err != nil {
			return fmt.Errorf("open store %s: %w", opts.DataDir, err)
		}
		s.ns = ns
		s.space.dataDir = opts.DataDir
		s.space.jsCfg = *ns.JetStreamConfig()
		if sopts.Username != "" {
			connOpts = append(connOpts, nats.UserInfo(sopts.Username, sopts.Password))
		}
		nc, err := nats.Connect("", append(connOpts, nats.InProcessServer(ns))...)
		if err != nil {
			return fmt.Errorf("open store: connect in-process: %w", err)
		}
		s.nc = nc
	}

	// On a cluster a JetStream request waits for Raft: a new stream's
	// group elects its leader before the create answers, and a write
	// waits for a majority. Give requests without a deadline of their own
	// more than the client's 5 s default.
	var jsOpts []jetstream.JetStreamOpt
	if opts.Cluster != nil || opts.NATSURL != "" {
		jsOpts = append(jsOpts, jetstream.WithDefaultTimeout(clusterRequestTimeout))
	}
	js, err := jetstream.New(s.nc, jsOpts...)
	if err != nil {
		return fmt.Errorf("open store: jetstream: %w", err)
	}
	if opts.Cluster != nil || opts.NATSURL != "" {
		js = clusterJS{JetStream: js, replicas: s.replicas, majority: s.majority}
	}
	s.js = js
	// In a cluster the first bucket waits for JetStream's meta leader:
	// until a majority of the servers is up, creating it fails.
	err = s.waitQuorum(ctx, opts.Cluster != nil, func(ctx context.Context) error {
		var err error
		s.kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:       StateBucket,
			Description:  "Nimbus control-plane state",
			History:      stateHistory,
			MaxValueSize: MaxValueSize + headerRoom,
			Storage:      jetstream.FileStorage,
			Replicas:     s.replicas,
		})
		if err != nil {
			return fmt.Errorf("open store: bucket %s: %w", StateBucket, storageErr(err, s.StorageBudget()))
		}
		s.obj, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      CodeBucket,
			Description: "Nimbus code packages by sha256",
			Storage:     jetstream.FileStorage,
			Replicas:    s.replicas,
		})
		if err != nil {
			return fmt.Errorf("open store: bucket %s: %w", CodeBucket, storageErr(err, s.StorageBudget()))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.ns != nil {
		s.watchers.Add(1)
		go s.watchSpace()
	}
	return nil
}

// startServer starts an in-process nats-server with durable JetStream
// and waits until it accepts connections.
func startServer(ctx context.Context, sopts *server.Options, log *slog.Logger, onNoSpace func()) (*server.Server, error) {
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("new nats server: %w", err)
	}
	sl := &serverLogger{log: log.With("subsystem", "nats_server"), base: log, onNoSpace: onNoSpace}
	ns.SetLoggerV2(sl, false, false, false)

	// Start returns once start-up is done (DontListen: no accept loop), or
	// early after a fatal error, which our logger records instead of
	// exiting the process. Restoring large streams happens inside Start.
	ns.Start()
	fail := func(err error) (*server.Server, error) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, err
	}
	if err := sl.fatalErr(); err != nil {
		return fail(fmt.Errorf("start nats server: %w", err))
	}
	wait := readyTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = max(time.Until(dl), time.Millisecond)
	}
	if !ns.ReadyForConnections(wait) {
		return fail(fmt.Errorf("nats server not ready after %s", wait))
	}
	if !ns.JetStreamEnabled() {
		return fail(errors.New("nats server started without JetStream"))
	}
	return ns, nil
}

// Close stops all watches, drains the connection and shuts the embedded
// server down, waiting for its goroutines. It is safe to call more than
// once; later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.teardown() })
	return s.closeErr
}

// teardown releases whatever open managed to acquire, in reverse order.
func (s *Store) teardown() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	s.mu.Unlock()
	s.watchers.Wait()

	var errs []error
	if s.nc != nil {
		// Drain flushes pending publishes and finishes in-flight
		// subscription callbacks, then closes the connection and runs the
		// ClosedHandler.
		if err := s.nc.Drain(); err != nil {
			s.nc.Close()
			if !errors.Is(err, nats.ErrConnectionClosed) {
				errs = append(errs, fmt.Errorf("drain nats connection: %w", err))
			}
		}
		<-s.ncEnd
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
	if s.lock != nil {
		if err := s.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("unlock data dir: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Conn returns the store's NATS connection. Do not close it; Close does.
func (s *Store) Conn() *nats.Conn { return s.nc }

// Replicas is how many copies streams on this backbone keep.
func (s *Store) Replicas() int { return s.replicas }

// NodeName is the embedded NATS server's name: unique in its cluster and
// stable across restarts ("" with an external NATS).
func (s *Store) NodeName() string { return s.node }

// Server is the embedded NATS server (nil with an external NATS), for
// cluster status and quorum checks.
func (s *Store) Server() *server.Server { return s.ns }

// JetStream returns a JetStream context on the store's connection, for
// streams beyond the two buckets owned here (e.g. the async invoke queue).
// Follow backbone.md §2.3 for their settings: file storage, never
// persist_mode async.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// serverLogger adapts nats-server logging to slog with a static message.
// It records the first Fatalf, which nats-server's own logger would turn
// into os.Exit, so Open can fail instead.
type serverLogger struct {
	log       *slog.Logger
	base      *slog.Logger // the store's logger, for cluster events in our words
	onNoSpace func()       // a write failed for lack of space (nil: ignored)

	mu    sync.Mutex
	fatal error // guarded by mu
}

// Noticef is debug: the embedded server's notices are its start-up banner
// and settings, which would bury the lines that say where Nimbus listens.
func (l *serverLogger) Noticef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v) }
func (l *serverLogger) Errorf(format string, v ...any) {
	// nats-server reports a failed write only in its log: the stream
	// refuses every later write until it is reloaded (see space.go).
	if l.onNoSpace != nil && strings.Contains(fmt.Sprintf(format, v...), "no space left on device") {
		l.onNoSpace()
	}
	l.emit(slog.LevelError, format, v)
	l.clusterEvent(fmt.Sprintf(format, v...))
}
func (l *serverLogger) Debugf(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l *serverLogger) Tracef(format string, v ...any) { l.emit(slog.LevelDebug-4, format, v) }

func (l *serverLogger) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	l.mu.Lock()
	if l.fatal == nil {
		l.fatal = err
	}
	l.mu.Unlock()
	l.emit(slog.LevelError, format, v)
}

func (l *serverLogger) emit(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, "nats server", "detail", fmt.Sprintf(format, v...))
}

func (l *serverLogger) fatalErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

// keyedMutex serialises work per key (code uploads of the same digest).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock // guarded by mu
}

type keyLock struct {
	mu   sync.Mutex
	refs int // guarded by keyedMutex.mu
}

func (k *keyedMutex) init() { k.locks = make(map[string]*keyLock) }

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
