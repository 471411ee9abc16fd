package events

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ArchiveSweepInterval is how often the archive sweep runs: it deletes
// the events older than each archive's RetentionDays and recounts the
// archive's SizeBytes (which DescribeArchive and ListArchives report as of
// the last sweep, as AWS's is also updated periodically).
const ArchiveSweepInterval = 5 * time.Minute

// archiveStats is what the last sweep found in an archive.
type archiveStats struct {
	SizeBytes  int64
	EventCount uint64
	Swept      int64 // Unix ms of the sweep (service clock)
}

func archiveStatsKey(name string) string {
	return "archivestats." + hex.EncodeToString([]byte(name))
}

// runArchiveSweep sweeps every archive now and then every
// ArchiveSweepInterval of the service's clock, on the node holding the
// archive lease (Options.Lease) or here when there is none.
func (s *Service) runArchiveSweep(ctx context.Context) error {
	loop := func(ctx context.Context) error {
		for {
			if err := s.sweepArchives(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("archive sweep failed; retried next interval", "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-s.clock.After(ArchiveSweepInterval):
			}
		}
	}
	if s.lease == nil {
		return loop(ctx)
	}
	return s.lease(ctx, loop)
}

// sweepArchives sweeps each archive once.
func (s *Service) sweepArchives(ctx context.Context) error {
	ks, err := s.keys(ctx, "archive.>")
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range ks {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var a Archive
		if json.Unmarshal(e.Value(), &a) != nil {
			continue
		}
		if err := s.sweepArchive(ctx, &a); err != nil {
			errs = append(errs, fmt.Errorf("archive %s: %w", a.ArchiveName, err))
		}
	}
	return errors.Join(errs...)
}

// sweepArchive reads archive a in order, purges the events accepted
// before now minus RetentionDays (0: kept forever) and records the size
// and count of the rest.
func (s *Service) sweepArchive(ctx context.Context, a *Archive) error {
	subj := archiveSubject(a.ArchiveName)
	now := s.now()
	var cutoff int64 // Unix ms; events accepted before it are expired
	if a.RetentionDays > 0 {
		cutoff = now.AddDate(0, 0, -a.RetentionDays).UnixMilli()
	}
	info, err := s.archiveStr.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return fmt.Errorf("archive info: %w", err)
	}
	total := info.State.Subjects[subj]
	var st archiveStats
	var purgeBelow uint64 // first sequence kept; 0: nothing expired
	if total > 0 {
		cons, err := s.archiveStr.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		for read := uint64(0); read < total; read++ {
			m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
			if err != nil {
				return fmt.Errorf("read archive: %w", err)
			}
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("read archive: %w", err)
			}
			var am archivedMsg
			if json.Unmarshal(m.Data(), &am) == nil && am.Accepted < cutoff && st.EventCount == 0 {
				purgeBelow = md.Sequence.Stream + 1 // archives are in acceptance order
			} else {
				st.EventCount++
				st.SizeBytes += int64(len(am.Event))
			}
			if md.NumPending == 0 {
				break
			}
		}
	}
	if purgeBelow > 0 {
		if err := s.archiveStr.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(purgeBelow)); err != nil {
			return fmt.Errorf("purge expired events: %w", err)
		}
	}
	st.Swept = now.UnixMilli()
	b, _ := json.Marshal(st)
	if _, err := s.kv.Put(ctx, archiveStatsKey(a.ArchiveName), b); err != nil {
		return fmt.Errorf("record archive size: %w", err)
	}
	return nil
}

// archiveSize is SizeBytes as of the last sweep (0 before the first).
func (s *Service) archiveSize(ctx context.Context, name string) int64 {
	e, err := s.kv.Get(ctx, archiveStatsKey(name))
	if err != nil {
		return 0
	}
	var st archiveStats
	_ = json.Unmarshal(e.Value(), &st)
	return st.SizeBytes
}
