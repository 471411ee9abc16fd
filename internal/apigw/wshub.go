package apigw

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// The WebSocket connections of a cluster (see docs/design/websockets.md):
//
//   - A connection lives on the node whose listener accepted it. Its id
//     starts with that process's boot tag (6 characters, new at every
//     start), so any node knows where to send an @connections call
//     without a lookup: to the NATS subject nimbus.apigw.ws.<boot>, which
//     only that process answers. No responder means the holder is gone:
//     GoneException.
//   - Every open connection is registered in the backbone's KV bucket
//     (apigwconn.<id>: API, stage, caller, connection time), and every
//     process renews its presence (key <boot> in the TTL bucket
//     nimbus_apigw_ws) every TTL/3. Each node sweeps the registry every
//     SweepInterval: an entry whose holder's presence has expired belongs
//     to a dead process; the node whose compare-and-swap delete wins runs
//     the connection's $disconnect. A single node that restarts sweeps
//     its previous life's connections the same way.

const (
	connKeyPrefix  = "apigwconn."
	presenceBucket = "nimbus_apigw_ws"
	wsSubject      = "nimbus.apigw.ws."
	bootLen        = 6
	// forwardTimeout bounds an @connections call relayed to another node.
	forwardTimeout = 10 * time.Second
	// writeTimeout bounds one message written to a client.
	writeTimeout = 10 * time.Second
)

// wsHub holds this node's WebSocket connections and their registry.
type wsHub struct {
	g    *Gateway
	st   *store.Store
	opts WSOptions
	log  *slog.Logger
	boot string

	ctx    context.Context // the connections' context: ends at close
	cancel context.CancelFunc
	wg     sync.WaitGroup // connection and relay goroutines
	up     atomic.Bool    // presence written, relay subscribed

	mu    sync.Mutex
	conns map[string]*wsConn // guarded by mu
}

func newWSHub(g *Gateway, st *store.Store, opts WSOptions) *wsHub {
	h := &wsHub{g: g, st: st, opts: opts.withDefaults(), log: g.log, boot: randAlnum(bootLen), conns: map[string]*wsConn{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randAlnum(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// newConnID is a connection id like API Gateway's ("L0SM9cOFvHcCIhw="):
// this process's boot tag, nine random characters and "=".
func (h *wsHub) newConnID() string { return h.boot + randAlnum(9) + "=" }

// validConnID checks a connection id from a URL.
func validConnID(id string) bool {
	if len(id) != bootLen+10 || id[len(id)-1] != '=' {
		return false
	}
	for i := 0; i < len(id)-1; i++ {
		if strings.IndexByte(alnum, id[i]) < 0 {
			return false
		}
	}
	return true
}

func (h *wsHub) ready() bool { return h.up.Load() && h.ctx.Err() == nil }

// regEntry is a connection's registry entry.
type regEntry struct {
	APIID       string `json:"apiId"`
	Stage       string `json:"stage"`
	Domain      string `json:"domain"`
	SourceIP    string `json:"sourceIp"`
	UserAgent   string `json:"userAgent"`
	ConnectedAt int64  `json:"connectedAt"` // unix milliseconds
	// Authorizer is the $connect authorizer's answer, for the
	// $disconnect event another node runs when this one dies.
	Authorizer map[string]any `json:"authorizer,omitempty"`
}

// start registers an accepted connection and serves it.
func (h *wsHub) start(c *wsConn) {
	h.mu.Lock()
	h.conns[c.id] = c
	h.mu.Unlock()
	b, _ := json.Marshal(regEntry{APIID: c.apiID, Stage: c.stage, Domain: c.domain, SourceIP: c.sourceIP,
		UserAgent: c.userAgent, ConnectedAt: c.connected.UnixMilli(), Authorizer: c.authorizer})
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	if _, err := h.st.Create(ctx, connKeyPrefix+c.id, b); err != nil {
		h.log.Warn("websocket connection not registered", "connection_id", c.id, "err", err)
	}
	cancel()
	h.wg.Add(1)
	go h.run(h.ctx, c)
}

// unregister forgets a closed connection.
func (h *wsHub) unregister(c *wsConn) {
	h.mu.Lock()
	delete(h.conns, c.id)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), 5*time.Second)
	defer cancel()
	if err := h.st.Delete(ctx, connKeyPrefix+c.id, 0); err != nil {
		h.log.Warn("websocket connection not unregistered", "connection_id", c.id, "err", err)
	}
}

func (h *wsHub) local(id string) *wsConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns[id]
}

// write sends one message to a client.
func (h *wsHub) write(ctx context.Context, c *wsConn, typ websocket.MessageType, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := c.c.Write(ctx, typ, b); err != nil {
		return err
	}
	c.touch(h.g.now())
	return nil
}

// runCluster keeps the node's presence and relay subscription until ctx ends,
// sweeping the registry for connections of dead holders.
func (h *wsHub) runCluster(ctx context.Context) error {
	js := h.st.JetStream()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: presenceBucket, TTL: h.opts.PresenceTTL, History: 1, Replicas: h.st.Replicas(),
		Storage: jetstream.FileStorage, MaxBytes: 1 << 20,
	})
	if err != nil {
		return fmt.Errorf("open websocket presence bucket: %w", err)
	}
	renew := func() error {
		c, cancel := context.WithTimeout(ctx, h.opts.PresenceTTL/3)
		defer cancel()
		_, err := kv.Put(c, h.boot, []byte(h.st.NodeName()))
		return err
	}
	if err := renew(); err != nil {
		return fmt.Errorf("write websocket presence: %w", err)
	}
	sub, err := h.st.Conn().Subscribe(wsSubject+h.boot, func(m *nats.Msg) {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.answer(m)
		}()
	})
	if err != nil {
		return fmt.Errorf("subscribe websocket relay: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	h.up.Store(true)
	renewT := time.NewTicker(h.opts.PresenceTTL / 3)
	defer renewT.Stop()
	sweepT := time.NewTicker(h.opts.SweepInterval)
	defer sweepT.Stop()
	for {
		select {
		case <-ctx.Done():
			h.up.Store(false)
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			h.closeAll(cctx)
			cancel()
			return nil
		case <-renewT.C:
			if err := renew(); err != nil {
				h.log.Warn("websocket presence not renewed", "err", err)
			}
		case <-sweepT.C:
			h.sweep(ctx, kv)
		}
	}
}

// sweep removes the registry entries of dead holders and runs their
// connections' $disconnect.
func (h *wsHub) sweep(ctx context.Context, kv jetstream.KeyValue) {
	keys, err := h.st.Keys(ctx, connKeyPrefix)
	if err != nil {
		h.log.Debug("websocket registry sweep", "err", err)
		return
	}
	alive := map[string]bool{h.boot: true}
	for _, k := range keys {
		id := strings.TrimPrefix(k, connKeyPrefix)
		if len(id) < bootLen {
			continue
		}
		boot := id[:bootLen]
		if boot == h.boot {
			continue
		}
		live, seen := alive[boot]
		if !seen {
			_, err := kv.Get(ctx, boot)
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
				live = false
			case err != nil:
				live = true // unknown: try again next sweep
			default:
				live = true
			}
			alive[boot] = live
		}
		if !live {
			h.reap(ctx, k, id)
		}
	}
}

// reap removes one dead holder's connection; the node whose delete wins
// runs $disconnect.
func (h *wsHub) reap(ctx context.Context, key, id string) {
	e, err := h.st.Get(ctx, key)
	if err != nil {
		return
	}
	var ent regEntry
	if err := json.Unmarshal(e.Value, &ent); err != nil {
		_ = h.st.Delete(ctx, key, e.Revision)
		return
	}
	if err := h.st.Delete(ctx, key, e.Revision); err != nil {
		return // another node reaped it
	}
	h.log.Info("websocket connection of a stopped node closed", "connection_id", id, "api_id", ent.APIID)
	c := &wsConn{id: id, apiID: ent.APIID, stage: ent.Stage, domain: ent.Domain, sourceIP: ent.SourceIP,
		userAgent: ent.UserAgent, connected: time.UnixMilli(ent.ConnectedAt), authorizer: ent.Authorizer}
	h.g.wsDisconnect(ctx, c, int(websocket.StatusGoingAway), "Going away")
}

// closeAll closes every connection (node stop) and waits, within ctx, for
// their $disconnect.
func (h *wsHub) closeAll(ctx context.Context) {
	h.mu.Lock()
	conns := make([]*wsConn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.close(websocket.StatusGoingAway, "Going away")
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	h.cancel()
}

// --- @connections -------------------------------------------------------

// connOp is an @connections call, as relayed between nodes.
type connOp struct {
	Op    string `json:"op"` // post, get, delete
	ID    string `json:"id"`
	APIID string `json:"apiId"`
	Stage string `json:"stage"`
	Data  []byte `json:"data,omitempty"`
}

// connReply is a node's answer to a connOp.
type connReply struct {
	Gone         bool   `json:"gone,omitempty"`
	ConnectedAt  string `json:"connectedAt,omitempty"`
	LastActiveAt string `json:"lastActiveAt,omitempty"`
	SourceIP     string `json:"sourceIp,omitempty"`
	UserAgent    string `json:"userAgent,omitempty"`
}

// do runs op where the connection lives.
func (h *wsHub) do(ctx context.Context, op connOp) (connReply, error) {
	if op.ID[:bootLen] == h.boot {
		return h.apply(ctx, op), nil
	}
	b, _ := json.Marshal(op)
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	m, err := h.st.Conn().RequestWithContext(ctx, wsSubject+op.ID[:bootLen], b)
	if errors.Is(err, nats.ErrNoResponders) {
		return connReply{Gone: true}, nil
	}
	if err != nil {
		return connReply{}, fmt.Errorf("relay @connections call: %w", err)
	}
	var rep connReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return connReply{}, fmt.Errorf("relay @connections call: %w", err)
	}
	return rep, nil
}

// answer serves an op another node relayed.
func (h *wsHub) answer(m *nats.Msg) {
	var op connOp
	if err := json.Unmarshal(m.Data, &op); err != nil || !validConnID(op.ID) {
		return
	}
	b, _ := json.Marshal(h.apply(h.ctx, op))
	_ = m.Respond(b)
}

// apply runs op on a connection of this node.
func (h *wsHub) apply(ctx context.Context, op connOp) connReply {
	c := h.local(op.ID)
	if c == nil || c.apiID != op.APIID || c.stage != op.Stage {
		return connReply{Gone: true}
	}
	switch op.Op {
	case "post":
		typ := websocket.MessageText
		if !utf8.Valid(op.Data) {
			typ = websocket.MessageBinary
		}
		if err := h.write(ctx, c, typ, op.Data); err != nil {
			return connReply{Gone: true}
		}
	case "delete":
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			c.close(websocket.StatusNormalClosure, "")
		}()
	}
	return connReply{
		ConnectedAt:  c.connected.UTC().Format("2006-01-02T15:04:05.000Z"),
		LastActiveAt: time.Unix(0, c.lastActive.Load()).UTC().Format("2006-01-02T15:04:05.000Z"),
		SourceIP:     c.sourceIP, UserAgent: c.userAgent,
	}
}

// ConnectionsAuthorizer authenticates a call of the @connections API
// (SigV4 for "execute-api") and decides execute-api:ManageConnections on
// resource. A refusal is an *awsapi.Error to answer with.
type ConnectionsAuthorizer interface {
	AuthorizeConnections(r *http.Request, resource string) error
}

func goneErr() error {
	return &awsapi.Error{Status: http.StatusGone, Code: "GoneException", Type: "User"}
}

func forbiddenErr() error {
	return &awsapi.Error{Status: http.StatusForbidden, Code: "ForbiddenException", Type: "User", Message: "Forbidden"}
}

// serveConnections serves POST, GET and DELETE /<stage>/@connections/<id>.
func (g *Gateway) serveConnections(w http.ResponseWriter, r *http.Request, doc *httpDoc, stage string, rest []string) {
	w.Header().Set(awsapi.HeaderRequestID, awsapi.NewRequestID())
	err := g.connections(w, r, doc, stage, rest)
	if err != nil {
		awsapi.WriteError(w, g.log, err)
	}
}

func (g *Gateway) connections(w http.ResponseWriter, r *http.Request, doc *httpDoc, stage string, rest []string) error {
	if len(rest) != 1 {
		return forbiddenErr()
	}
	id, err := url.PathUnescape(rest[0]) // SDKs send the id's "=" as %3D
	if err != nil {
		return forbiddenErr()
	}
	op := map[string]string{http.MethodPost: "post", http.MethodGet: "get", http.MethodDelete: "delete"}[r.Method]
	if op == "" {
		return forbiddenErr()
	}
	resource := "arn:aws:execute-api:" + g.region + ":" + g.account + ":" + doc.API.APIID + "/" + stage + "/" + r.Method + "/@connections/" + id
	if g.connAuth == nil {
		return forbiddenErr()
	}
	if err := g.connAuth.AuthorizeConnections(r, resource); err != nil {
		g.stats.denied.Add(1)
		return err
	}
	var data []byte
	if op == "post" {
		b, err := readLimited(r, g.ws.opts.MaxMessage)
		if err != nil {
			return err
		}
		data = b
	}
	if !validConnID(id) {
		return goneErr()
	}
	rep, err := g.ws.do(r.Context(), connOp{Op: op, ID: id, APIID: doc.API.APIID, Stage: stage, Data: data})
	if err != nil {
		return err
	}
	if rep.Gone {
		return goneErr()
	}
	switch op {
	case "get":
		awsapi.WriteJSON(w, http.StatusOK, map[string]any{
			"connectedAt": rep.ConnectedAt, "lastActiveAt": rep.LastActiveAt,
			"identity": map[string]string{"sourceIp": rep.SourceIP, "userAgent": rep.UserAgent},
		})
	case "delete":
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// readLimited reads a PostToConnection body of at most n bytes.
func readLimited(r *http.Request, n int64) ([]byte, error) {
	tooLarge := &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: "PayloadTooLargeException", Type: "User",
		Message: fmt.Sprintf("Message exceeds the maximum size of %d bytes.", n)}
	if r.ContentLength > n {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, n+1))
	if err != nil {
		return nil, badRequest("Could not read the request body.")
	}
	if int64(len(b)) > n {
		return nil, tooLarge
	}
	return b, nil
}
