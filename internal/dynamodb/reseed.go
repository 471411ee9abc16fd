package dynamodb

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

// Log lineages (docs/design/tables.md, "A wiped backbone"). A store's
// position counts entries of one log: the stream NIMBUS_DDB_LOG as it was
// created. A backbone wiped while the data directories were kept (or a
// store written before the log existed: an upgrade, a single node joining
// a cluster) has a position that means nothing in the new log, and replay
// from it would corrupt the store. So the store records the lineage of
// the log it follows (the log stream's creation time, bucket meta), and a
// store of another lineage, or one with data but no position, is an
// orphan:
//
//   - when the log already has entries, the orphan is replaced by a
//     snapshot of an up-to-date node, like a store behind the purge; its
//     file is kept as tables.db.replaced for the operator;
//   - when the log is empty, the node that takes the lease seeds the log:
//     it waits (SeedWait) for the other nodes' reports, takes the best
//     store among them and its own — the highest position, then the most
//     table bytes — by snapshot if it is another node's, and appends a
//     seed entry, which every other store takes as "replace me by a
//     snapshot" (a store that is not the seeder's cannot replay it).

var keyLineage = []byte("lineage")

// errAwaitSeed: an orphan store and an empty log: the table node seeds.
var errAwaitSeed = errors.New("the table change log is empty and this node's store predates it: waiting for the table node to seed it")

// entrySeed is the first entry of a log seeded from an existing store.
const entrySeed = 2

func logLineage(info *jetstream.StreamInfo) string {
	return strconv.FormatInt(info.Created.UnixNano(), 10)
}

// matchLogLocked tells whether the store follows the log info describes
// (with e.logMu held). A new empty store, or one from before lineages
// whose position the log has reached, adopts the log's lineage.
func (e *engine) matchLogLocked(info *jetstream.StreamInfo) (orphan bool, err error) {
	lin := logLineage(info)
	var have string
	var data bool
	err = e.view(func(tx *bolt.Tx) error {
		have = string(tx.Bucket(bucketMeta).Get(keyLineage))
		data = storeHasData(tx)
		return nil
	})
	if err != nil {
		return false, err
	}
	switch {
	case have == lin:
		orphan = false
	case have != "", e.logSeq > info.State.LastSeq, e.logSeq == 0 && data:
		orphan = true
	default:
		err = e.db().Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyLineage, []byte(lin)) })
	}
	e.orphan.Store(orphan)
	return orphan, err
}

func storeHasData(tx *bolt.Tx) bool {
	k, _ := tx.Bucket(bucketTables).Cursor().First()
	return k != nil
}

// tableBytes is the size of every table's items (the stats bucket).
func (e *engine) tableBytes() int64 {
	var n int64
	_ = e.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStats).ForEach(func(_, v []byte) error {
			if len(v) == 16 {
				n += int64(binary.BigEndian.Uint64(v[8:])) //nolint:gosec // non-negative counter
			}
			return nil
		})
	})
	return n
}

// takeOverLocked brings the store to the log's end before this node
// serves as the table node (with e.logMu held): replay and a barrier, or,
// on an empty log, a seed.
func (p *peer) takeOverLocked(ctx context.Context, token uint64) error {
	e := p.h.s.e
	info, err := e.log.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the table change log: %w", err)
	}
	orphan, err := e.matchLogLocked(info)
	if err != nil {
		return err
	}
	if info.State.LastSeq == 0 {
		return p.seedLocked(ctx, token, orphan, info)
	}
	if orphan {
		return errLogGap // replaced by a snapshot as a follower
	}
	if err := e.catchUpLocked(ctx); err != nil {
		return err
	}
	return e.barrierLocked(token)
}

// seedLocked starts an empty log from the best store of the cluster.
func (p *peer) seedLocked(ctx context.Context, token uint64, orphan bool, info *jetstream.StreamInfo) error {
	e := p.h.s.e
	self := appliedReport{Node: p.node, Seq: e.logSeq, Bytes: e.tableBytes(), Orphan: orphan}
	evidence := orphan || self.Bytes > 0 || self.Seq > 0
	reps := p.reports(ctx, func(r appliedReport) bool { return r.Node != p.node })
	for _, r := range reps {
		evidence = evidence || r.Orphan || r.Bytes > 0 || r.Seq > 0
	}
	if evidence {
		// Give the other nodes time to report their stores.
		if wait := time.Until(p.joined.Add(p.seedWait)); wait > 0 {
			p.h.s.log.Info("dynamodb: the table change log is empty and stores hold data: waiting for the nodes' reports before seeding it", "wait", wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			reps = p.reports(ctx, func(r appliedReport) bool { return r.Node != p.node })
		}
	}
	// The best store first; a node that does not answer (gone since
	// it reported) gives way to the next, down to this node's own.
	cands := append(reps, self)
	slices.SortStableFunc(cands, func(a, b appliedReport) int {
		if c := cmp.Compare(b.Seq, a.Seq); c != 0 {
			return c
		}
		return cmp.Compare(b.Bytes, a.Bytes)
	})
	best := self
	for _, c := range cands {
		if c.Node == p.node || c.Seq < self.Seq || c.Seq == self.Seq && c.Bytes <= self.Bytes {
			break
		}
		s, err := fetchSnapshot(ctx, p.nc, e.dir, c.Node, nil)
		if err != nil {
			p.h.s.log.Warn("dynamodb: seed the change log: no snapshot from the best store's node", "node", c.Node, "err", err)
			continue
		}
		if err := e.installLocked(s, orphan || self.Bytes > 0); err != nil {
			return err
		}
		best = c
		break
	}
	var data bool
	_ = e.view(func(tx *bolt.Tx) error { data = storeHasData(tx); return nil })
	kind := byte(entryBarrier)
	if data || e.logSeq > 0 {
		kind = entrySeed
	}
	lin := logLineage(info)
	was := e.logSeq
	e.logSeq = 0 // the seed is the log's first entry
	e.pend = nil
	err := e.db().Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(keyLineage, []byte(lin)); err != nil {
			return err
		}
		return e.publishLocked(tx, encodeEntry(kind, e.log.node, token, nil))
	})
	if err != nil {
		e.logSeq = was
		return err
	}
	e.orphan.Store(false)
	if kind == entrySeed {
		p.h.s.log.Warn("dynamodb: seeded the empty table change log from a store", "from", best.Node, "position", best.Seq, "bytes", best.Bytes)
	}
	return nil
}
