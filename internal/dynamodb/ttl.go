package dynamodb

import (
	"context"
	"math/big"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Time to Live: a sweeper deletes, every TTLInterval, the items of each
// table with TTL enabled whose TTL attribute is a Number of epoch seconds
// in the past (AWS ignores other types and values more than five years
// old). Each deletion is an ordinary change with a REMOVE stream record
// whose userIdentity is the DynamoDB service, as AWS writes it. A sweep
// deletes at most ttlBatch items per table, in one transaction.

const ttlBatch = 1000

// sweepTTL sweeps every TTLInterval until ctx ends (on the node that
// writes the tables).
func (s *Service) sweepTTL(ctx context.Context) {
	t := time.NewTicker(s.opts.TTLInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.SweepTTL(ctx)
		}
	}
}

// SweepTTL deletes the expired items of every table now.
func (s *Service) SweepTTL(ctx context.Context) {
	now := s.opts.Now().Unix()
	oldest := now - 5*365*24*3600
	for _, name := range s.e.tableNames() {
		t, ok := s.e.table(name)
		if !ok || !t.StoredTTLOn {
			continue
		}
		var keys [][]byte
		_ = s.e.view(func(tx *bolt.Tx) error {
			b := tx.Bucket(itemsBucket(name))
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				if len(keys) >= ttlBatch {
					return nil
				}
				it, err := decodeItem(v)
				if err != nil {
					return nil //nolint:nilerr // an unreadable item is not the sweeper's to judge
				}
				if expired(it[t.StoredTTL], now, oldest) {
					keys = append(keys, append([]byte{}, k...))
				}
				return nil
			})
		})
		if len(keys) == 0 {
			continue
		}
		err := s.e.write(ctx, func(w *wtx) error {
			t, err := w.table(name)
			if err != nil {
				return nil //nolint:nilerr // the table went away
			}
			for _, k := range keys {
				old, err := w.get(t, k)
				if err != nil {
					return err
				}
				if old == nil || !expired(old[t.StoredTTL], now, oldest) {
					continue
				}
				if err := w.apply(t, change{key: k, old: old, ttl: true}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.log.Warn("delete expired items", "table", name, "err", err)
		}
	}
}

func expired(v *Value, now, oldest int64) bool {
	if v == nil || v.K != KindN {
		return false
	}
	f, ok := new(big.Float).SetString(v.S)
	if !ok {
		return false
	}
	n, _ := f.Int64()
	return n <= now && n >= oldest
}
