// Package logstore keeps function logs durably in the backbone: log groups
// and log streams as CloudWatch Logs has them, their events in one
// JetStream stream with limits-based retention, and the group metadata
// (creation time, retention policy) in a key-value bucket. It owns the
// hot-path writer that batches log lines off the invoke path (Writer) and
// the reads the CloudWatch Logs API serves (Events, Groups, Streams).
//
// Layout (docs/design/logs.md):
//
//	stream nimbus_logs, subjects logs.<group-hash>.<stream-hash>
//	  one message = a batch of events of one log stream (group commit)
//	bucket nimbus_logs_meta
//	  g.<group-hash>                 {name, created, retentionDays}
//	  s.<group-hash>.<stream-hash>   {name, created}
//
// The stream discards its oldest messages when it reaches MaxAge or
// MaxBytes: logs are an observation of work, not work, so a full log store
// forgets history instead of refusing new lines (the opposite of the
// queues' Discard New).
//
// Who may import it: the daemon (wiring) and internal/logsapi.
package logstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names in the backbone.
const (
	StreamName = "nimbus_logs"
	MetaBucket = "nimbus_logs_meta"
	subjectPfx = "logs."

	// DefaultMaxAge and DefaultMaxBytes bound the whole log store.
	DefaultMaxAge   = 30 * 24 * time.Hour
	DefaultMaxBytes = 1 << 30
	// maxBatchBytes bounds one stored batch (CloudWatch's PutLogEvents
	// limit is 1 MB too).
	maxBatchBytes = 1 << 20
	// MaxEventSize is CloudWatch's per-event limit; longer messages are cut.
	MaxEventSize = 256 * 1024
)

// Errors, tested with errors.Is.
var (
	ErrNotFound = errors.New("log group not found")
	ErrExists   = errors.New("log group already exists")
)

// Options configures Open.
type Options struct {
	// MaxAge and MaxBytes are the stream's limits (defaults above).
	MaxAge   time.Duration
	MaxBytes int64
	// Replicas is how many copies the stream and bucket keep (0 means 1).
	Replicas int
	Logger   *slog.Logger
}

// Store is the log store on one backbone. Safe for concurrent use.
type Store struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	meta   jetstream.KeyValue
	log    *slog.Logger

	mu    sync.Mutex
	known map[string]bool // guarded by mu: meta keys known to exist
}

// Group is a log group's metadata.
type Group struct {
	Name          string `json:"name"`
	CreationTime  int64  `json:"created"` // ms since the epoch
	RetentionDays int    `json:"retentionDays,omitempty"`
}

// LogStream is a log stream's metadata plus what its events say.
type LogStream struct {
	Name                string `json:"name"`
	CreationTime        int64  `json:"created"`
	FirstEventTimestamp int64  `json:"-"`
	LastEventTimestamp  int64  `json:"-"`
	LastIngestionTime   int64  `json:"-"`
}

// Open creates or updates the stream and the bucket.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Nimbus function logs",
		Subjects:    []string{subjectPfx + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      opts.MaxAge,
		MaxBytes:    opts.MaxBytes,
		MaxMsgSize:  maxBatchBytes + 64<<10,
		Replicas:    max(opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open log store: stream %s: %w", StreamName, err)
	}
	meta, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      MetaBucket,
		Description: "Nimbus log groups and streams",
		Storage:     jetstream.FileStorage,
		Replicas:    max(opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open log store: bucket %s: %w", MetaBucket, err)
	}
	return &Store{js: js, stream: stream, meta: meta, log: log.With("component", "logstore"), known: map[string]bool{}}, nil
}

// hash is the subject token of a group or stream name (names may hold
// characters subjects cannot).
func hash(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:12])
}

// Key and subject layout (see the package comment).
func groupKey(group string) string          { return "g." + hash(group) }
func streamKey(group, stream string) string { return "s." + hash(group) + "." + hash(stream) }
func streamKeyPrefix(group string) string   { return "s." + hash(group) + "." }
func subject(group, stream string) string   { return subjectPfx + hash(group) + "." + hash(stream) }
func groupSubjects(group string) string     { return subjectPfx + hash(group) + ".*" }

func nowMillis(t time.Time) int64  { return t.UnixMilli() }
func isKeyNotFound(err error) bool { return errors.Is(err, jetstream.ErrKeyNotFound) }
func isKeyExists(err error) bool   { return errors.Is(err, jetstream.ErrKeyExists) }
func noKeys(err error) bool        { return errors.Is(err, jetstream.ErrNoKeysFound) }
func validName(s string) bool      { return s != "" && !strings.ContainsRune(s, 0) }

func marshal(v any) []byte {
	b, _ := json.Marshal(v) // plain structs of strings and numbers
	return b
}

// isKnown and setKnown cache which metadata keys exist, so the writer
// touches the bucket once per new group or stream.
func (s *Store) isKnown(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.known[key]
}

func (s *Store) setKnown(key string, v bool) {
	s.mu.Lock()
	s.known[key] = v
	s.mu.Unlock()
}

// CreateGroup creates a log group; ErrExists if it is there.
func (s *Store) CreateGroup(ctx context.Context, name string, now time.Time) error {
	if !validName(name) {
		return fmt.Errorf("create log group %q: invalid name", name)
	}
	_, err := s.meta.Create(ctx, groupKey(name), marshal(Group{Name: name, CreationTime: nowMillis(now)}))
	if isKeyExists(err) {
		return fmt.Errorf("create log group %s: %w", name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create log group %s: %w", name, err)
	}
	s.setKnown(groupKey(name), true)
	return nil
}

// ensure creates the group and stream metadata of a batch if missing.
func (s *Store) ensure(ctx context.Context, group, stream string, now time.Time) error {
	gk, sk := groupKey(group), streamKey(group, stream)
	if !s.isKnown(gk) {
		_, err := s.meta.Create(ctx, gk, marshal(Group{Name: group, CreationTime: nowMillis(now)}))
		if err != nil && !isKeyExists(err) {
			return fmt.Errorf("create log group %s: %w", group, err)
		}
		s.setKnown(gk, true)
	}
	if !s.isKnown(sk) {
		_, err := s.meta.Create(ctx, sk, marshal(LogStream{Name: stream, CreationTime: nowMillis(now)}))
		if err != nil && !isKeyExists(err) {
			return fmt.Errorf("create log stream %s: %w", stream, err)
		}
		s.setKnown(sk, true)
	}
	return nil
}

// Group returns a group's metadata.
func (s *Store) Group(ctx context.Context, name string) (*Group, error) {
	e, err := s.meta.Get(ctx, groupKey(name))
	if isKeyNotFound(err) {
		return nil, fmt.Errorf("get log group %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get log group %s: %w", name, err)
	}
	var g Group
	if err := json.Unmarshal(e.Value(), &g); err != nil {
		return nil, fmt.Errorf("get log group %s: %w", name, err)
	}
	return &g, nil
}

// Groups lists the groups whose name starts with prefix, sorted by name.
func (s *Store) Groups(ctx context.Context, prefix string) ([]Group, error) {
	lister, err := s.meta.ListKeysFiltered(ctx, "g.*")
	if err != nil {
		if noKeys(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list log groups: %w", err)
	}
	var out []Group
	for k := range lister.Keys() {
		e, err := s.meta.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var g Group
		if json.Unmarshal(e.Value(), &g) == nil && strings.HasPrefix(g.Name, prefix) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// SetRetention sets (days > 0) or removes (days == 0) a group's retention.
func (s *Store) SetRetention(ctx context.Context, name string, days int) error {
	for {
		e, err := s.meta.Get(ctx, groupKey(name))
		if isKeyNotFound(err) {
			return fmt.Errorf("set retention of %s: %w", name, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("set retention of %s: %w", name, err)
		}
		var g Group
		if err := json.Unmarshal(e.Value(), &g); err != nil {
			return fmt.Errorf("set retention of %s: %w", name, err)
		}
		g.RetentionDays = days
		_, err = s.meta.Update(ctx, groupKey(name), marshal(g), e.Revision())
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) { // a lost CAS reports "wrong last sequence"
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
				return fmt.Errorf("set retention of %s: %w", name, err)
			}
		}
	}
}

// DeleteGroup removes a group, its streams and their events.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	if _, err := s.Group(ctx, name); err != nil {
		return err
	}
	if err := s.meta.Purge(ctx, groupKey(name)); err != nil {
		return fmt.Errorf("delete log group %s: %w", name, err)
	}
	s.setKnown(groupKey(name), false)
	streams, err := s.streamKeys(ctx, name)
	if err != nil {
		return fmt.Errorf("delete log group %s: %w", name, err)
	}
	for _, k := range streams {
		_ = s.meta.Purge(ctx, k)
		s.setKnown(k, false)
	}
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(groupSubjects(name))); err != nil {
		return fmt.Errorf("delete log group %s: purge events: %w", name, err)
	}
	return nil
}

func (s *Store) streamKeys(ctx context.Context, group string) ([]string, error) {
	lister, err := s.meta.ListKeysFiltered(ctx, streamKeyPrefix(group)+"*")
	if err != nil {
		if noKeys(err) {
			return nil, nil
		}
		return nil, err
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

// Streams lists a group's log streams whose name starts with prefix,
// sorted by name, with their first and last event times.
func (s *Store) Streams(ctx context.Context, group, prefix string) ([]LogStream, error) {
	if _, err := s.Group(ctx, group); err != nil {
		return nil, err
	}
	keys, err := s.streamKeys(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("list log streams of %s: %w", group, err)
	}
	var out []LogStream
	for _, k := range keys {
		e, err := s.meta.Get(ctx, k)
		if err != nil {
			continue
		}
		var ls LogStream
		if json.Unmarshal(e.Value(), &ls) != nil || !strings.HasPrefix(ls.Name, prefix) {
			continue
		}
		subj := subject(group, ls.Name)
		if m, err := s.stream.GetLastMsgForSubject(ctx, subj); err == nil {
			if evs, err := decodeBatch(m.Data); err == nil && len(evs) > 0 {
				ls.LastEventTimestamp = evs[len(evs)-1].ts
				ls.LastIngestionTime = m.Time.UnixMilli()
			}
			if f, err := s.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj)); err == nil {
				if evs, err := decodeBatch(f.Data); err == nil && len(evs) > 0 {
					ls.FirstEventTimestamp = evs[0].ts
				}
			}
		}
		out = append(out, ls)
	}
	slices.SortFunc(out, func(a, b LogStream) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// HasStream reports whether a log stream exists in group.
func (s *Store) HasStream(ctx context.Context, group, stream string) (bool, error) {
	_, err := s.meta.Get(ctx, streamKey(group, stream))
	if isKeyNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get log stream %s: %w", stream, err)
	}
	return true, nil
}

// Sweep applies each group's retention policy as of now: events ingested
// more than RetentionDays before now are purged. The stream's own MaxAge
// and MaxBytes apply on top, continuously.
func (s *Store) Sweep(ctx context.Context, now time.Time) error {
	groups, err := s.Groups(ctx, "")
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.RetentionDays <= 0 {
			continue
		}
		cutoff := now.Add(-time.Duration(g.RetentionDays) * 24 * time.Hour)
		if err := s.purgeBefore(ctx, g.Name, cutoff); err != nil {
			return fmt.Errorf("apply retention of %s: %w", g.Name, err)
		}
	}
	return nil
}

// purgeBefore removes the group's messages ingested before cutoff.
func (s *Store) purgeBefore(ctx context.Context, group string, cutoff time.Time) error {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return err
	}
	// The first message at or after cutoff bounds the purge; without one,
	// everything of the group goes.
	keep := info.State.LastSeq + 1
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{groupSubjects(group)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &cutoff,
	})
	if err != nil {
		return err
	}
	batch, err := cons.FetchNoWait(1)
	if err != nil {
		return err
	}
	for m := range batch.Messages() {
		if md, err := m.Metadata(); err == nil {
			keep = md.Sequence.Stream
		}
	}
	return s.stream.Purge(ctx, jetstream.WithPurgeSubject(groupSubjects(group)), jetstream.WithPurgeSequence(keep))
}
