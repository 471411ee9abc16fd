// Package lease runs work on exactly one node of a cluster and moves it to
// another node within seconds when the holder dies: a lease on the
// backbone (a JetStream KV key whose bucket expires entries after TTL).
//
// A node acquires a lease by creating its key (create-if-absent, so one
// node wins) and keeps it by updating the key with compare-and-swap on
// its revision every TTL/3. When the holder dies its key is not renewed
// and the server removes it TTL after the last write; another node's
// create then succeeds. The revision of the winning create is the
// lease's fencing token: it increases with every new holder, so a
// resource that remembers the highest token it has seen can refuse a
// writer that lost its lease and does not know it yet.
//
// Safety: a holder stops its work (cancels the context given to it) at
// the time it sent its last successful write plus TTL minus a margin
// (TTL/5). The server expires the key TTL after it stored that write,
// which is later, so the old holder has stopped before anyone else can
// acquire. That reasoning assumes the servers' clocks advance at the same
// rate and differ by less than the margin (the stream's leader may change
// between the write and its expiry); fencing tokens cover what clocks
// cannot.
//
//	         create ok                 renew ok (every TTL/3)
//	waiting ──────────► holding ◄──────────────┐
//	   ▲                  │ │ └─────────────────┘
//	   │   fn returned,   │ │ renew refused (revision moved, key gone)
//	   │   release (CAS   │ │ or local deadline passed
//	   │   delete)        ▼ ▼
//	   └────────────── stopped (fn's context cancelled, fn returned)
//
// The package also divides a ceiling among the nodes (shares.go, tokens.go):
// a function's reserved concurrency, the account's, an event source
// mapping's MaximumConcurrency, never exceeded cluster-wide; and counts
// what is used up over a period (counters.go: usage-plan quotas).
//
// Who may import it: the daemon and any service that needs one runner per
// cluster (schedules, queue pollers, workflow timers) or a cluster-wide
// ceiling (internal/esm).
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	// DefaultBucket is the KV bucket of the leases.
	DefaultBucket = "nimbus_leases"
	// DefaultTTL is how long a lease outlives its holder's last renewal:
	// the upper bound of a takeover is TTL plus one poll (TTL/6).
	DefaultTTL = 6 * time.Second
)

// ErrLost is the cause of the context given to the work when the lease
// was lost (see context.Cause).
var ErrLost = errors.New("lease lost")

// Options configure Open.
type Options struct {
	JetStream jetstream.JetStream // required
	// Bucket is the KV bucket (DefaultBucket when empty); every lease in
	// a bucket has the bucket's TTL.
	Bucket string
	// TTL (DefaultTTL when zero; at least 300 ms).
	TTL time.Duration
	// Replicas of the bucket (0 means 1; 3 on a three-server cluster).
	Replicas int
	// Holder names this node in the lease (its node name).
	Holder string
	Logger *slog.Logger
}

// Leases is one node's view of a lease bucket.
type Leases struct {
	kv     jetstream.KeyValue
	ttl    time.Duration
	holder string
	log    *slog.Logger
}

// Info is who holds a lease.
type Info struct {
	Holder   string    `json:"holder"`
	Token    uint64    `json:"token"`
	Acquired time.Time `json:"acquired"`
}

// Open creates (or updates) the lease bucket.
func Open(ctx context.Context, o Options) (*Leases, error) {
	if o.JetStream == nil {
		return nil, errors.New("lease: JetStream is required")
	}
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < 300*time.Millisecond {
		return nil, fmt.Errorf("lease: TTL %s is below 300ms", o.TTL)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      o.Bucket,
		Description: "Nimbus leases: one runner per cluster",
		History:     1,
		TTL:         o.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    max(o.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("lease: bucket %s: %w", o.Bucket, err)
	}
	return &Leases{kv: kv, ttl: o.TTL, holder: o.Holder, log: o.Logger.With("component", "lease")}, nil
}

// TTL is the bucket's lease time to live.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Current reports who holds the lease name; ok is false when nobody does.
// It reads any replica, so it may lag a change by a replication delay.
func (l *Leases) Current(ctx context.Context, name string) (info Info, ok bool, err error) {
	e, err := l.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Info{}, false, nil
	}
	if err != nil {
		return Info{}, false, fmt.Errorf("lease %s: %w", name, err)
	}
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		return Info{}, false, fmt.Errorf("lease %s: damaged value: %w", name, err)
	}
	if info.Token == 0 { // not renewed yet: the token is the create's revision
		info.Token = e.Revision()
	}
	return info, true, nil
}

// Run takes part in the lease name until ctx ends: whenever this node
// holds it, fn runs with a context that is cancelled when the lease is
// lost (cause ErrLost) or ctx ends, and with the lease's fencing token.
// fn must return promptly once its context is done. When fn returns on
// its own the lease is released and contended for again (after a poll
// interval), so the work keeps running somewhere. Run returns nil when
// ctx ends.
func (l *Leases) Run(ctx context.Context, name string, fn func(ctx context.Context, token uint64) error) error {
	if err := validName(name); err != nil {
		return err
	}
	poll := l.ttl / 6
	var failing time.Time // when acquires began to fail (no answer); zero: they are answered
	for ctx.Err() == nil {
		sent := time.Now()
		val, _ := json.Marshal(Info{Holder: l.holder, Acquired: sent.UTC()})
		rev, err := l.kv.Create(ctx, name, val)
		if (err == nil || errors.Is(err, jetstream.ErrKeyExists)) && !failing.IsZero() {
			// How long the bucket went unanswered (a Raft election after
			// a node died or restarted): the tests' logs report it.
			l.log.Info("lease requests answered again", "lease", name, "after", sent.Sub(failing).Round(time.Millisecond))
			failing = time.Time{}
		}
		switch {
		case err == nil:
			l.hold(ctx, name, rev, sent, fn)
			if ctx.Err() != nil {
				return nil
			}
		case errors.Is(err, jetstream.ErrKeyExists):
		case ctx.Err() != nil:
			return nil
		default:
			if failing.IsZero() {
				l.log.Warn("lease acquire failed", "lease", name, "err", err)
				failing = sent
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
	return nil
}

// hold runs fn while renewing the lease acquired at rev; it returns after
// fn has returned.
func (l *Leases) hold(ctx context.Context, name string, rev uint64, sent time.Time, fn func(context.Context, uint64) error) {
	token := rev
	margin := l.ttl / 5
	deadline := sent.Add(l.ttl - margin)
	acquired := sent.UTC()
	l.log.Info("lease acquired", "lease", name, "holder", l.holder, "token", token)

	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- fn(wctx, token) }()

	renew := time.NewTimer(l.ttl / 3)
	defer renew.Stop()
	for {
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				l.log.Warn("lease work ended with an error", "lease", name, "err", err)
			}
			l.release(name, rev)
			return
		case <-ctx.Done():
			cancel(context.Cause(ctx))
			if err := <-done; err != nil {
				l.log.Debug("lease work ended with an error at stop", "lease", name, "err", err)
			}
			l.release(name, rev)
			return
		case <-renew.C:
		}
		now := time.Now()
		if !now.Before(deadline) {
			l.lose(name, token, cancel, done, "not renewed in time")
			return
		}
		val, _ := json.Marshal(Info{Holder: l.holder, Token: token, Acquired: acquired})
		rctx, rcancel := context.WithDeadline(ctx, deadline)
		newRev, err := l.kv.Update(rctx, name, val, rev)
		rcancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			rev, deadline = newRev, now.Add(l.ttl-margin)
			renew.Reset(l.ttl / 3)
		case errors.As(err, &apiErr) || errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound):
			// The key moved on or expired: someone else may hold it.
			l.lose(name, token, cancel, done, "renewal refused")
			return
		default:
			// The backbone did not answer: retry until the deadline.
			renew.Reset(min(l.ttl/10, time.Until(deadline)))
		}
	}
}

func (l *Leases) lose(name string, token uint64, cancel context.CancelCauseFunc, done <-chan error, why string) {
	cancel(ErrLost)
	if err := <-done; err != nil {
		l.log.Debug("lease work ended with an error after the lease was lost", "lease", name, "err", err)
	}
	l.log.Warn("lease lost", "lease", name, "token", token, "reason", why)
}

// release deletes the key if it is still this holder's, so another node
// takes over without waiting for the TTL.
func (l *Leases) release(name string, rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.kv.Delete(ctx, name, jetstream.LastRevision(rev)); err != nil {
		l.log.Debug("lease release failed (it expires instead)", "lease", name, "err", err)
	}
}

func validName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("lease name %q: 1-128 characters", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("lease name %q: only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}
