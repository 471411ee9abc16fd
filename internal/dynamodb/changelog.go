package dynamodb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The change log makes a cluster's tables survive their table node
// (docs/design/tables.md, "Takeover"). Every group commit of the table
// node records the bucket writes it makes (puts, deletes, buckets created
// and dropped) as one log entry, and appends the entry to the replicated
// JetStream stream NIMBUS_DDB_LOG before its bbolt commit, with
// Nats-Expected-Last-Sequence = the last entry the store holds: the
// group's clients are answered only after a quorum has the entry and the
// local file has it (with applied = its sequence, in the same
// transaction). Every other node follows the log into its own store, so a
// node that takes the table node's lease replays seconds of log, appends
// a barrier (which fences a deposed holder: its next append expects an
// older last sequence and fails) and serves.
//
//	holder:   group ─► append (expected last = applied) ─► bbolt commit (applied = seq) ─► answer
//	follower: ordered consumer ─► apply entry ─► bbolt commit (applied = seq)

const (
	logStream  = "NIMBUS_DDB_LOG"
	logSubject = "nimbus.dynamodb.log"
	// logTimeout bounds one append.
	logTimeout = 10 * time.Second
)

var (
	bucketMeta = []byte("meta") // "applied" -> the last log sequence in the store
	keyApplied = []byte("applied")
)

// Log entry kinds and operations.
const (
	entryOps     = 0
	entryBarrier = 1
	// entryPart is a piece of a group's entry too large for one message
	// (its bytes follow the header); entryLast the last piece (the first
	// piece's sequence, then its bytes). entrySeed is in reseed.go.
	entryPart = 3
	entryLast = 4

	opPut          = 1
	opDelete       = 2
	opCreateBucket = 3
	opDeleteBucket = 4
)

// logOp is one bucket write of a group commit.
type logOp struct {
	kind             byte
	bucket, key, val []byte
}

// changeLog is a node's handle on the cluster's change log.
type changeLog struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	node   string
	warn   func(msg string, err error)
	// maxEntry is the largest entry the backbone carries (its
	// max_payload less room for headers).
	maxEntry int
}

// openLog creates (or opens) the change log stream.
func openLog(ctx context.Context, js jetstream.JetStream, replicas int, maxBytes int64, node string) (*changeLog, error) {
	if maxBytes <= 0 {
		maxBytes = -1
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: logStream, Subjects: []string{logSubject}, Storage: jetstream.FileStorage, Replicas: replicas,
		Description: "the change log of the cluster's DynamoDB tables", MaxBytes: maxBytes, Discard: jetstream.DiscardNew,
	})
	if err != nil {
		return nil, fmt.Errorf("open the table change log: %w", err)
	}
	return &changeLog{js: js, stream: st, node: node, warn: func(string, error) {}, maxEntry: 1 << 20}, nil
}

// encodeEntry is a log entry: version, kind, the writing node and its
// lease token, then the operations (kind, then bucket, key and value each
// length-prefixed).
func encodeEntry(kind byte, node string, token uint64, ops []logOp) []byte {
	n := 16 + len(node)
	for _, op := range ops {
		n += 1 + 3*binary.MaxVarintLen32 + len(op.bucket) + len(op.key) + len(op.val)
	}
	b := appendHeader(make([]byte, 0, n), kind, node, token)
	for _, op := range ops {
		b = append(b, op.kind)
		for _, f := range [][]byte{op.bucket, op.key, op.val} {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	return b
}

// appendHeader appends an entry's header: version, kind, node, token.
func appendHeader(b []byte, kind byte, node string, token uint64) []byte {
	b = append(b, 1, kind)
	b = binary.AppendUvarint(b, uint64(len(node)))
	b = append(b, node...)
	return binary.AppendUvarint(b, token)
}

var errBadEntry = errors.New("damaged change log entry")

// splitHeader reads an entry's header; rest is what follows it.
func splitHeader(b []byte) (kind byte, node string, token uint64, rest []byte, err error) {
	if len(b) < 2 || b[0] != 1 {
		return 0, "", 0, nil, errBadEntry
	}
	kind, b = b[1], b[2:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) { //nolint:gosec // len(b)-k is not negative
		return 0, "", 0, nil, errBadEntry
	}
	end := k + int(n) //nolint:gosec // n is at most len(b)-k
	node, b = string(b[k:end]), b[end:]
	token, k = binary.Uvarint(b)
	if k <= 0 {
		return 0, "", 0, nil, errBadEntry
	}
	return kind, node, token, b[k:], nil
}

// decodeEntry reads a log entry of operations (not a piece of one); the
// slices point into b.
func decodeEntry(b []byte) (kind byte, node string, token uint64, ops []logOp, err error) {
	kind, node, token, b, err = splitHeader(b)
	if err != nil || kind == entryPart || kind == entryLast {
		return 0, "", 0, nil, errBadEntry
	}
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) { //nolint:gosec // len(b)-k is not negative
			return nil, false
		}
		end := k + int(n) //nolint:gosec // n is at most len(b)-k
		f := b[k:end]
		b = b[end:]
		return f, true
	}
	for len(b) > 0 {
		op := logOp{kind: b[0]}
		b = b[1:]
		var ok1, ok2, ok3 bool
		op.bucket, ok1 = field()
		op.key, ok2 = field()
		op.val, ok3 = field()
		if !ok1 || !ok2 || !ok3 || op.kind < opPut || op.kind > opDeleteBucket {
			return 0, "", 0, nil, errBadEntry
		}
		ops = append(ops, op)
	}
	return kind, node, token, ops, nil
}

// The write helpers: every bucket write of a transaction goes through
// them, so the change log has it.

func (w *wtx) record(kind byte, bucket, key, val []byte) {
	if w.ops != nil {
		*w.ops = append(*w.ops, logOp{kind: kind, bucket: bucket, key: key, val: val})
	}
}

// putIn puts key=val in b, the bucket called name.
func (w *wtx) putIn(b *bolt.Bucket, name, key, val []byte) error {
	if err := b.Put(key, val); err != nil {
		return err
	}
	w.record(opPut, name, key, val)
	return nil
}

// deleteIn deletes key from b, the bucket called name.
func (w *wtx) deleteIn(b *bolt.Bucket, name, key []byte) error {
	if err := b.Delete(key); err != nil {
		return err
	}
	w.record(opDelete, name, key, nil)
	return nil
}

func (w *wtx) createBucket(name []byte, ifNotExists bool) (*bolt.Bucket, error) {
	var b *bolt.Bucket
	var err error
	if ifNotExists {
		b, err = w.tx.CreateBucketIfNotExists(name)
	} else {
		b, err = w.tx.CreateBucket(name)
	}
	if err != nil {
		return nil, err
	}
	w.record(opCreateBucket, name, nil, nil)
	return b, nil
}

func (w *wtx) deleteBucket(name []byte) error {
	if err := w.tx.DeleteBucket(name); err != nil {
		return err
	}
	w.record(opDeleteBucket, name, nil, nil)
	return nil
}

// errNotTableNode: this node does not hold the tables' lease (any more);
// the client retries, reaching the holder through a node that forwards.
func errNotTableNode() *Error {
	return newErr(http.StatusServiceUnavailable, "ServiceUnavailable",
		"This node is not the cluster's DynamoDB table node; retry (docs/design/tables.md)")
}

func errLogAppend() *Error {
	return newErr(http.StatusServiceUnavailable, "ServiceUnavailable",
		"The write could not be replicated to the cluster's change log; retry (docs/design/tables.md)")
}

// appendLocked appends a committing group's operations to the log (with
// e.logMu held) and records the entry's sequence in the transaction.
func (e *engine) appendLocked(tx *bolt.Tx, ops []logOp) error {
	if len(ops) == 0 {
		return nil
	}
	data := encodeEntry(entryOps, e.log.node, e.token, ops)
	if len(data) <= e.log.maxEntry {
		return e.publishLocked(tx, data)
	}
	// Too large for one message: pieces (entryPart) and a last piece
	// (entryLast, naming the first), each fenced as any entry; a
	// follower applies the group only with its last piece, in one
	// transaction, so the group stays atomic on every node.
	hdr := len(appendHeader(nil, entryOps, e.log.node, e.token))
	body := data[hdr:]
	n := e.log.maxEntry - hdr - binary.MaxVarintLen64
	if n <= 0 {
		return errors.New("the backbone's message limit is too small for the change log")
	}
	prev := e.logSeq
	var first uint64
	for len(body) > n {
		seq, err := e.sendLocked(append(appendHeader(nil, entryPart, e.log.node, e.token), body[:n]...), prev)
		if err != nil {
			return err
		}
		if first == 0 {
			first = seq
		}
		prev, body = seq, body[n:]
	}
	last := binary.AppendUvarint(appendHeader(nil, entryLast, e.log.node, e.token), first)
	return e.publishAfterLocked(tx, append(last, body...), prev)
}

func (e *engine) publishLocked(tx *bolt.Tx, data []byte) error {
	return e.publishAfterLocked(tx, data, e.logSeq)
}

// publishAfterLocked appends data expecting the log's last entry to be
// expect, and records its sequence in tx.
func (e *engine) publishAfterLocked(tx *bolt.Tx, data []byte, expect uint64) error {
	seq, err := e.sendLocked(data, expect)
	if err != nil {
		return err
	}
	if err := setApplied(tx, seq); err != nil {
		e.stale = true
		return err
	}
	tx.OnCommit(func() {
		e.logSeq = seq
		e.pend = nil // pieces of a group that never got its last piece
	})
	return nil
}

// sendLocked appends data expecting the log's last entry to be expect.
func (e *engine) sendLocked(data []byte, expect uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	ack, err := e.log.js.PublishMsg(ctx, &nats.Msg{Subject: logSubject, Data: data}, jetstream.WithExpectLastSequence(expect))
	if err != nil {
		// Stored or not, fenced or not: the next write first reads the
		// log to its end (catchUpLocked).
		e.stale = true
		return 0, fmt.Errorf("append to the table change log: %w", err)
	}
	return ack.Sequence, nil
}

// logPiece is a piece of a large group's entry, held until its last.
type logPiece struct {
	seq  uint64
	data []byte
}

// positionLocked is the last entry the store holds durably: pieces of an
// unfinished group are in memory only, so a restart replays them.
func (e *engine) positionLocked() uint64 {
	if len(e.pend) > 0 {
		return e.pend[0].seq - 1
	}
	return e.logSeq
}

func setApplied(tx *bolt.Tx, seq uint64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], seq)
	return tx.Bucket(bucketMeta).Put(keyApplied, v[:])
}

func readApplied(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// errLogGap: the log no longer has the entries after this store's last
// (it was purged); the store cannot catch up by replay.
var errLogGap = errors.New("the table change log has been purged past this node's store")

// catchUpLocked applies every log entry after the store's last, to the
// log's end (with e.logMu held).
func (e *engine) catchUpLocked(ctx context.Context) error {
	info, err := e.log.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the table change log: %w", err)
	}
	last := info.State.LastSeq
	if last > e.logSeq && info.State.FirstSeq > e.logSeq+1 {
		return errLogGap
	}
	for seq := e.logSeq + 1; seq <= last; seq++ {
		m, err := e.log.stream.GetMsg(ctx, seq)
		if err != nil {
			return fmt.Errorf("read table change log entry %d: %w", seq, err)
		}
		if err := e.applyLocked(seq, m.Data); err != nil {
			return err
		}
	}
	e.stale = false
	return nil
}

// barrierLocked appends an entry of no writes that expects the store's
// last sequence: once it is in, a former holder's appends fail.
func (e *engine) barrierLocked(token uint64) error {
	data := encodeEntry(entryBarrier, e.log.node, token, nil)
	return e.db().Update(func(tx *bolt.Tx) error { return e.publishLocked(tx, data) })
}

// applyLocked applies log entry seq to the store (with e.logMu held).
// A piece of a large group is held in memory until the group's last
// piece; any other entry drops pieces not completed (a group whose
// holder failed or was fenced before its last piece).
func (e *engine) applyLocked(seq uint64, data []byte) error {
	if seq <= e.logSeq {
		return nil
	}
	kind, node, token, rest, err := splitHeader(data)
	if err != nil {
		return fmt.Errorf("table change log entry %d: %w", seq, err)
	}
	switch kind {
	case entryPart:
		e.pend = append(e.pend, logPiece{seq: seq, data: bytes.Clone(rest)})
		e.logSeq = seq
		return nil
	case entryLast:
		first, k := binary.Uvarint(rest)
		if k <= 0 {
			return fmt.Errorf("table change log entry %d: %w", seq, errBadEntry)
		}
		whole := appendHeader(nil, entryOps, node, token)
		next := first
		for _, p := range e.pend {
			if p.seq < first {
				continue
			}
			if p.seq != next {
				break
			}
			whole = append(whole, p.data...)
			next++
		}
		if next != seq {
			// The group's pieces are not all here (only after a
			// purge past them): replay cannot rebuild it.
			return errLogGap
		}
		data = append(whole, rest[k:]...)
	}
	e.pend = nil
	kind, _, _, ops, err := decodeEntry(data)
	if err != nil {
		return fmt.Errorf("table change log entry %d: %w", seq, err)
	}
	if kind == entrySeed {
		// The log was seeded from another store (reseed.go): this one
		// is replaced by a snapshot.
		return errLogGap
	}
	err = e.db().Update(func(tx *bolt.Tx) error {
		pending := map[string]*tableDesc{}
		tx.OnCommit(func() { e.setPending(pending) })
		for _, op := range ops {
			if err := applyOp(tx, op, pending); err != nil {
				return fmt.Errorf("table change log entry %d: %w", seq, err)
			}
		}
		return setApplied(tx, seq)
	})
	if err != nil {
		return err
	}
	e.logSeq = seq
	return nil
}

func applyOp(tx *bolt.Tx, op logOp, pending map[string]*tableDesc) error {
	switch op.kind {
	case opCreateBucket:
		_, err := tx.CreateBucketIfNotExists(op.bucket)
		return err
	case opDeleteBucket:
		if err := tx.DeleteBucket(op.bucket); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
		return nil
	}
	b := tx.Bucket(op.bucket)
	if b == nil {
		return fmt.Errorf("bucket %q is missing", op.bucket)
	}
	if op.kind == opDelete {
		if string(op.bucket) == string(bucketTables) {
			pending[string(op.key)] = nil
		}
		return b.Delete(op.key)
	}
	switch string(op.bucket) {
	case string(bucketTables):
		var t tableDesc
		if err := json.Unmarshal(op.val, &t); err != nil {
			return fmt.Errorf("decode table %s: %w", op.key, err)
		}
		pending[t.TableName] = &t
	case string(bucketOutbox):
		// The holder numbers stream records by the outbox's sequence:
		// a follower that takes over continues after the last.
		if len(op.key) == 8 {
			if n := binary.BigEndian.Uint64(op.key); n > b.Sequence() {
				if err := b.SetSequence(n); err != nil {
					return err
				}
			}
		}
	}
	return b.Put(op.key, op.val)
}

// follow applies the log's new entries to the store until ctx ends (a
// node that does not hold the tables' lease). A store the log was purged
// past is replaced by resync's snapshot (snapshot.go), then followed on.
func (e *engine) follow(ctx context.Context, warn func(string, error), resync func(context.Context) error) {
	awaiting := false
	for ctx.Err() == nil {
		err := e.followOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errAwaitSeed) {
			if !awaiting {
				warn("wait for the table node to seed the change log", err)
				awaiting = true
			}
		} else if errors.Is(err, errLogGap) {
			if !e.behind.Swap(true) {
				warn("this node's table store is behind the purged change log: it forwards and fetches a snapshot (docs/design/tables.md)", err)
			}
			if err = resync(ctx); err == nil {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			warn("fetch a snapshot of the tables", err)
		} else if err != nil {
			warn("follow the table change log", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (e *engine) followOnce(ctx context.Context) error {
	e.logMu.Lock()
	from := e.logSeq + 1
	e.logMu.Unlock()
	info, err := e.log.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the table change log: %w", err)
	}
	e.logMu.Lock()
	orphan, err := e.matchLogLocked(info)
	e.logMu.Unlock()
	switch {
	case err != nil:
		return err
	case orphan && info.State.LastSeq == 0:
		return errAwaitSeed
	case orphan:
		return errLogGap
	}
	if info.State.LastSeq >= from && info.State.FirstSeq > from {
		return errLogGap
	}
	cons, err := e.log.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return fmt.Errorf("read the table change log: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read the table change log: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		seq := md.Sequence.Stream
		e.logMu.Lock()
		switch {
		case seq <= e.logSeq:
			err = nil
		case seq > e.logSeq+1:
			err = errLogGap
		default:
			err = e.applyLocked(seq, m.Data())
		}
		e.logMu.Unlock()
		if err != nil {
			return err
		}
	}
}

// Compaction: every node reports the last entry its store has (KV bucket
// nimbus_dynamodb, key applied-<hash of the node name>); the holder
// purges the entries every node that reported in the last reportFresh
// has. A node silent for longer no longer holds the purge back: when it
// comes back behind the purged log it cannot catch up by replay; it
// forwards, does not contend for the lease, and fetches a snapshot
// (snapshot.go).
const reportFresh = 10 * time.Minute

type appliedReport struct {
	Node string `json:"node"`
	Seq  uint64 `json:"seq"`
	// Lineage is the log the position counts in (reseed.go; "" from a
	// node before lineages); Orphan: the store follows no current log;
	// Bytes: the size of its tables' items (which store seeds a log).
	Lineage string `json:"lineage,omitempty"`
	Orphan  bool   `json:"orphan,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
}

func reportKey(node string) string {
	h := sha256.Sum256([]byte(node))
	return "applied-" + hex.EncodeToString(h[:8])
}

// report records this node's last applied entry.
func (p *peer) report(ctx context.Context) {
	e := p.h.s.e
	e.logMu.Lock()
	seq := e.positionLocked()
	e.logMu.Unlock()
	if e.behind.Load() {
		// Behind the purge: this node's position must not hold it back,
		// except for the snapshot it is fetching.
		if seq = p.snapAt.Load(); seq == 0 {
			_ = p.kv.Delete(ctx, reportKey(p.node))
			return
		}
	}
	b, _ := json.Marshal(appliedReport{Node: p.node, Seq: seq, Lineage: e.lineage(), Orphan: e.orphan.Load(), Bytes: e.tableBytes()})
	if _, err := p.kv.Put(ctx, reportKey(p.node), b); err != nil && ctx.Err() == nil {
		p.h.s.log.Warn("report the table change log position", "err", err)
	}
}

// reports are the positions reported within reportFresh that keep says.
func (p *peer) reports(ctx context.Context, keep func(appliedReport) bool) []appliedReport {
	keys, err := p.kv.ListKeys(ctx)
	if err != nil {
		return nil
	}
	var out []appliedReport
	for k := range keys.Keys() {
		if !strings.HasPrefix(k, "applied-") {
			continue
		}
		ent, err := p.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var r appliedReport
		if json.Unmarshal(ent.Value(), &r) != nil || time.Since(ent.Created()) > reportFresh || !keep(r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// compact purges the log entries every live node has applied (holder);
// positions in another log (an orphan's, reseed.go) do not count.
func (p *peer) compact(ctx context.Context) error {
	e := p.h.s.e
	e.logMu.Lock()
	upTo := e.positionLocked()
	e.logMu.Unlock()
	lin := e.lineage()
	for _, r := range p.reports(ctx, func(r appliedReport) bool { return r.Lineage == "" || r.Lineage == lin }) {
		upTo = min(upTo, r.Seq)
	}
	if upTo == 0 {
		return nil
	}
	if err := e.log.stream.Purge(ctx, jetstream.WithPurgeSequence(upTo+1)); err != nil {
		return fmt.Errorf("purge the table change log: %w", err)
	}
	return nil
}

// lineage is the log the store follows ("" before it adopted one).
func (e *engine) lineage() string {
	var lin string
	_ = e.view(func(tx *bolt.Tx) error { lin = string(tx.Bucket(bucketMeta).Get(keyLineage)); return nil })
	return lin
}
