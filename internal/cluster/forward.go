package cluster

// Invoke forwarding (docs/design/cluster.md, "Invoke forwarding"): a node
// that has no idle environment for a function version sends a
// synchronous invoke to a node that has one, instead of starting an
// environment of its own (a cold start). Every node publishes the versions
// it has idle environments of every AdvertiseEvery on warmSubject; a node
// forwards only to a node whose last such message is fresh and names the
// version at the same revision, and the receiving node runs the
// invocation only on an idle environment (never a cold start of its own),
// else declines and the sender runs it locally after all.
//
//	client ─► node A: idle env of fn? ── yes ─► run here (the warm path: no backbone)
//	                     │ no
//	                     ▼
//	          a peer advertised idle fn (≤ 3 adverts old)? ── no ─► cold start here
//	                     │ yes
//	                     ▼
//	          NATS request to node B ─► B: InvokeWarm ── no idle env / limit ─► "declined" ─► A runs it here
//	                     │                 │ ran
//	                     ◄──── result (chunked reply) ◄─┘
//
// Requests travel on the backbone (subject nimbus.invoke.node.<hash of the
// node's name>): a length-prefixed JSON header (the version, request id,
// qualifier ARN, trace, client context) followed by the raw payload; a
// request larger than one NATS message runs locally. The answer is the
// invocation's Result as JSON, split into chunks of a message each (a
// response may be 6 MB, a NATS message 1 MB by default).
//
// What the sender does when B does not answer: if NATS says nobody serves
// B's subject (B is gone), the invocation never ran and A runs it; if B
// took it and then went silent (killed mid-invocation), A answers an
// environment failure at the invocation's deadline, as for any invocation
// in flight on a node that dies. Forwarded invocations are authorised by
// the node the client reached; the backbone is trusted as a whole (routes
// need the cluster secret).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

const (
	forwardSubjectPrefix = "nimbus.invoke.node."
	warmSubject          = "nimbus.invoke.warm"

	hdrStatus    = "Nimbus-Fwd-Status" // ok, declined, error
	hdrMore      = "Nimbus-Fwd-More"   // set on every chunk but the last
	hdrCategory  = "Nimbus-Fwd-Category"
	hdrMessage   = "Nimbus-Fwd-Message"
	hdrReason    = "Nimbus-Fwd-Reason"
	hdrRetry     = "Nimbus-Fwd-Retry-After"
	statusOK     = "ok"
	statusNo     = "declined"
	statusFailed = "error"

	// DefaultAdvertiseEvery is how often a node publishes its idle
	// environments; a peer's advert counts for freshAdverts of these.
	DefaultAdvertiseEvery = time.Second
	freshAdverts          = 3
	// headroom is what a message needs beside its data (headers).
	headroom = 8 << 10
	// maxForwarded bounds the forwarded invocations a node runs at once;
	// more are declined (their senders run them).
	maxForwarded = 256
	// answerMargin is how long past the function's timeout the sender
	// waits for the answer of a node that took the invocation.
	answerMargin = 15 * time.Second
)

// WarmVersion is how many idle environments a node has of one function
// version at one revision.
type WarmVersion struct {
	FunctionArn string `json:"arn"`
	Version     string `json:"ver"`
	RevisionID  string `json:"rev"`
	Idle        int    `json:"n"`
}

// WarmPool is the node's pool as forwarding uses it (the daemon adapts
// internal/pool's Manager).
type WarmPool interface {
	invoke.Invoker
	// HasIdle reports whether an invocation of fn finds an idle
	// environment here now.
	HasIdle(fn *function.Config) bool
	// Warm lists the versions with idle environments here.
	Warm() []WarmVersion
	// InvokeWarm runs req on an idle environment of v only; ran is false
	// when nothing ran (none idle, or a limit refused it first).
	InvokeWarm(ctx context.Context, v WarmVersion, req *invoke.Request) (res *invoke.Result, ran bool, err error)
}

// ForwardOptions configure NewForwarder.
type ForwardOptions struct {
	Conn *nats.Conn // required
	Node string     // this node's name; required
	Pool WarmPool   // required
	// AdvertiseEvery (DefaultAdvertiseEvery when zero).
	AdvertiseEvery time.Duration
	// Provisioned, when set, is this node's allocated provisioned
	// concurrency by configuration (ProvisionedKey), sent in its adverts
	// so every node reports the cluster's sum (membership.go).
	Provisioned func() map[string]int
	Logger      *slog.Logger
}

// Forwarder is one node's part in invoke forwarding. It is an
// invoke.Invoker: the synchronous invoke path calls it instead of the
// pool.
type Forwarder struct {
	nc    *nats.Conn
	node  string
	pool  WarmPool
	every time.Duration
	log   *slog.Logger

	prov func() map[string]int

	subs []*nats.Subscription
	sem  chan struct{}
	wg   sync.WaitGroup
	// changed has a value when the set of live nodes changed
	// (membership.go).
	changed chan struct{}
	members []string // guarded by mu: the set last signalled

	mu    sync.Mutex
	peers map[string]*peerWarm // guarded by mu: by node name
	// forwarded and declined count this node's forwarding attempts
	// (guarded by mu), for tests and the cluster status.
	forwarded, declined int
}

type peerWarm struct {
	at        time.Time
	idle      map[versionKey]int
	idleTotal int // as advertised (idle counts down as forwards take them)
	prov      map[string]int
}

type versionKey struct{ arn, version, revision string }

type advert struct {
	Node string         `json:"node"`
	Idle []WarmVersion  `json:"idle,omitempty"`
	Prov map[string]int `json:"prov,omitempty"`
}

// forwardMeta is a forwarded request's header.
type forwardMeta struct {
	Version         WarmVersion `json:"v"`
	RequestID       string      `json:"rid"`
	InvokedArn      string      `json:"arn"`
	ClientContext   []byte      `json:"cc,omitempty"`
	CognitoIdentity []byte      `json:"ci,omitempty"`
	TraceID         string      `json:"trace,omitempty"`
	TenantID        string      `json:"tenant,omitempty"`
	LogTail         bool        `json:"tail,omitempty"`
	TimeoutMS       int64       `json:"timeout_ms"`
}

// NodeSubject is the subject node serves forwarded invocations on.
func NodeSubject(node string) string {
	h := sha256.Sum256([]byte(node))
	return forwardSubjectPrefix + hex.EncodeToString(h[:8])
}

// NewForwarder serves forwarded invocations for this node and follows
// the other nodes' adverts; Run publishes this node's. Close ends both.
func NewForwarder(o ForwardOptions) (*Forwarder, error) {
	if o.Conn == nil || o.Node == "" || o.Pool == nil {
		return nil, errors.New("cluster: forwarding needs a connection, a node name and a pool")
	}
	if o.AdvertiseEvery <= 0 {
		o.AdvertiseEvery = DefaultAdvertiseEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{nc: o.Conn, node: o.Node, pool: o.Pool, every: o.AdvertiseEvery,
		log: o.Logger.With("component", "forward"), sem: make(chan struct{}, maxForwarded),
		peers: map[string]*peerWarm{}, prov: o.Provisioned, changed: make(chan struct{}, 1), members: []string{o.Node}}
	sub, err := f.nc.Subscribe(NodeSubject(f.node), f.serve)
	if err != nil {
		return nil, fmt.Errorf("cluster: serve forwarded invocations: %w", err)
	}
	f.subs = append(f.subs, sub)
	sub, err = f.nc.Subscribe(warmSubject, f.heard)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cluster: follow warm adverts: %w", err)
	}
	f.subs = append(f.subs, sub)
	if err := f.nc.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("cluster: forwarding subscriptions: %w", err)
	}
	return f, nil
}

// Run publishes this node's idle environments (and provisioned
// allocations) every AdvertiseEvery until ctx ends: the adverts are also
// how the nodes know which of them are alive (membership.go).
func (f *Forwarder) Run(ctx context.Context) {
	tick := time.NewTicker(f.every)
	defer tick.Stop()
	for {
		a := advert{Node: f.node, Idle: f.pool.Warm()}
		if f.prov != nil {
			a.Prov = f.prov()
		}
		b, _ := json.Marshal(a)
		if err := f.nc.Publish(warmSubject, b); err != nil {
			f.log.Debug("warm advert not sent", "err", err)
		}
		f.noteMembers()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Close stops serving (forwarded invocations running here finish first).
func (f *Forwarder) Close() {
	for _, s := range f.subs {
		_ = s.Drain()
	}
	f.wg.Wait()
}

// Stats are how many invocations this node forwarded, and how many of
// those the other node declined (they ran here).
func (f *Forwarder) Stats() (forwarded, declined int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forwarded, f.declined
}

func (f *Forwarder) heard(m *nats.Msg) {
	var a advert
	if json.Unmarshal(m.Data, &a) != nil || a.Node == "" || a.Node == f.node {
		return
	}
	idle := make(map[versionKey]int, len(a.Idle))
	total := 0
	for _, v := range a.Idle {
		if v.Idle > 0 {
			idle[versionKey{v.FunctionArn, v.Version, v.RevisionID}] = v.Idle
			total += v.Idle
		}
	}
	f.mu.Lock()
	_, known := f.peers[a.Node]
	f.peers[a.Node] = &peerWarm{at: time.Now(), idle: idle, idleTotal: total, prov: a.Prov}
	f.mu.Unlock()
	if !known {
		f.noteMembers()
	}
}

// pick chooses the node with the most idle environments of fn's version
// at fn's revision by fresh adverts, and counts one of them as taken
// (so concurrent forwards spread) until the invocation is answered or
// the node's next advert; "" if none.
func (f *Forwarder) pick(fn *function.Config) (string, *peerWarm) {
	k := versionKey{fn.FunctionArn, fn.Version, fn.RevisionId}
	stale := time.Now().Add(-freshAdverts * f.every)
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *peerWarm
	node, most := "", 0
	for name, p := range f.peers {
		if p.at.Before(stale) {
			continue
		}
		if n := p.idle[k]; n > most {
			node, best, most = name, p, n
		}
	}
	if best != nil {
		best.idle[k]--
	}
	return node, best
}

// done counts the environment pick took as idle again (the invocation
// ran and returned it), unless a newer advert replaced p meanwhile.
func (f *Forwarder) done(node string, p *peerWarm, fn *function.Config, ran bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forwarded++
	if !ran {
		f.declined++
		return
	}
	if f.peers[node] == p {
		p.idle[versionKey{fn.FunctionArn, fn.Version, fn.RevisionId}]++
	}
}

// Invoke runs req here when this node has an idle environment of fn (or
// the invocation cannot travel), else on a node that advertised one,
// else here after all (a cold start).
func (f *Forwarder) Invoke(ctx context.Context, fn *function.Config, req *invoke.Request) (*invoke.Result, error) {
	if req.Stream != nil || !f.fits(req) || f.pool.HasIdle(fn) {
		return f.pool.Invoke(ctx, fn, req)
	}
	node, p := f.pick(fn)
	if node == "" {
		return f.pool.Invoke(ctx, fn, req)
	}
	res, ran, err := f.forward(ctx, node, fn, req)
	f.done(node, p, fn, ran)
	if !ran {
		if err != nil {
			f.log.Debug("forwarded invocation not run", "node", node, "function", fn.FunctionName, "err", err)
		}
		return f.pool.Invoke(ctx, fn, req)
	}
	return res, err
}

// fits reports whether req travels in one message (its header is small:
// ids, ARNs, a trace header, at most 4 KB).
func (f *Forwarder) fits(req *invoke.Request) bool {
	return len(req.Payload)+len(req.ClientContext)+len(req.CognitoIdentity)+4<<10+headroom <= int(f.nc.MaxPayload())
}

// forward sends req to node; ran is false when it did not run there.
func (f *Forwarder) forward(ctx context.Context, node string, fn *function.Config, req *invoke.Request) (*invoke.Result, bool, error) {
	wait := time.Duration(fn.TimeoutSeconds())*time.Second + answerMargin
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	if req.RequestID == "" {
		req.RequestID = newRequestID()
	}
	meta, err := json.Marshal(forwardMeta{
		Version:   WarmVersion{FunctionArn: fn.FunctionArn, Version: fn.Version, RevisionID: fn.RevisionId},
		RequestID: req.RequestID, InvokedArn: req.InvokedFunctionArn, ClientContext: req.ClientContext,
		CognitoIdentity: req.CognitoIdentity, TraceID: req.TraceID, TenantID: req.TenantID, LogTail: req.LogTail,
		TimeoutMS: wait.Milliseconds(),
	})
	if err != nil {
		return nil, false, err
	}
	size := 4 + len(meta) + len(req.Payload)
	if size+headroom > int(f.nc.MaxPayload()) {
		return nil, false, fmt.Errorf("request of %d bytes is larger than a message", size)
	}
	data := make([]byte, 4, size)
	binary.BigEndian.PutUint32(data, uint32(len(meta))) //nolint:gosec // a message is far below 4 GiB
	data = append(append(data, meta...), req.Payload...)

	inbox := f.nc.NewInbox()
	sub, err := f.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	msg := &nats.Msg{Subject: NodeSubject(node), Reply: inbox, Data: data, Header: nats.Header{}}
	if err := f.nc.PublishMsg(msg); err != nil {
		return nil, false, err
	}
	actx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var body []byte
	for first := true; ; first = false {
		m, err := sub.NextMsgWithContext(actx)
		if first && (errors.Is(err, nats.ErrNoResponders) || err == nil && m.Header.Get("Status") == "503") {
			return nil, false, errors.New("no node serves " + msg.Subject) // the node is gone: nothing ran
		}
		if err != nil {
			// Taken, then no answer: in flight on a node that died, or
			// the caller gave up. It may have run: never run it again.
			if ctx.Err() != nil {
				return nil, true, ctx.Err()
			}
			return nil, true, errdefs.EnvironmentFailed("The function's execution environment did not answer.")
		}
		switch m.Header.Get(hdrStatus) {
		case statusNo:
			return nil, false, decodeError(m.Header)
		case statusFailed:
			return nil, true, decodeError(m.Header)
		case statusOK:
		default:
			return nil, true, errdefs.EnvironmentFailed("The function's execution environment failed.")
		}
		body = append(body, m.Data...)
		if m.Header.Get(hdrMore) == "" {
			break
		}
	}
	var res invoke.Result
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, true, errdefs.EnvironmentFailed("The function's execution environment failed.")
	}
	return &res, true, nil
}

// serve runs one forwarded invocation (off the subscription's goroutine).
func (f *Forwarder) serve(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	select {
	case f.sem <- struct{}{}:
	default:
		f.reply(m.Reply, statusNo, nil, nil)
		return
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() { <-f.sem }()
		f.run(m)
	}()
}

// decodeRequest splits a forwarded request into its header and payload.
func decodeRequest(data []byte) (forwardMeta, []byte, error) {
	var meta forwardMeta
	if len(data) < 4 {
		return meta, nil, errors.New("forwarded request: short")
	}
	n := binary.BigEndian.Uint32(data)
	if int64(n) > int64(len(data)-4) {
		return meta, nil, errors.New("forwarded request: header length past the end")
	}
	if err := json.Unmarshal(data[4:4+n], &meta); err != nil {
		return meta, nil, fmt.Errorf("forwarded request: %w", err)
	}
	if meta.Version.FunctionArn == "" || meta.RequestID == "" {
		return meta, nil, errors.New("forwarded request: no function or request id")
	}
	return meta, data[4+n:], nil
}

func (f *Forwarder) run(m *nats.Msg) {
	meta, payload, err := decodeRequest(m.Data)
	if err != nil {
		f.log.Warn("forwarded invocation refused", "err", err)
		f.reply(m.Reply, statusNo, nil, nil)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(max(meta.TimeoutMS, 1))*time.Millisecond)
	defer cancel()
	req := &invoke.Request{RequestID: meta.RequestID, InvokedFunctionArn: meta.InvokedArn, Payload: payload,
		ClientContext: meta.ClientContext, CognitoIdentity: meta.CognitoIdentity, TraceID: meta.TraceID,
		TenantID: meta.TenantID, LogTail: meta.LogTail}
	res, ran, err := f.pool.InvokeWarm(ctx, meta.Version, req)
	switch {
	case !ran:
		f.reply(m.Reply, statusNo, nil, err)
	case err != nil:
		f.reply(m.Reply, statusFailed, nil, err)
	default:
		b, err := json.Marshal(res)
		if err != nil {
			f.reply(m.Reply, statusFailed, nil, errdefs.EnvironmentFailed("The function's execution environment failed."))
			return
		}
		f.reply(m.Reply, statusOK, b, nil)
	}
}

// reply answers a forwarded invocation: body in chunks of a message each.
func (f *Forwarder) reply(to, status string, body []byte, err error) {
	chunk := max(int(f.nc.MaxPayload())-headroom, 1<<10)
	for {
		part := body[:min(chunk, len(body))]
		body = body[len(part):]
		h := nats.Header{}
		h.Set(hdrStatus, status)
		if err != nil {
			encodeError(h, err)
		}
		if len(body) > 0 {
			h.Set(hdrMore, "1")
		}
		if perr := f.nc.PublishMsg(&nats.Msg{Subject: to, Data: part, Header: h}); perr != nil {
			f.log.Warn("forwarded invocation's answer not sent", "err", perr)
			return
		}
		if len(body) == 0 {
			return
		}
	}
}

// encodeError puts an errdefs error's category and client message in h;
// other errors travel as an environment failure.
func encodeError(h nats.Header, err error) {
	e := errdefs.As(err)
	if e == nil {
		e = errdefs.EnvironmentFailed("The function's execution environment failed.")
	}
	h.Set(hdrCategory, e.Category.Error())
	h.Set(hdrMessage, e.Message)
	if e.Reason != "" {
		h.Set(hdrReason, e.Reason)
		h.Set(hdrRetry, strconv.Itoa(e.RetryAfterSeconds))
	}
}

// decodeError is encodeError's error (nil when h names none).
func decodeError(h nats.Header) error {
	name := h.Get(hdrCategory)
	if name == "" {
		return nil
	}
	cat := errdefs.ErrEnvironmentFailed
	for _, c := range errdefs.Categories {
		if c.Error() == name {
			cat = c
		}
	}
	retry, _ := strconv.Atoi(h.Get(hdrRetry))
	return &errdefs.Error{Category: cat, Message: h.Get(hdrMessage), Reason: h.Get(hdrReason), RetryAfterSeconds: retry}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
