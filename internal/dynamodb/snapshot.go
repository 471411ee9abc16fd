package dynamodb

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	bolt "go.etcd.io/bbolt"
)

// Snapshot transfer (docs/design/tables.md, "Snapshots"): a node whose
// store is behind the purged change log (down longer than the log keeps
// entries, or new) cannot catch up by replay. It asks an up-to-date node
// for a snapshot of its store: that node copies its bbolt file in one
// read transaction (Tx.WriteTo: a consistent copy, with the log position
// it reflects in its own meta bucket) to a temporary file, and the
// asker pulls the copy in chunks over the backbone (NATS request/reply,
// subject nimbus.dynamodb.snap.<hash of the node name>), checks its
// length and SHA-256, writes it beside its store, fsyncs it, opens it,
// renames it over tables.db and swaps it in (with logMu held, so no
// write or log apply sees the swap), and follows the log from the
// snapshot's position.
//
//	asker                               up-to-date node
//	  open ───────────────────────────►  read tx: WriteTo(temp file); position, size, sum
//	  ◄──────── id, size, seq, sha256 ─┘
//	  chunk(id, offset) ... ──────────►  ReadAt(temp file)
//	  close(id) ──────────────────────►  remove temp file (also after snapIdle)
//	  fsync, open, rename over tables.db, swap, follow from seq+1

const (
	hdrSnapOp     = "Nimbus-Ddb-Snap-Op"
	hdrSnapID     = "Nimbus-Ddb-Snap-Id"
	hdrSnapOffset = "Nimbus-Ddb-Snap-Offset"
	hdrSnapSize   = "Nimbus-Ddb-Snap-Size"
	hdrSnapSeq    = "Nimbus-Ddb-Snap-Seq"
	hdrSnapSum    = "Nimbus-Ddb-Snap-Sum"
	hdrSnapErr    = "Nimbus-Ddb-Snap-Err"

	// snapIdle: a snapshot nobody read for this long is removed.
	snapIdle = time.Minute
	// maxSnapSessions bounds the snapshots a node keeps at once.
	maxSnapSessions = 2
	// snapChunk is the largest chunk (less if the backbone's messages
	// are smaller).
	snapChunk = 4 << 20
	// snapOpenTimeout bounds the copy of a whole store on the serving
	// node; snapChunkTimeout one chunk.
	snapOpenTimeout  = 5 * time.Minute
	snapChunkTimeout = 30 * time.Second

	snapPrefix  = "snapshot-"
	snapInstall = storeFile + ".snap"
)

func snapSubject(node string) string {
	h := sha256.Sum256([]byte(node))
	return "nimbus.dynamodb.snap." + hex.EncodeToString(h[:8])
}

// snapServer serves this node's store as snapshots.
type snapServer struct {
	e  *engine
	mu sync.Mutex
	// sessions are the snapshots being read; guarded by mu.
	sessions map[string]*snapSession
	wg       sync.WaitGroup
	closed   bool // guarded by mu
}

type snapSession struct {
	path  string
	size  int64
	timer *time.Timer
}

func newSnapServer(e *engine) *snapServer {
	return &snapServer{e: e, sessions: map[string]*snapSession{}}
}

// serve answers one snapshot request (in its own goroutine: a copy takes
// as long as the store's size).
func (s *snapServer) serve(m *nats.Msg) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		r := nats.NewMsg(m.Reply)
		if err := s.answer(m, r); err != nil {
			r.Header.Set(hdrSnapErr, err.Error())
			r.Data = nil
		}
		_ = m.RespondMsg(r)
	}()
}

func (s *snapServer) answer(m, r *nats.Msg) error {
	switch m.Header.Get(hdrSnapOp) {
	case "open":
		if s.e.behind.Load() {
			return errors.New("this node's store is behind the change log")
		}
		id, ss, seq, sum, err := s.open()
		if err != nil {
			return err
		}
		r.Header.Set(hdrSnapID, id)
		r.Header.Set(hdrSnapSize, strconv.FormatInt(ss.size, 10))
		r.Header.Set(hdrSnapSeq, strconv.FormatUint(seq, 10))
		r.Header.Set(hdrSnapSum, sum)
		return nil
	case "chunk":
		off, err := strconv.ParseInt(m.Header.Get(hdrSnapOffset), 10, 64)
		if err != nil || off < 0 {
			return errors.New("bad offset")
		}
		n, err := strconv.Atoi(m.Header.Get(hdrSnapSize))
		if err != nil || n <= 0 || n > snapChunk {
			return errors.New("bad chunk size")
		}
		s.mu.Lock()
		ss := s.sessions[m.Header.Get(hdrSnapID)]
		if ss != nil {
			ss.timer.Reset(snapIdle)
		}
		s.mu.Unlock()
		if ss == nil {
			return errors.New("no such snapshot")
		}
		f, err := os.Open(ss.path)
		if err != nil {
			return errors.New("snapshot gone")
		}
		defer func() { _ = f.Close() }()
		buf := make([]byte, min(int64(n), max(ss.size-off, 0)))
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return errors.New("read snapshot")
		}
		r.Data = buf
		return nil
	case "close":
		s.remove(m.Header.Get(hdrSnapID))
		return nil
	}
	return errors.New("unknown snapshot operation")
}

// open copies the store to a temporary file in one read transaction.
func (s *snapServer) open() (string, *snapSession, uint64, string, error) {
	s.mu.Lock()
	if len(s.sessions) >= maxSnapSessions {
		s.mu.Unlock()
		return "", nil, 0, "", errors.New("busy: too many snapshots being read")
	}
	id := uuid.NewString()
	ss := &snapSession{path: filepath.Join(s.e.dir, snapPrefix+id)}
	s.sessions[id] = ss // reserved while copying
	ss.timer = time.AfterFunc(snapOpenTimeout+snapIdle, func() { s.remove(id) })
	s.mu.Unlock()
	var seq uint64
	h := sha256.New()
	err := writeFile(ss.path, func(w io.Writer) error {
		return s.e.view(func(tx *bolt.Tx) error {
			seq = readApplied(tx)
			n, err := tx.WriteTo(io.MultiWriter(w, h))
			ss.size = n
			return err
		})
	}, false)
	if err != nil {
		s.remove(id)
		return "", nil, 0, "", fmt.Errorf("copy the table store: %w", err)
	}
	s.mu.Lock()
	ss.timer.Reset(snapIdle)
	s.mu.Unlock()
	return id, ss, seq, hex.EncodeToString(h.Sum(nil)), nil
}

func (s *snapServer) remove(id string) {
	s.mu.Lock()
	ss := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if ss != nil {
		ss.timer.Stop()
		_ = os.Remove(ss.path)
	}
}

// close waits for the requests being answered and removes every snapshot.
func (s *snapServer) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.remove(id)
	}
}

// writeFile writes path through fill, fsynced if durable.
func writeFile(path string, fill func(io.Writer) error, durable bool) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// removeSnapshotFiles removes what a crash left of snapshots (at open).
func removeSnapshotFiles(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, snapPrefix+"*"))
	for _, p := range append(old, filepath.Join(dir, snapInstall)) {
		_ = os.Remove(p)
	}
}

// snapshot is one fetched snapshot, installed by installLocked.
type snapshot struct {
	path string
	seq  uint64
}

// fetchSnapshot pulls node's snapshot into dir/tables.db.snap, fsynced.
// atSeq is called with the snapshot's position as soon as it is known
// (the asker reports it, so the log is not purged past it meanwhile).
func fetchSnapshot(ctx context.Context, nc *nats.Conn, dir, node string, atSeq func(uint64)) (*snapshot, error) {
	ask := func(timeout time.Duration, op string, hdr map[string]string) (*nats.Msg, error) {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		m := nats.NewMsg(snapSubject(node))
		m.Header.Set(hdrSnapOp, op)
		for k, v := range hdr {
			m.Header.Set(k, v)
		}
		r, err := nc.RequestMsgWithContext(rctx, m)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s from %s: %w", op, node, err)
		}
		if e := r.Header.Get(hdrSnapErr); e != "" {
			return nil, fmt.Errorf("snapshot %s from %s: %s", op, node, e)
		}
		return r, nil
	}
	r, err := ask(snapOpenTimeout, "open", nil)
	if err != nil {
		return nil, err
	}
	id := r.Header.Get(hdrSnapID)
	defer func() { _, _ = ask(snapChunkTimeout, "close", map[string]string{hdrSnapID: id}) }()
	size, err1 := strconv.ParseInt(r.Header.Get(hdrSnapSize), 10, 64)
	seq, err2 := strconv.ParseUint(r.Header.Get(hdrSnapSeq), 10, 64)
	if err1 != nil || err2 != nil || size < 0 {
		return nil, fmt.Errorf("snapshot from %s: bad answer", node)
	}
	if atSeq != nil {
		atSeq(seq)
	}
	chunk := int(min(int64(snapChunk), nc.MaxPayload()-forwardHeadroom))
	path := filepath.Join(dir, snapInstall)
	h := sha256.New()
	err = writeFile(path, func(w io.Writer) error {
		for off := int64(0); off < size; {
			c, err := ask(snapChunkTimeout, "chunk", map[string]string{hdrSnapID: id,
				hdrSnapOffset: strconv.FormatInt(off, 10), hdrSnapSize: strconv.Itoa(chunk)})
			if err != nil {
				return err
			}
			if len(c.Data) == 0 {
				return fmt.Errorf("snapshot from %s: short at %d of %d bytes", node, off, size)
			}
			h.Write(c.Data)
			if _, err := w.Write(c.Data); err != nil {
				return err
			}
			off += int64(len(c.Data))
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != r.Header.Get(hdrSnapSum) {
			return fmt.Errorf("snapshot from %s: checksum mismatch", node)
		}
		return nil
	}, true)
	if err != nil {
		return nil, err
	}
	return &snapshot{path: path, seq: seq}, nil
}

// installLocked makes a fetched snapshot the store (with e.logMu held):
// opened first (a damaged copy never replaces the store), renamed over
// tables.db, swapped in; readers of the old file finish before it
// closes, and a reader that meets the closed file reads the new one.
// keep: the replaced file is kept as tables.db.replaced (an orphan's,
// reseed.go, whose data no live log has).
func (e *engine) installLocked(s *snapshot, keep bool) error {
	db, tables, applied, err := openStoreFile(s.path)
	if err != nil {
		_ = os.Remove(s.path)
		return err
	}
	if applied != s.seq {
		_ = db.Close()
		_ = os.Remove(s.path)
		return fmt.Errorf("snapshot: position %d, announced %d", applied, s.seq)
	}
	if keep {
		kept := filepath.Join(e.dir, storeFile+".replaced")
		_ = os.Remove(kept)
		if err := os.Link(filepath.Join(e.dir, storeFile), kept); err != nil {
			_ = db.Close()
			return fmt.Errorf("keep the replaced table store: %w", err)
		}
	}
	if err := os.Rename(s.path, filepath.Join(e.dir, storeFile)); err != nil {
		_ = db.Close()
		return fmt.Errorf("install the snapshot: %w", err)
	}
	if d, err := os.Open(e.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	old := e.dbp.Swap(db)
	e.mu.Lock()
	e.tables = tables
	e.mu.Unlock()
	e.logSeq = applied
	e.pend = nil
	e.stale = false
	if err := old.Close(); err != nil {
		return fmt.Errorf("close the replaced table store: %w", err)
	}
	return nil
}

// resync brings this node's store past the purged log by a snapshot
// from an up-to-date node: the table node first, then the node that
// reports the highest position.
func (p *peer) resync(ctx context.Context) error {
	e := p.h.s.e
	info, err := e.log.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the table change log: %w", err)
	}
	first := info.State.FirstSeq
	var errs []error
	for _, node := range p.snapshotSources(ctx, first, logLineage(info)) {
		s, err := fetchSnapshot(ctx, p.nc, e.dir, node, func(seq uint64) {
			p.snapAt.Store(seq)
			p.report(ctx)
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.seq+1 < first {
			_ = os.Remove(s.path)
			errs = append(errs, fmt.Errorf("snapshot from %s: position %d is behind the log (first entry %d)", node, s.seq, first))
			continue
		}
		e.logMu.Lock()
		err = e.installLocked(s, e.orphan.Load())
		e.logMu.Unlock()
		if err != nil {
			return err
		}
		e.behind.Store(false)
		p.snapAt.Store(0)
		p.h.s.log.Info("dynamodb table store replaced by a snapshot", "from", node, "position", s.seq)
		return nil
	}
	if len(errs) == 0 {
		return errors.New("no up-to-date node to take a snapshot from")
	}
	return errors.Join(errs...)
}

// snapshotSources are the nodes that may give an up-to-date snapshot:
// the table node, then the others whose reported position in the log's
// lineage lin is at or past its first entry less one, highest first.
func (p *peer) snapshotSources(ctx context.Context, first uint64, lin string) []string {
	var out []string
	if h := p.homeNode(ctx, true); h != "" && h != p.node {
		out = append(out, h)
	}
	reps := p.reports(ctx, func(r appliedReport) bool {
		return r.Node != p.node && !r.Orphan && (r.Lineage == "" || r.Lineage == lin) && r.Seq+1 >= first && !slices.Contains(out, r.Node)
	})
	slices.SortFunc(reps, func(a, b appliedReport) int { return cmp.Compare(b.Seq, a.Seq) })
	for _, r := range reps {
		out = append(out, r.Node)
	}
	return out
}
