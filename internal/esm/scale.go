package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Scaling of SQS pollers, as Lambda's (docs: "Configuring scaling behavior
// for SQS event source mappings"): a mapping starts with five concurrent
// batches; while messages wait in the queue it adds up to 300 a minute
// (scaleStep every scaleEvery), up to 1,000 batches, ScalingConfig's
// MaximumConcurrency or the function's reserved concurrency, whichever is
// least; when the queue is empty it steps back to five, and when the
// function throttles a batch it halves them (not below five). Growth also
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
// counts. Like internal/lease, that assumes the nodes' clocks agree to
// well within slotTTL.
//
//	worker slots of one node:
//	   claim(want) ─ granted g ─► workers 0..g-1 run
//	   want falls ─► workers ≥ want stop after their batch ─► claim(max(want, still running))

const (
	// maxBatches is the most batches a mapping processes at once.
	maxBatches = 1000
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

// kvSlots is Slots on a KV record shared by the nodes.
type kvSlots struct {
	kv   jetstream.KeyValue
	key  string
	node string
	max  int
	now  func() time.Time

	mu      sync.Mutex
	granted int       // guarded by mu
	until   time.Time // guarded by mu: when the written claim lapses
}

type slotClaim struct {
	N     int   `json:"n"`
	Until int64 `json:"until"` // Unix ms
}

func openSlots(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: SlotBucket, Storage: jetstream.FileStorage,
		History: 1, TTL: 4 * slotTTL, Description: "Nimbus event source mappings' concurrency claims, by mapping"})
	if err != nil {
		return nil, fmt.Errorf("open event source mapping slots: %w", err)
	}
	return kv, nil
}

func (s *kvSlots) Claim(ctx context.Context, want int) (int, error) {
	for range 20 {
		now := s.now()
		e, err := s.kv.Get(ctx, s.key)
		claims := map[string]slotClaim{}
		var rev uint64
		switch {
		case err == nil:
			rev = e.Revision()
			if json.Unmarshal(e.Value(), &claims) != nil {
				claims = map[string]slotClaim{}
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return 0, fmt.Errorf("read concurrency claims: %w", err)
		}
		others := 0
		for node, c := range claims {
			if node == s.node {
				continue
			}
			if c.Until < now.UnixMilli() {
				delete(claims, node) // its node stopped renewing
				continue
			}
			others += c.N
		}
		grant := max(0, min(want, s.max-others))
		s.mu.Lock()
		fresh := s.granted == grant && s.until.Sub(now) > slotTTL/2
		s.mu.Unlock()
		if c, ok := claims[s.node]; fresh && ok && c.N == grant {
			return grant, nil
		}
		until := now.Add(slotTTL)
		claims[s.node] = slotClaim{N: grant, Until: until.UnixMilli()}
		b, _ := json.Marshal(claims)
		if rev == 0 {
			_, err = s.kv.Create(ctx, s.key, b)
		} else {
			_, err = s.kv.Update(ctx, s.key, b, rev)
		}
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("write concurrency claim: %w", err)
			}
			continue // another node wrote meanwhile: read again
		}
		s.mu.Lock()
		s.granted, s.until = grant, until
		s.mu.Unlock()
		return grant, nil
	}
	return 0, errors.New("write concurrency claim: the record kept changing")
}

func (s *kvSlots) Release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, _ = s.Claim(ctx, 0)
}

// scale runs a source's workers, resizing them with the backlog, until
// ctx ends.
func (q *QueueSource) scale(ctx context.Context, floor, ceil int, run func(i int)) {
	w := &q.pool
	want := floor
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
		handled := q.handled.Swap(0)
		if q.throttled.Swap(false) {
			// The function cannot take more: back off, as Lambda does.
			want = max(floor, want/2)
		} else if depth, err := q.Depth(ctx); err != nil {
			if ctx.Err() == nil {
				q.Log.Warn("queue source cannot read the queue's depth", "source", q.Arn, "err", err)
			}
		} else if depth == 0 {
			want = max(floor, want-scaleStep)
		} else if handled > prevHandled {
			// Messages wait and the last step paid: grow.
			want = min(ceil, want+scaleStep)
		} else if handled < prevHandled*4/5 {
			// More workers made less progress (a machine's cores or the
			// function's environments are the limit): step back.
			want = max(floor, want-scaleStep)
		}
		prevHandled = handled
		// Workers past want stop after their batch: the claim covers
		// them until then.
		w.resize(min(want, granted(max(want, w.running()))), run)
	}
}
