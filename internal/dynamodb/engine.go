package dynamodb

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The store's buckets.
var (
	bucketTables = []byte("tables") // name -> tableDesc JSON
	bucketStats  = []byte("stats")  // name -> item count, bytes (2 x uint64)
	bucketOutbox = []byte("outbox") // sequence -> stream record, until relayed
	bucketTokens = []byte("tokens") // ClientRequestToken -> its request's digest and time
)

func itemsBucket(table string) []byte { return []byte("items\x00" + table) }
func indexBucket(table, index string) []byte {
	return []byte("index\x00" + table + "\x00" + index)
}

// engine is the table store: a bbolt file and the table records cached
// in memory. Writes go through one committer goroutine that runs every
// queued write in one transaction (group commit: one fsync for all).
type engine struct {
	// dbp is the store file; a snapshot install (snapshot.go) swaps it,
	// with logMu held, so writers (which hold logMu on a cluster) never
	// see the swap and readers retry on the new file.
	dbp atomic.Pointer[bolt.DB]
	dir string

	mu     sync.RWMutex
	tables map[string]*tableDesc // guarded by mu; records as stored

	// log is the cluster's change log (changelog.go; nil on one node).
	// Lock order: logMu, then bbolt's writer lock.
	log   *changeLog
	logMu sync.Mutex
	// logSeq is the last log entry the store has; guarded by logMu.
	logSeq uint64
	// stale: an append failed, so the log may hold entries the store
	// lacks; the next write reads it to its end first. Guarded by logMu.
	stale bool
	// token is the lease token of this node's hold; guarded by logMu.
	token uint64
	// pend are the pieces of a large group being read from the log;
	// guarded by logMu.
	pend []logPiece
	// writable: this node holds the tables' lease (always true on one
	// node, where there is no log).
	writable atomic.Bool
	// behind: the log was purged past this store (changelog.go).
	behind atomic.Bool
	// orphan: the store follows another log, or predates the log
	// (reseed.go).
	orphan atomic.Bool

	writes chan *writeReq
	// committed is signalled after every commit that wrote stream
	// records (the relay waits on it).
	committed chan struct{}
	stop      chan struct{}
	done      chan struct{}
}

type writeReq struct {
	fn   func(*wtx) error
	done chan error
}

// openEngine opens (or creates) the store file under dir.
func openEngine(dir string) (*engine, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create table store directory: %w", err)
	}
	removeSnapshotFiles(dir)
	db, tables, applied, err := openStoreFile(filepath.Join(dir, storeFile))
	if err != nil {
		return nil, err
	}
	e := &engine{dir: dir, tables: tables, logSeq: applied, writes: make(chan *writeReq, 1024),
		committed: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	e.dbp.Store(db)
	e.writable.Store(true)
	go e.commitLoop()
	return e, nil
}

const storeFile = "tables.db"

// openStoreFile opens a store file, creates its fixed buckets, and reads
// its table records and its change log position.
func openStoreFile(path string) (*bolt.DB, map[string]*tableDesc, uint64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second,
		// The free page list is not written at every commit (fewer pages
		// per group commit; it is rebuilt by a scan at open, as etcd
		// does), and is kept as a map (free runs found in O(1)).
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("open table store: %w", err)
	}
	tables := map[string]*tableDesc{}
	var applied uint64
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTables, bucketStats, bucketOutbox, bucketTokens, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		applied = readApplied(tx)
		return tx.Bucket(bucketTables).ForEach(func(k, v []byte) error {
			var t tableDesc
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("decode table %s: %w", k, err)
			}
			tables[t.TableName] = &t
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, nil, 0, fmt.Errorf("load table store: %w", err)
	}
	return db, tables, applied, nil
}

// db is the store file.
func (e *engine) db() *bolt.DB { return e.dbp.Load() }

// close stops the committer and closes the file.
func (e *engine) close() error {
	close(e.stop)
	<-e.done
	return e.db().Close()
}

// table returns a table's record (a copy the caller may keep).
func (e *engine) table(name string) (*tableDesc, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, ok := e.tables[name]
	if !ok {
		return nil, false
	}
	return t.clone(), true
}

// tableRef returns a table's record as cached, for a caller that only
// reads it (cached records are never modified: a change caches a new
// one), without table's copy.
func (e *engine) tableRef(name string) (*tableDesc, bool) {
	e.mu.RLock()
	t, ok := e.tables[name]
	e.mu.RUnlock()
	return t, ok
}

func (e *engine) tableNames() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]string, 0, len(e.tables))
	for n := range e.tables {
		out = append(out, n)
	}
	return out
}

// write runs fn in a write transaction, committed (fsync) before it
// returns. fn may run more than once (after another write of its group
// failed) and must compute everything from the transaction.
func (e *engine) write(ctx context.Context, fn func(*wtx) error) error {
	if !e.writable.Load() {
		return errNotTableNode()
	}
	r := &writeReq{fn: fn, done: make(chan error, 1)}
	select {
	case e.writes <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.stop:
		return errors.New("table store closed")
	}
	// Once queued, the write happens: wait for its outcome.
	return <-r.done
}

func (e *engine) commitLoop() {
	defer close(e.done)
	for {
		var batch []*writeReq
		select {
		case r := <-e.writes:
			batch = append(batch, r)
		case <-e.stop:
			return
		}
	drain:
		for len(batch) < 256 {
			select {
			case r := <-e.writes:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		e.runBatch(batch)
	}
}

// runBatch commits a group of writes in one transaction; if one fails,
// the group is rolled back and each write runs alone.
func (e *engine) runBatch(batch []*writeReq) {
	var ops *[]logOp
	if e.log != nil {
		// On a cluster the group is appended to the change log before
		// it commits, by the lease's holder only, from the log's end.
		e.logMu.Lock()
		defer e.logMu.Unlock()
		err := error(errNotTableNode())
		if e.writable.Load() {
			err = nil
			if e.stale {
				ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
				err = e.catchUpLocked(ctx)
				cancel()
			}
		}
		if err != nil {
			if !errors.As(err, new(*Error)) {
				err = errLogAppend()
			}
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		ops = new([]logOp)
	}
	var streamed bool
	if len(batch) > 1 {
		var failed bool
		err := e.db().Update(func(tx *bolt.Tx) error {
			pending := map[string]*tableDesc{}
			tx.OnCommit(func() { e.setPending(pending) })
			for _, r := range batch {
				w := &wtx{tx: tx, e: e, pending: pending, ops: ops}
				if err := r.fn(w); err != nil {
					failed = true
					return err
				}
				streamed = streamed || w.streamed
			}
			if ops != nil {
				return e.appendLocked(tx, *ops)
			}
			return nil
		})
		if err == nil {
			for _, r := range batch {
				r.done <- nil
			}
			e.notify(streamed)
			return
		}
		if !failed {
			if ops != nil {
				e.log.warn("append to the table change log", err)
				err = errLogAppend()
			} else {
				err = fmt.Errorf("commit table store: %w", err)
			}
			for _, r := range batch {
				r.done <- err
			}
			return
		}
	}
	for _, r := range batch {
		var s bool
		var logErr bool
		err := e.db().Update(func(tx *bolt.Tx) error {
			pending := map[string]*tableDesc{}
			tx.OnCommit(func() { e.setPending(pending) })
			w := &wtx{tx: tx, e: e, pending: pending}
			if ops != nil {
				w.ops = new([]logOp)
			}
			err := r.fn(w)
			s = w.streamed
			if err == nil && w.ops != nil {
				if err = e.appendLocked(tx, *w.ops); err != nil {
					logErr = true
				}
			}
			return err
		})
		if logErr {
			e.log.warn("append to the table change log", err)
			err = errLogAppend()
		}
		r.done <- err
		if err == nil {
			e.notify(s)
		}
	}
}

func (e *engine) notify(streamed bool) {
	if !streamed {
		return
	}
	select {
	case e.committed <- struct{}{}:
	default:
	}
}

// view runs fn in a read transaction (a consistent snapshot).
// A view that meets the file a snapshot install just closed runs again
// on the new one.
func (e *engine) view(fn func(tx *bolt.Tx) error) error {
	for {
		db := e.db()
		err := db.View(fn)
		if errors.Is(err, berrors.ErrDatabaseNotOpen) && e.db() != db {
			continue
		}
		return err
	}
}

// wtx is one write of a group: it reads and writes through the group's
// transaction.
type wtx struct {
	tx *bolt.Tx
	e  *engine
	// pending are the table records this transaction's group changed
	// (nil: deleted), cached once it commits.
	pending map[string]*tableDesc
	// streamed: the write appended stream records.
	streamed bool
	// ops collects the transaction's bucket writes for the change log
	// (nil when there is none).
	ops *[]logOp
}

func getItem(tx *bolt.Tx, table string, key []byte) (Item, error) {
	b := tx.Bucket(itemsBucket(table))
	if b == nil {
		return nil, errTableNotFound(table)
	}
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	return decodeItem(v)
}

func (w *wtx) get(t *tableDesc, key []byte) (Item, error) { return getItem(w.tx, t.TableName, key) }

// change is one item written or deleted, for the indexes, the table's
// statistics and its stream.
type change struct {
	key      []byte
	old, new Item // nil: absent
	// ttl: a deletion by Time to Live (the stream record's userIdentity).
	ttl bool
}

// apply writes a change: the item, its index entries, the statistics
// and, if the table has a stream, its stream record. Every check that can
// fail (index key types) happens before anything is written.
func (w *wtx) apply(t *tableDesc, c change) error {
	items := w.tx.Bucket(itemsBucket(t.TableName))
	if items == nil {
		return errTableNotFound(t.TableName)
	}
	type ixKeys struct {
		b              *bolt.Bucket
		name, old, new []byte
	}
	var ixs []ixKeys
	for _, ix := range t.indexes() {
		var k ixKeys
		k.name = indexBucket(t.TableName, ix.IndexName)
		k.b = w.tx.Bucket(k.name)
		if k.b == nil {
			continue
		}
		var err error
		if c.old != nil {
			if k.old, err = indexKey(t, ix, c.old, c.key); err != nil {
				k.old = nil
			}
		}
		if c.new != nil {
			if k.new, err = indexKey(t, ix, c.new, c.key); err != nil {
				return err
			}
		}
		ixs = append(ixs, k)
	}
	var oldSize, newSize int
	var enc []byte
	if c.new != nil {
		enc = encodeItem(c.new)
		newSize = itemSize(c.new)
	}
	if c.old != nil {
		oldSize = itemSize(c.old)
	}
	ib := itemsBucket(t.TableName)
	if c.new != nil {
		if err := w.putIn(items, ib, c.key, enc); err != nil {
			return fmt.Errorf("put item: %w", err)
		}
	} else if err := w.deleteIn(items, ib, c.key); err != nil {
		return fmt.Errorf("delete item: %w", err)
	}
	for _, k := range ixs {
		if k.old != nil {
			if err := w.deleteIn(k.b, k.name, k.old); err != nil {
				return fmt.Errorf("delete index entry: %w", err)
			}
		}
		if k.new != nil {
			if err := w.putIn(k.b, k.name, k.new, c.key); err != nil {
				return fmt.Errorf("put index entry: %w", err)
			}
		}
	}
	var dn int64
	switch {
	case c.old == nil && c.new != nil:
		dn = 1
	case c.old != nil && c.new == nil:
		dn = -1
	}
	if err := w.addStats(t.TableName, dn, int64(newSize-oldSize)); err != nil {
		return err
	}
	if t.StreamSpecification != nil && t.StreamSpecification.StreamEnabled && (c.old != nil || c.new != nil) {
		if err := w.appendRecord(t, c); err != nil {
			return err
		}
		w.streamed = true
	}
	return nil
}

func (w *wtx) addStats(table string, dn, dbytes int64) error {
	b := w.tx.Bucket(bucketStats)
	cur := b.Get([]byte(table))
	var n, sz int64
	if len(cur) == 16 {
		n, sz = int64(binary.BigEndian.Uint64(cur)), int64(binary.BigEndian.Uint64(cur[8:])) //nolint:gosec // counters kept non-negative below
	}
	n, sz = max(n+dn, 0), max(sz+dbytes, 0)
	var out [16]byte
	binary.BigEndian.PutUint64(out[:], uint64(n))   //nolint:gosec // non-negative
	binary.BigEndian.PutUint64(out[8:], uint64(sz)) //nolint:gosec // non-negative
	return w.putIn(b, bucketStats, []byte(table), out[:])
}

// stats reads a table's item count and size.
func (e *engine) stats(table string) (n, size int64) {
	_ = e.view(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketStats).Get([]byte(table))
		if len(cur) == 16 {
			n, size = int64(binary.BigEndian.Uint64(cur)), int64(binary.BigEndian.Uint64(cur[8:])) //nolint:gosec // non-negative counters
		}
		return nil
	})
	return n, size
}

// putTable stores a table record (and creates its buckets on create).
func (w *wtx) putTable(t *tableDesc, create bool) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode table: %w", err)
	}
	if create {
		if _, err := w.createBucket(itemsBucket(t.TableName), false); err != nil {
			return fmt.Errorf("create table bucket: %w", err)
		}
	}
	for _, ix := range t.indexes() {
		if _, err := w.createBucket(indexBucket(t.TableName, ix.IndexName), true); err != nil {
			return fmt.Errorf("create index bucket: %w", err)
		}
	}
	w.pending[t.TableName] = t.clone()
	return w.putIn(w.tx.Bucket(bucketTables), bucketTables, []byte(t.TableName), b)
}

// dropTable deletes a table's record, items and indexes.
func (w *wtx) dropTable(t *tableDesc) error {
	for _, ix := range t.indexes() {
		if err := w.deleteBucket(indexBucket(t.TableName, ix.IndexName)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return fmt.Errorf("drop index: %w", err)
		}
	}
	if err := w.deleteBucket(itemsBucket(t.TableName)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return fmt.Errorf("drop table: %w", err)
	}
	if err := w.deleteIn(w.tx.Bucket(bucketStats), bucketStats, []byte(t.TableName)); err != nil {
		return err
	}
	w.pending[t.TableName] = nil
	return w.deleteIn(w.tx.Bucket(bucketTables), bucketTables, []byte(t.TableName))
}

// setPending caches the table records a committed group changed.
func (e *engine) setPending(p map[string]*tableDesc) {
	if len(p) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, t := range p {
		if t == nil {
			delete(e.tables, name)
		} else {
			e.tables[name] = t
		}
	}
}

// table is a table's record as this transaction sees it.
func (w *wtx) table(name string) (*tableDesc, error) {
	if t, ok := w.pending[name]; ok {
		if t == nil {
			return nil, errNotFound()
		}
		return t.clone(), nil
	}
	t, ok := w.e.table(name)
	if !ok {
		return nil, errNotFound()
	}
	return t, nil
}
