package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

// On a cluster a bucket's objects live on one node, its holder (the node
// that created it, named in its record). Every other node serves the
// bucket by relaying each request addressed to it — after the front door
// has checked the request's signature and IAM on the node it reached — to
// the holder over the backbone, which runs it as its own. Both bodies
// stream in chunks of relayChunk bytes, each acknowledged by the side that
// consumed it (backpressure both ways: a relay holds at most a chunk of a
// 5 GB object in memory). The request's payload mode travels with it, so
// the holder checks an aws-chunked body's chunk signatures and checksums
// as it stores it, exactly as for a request it received itself.
//
//	client ─► node B: SigV4, IAM ─(open)──────────────────► holder A
//	                  ─(body chunks, each acked)──────────►  runs the request
//	                  ◄─(status+headers, chunks, end; each acked)─┘
//
// The subjects are the backbone's (nimbus.s3.node.<hash of the node
// name>), which only the cluster's nodes reach: the holder trusts what a
// relay sends, as the DynamoDB table node does.
const (
	relaySubjectPrefix = "nimbus.s3.node."
	// relayChunk is the size of one body message (under NATS's 1 MB).
	relayChunk = 256 << 10
	// relayIdle bounds the wait for the other side's next chunk or
	// acknowledgement: a node that died mid-transfer is given up on.
	relayIdle = 2 * time.Minute
	// relayFirstByte bounds the wait for the holder's answer to begin
	// (CompleteMultipartUpload of a large object takes a while).
	relayFirstByte = 15 * time.Minute
	// maxRelayed bounds the relayed requests a holder runs at once.
	maxRelayed = 256

	hdrKind   = "Nimbus-S3-Kind"
	hdrBody   = "Nimbus-S3-Body"
	hdrRefuse = "Nimbus-S3-Refuse"
	hdrStop   = "Nimbus-S3-Stop"

	kindData  = "data"
	kindEOF   = "eof"
	kindAbort = "abort"
	kindHead  = "head"
	kindEnd   = "end"
)

var (
	errRelayAborted = errors.New("the relaying node abandoned the request body")
	errRelayIdle    = errors.New("the relaying node stopped sending the request body")
	errRelayStopped = errors.New("the other node stopped the transfer")
)

// relaySubject is the subject node serves relayed requests on.
func relaySubject(node string) string {
	h := sha256.Sum256([]byte(node))
	return relaySubjectPrefix + hex.EncodeToString(h[:8])
}

// relayOpen starts a relayed request.
type relayOpen struct {
	Method        string
	URI           string // as the client sent it (S3 signs the encoded path)
	Host          string
	Header        http.Header
	ContentLength int64
	Payload       *sigv4.S3Payload
	// Caller is who the front door authenticated: the holder judges
	// what the request asks of other services in its name (SSE-KMS's
	// kms:GenerateDataKey and kms:Decrypt).
	Caller *auth.Identity
	Reply  string // the relay's inbox for the answer
	// Source, when set, asks for a copy's source rather than running the
	// request (copysource.go): sourceObject or sourcePart.
	Source string `json:",omitempty"`
}

// relayHead is the answer's status and headers.
type relayHead struct {
	Status int
	Header http.Header
}

type relayedKey struct{}

func isRelayed(ctx context.Context) bool { return ctx.Value(relayedKey{}) != nil }

// holderElsewhere names the node holding bucket when that is not this
// node (and a backbone connects them).
func (s *Service) holderElsewhere(ctx context.Context, bucket string) (string, bool) {
	if s.st == nil || s.st.Conn() == nil || isRelayed(ctx) {
		return "", false
	}
	b, err := s.bucket(ctx, bucket)
	if err != nil || b.Node == s.opts.Node {
		return "", false
	}
	return b.Node, true
}

// holderDown is the answer when a bucket's holder does not answer.
func holderDown(bucket, node string) *Error {
	return errorf(http.StatusServiceUnavailable, "ServiceUnavailable",
		"The objects of bucket %s live on node %s, which does not answer; try again when it is back "+
			"(see docs/design/object-storage.md).", bucket, node)
}

// relay serves r by having node, the bucket's holder, run it.
func (s *Service) relay(w http.ResponseWriter, r *http.Request, bucket, node string) error {
	resp, wait, err := s.roundTrip(r.Context(), node, bucket, r, "")
	if err != nil {
		return err
	}
	defer wait()
	defer func() { _ = resp.Body.Close() }()
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		// The status is sent; the client sees a short body (its
		// Content-Length or checksum fails).
		s.log.Warn("relay s3 answer", "bucket", bucket, "node", node, "err", err)
	}
	return nil
}

// roundTrip sends r to node and returns its answer, whose body streams
// from node as it is read. wait, called after the answer is done with,
// returns once r's body is no longer read.
func (s *Service) roundTrip(ctx context.Context, node, bucket string, r *http.Request, source string) (*http.Response, func(), error) {
	nc := s.st.Conn()
	inbox := nc.NewInbox()
	msgs := make(chan *nats.Msg, 4)
	sub, err := nc.ChanSubscribe(inbox, msgs)
	if err != nil {
		return nil, nil, fmt.Errorf("subscribe %s: %w", inbox, err)
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	cl := r.ContentLength
	if r.Body == nil || r.Body == http.NoBody {
		cl = 0
	}
	o := relayOpen{Method: r.Method, URI: uri, Host: r.Host, Header: r.Header, ContentLength: cl, Payload: payloadOf(r), Reply: inbox, Source: source}
	if id, ok := auth.FromContext(ctx); ok {
		o.Caller = &id
	}
	open, err := json.Marshal(o)
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, nil, err
	}
	octx, cancel := context.WithTimeout(ctx, relayIdle)
	rep, err := nc.RequestWithContext(octx, relaySubject(node), open)
	cancel()
	if err != nil {
		_ = sub.Unsubscribe()
		s.log.Info("s3 holder does not answer", "bucket", bucket, "node", node, "err", err)
		return nil, nil, holderDown(bucket, node)
	}
	if msg := rep.Header.Get(hdrRefuse); msg != "" {
		_ = sub.Unsubscribe()
		return nil, nil, errorf(http.StatusServiceUnavailable, "SlowDown", "%s", msg)
	}
	bodyDone := make(chan struct{})
	if cl != 0 {
		go func() {
			defer close(bodyDone)
			sendBody(ctx, nc, rep.Header.Get(hdrBody), r.Body)
		}()
	} else {
		close(bodyDone)
	}
	wait := func() { <-bodyDone }
	head, err := awaitHead(ctx, msgs)
	if err != nil {
		_ = sub.Unsubscribe()
		wait()
		s.log.Info("s3 holder's answer did not come", "bucket", bucket, "node", node, "err", err)
		return nil, nil, holderDown(bucket, node)
	}
	pr, pw := io.Pipe()
	go func() {
		defer func() { _ = sub.Unsubscribe() }()
		pw.CloseWithError(receiveBody(ctx, msgs, pw))
	}()
	return &http.Response{StatusCode: head.Status, Header: head.Header, Body: pr}, wait, nil
}

// sendBody streams body to the holder's subject, a chunk at a time, each
// waiting for the holder to have consumed the one before.
func sendBody(ctx context.Context, nc *nats.Conn, subject string, body io.Reader) {
	send := func(kind string, data []byte) bool {
		m := nats.NewMsg(subject)
		m.Header.Set(hdrKind, kind)
		m.Data = data
		sctx, cancel := context.WithTimeout(ctx, relayIdle)
		defer cancel()
		rep, err := nc.RequestMsgWithContext(sctx, m)
		return err == nil && rep.Header.Get(hdrStop) == ""
	}
	buf := make([]byte, relayChunk)
	for {
		n, err := io.ReadFull(body, buf)
		if n > 0 && !send(kindData, buf[:n]) {
			return
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			send(kindEOF, nil)
			return
		case err != nil:
			// The client's body broke off: the holder stores nothing.
			m := nats.NewMsg(subject)
			m.Header.Set(hdrKind, kindAbort)
			_ = nc.PublishMsg(m)
			return
		}
	}
}

// next waits for the next message of a relayed answer.
func next(ctx context.Context, msgs <-chan *nats.Msg, wait time.Duration) (*nats.Msg, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case m := <-msgs:
		return m, nil
	case <-t.C:
		return nil, errRelayIdle
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func awaitHead(ctx context.Context, msgs <-chan *nats.Msg) (relayHead, error) {
	var h relayHead
	m, err := next(ctx, msgs, relayFirstByte)
	if err != nil {
		return h, err
	}
	if m.Header.Get(hdrKind) != kindHead {
		return h, fmt.Errorf("relayed answer began with %q", m.Header.Get(hdrKind))
	}
	if err := json.Unmarshal(m.Data, &h); err != nil || h.Status < 100 || h.Status > 999 {
		return h, fmt.Errorf("relayed answer's head: %w", err)
	}
	_ = m.Respond(nil)
	return h, nil
}

// receiveBody writes the answer's body into pw as its chunks arrive,
// acknowledging each once it is read.
func receiveBody(ctx context.Context, msgs <-chan *nats.Msg, pw *io.PipeWriter) error {
	for {
		m, err := next(ctx, msgs, relayIdle)
		if err != nil {
			return err
		}
		switch m.Header.Get(hdrKind) {
		case kindEnd:
			_ = m.Respond(nil)
			return nil
		case kindData:
			if _, err := pw.Write(m.Data); err != nil {
				stop(m)
				return err
			}
			_ = m.Respond(nil)
		default:
			stop(m)
			return fmt.Errorf("relayed answer: unexpected %q", m.Header.Get(hdrKind))
		}
	}
}

func stop(m *nats.Msg) {
	r := nats.NewMsg(m.Reply)
	r.Header.Set(hdrStop, "1")
	_ = m.RespondMsg(r)
}

// serveRelays runs the requests other nodes relay to this one until ctx
// ends, then waits for those running.
func (s *Service) serveRelays(ctx context.Context) (stopServing func(), err error) {
	if s.st == nil || s.st.Conn() == nil {
		return func() {}, nil
	}
	sem := make(chan struct{}, maxRelayed)
	var running waitGroup
	sub, err := s.st.Conn().Subscribe(relaySubject(s.opts.Node), func(m *nats.Msg) {
		select {
		case sem <- struct{}{}:
		default:
			refuse(m, "This node is serving as many relayed requests as it takes; please reduce your request rate.")
			return
		}
		if !running.add() {
			<-sem
			refuse(m, "This node is stopping.")
			return
		}
		if err := s.openRelay(ctx, m, func() { <-sem; running.done() }); err != nil {
			s.log.Warn("relayed s3 request", "err", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", relaySubject(s.opts.Node), err)
	}
	return func() {
		_ = sub.Unsubscribe()
		running.close()
	}, nil
}

func refuse(m *nats.Msg, msg string) {
	r := nats.NewMsg(m.Reply)
	r.Header.Set(hdrRefuse, msg)
	_ = m.RespondMsg(r)
}

// openRelay starts a relayed request: it answers the relay with the
// subject its body goes to and runs the request; done is called when the
// request is over.
func (s *Service) openRelay(ctx context.Context, m *nats.Msg, done func()) error {
	var o relayOpen
	if err := json.Unmarshal(m.Data, &o); err != nil || o.Reply == "" || o.Method == "" {
		done()
		refuse(m, "malformed relayed request")
		return fmt.Errorf("decode relayed request: %w", err)
	}
	u, err := url.ParseRequestURI(o.URI)
	if err != nil {
		done()
		refuse(m, "malformed relayed request URI")
		return fmt.Errorf("parse relayed request URI: %w", err)
	}
	if o.Header == nil {
		o.Header = http.Header{}
	}
	nc := s.st.Conn()
	var body io.ReadCloser = http.NoBody
	var bsub *nats.Subscription
	var pr *io.PipeReader
	idle := time.AfterFunc(time.Hour, func() {})
	idle.Stop()
	if o.ContentLength != 0 {
		var pw *io.PipeWriter
		pr, pw = io.Pipe()
		body = pr
		idle = time.AfterFunc(relayIdle, func() { pw.CloseWithError(errRelayIdle) })
		bsub, err = nc.Subscribe(nc.NewInbox(), func(bm *nats.Msg) {
			idle.Stop()
			switch bm.Header.Get(hdrKind) {
			case kindEOF:
				_ = pw.Close()
				_ = bm.Respond(nil)
			case kindData:
				if _, err := pw.Write(bm.Data); err != nil {
					stop(bm)
					return
				}
				_ = bm.Respond(nil)
				idle.Reset(relayIdle)
			default:
				pw.CloseWithError(errRelayAborted)
			}
		})
		if err != nil {
			idle.Stop()
			done()
			refuse(m, "This node cannot take the request body now.")
			return fmt.Errorf("subscribe relayed body: %w", err)
		}
	}
	ack := nats.NewMsg(m.Reply)
	if bsub != nil {
		ack.Header.Set(hdrBody, bsub.Subject)
	}
	// over ends the body's side of the exchange.
	over := func(err error) {
		if bsub != nil {
			_ = bsub.Unsubscribe()
			idle.Stop()
			_ = pr.CloseWithError(err)
		}
	}
	if err := m.RespondMsg(ack); err != nil {
		over(err)
		done()
		return fmt.Errorf("answer relayed request: %w", err)
	}
	rctx := context.WithValue(WithPayload(ctx, o.Payload), relayedKey{}, true)
	if o.Caller != nil {
		rctx = auth.WithIdentity(rctx, *o.Caller)
	}
	remote := "relay"
	if o.Source != "" {
		remote = sourceRemote
	}
	req := (&http.Request{Method: o.Method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: o.Header,
		Body: body, ContentLength: o.ContentLength, Host: o.Host, RequestURI: o.URI, RemoteAddr: remote}).WithContext(rctx)
	go func() {
		defer done()
		w := &relayWriter{ctx: ctx, nc: nc, reply: o.Reply, header: http.Header{}}
		if o.Source != "" {
			s.serveSource(w, req, o.Source)
		} else {
			s.ServeHTTP(w, req)
		}
		w.finish()
		over(errRelayStopped)
	}()
	return nil
}

// relayWriter is the ResponseWriter of a relayed request: it sends the
// answer to the relay, a chunk at a time, each waiting for the relay to
// have passed the one before to its client.
type relayWriter struct {
	ctx    context.Context
	nc     *nats.Conn
	reply  string
	header http.Header
	sent   bool // the head went
	buf    []byte
	err    error
}

func (w *relayWriter) Header() http.Header { return w.header }

func (w *relayWriter) WriteHeader(status int) {
	if w.sent {
		return
	}
	w.sent = true
	h, err := json.Marshal(relayHead{Status: status, Header: w.header})
	if err != nil {
		w.err = err
		return
	}
	w.send(kindHead, h)
}

func (w *relayWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	n := 0
	for len(p) > 0 && w.err == nil {
		k := min(len(p), relayChunk-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == relayChunk {
			w.send(kindData, w.buf)
			w.buf = w.buf[:0]
		}
	}
	return n, w.err
}

func (w *relayWriter) finish() {
	w.WriteHeader(http.StatusOK)
	if len(w.buf) > 0 {
		w.send(kindData, w.buf)
	}
	w.send(kindEnd, nil)
}

func (w *relayWriter) send(kind string, data []byte) {
	if w.err != nil {
		return
	}
	m := nats.NewMsg(w.reply)
	m.Header.Set(hdrKind, kind)
	m.Data = data
	ctx, cancel := context.WithTimeout(w.ctx, relayIdle)
	defer cancel()
	rep, err := w.nc.RequestMsgWithContext(ctx, m)
	switch {
	case err != nil:
		w.err = fmt.Errorf("send relayed answer: %w", err)
	case rep.Header.Get(hdrStop) != "":
		w.err = errRelayStopped
	}
}

// readRemote reads bucket/key from node, the bucket's holder, for
// ReadObject.
func (s *Service) readRemote(ctx context.Context, node, bucket, key, versionID string, limit int64) ([]byte, error) {
	u := &url.URL{Path: "/" + bucket + "/" + key}
	if versionID != "" {
		u.RawQuery = url.Values{"versionId": {versionID}}.Encode()
	}
	r := (&http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Body: http.NoBody}).WithContext(ctx)
	resp, wait, err := s.roundTrip(ctx, node, bucket, r, "")
	if err != nil {
		return nil, err
	}
	defer wait()
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, remoteError(resp, node)
	}
	if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && n > limit {
		return nil, errorf(http.StatusBadRequest, "EntityTooLarge",
			"The object is %d bytes, more than the %d bytes this reader takes.", n, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s/%s on node %s: %w", bucket, key, node, err)
	}
	if int64(len(b)) > limit {
		return nil, errorf(http.StatusBadRequest, "EntityTooLarge", "The object is more than the %d bytes this reader takes.", limit)
	}
	return b, nil
}

// waitGroup counts running requests and, once closed, refuses more and
// waits for those running.
type waitGroup struct {
	mu     sync.Mutex
	closed bool // guarded by mu
	wg     sync.WaitGroup
}

func (g *waitGroup) add() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *waitGroup) done() { g.wg.Done() }

func (g *waitGroup) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}
