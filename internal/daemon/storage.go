package daemon

import (
	"fmt"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/events"
	"github.com/nimbus-serverless/nimbus/internal/logstore"
	"github.com/nimbus-serverless/nimbus/internal/scheduler"
	"github.com/nimbus-serverless/nimbus/internal/sns"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Storage. The streams with a byte limit reserve it out of the storage
// JetStream may use (store.StorageBudget) when they are created, so a fixed
// limit cannot fit every disk: unless a flag sets them, the function logs
// get an eighth of the budget (at most logstore.DefaultMaxBytes) and the
// async queue a quarter (at most async.DefaultMaxBytes); the rest is for
// the unreserved buckets (functions, code). A disk too small for the
// minimums below is refused at startup with the store and the space it
// needs named.
const (
	minLogBytes    = 2 << 20
	minAsyncBytes  = 8 << 20
	minEventsBytes = 1 << 20
)

// eventsBytes sizes EventBridge's stream of events not yet routed: a
// sixteenth of the budget, at most events.DefaultMaxBytes (it holds events
// only until they are routed, so it stays small).
// schedulerBytes is the limit of the Scheduler's stream of firings not
// yet delivered: a 32nd of the budget, at most scheduler.DefaultMaxBytes.
func schedulerBytes(budget int64) (int64, error) {
	s := streamBytes{name: "EventBridge Scheduler stream (stream " + scheduler.StreamName + ")", flag: "--async-max-bytes or --log-max-bytes lower",
		share: 32, max: scheduler.DefaultMaxBytes, min: minEventsBytes}
	return s.size(budget)
}

// snsBytes is the limit of SNS's stream of messages not yet fanned out:
// a sixteenth of the budget, at most sns.DefaultMaxBytes.
func snsBytes(budget int64) (int64, error) {
	s := streamBytes{name: "SNS message stream (stream NIMBUS_SNS)", flag: "--async-max-bytes or --log-max-bytes lower",
		share: 16, max: sns.DefaultMaxBytes, min: minEventsBytes}
	return s.size(budget)
}

func eventsBytes(budget int64) (int64, error) {
	s := streamBytes{name: "EventBridge event stream (stream " + events.StreamName + ")", flag: "--async-max-bytes or --log-max-bytes lower",
		share: 16, max: events.DefaultMaxBytes, min: minEventsBytes}
	return s.size(budget)
}

// streamBytes is one stream's byte limit: the flag's value, or its share
// of budget (-1: unknown, an external NATS: the package default).
type streamBytes struct {
	name, flag string
	set        int64 // from the flag; 0: sized here
	share      int64 // the budget's 1/share
	max, min   int64
}

func (s streamBytes) size(budget int64) (int64, error) {
	if s.set > 0 || budget < 0 {
		return s.set, nil
	}
	n := min(s.max, budget/s.share)
	if n < s.min {
		return 0, fmt.Errorf("the data directory's disk is too small: the %s needs at least %d MiB of storage (1/%d of what JetStream may use), "+
			"and JetStream may use %d MiB (75%% of the free space of the data directory's disk): free space, use a larger disk for --data-dir, or set %s",
			s.name, s.min>>20, s.share, budget>>20, s.flag)
	}
	return n, nil
}

// streamLimits sizes the function logs' and the async queue's byte
// limits from the store's budget.
func streamLimits(cfg config.Config, budget int64) (logBytes, asyncBytes int64, err error) {
	logs := streamBytes{name: "function log store (stream " + logstore.StreamName + ")", flag: "--log-max-bytes",
		set: cfg.LogMaxBytes, share: 8, max: logstore.DefaultMaxBytes, min: minLogBytes}
	queue := streamBytes{name: "async invocation queue (stream " + async.StreamName + ")", flag: "--async-max-bytes",
		set: cfg.AsyncMaxBytes, share: 4, max: async.DefaultMaxBytes, min: minAsyncBytes}
	if logBytes, err = logs.size(budget); err != nil {
		return 0, 0, err
	}
	if asyncBytes, err = queue.size(budget); err != nil {
		return 0, 0, err
	}
	return logBytes, asyncBytes, nil
}

// noRoom explains a stream the store had no room for at startup.
func noRoom(err error, what, flag string, want, budget int64) error {
	if !store.IsStorageFull(err) {
		return err
	}
	if budget < 0 {
		return fmt.Errorf("the %s needs %d MiB of storage and the NATS server refused it (set %s lower): %w", what, want>>20, flag, err)
	}
	return fmt.Errorf("the %s needs %d MiB of storage, more than JetStream has left of the %d MiB it may use on the data directory's disk: free space, use a larger disk for --data-dir, or set %s lower: %w",
		what, want>>20, budget>>20, flag, err)
}
