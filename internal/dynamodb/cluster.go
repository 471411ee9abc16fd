package dynamodb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/lease"
)

// On a cluster every node serves every table by sending each DynamoDB and
// DynamoDB Streams request to one node, the cluster's table node, which
// keeps the tables in its store and runs the request exactly as a single
// node does (docs/design/tables.md, "Several nodes"). The table node is
// the holder of the lease "dynamodb-tables" (internal/lease): it appends
// every group commit to the replicated change log before answering
// (changelog.go), while every other node follows the log into its own
// store. When the holder dies its lease lapses; another node takes it,
// replays the log to its end, appends a barrier that fences the old
// holder out of the log, and serves. Requests travel as NATS requests on
// the backbone (subject nimbus.dynamodb.node.<hash of the node name>):
// the body as the message, the target and host as headers; the answer's
// status and error type come back as headers.
//
//	client ─► any node ─(NATS request)─► table node: log append, bbolt, outbox ─► stream
//	                   ◄─(status, body)──┘        │
//	                                              ▼ NIMBUS_DDB_LOG ─► every other node's bbolt
//
//	           lease acquired: replay log, barrier
//	following ───────────────────────────────────► holding (serves, relays, sweeps TTL)
//	    ▲                                              │
//	    └──────── lease lost (deadline, renewal refused)┘

const (
	homeBucket = "nimbus_dynamodb"
	// leaseName is the tables' lease in the lease bucket.
	leaseName = "dynamodb-tables"

	hdrTarget   = "Nimbus-Ddb-Target"
	hdrHost     = "Nimbus-Ddb-Host"
	hdrStatus   = "Nimbus-Ddb-Status"
	hdrErrType  = "Nimbus-Ddb-Error-Type"
	hdrNotHome  = "Nimbus-Ddb-Not-Home"
	notHomeBody = "not the table node"

	// forwardTimeout bounds a forwarded request whose client set no
	// deadline.
	forwardTimeout = time.Minute
	// forwardHeadroom is what a message needs beside its body (headers).
	forwardHeadroom = 4 << 10
	// maxServing bounds the forwarded requests the table node runs at
	// once; more wait in the subscription.
	maxServing = 256
)

// nodeSubject is the subject a node serves forwarded requests on.
func nodeSubject(node string) string {
	h := sha256.Sum256([]byte(node))
	return "nimbus.dynamodb.node." + hex.EncodeToString(h[:8])
}

// peer is a node's part in a cluster's tables.
type peer struct {
	h      *Handler
	nc     *nats.Conn
	node   string
	leases *lease.Leases
	kv     jetstream.KeyValue // homeBucket: the nodes' log positions
	sem    chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the lease runner and the follower
	reqs   sync.WaitGroup // forwarded requests being served

	// holding: this node holds the lease and serves; home is the holder
	// last seen (this node's name while holding).
	holding atomic.Bool
	home    atomic.Pointer[string]
	// compactEvery is how often the holder purges the log.
	compactEvery time.Duration
	// snaps serves this node's store as snapshots; snapSub subscribes it.
	snaps   *snapServer
	snapSub *nats.Subscription
	// snapAt is the position of the snapshot being fetched (0: none),
	// reported so the log is not purged past it meanwhile.
	snapAt atomic.Uint64
	// big holds large requests and answers in pieces (bigmsg.go).
	big bigStore
	// joined is when this node joined; a table node that seeds an empty
	// log waits until joined+seedWait for the others' reports.
	joined   time.Time
	seedWait time.Duration
}

// joinCluster opens the change log, follows it, and contends for the
// tables' lease; while this node holds it, it serves the other nodes'
// requests.
func joinCluster(ctx context.Context, h *Handler, o Options) (*peer, error) {
	e := h.s.e
	log, err := openLog(ctx, o.JetStream, o.Replicas, o.LogMaxBytes, o.Node)
	if err != nil {
		return nil, err
	}
	log.warn = func(msg string, err error) { h.s.log.Warn(msg, "err", err) }
	log.maxEntry = int(o.Conn.MaxPayload()) - forwardHeadroom
	leases, err := lease.Open(ctx, lease.Options{JetStream: o.JetStream, Bucket: homeBucket + "_lease", TTL: o.LeaseTTL,
		Replicas: o.Replicas, Holder: o.Node, Logger: h.s.log})
	if err != nil {
		return nil, fmt.Errorf("open the tables' lease: %w", err)
	}
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: homeBucket, Description: "the nodes' positions in the DynamoDB tables' change log",
		History: 1, Storage: jetstream.FileStorage, Replicas: o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", homeBucket, err)
	}
	e.log = log
	e.writable.Store(false)
	p := &peer{h: h, nc: o.Conn, node: o.Node, leases: leases, kv: kv, sem: make(chan struct{}, maxServing),
		compactEvery: o.LogCompaction, joined: time.Now(), seedWait: o.SeedWait}
	if p.seedWait <= 0 {
		p.seedWait = 15 * time.Second
	}
	if p.compactEvery <= 0 {
		p.compactEvery = 30 * time.Second
	}
	none := ""
	p.home.Store(&none)
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.snaps = newSnapServer(e)
	if p.snapSub, err = o.Conn.Subscribe(snapSubject(o.Node), p.snaps.serve); err != nil {
		return nil, fmt.Errorf("serve table snapshots: %w", err)
	}
	p.report(ctx)
	stopFollow := p.startFollowing()
	p.wg.Go(func() {
		for p.ctx.Err() == nil {
			// A node whose store is behind the purged log does not
			// contend until its follower has installed a snapshot.
			if e.behind.Load() {
				select {
				case <-p.ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			runCtx, runCancel := context.WithCancel(p.ctx)
			_ = leases.Run(runCtx, leaseName, func(ctx context.Context, token uint64) error {
				stopFollow()
				defer func() { stopFollow = p.startFollowing() }()
				err := p.hold(ctx, token)
				if errors.Is(err, errLogGap) {
					e.behind.Store(true)
					p.h.s.log.Warn("this node's table store is behind the purged change log: it lets the lease go and fetches a snapshot (docs/design/tables.md)")
					runCancel()
				}
				return err
			})
			runCancel()
		}
	})
	p.wg.Go(func() {
		t := time.NewTicker(p.compactEvery / 6)
		defer t.Stop()
		for {
			select {
			case <-p.ctx.Done():
				return
			case <-t.C:
				p.report(p.ctx)
			}
		}
	})
	return p, nil
}

// startFollowing follows the change log until the returned function is
// called (and has waited for it).
func (p *peer) startFollowing() func() {
	ctx, cancel := context.WithCancel(p.ctx)
	done := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(done)
		p.h.s.e.follow(ctx, func(msg string, err error) { p.h.s.log.Warn(msg, "err", err) }, p.resync)
	}()
	return func() { cancel(); <-done }
}

// hold is this node's time as the table node: replay the log to its end,
// fence it with a barrier, then serve until the lease is lost (ctx).
func (p *peer) hold(ctx context.Context, token uint64) error {
	e := p.h.s.e
	for {
		e.logMu.Lock()
		err := p.takeOverLocked(ctx, token)
		if err == nil {
			e.token = token
		}
		e.logMu.Unlock()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the lease ended: nothing to take over
		}
		if errors.Is(err, errLogGap) {
			// This store cannot be brought up to date by replay: let
			// another node hold the tables.
			return err
		}
		p.h.s.log.Warn("take over the tables", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
	sub, err := p.nc.Subscribe(nodeSubject(p.node), p.serveMsg)
	if err != nil {
		return fmt.Errorf("serve forwarded dynamodb requests: %w", err)
	}
	e.writable.Store(true)
	p.holding.Store(true)
	me := p.node
	p.home.Store(&me)
	p.h.s.log.Info("dynamodb table node", "node", p.node, "token", token)
	compacted := make(chan struct{})
	go func() {
		defer close(compacted)
		t := time.NewTicker(p.compactEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := p.compact(ctx); err != nil && ctx.Err() == nil {
					p.h.s.log.Warn("compact the table change log", "err", err)
				}
			}
		}
	}()
	p.h.s.writerWork(ctx)
	<-compacted
	p.holding.Store(false)
	_ = sub.Unsubscribe()
	p.reqs.Wait()
	e.writable.Store(false)
	p.h.s.log.Info("dynamodb table node: lease ended", "node", p.node)
	return nil
}

func (p *peer) isHome() bool { return p.holding.Load() }

// stop stops serving and following, and waits for the requests being run.
func (p *peer) stop() {
	p.cancel()
	p.wg.Wait()
	p.reqs.Wait()
	_ = p.snapSub.Unsubscribe()
	p.snaps.close()
}

// serveMsg runs one forwarded request (on the table node).
func (p *peer) serveMsg(m *nats.Msg) {
	p.sem <- struct{}{}
	p.reqs.Add(1)
	go func() {
		defer func() { <-p.sem; p.reqs.Done() }()
		if m.Header.Get(hdrFetch) != "" {
			p.serveBig(m) // a piece of an answer already given
			return
		}
		if !p.holding.Load() {
			// The lease ended: the request was not run; the sender
			// asks the new holder.
			r := nats.NewMsg(m.Reply)
			r.Header.Set(hdrNotHome, "1")
			r.Data = []byte(notHomeBody)
			_ = m.RespondMsg(r)
			return
		}
		body, handled := p.serveBig(m)
		if handled {
			return
		}
		ctx, cancel := context.WithTimeout(p.ctx, forwardTimeout)
		defer cancel()
		a := p.h.serve(ctx, m.Header.Get(hdrTarget), m.Header.Get(hdrHost), body)
		r := nats.NewMsg(m.Reply)
		if len(a.body) > p.pieceSize() && !p.answerBig(r, a.body) {
			a = p.h.errAnswer(newErr(http.StatusServiceUnavailable, "ServiceUnavailable",
				"The cluster's table node %s has too many large answers in flight; retry", p.node))
		}
		r.Header.Set(hdrStatus, strconv.Itoa(a.status))
		if a.errType != "" {
			r.Header.Set(hdrErrType, a.errType)
		}
		if r.Header.Get(hdrMore) == "" {
			r.Data = a.body
		}
		if err := m.RespondMsg(r); err != nil {
			p.h.s.log.Warn("answer forwarded dynamodb request", "err", err)
		}
	}()
}

// homeNode is the table node as this node last saw it; refresh asks the
// lease ("" when nobody holds it).
func (p *peer) homeNode(ctx context.Context, refresh bool) string {
	if !refresh {
		if h := *p.home.Load(); h != "" {
			return h
		}
	}
	info, ok, err := p.leases.Current(ctx, leaseName)
	h := ""
	if err == nil && ok {
		h = info.Holder
	}
	p.home.Store(&h)
	return h
}

// forward runs a request on the table node and returns its answer. A
// request the table node surely did not run (nobody serves its subject,
// or the node answered that it no longer holds the lease) is sent again
// to the holder the lease names, until ctx's deadline: during a
// takeover, clients wait seconds instead of failing.
func (p *peer) forward(ctx context.Context, target, host string, body []byte) answer {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, forwardTimeout)
		defer cancel()
	}
	refresh := false
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		home := p.homeNode(ctx, refresh)
		if home == p.node && p.holding.Load() {
			return p.h.serve(ctx, target, host, body)
		}
		if home != "" && home != p.node {
			r, err := p.request(ctx, home, target, host, body)
			switch {
			case err == nil && r.Header.Get(hdrNotHome) == "":
				status, err := strconv.Atoi(r.Header.Get(hdrStatus))
				if err != nil {
					return p.h.errAnswer(errInternal())
				}
				return answer{status: status, errType: r.Header.Get(hdrErrType), body: r.Data}
			case err != nil && !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, errNotRun):
				// Sent, and maybe run: not sent again.
				p.h.s.log.Warn("forward dynamodb request", "table_node", home, "err", err)
				return p.h.errAnswer(newErr(http.StatusServiceUnavailable, "ServiceUnavailable",
					"The cluster's DynamoDB table node %s does not answer; retry (docs/design/tables.md)", home))
			}
		}
		refresh = true
		select {
		case <-ctx.Done():
			return p.h.errAnswer(newErr(http.StatusServiceUnavailable, "ServiceUnavailable",
				"The cluster's DynamoDB tables have no table node at the moment (a takeover takes seconds); retry (docs/design/tables.md)"))
		case <-time.After(wait):
		}
	}
}
