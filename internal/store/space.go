package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Storage space. The embedded JetStream may use storeShare of the data
// directory's file system: of the space free at start plus what its files
// already take, so a restart on a fuller store sizes everything the same
// (nats-server's own default counts only the free space). Streams with a
// byte limit (the async queue, the function logs) reserve theirs out of it
// when created, so the daemon sizes them from StorageBudget.
//
// When the disk fills anyway (something else wrote to it), nats-server
// shuts JetStream down at the first "no space left on device" rather than
// risk a torn write. Every write then fails; nothing acknowledged is lost
// (each was fsynced before its acknowledgement). The store watches for
// this: StorageErr reports it (the daemon's /readyz says not ready and
// the APIs answer their own "service unavailable" error with a message
// saying storage is full), and once the file system has recoverFree bytes
// free again, the store restarts JetStream from its files, without a
// restart of the process.
//
//	      disk full (ENOSPC)                free >= recoverFree
//	ok ─────────────────────────► full ───────────────────────────► ok
//	 ▲   free < lowFree                │  (EnableJetStream: streams,
//	 └─────────────────────────────────┘   consumers and KV recovered)
//	     free >= lowFree, JetStream on
const (
	storeShare    = 0.75
	spaceInterval = 500 * time.Millisecond
)

// ErrStorageFull is a write refused because the data directory's disk (or
// JetStream's share of it) is full. Its Unavailable method is the message
// a client is told: the API edges (awsapi.WriteError) answer their own
// server error with it instead of a bare internal error.
var ErrStorageFull error = storageFull{}

type storageFull struct{}

func (storageFull) Error() string { return "storage is full" }

// Unavailable is what a client is told.
func (storageFull) Unavailable() string {
	return "The request could not be stored: the node's storage is full. Retry once space has been freed."
}

// IsStorageFull reports whether err is a JetStream write that failed for
// lack of storage: ErrStorageFull, JetStream's own resource errors, a
// "no space left on device", or JetStream being off (which, for an
// embedded store, is what a full disk leaves behind).
func IsStorageFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrStorageFull) || errors.Is(err, syscall.ENOSPC) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.ErrorCode(server.JSInsufficientResourcesErr), jetstream.ErrorCode(server.JSStorageResourcesExceededErr):
			return true
		}
	}
	return strings.Contains(err.Error(), "no space left on device")
}

// dirBytes is the size of the regular files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// storeBudget is the JetStream max store for a store under dataDir.
func storeBudget(dataDir string) (int64, error) {
	free, _, err := fsSpace(dataDir)
	if err != nil {
		return 0, err
	}
	return int64(float64(free+dirBytes(filepath.Join(dataDir, server.JetStreamStoreDir))) * storeShare), nil
}

// lowFree is the free space under which the store reports itself full
// before JetStream does: room for a few of the largest writes.
func lowFree(size int64) int64 { return min(64<<20, max(4<<20, size/64)) }

// spaceState is what the space watcher last saw.
type spaceState struct {
	mu      sync.Mutex
	full    string // guarded by mu: why writes fail, "" when they do not
	failed  bool   // guarded by mu: a JetStream write hit ENOSPC; reload on recovery
	dataDir string
	jsCfg   server.JetStreamConfig
}

// noteWriteFailure records that nats-server failed a write for lack of
// space: the stream keeps refusing writes (without answering them) until
// JetStream reloads it.
func (sp *spaceState) noteWriteFailure() {
	sp.mu.Lock()
	sp.failed = true
	if sp.full == "" {
		sp.full = "a write to the data directory " + sp.dataDir + " failed: no space left on device"
	}
	sp.mu.Unlock()
}

// StorageFull reports whether err is a write that failed for lack of
// storage: IsStorageFull, or a write that got no answer while the store
// is full (a stream that failed a write for lack of space answers none
// until it is reloaded). The API edges use it to answer their own
// "service unavailable" error with a message saying storage is full.
func (s *Store) StorageFull(err error) bool {
	if IsStorageFull(err) {
		return true
	}
	return s.StorageErr() != nil && isNoAnswer(err)
}

func isNoAnswer(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// writeErr marks a failed write as ErrStorageFull when it failed for lack
// of storage (see StorageFull).
func (s *Store) writeErr(err error) error {
	if !errors.Is(err, ErrStorageFull) && s.StorageFull(err) {
		return fmt.Errorf("%w: %w", ErrStorageFull, err)
	}
	return Unavailable(err)
}

// StorageBudget is the space JetStream may use, in bytes: for an embedded
// store, its share of the data directory's file system; for an external
// NATS, the account's storage limit, or -1 when it has none.
func (s *Store) StorageBudget() int64 {
	if s.ns != nil {
		if c := s.space.jsCfg; c.MaxStore > 0 {
			return c.MaxStore
		}
	}
	return -1
}

// StorageErr reports why writes fail for lack of space (wrapping
// ErrStorageFull), or nil. For an embedded store only: an external NATS
// reports its own state through its errors.
func (s *Store) StorageErr() error {
	s.space.mu.Lock()
	defer s.space.mu.Unlock()
	if s.space.full == "" {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrStorageFull, s.space.full)
}

// watchSpace polls the data directory's file system and JetStream's state
// until the store closes (see the diagram above).
func (s *Store) watchSpace() {
	defer s.watchers.Done()
	t := time.NewTicker(spaceInterval)
	defer t.Stop()
	for {
		s.checkSpace()
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
	}
}

func (s *Store) checkSpace() {
	free, size, err := fsSpace(s.space.dataDir)
	if err != nil {
		return
	}
	low := lowFree(size)
	s.space.mu.Lock()
	failed := s.space.failed
	s.space.mu.Unlock()
	var full string
	switch {
	case failed || !s.ns.JetStreamEnabled():
		if free < 2*low {
			full = fmt.Sprintf("the disk of the data directory %s filled up (%d MiB free); writes resume once %d MiB are free",
				s.space.dataDir, free>>20, (2*low)>>20)
			break
		}
		// Reload JetStream from its files: the streams that failed a
		// write accept writes again, and every acknowledged write was
		// fsynced before its acknowledgement, so nothing is lost.
		s.log.Info("storage has room again: restarting JetStream", "free_bytes", free)
		s.space.mu.Lock()
		s.space.failed = false
		s.space.mu.Unlock()
		if s.ns.JetStreamEnabled() {
			if err := s.ns.ShutdownJetStream(); err != nil {
				s.log.Error("stop JetStream", "err", err)
			}
		}
		cfg := s.space.jsCfg
		cfg.StoreDir = s.space.dataDir // EnableJetStream appends "jetstream"
		if err := s.ns.EnableJetStream(&cfg); err != nil {
			s.log.Error("restart JetStream", "err", err)
			s.space.noteWriteFailure() // try again at the next check
			full = "the data directory's disk filled up and JetStream could not be restarted yet"
		}
	case free < low:
		full = fmt.Sprintf("the disk of the data directory %s is full (%d MiB free)", s.space.dataDir, free>>20)
	}
	s.space.mu.Lock()
	was := s.space.full
	s.space.full = full
	s.space.mu.Unlock()
	switch {
	case was == "" && full != "":
		s.log.Error("storage is full: writes are refused until space is freed", "detail", full)
	case was != "" && full == "":
		s.log.Info("storage has room again: writes accepted")
	}
}

// storageErr adds, to a failure to create a bucket or stream for lack of
// space, how much space JetStream has.
func storageErr(err error, budget int64) error {
	if !IsStorageFull(err) || budget <= 0 {
		return err
	}
	return fmt.Errorf("%w (JetStream may use %d MiB of the data directory's disk): %w", ErrStorageFull, budget>>20, err)
}
