package esm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/lease"
)

// Scaling of SQS pollers, as Lambda's (docs: "Configuring scaling behavior
// for SQS event source mappings"): a mapping starts with five concurrent
// batches; while messages wait in the queue it adds up to 300 a minute
// (scaleStep every scaleEvery), up to 1,000 batches, ScalingConfig's
// MaximumConcurrency or the function's reserved concurrency, whichever is
// least; when the queue is empty it steps back to two pollers (AWS's
// minimum on a quiet queue) and returns to five at the first look that
// finds messages again; when the function throttles a batch it halves
// them (not below five). The ceiling is read at every look, so a change
// of the function's reserved concurrency (PutFunctionConcurrency,
// DeleteFunctionConcurrency) reaches running pollers within a look,
// without restarting the mapping. Growth also
// has to pay: a look grows the workers only if more batches were handled
// since the last look than in the look before, and steps them back when
// markedly fewer were (Lambda's pollers are bounded by the function's
// concurrency; a node is bounded by its cores and environments, so
// workers that only wait would hold messages invisible for nothing).
//
// The ceiling is the mapping's, not a node's: on several nodes each node
// claims its share of it in a KV record per mapping (bucket
// nimbus_esm_slots, key the UUID), {node: {n, until}}, written with
// compare-and-swap, so the shares never add up to more than the ceiling.
// A node grows only after its claim was written and writes a smaller
// claim only after its surplus workers stopped, so the batches in flight
// cluster-wide never exceed it. A node renews its claim every few
// seconds; a claim not renewed for slotTTL (its node died) no longer
// counts. The record is internal/lease's shared ceiling (lease.Share,
// which the cluster's concurrency limits use too). Like internal/lease,
// that assumes the nodes' clocks agree to well within slotTTL.
//
//	worker slots of one node:
//	   claim(want) ─ granted g ─► workers 0..g-1 run
//	   want falls ─► workers ≥ want stop after their batch ─► claim(max(want, still running))

const (
	// maxBatches is the most batches a mapping processes at once.
	maxBatches = 1000
	// quietBatches is the pollers a mapping keeps on an empty queue.
	quietBatches = 2
	// scaleEvery is how often a source looks at its queue's depth.
	scaleEvery = time.Second
	// scaleStep is the workers added or removed per look (300 a minute).
	scaleStep = 5
	// SlotBucket holds the mappings' cluster-wide concurrency claims.
	SlotBucket = "nimbus_esm_slots"
	// slotTTL is how long a node's claim counts without renewal.
	slotTTL = 15 * time.Second
)

// Slots shares a mapping's concurrency ceiling among the nodes polling it.
type Slots interface {
	// Claim sets this node's share to at most want and returns the share
	// granted (what the other nodes' live claims leave of the ceiling).
	Claim(ctx context.Context, want int) (int, error)
	// Release gives this node's share back.
	Release(ctx context.Context)
}

// workers are a source's running workers, by index: worker i runs while
// i < want.
type workers struct {
	mu    sync.Mutex
	want  int    // guarded by mu
	alive []bool // guarded by mu
	n     int    // alive workers; guarded by mu
	wg    sync.WaitGroup
}

// resize sets the workers wanted to n and starts those missing.
func (w *workers) resize(n int, run func(i int)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want = n
	for i := range n {
		if i == len(w.alive) {
			w.alive = append(w.alive, false)
		}
		if !w.alive[i] {
			w.alive[i] = true
			w.n++
			w.wg.Go(func() { run(i) })
		}
	}
}

// keep reports whether worker i goes on; false records it stopped.
func (w *workers) keep(i int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i < w.want {
		return true
	}
	w.alive[i] = false
	w.n--
	return false
}

func (w *workers) wanted() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.want
}

func (w *workers) running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func openSlots(ctx context.Context, js jetstream.JetStream, node string) (*lease.ShareBucket, error) {
	b, err := lease.OpenShares(ctx, lease.ShareOptions{JetStream: js, Bucket: SlotBucket, Node: node, TTL: slotTTL,
		Description: "Nimbus event source mappings' concurrency claims, by mapping"})
	if err != nil {
		return nil, fmt.Errorf("open event source mapping slots: %w", err)
	}
	return b, nil
}

// shareSlots is Slots on the cluster's share bucket under a ceiling that
// may move (the function's reserved concurrency): a claim under a new
// ceiling is written through a share of that ceiling.
type shareSlots struct {
	b       *lease.ShareBucket
	key     string
	ceiling func() int

	mu  sync.Mutex
	cur *lease.Share // guarded by mu
	at  int          // guarded by mu: cur's ceiling
}

func (s *shareSlots) share() *lease.Share {
	c := max(s.ceiling(), 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.at != c {
		s.cur, s.at = s.b.Share(s.key, c), c
	}
	return s.cur
}

func (s *shareSlots) Claim(ctx context.Context, want int) (int, error) {
	return s.share().Claim(ctx, want)
}

func (s *shareSlots) Release(ctx context.Context) { s.share().Release(ctx) }

// scale runs a source's workers, resizing them with the backlog, until
// ctx ends. start is the batches a mapping starts with (five).
func (q *QueueSource) scale(ctx context.Context, start int, run func(i int)) {
	w := &q.pool
	ceil := q.ceiling()
	want := min(start, ceil)
	var prevHandled int64
	granted := func(n int) int {
		if q.Slots == nil {
			return n
		}
		g, err := q.Slots.Claim(ctx, n)
		if err != nil {
			if ctx.Err() == nil {
				q.Log.Warn("queue source cannot claim concurrency", "source", q.Arn, "err", err)
			}
			return min(n, w.running())
		}
		return g
	}
	w.resize(min(want, granted(want)), run)
	tick := q.Tick
	if tick == nil {
		t := time.NewTicker(scaleEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			w.resize(0, run)
			w.wg.Wait()
			if q.Slots != nil {
				q.Slots.Release(ctx)
			}
			return
		case <-tick:
		}
		// The ceiling may have moved (the function's reserved
		// concurrency): read it at every look.
		ceil = q.ceiling()
		busy, quiet := min(start, ceil), min(quietBatches, ceil)
		handled := q.handled.Swap(0)
		if q.throttled.Swap(false) {
			// The function cannot take more: back off, as Lambda does.
			want = max(busy, want/2)
		} else if depth, err := q.Depth(ctx); err != nil {
			if ctx.Err() == nil {
				q.Log.Warn("queue source cannot read the queue's depth", "source", q.Arn, "err", err)
			}
		} else if depth == 0 {
			want = max(quiet, want-scaleStep)
		} else if want < busy {
			// Messages again after a quiet spell: five at once, as a
			// mapping starts.
			want = busy
		} else if handled > prevHandled {
			// Messages wait and the last step paid: grow.
			want += scaleStep
		} else if handled < prevHandled*4/5 {
			// More workers made less progress (a machine's cores or the
			// function's environments are the limit): step back.
			want = max(busy, want-scaleStep)
		}
		want = min(want, ceil)
		prevHandled = handled
		// Workers past want stop after their batch: the claim covers
		// them until then.
		w.resize(min(want, granted(max(want, w.running()))), run)
	}
}

// ceiling is the most batches the source may run now.
func (q *QueueSource) ceiling() int {
	if q.Ceiling != nil {
		return max(q.Ceiling(), 1)
	}
	return max(q.MaxConcurrency, 1)
}
