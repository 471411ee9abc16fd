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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// On a cluster every node serves every table by sending each DynamoDB and
// DynamoDB Streams request to one node, the cluster's table node, which
// keeps the tables in its store and runs the request exactly as a single
// node does (docs/design/tables.md, "Several nodes"). The table node is
// chosen once, by create-if-absent of the key "home" in the KV bucket
// nimbus_dynamodb: the first node to start is it, for good. Requests
// travel as NATS requests on the backbone (subject nimbus.dynamodb.node.
// <hash of the node name>): the body as the message, the target and host
// as headers; the answer's status and error type come back as headers.
//
//	client ─► any node ─(NATS request)─► table node: bbolt, outbox ─► stream
//	                   ◄─(status, body)──┘

const (
	homeBucket = "nimbus_dynamodb"
	homeKey    = "home"

	hdrTarget  = "Nimbus-Ddb-Target"
	hdrHost    = "Nimbus-Ddb-Host"
	hdrStatus  = "Nimbus-Ddb-Status"
	hdrErrType = "Nimbus-Ddb-Error-Type"

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
	h          *Handler
	nc         *nats.Conn
	node, home string
	sub        *nats.Subscription
	sem        chan struct{}
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// joinCluster finds (or becomes) the cluster's table node and, on it,
// serves the other nodes' requests.
func joinCluster(ctx context.Context, h *Handler, o Options) (*peer, error) {
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: homeBucket, Description: "the node that holds the cluster's DynamoDB tables",
		History: 1, Storage: jetstream.FileStorage, Replicas: o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", homeBucket, err)
	}
	home := o.Node
	if _, err := kv.Create(ctx, homeKey, []byte(o.Node)); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("choose the table node: %w", err)
		}
		// On a cluster starting together, "exists" can come before the
		// winner's write is readable where this read is served (direct
		// gets are answered by any replica): wait for it, within bounds.
		e, err := kv.Get(ctx, homeKey)
		for wait, end := 50*time.Millisecond, time.Now().Add(2*time.Minute); errors.Is(err, jetstream.ErrKeyNotFound) && time.Now().Before(end); wait = min(2*wait, time.Second) {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("read the table node: %w", ctx.Err())
			case <-time.After(wait):
			}
			e, err = kv.Get(ctx, homeKey)
		}
		if err != nil {
			return nil, fmt.Errorf("read the table node: %w", err)
		}
		home = string(e.Value())
	}
	p := &peer{h: h, nc: o.Conn, node: o.Node, home: home, sem: make(chan struct{}, maxServing)}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if p.isHome() {
		p.sub, err = o.Conn.Subscribe(nodeSubject(o.Node), p.serveMsg)
		if err != nil {
			p.cancel()
			return nil, fmt.Errorf("serve forwarded dynamodb requests: %w", err)
		}
	}
	h.s.log.Info("dynamodb table node", "node", home, "here", p.isHome())
	return p, nil
}

func (p *peer) isHome() bool { return p.node == p.home }

// stop stops serving and waits for the requests being run.
func (p *peer) stop() {
	if p.sub != nil {
		_ = p.sub.Unsubscribe()
	}
	p.wg.Wait()
	p.cancel()
}

// serveMsg runs one forwarded request (on the table node).
func (p *peer) serveMsg(m *nats.Msg) {
	p.sem <- struct{}{}
	p.wg.Add(1)
	go func() {
		defer func() { <-p.sem; p.wg.Done() }()
		ctx, cancel := context.WithTimeout(p.ctx, forwardTimeout)
		defer cancel()
		a := p.h.serve(ctx, m.Header.Get(hdrTarget), m.Header.Get(hdrHost), m.Data)
		if len(a.body)+forwardHeadroom > int(p.nc.MaxPayload()) {
			a = p.h.errAnswer(newErr(http.StatusRequestEntityTooLarge, "ResponseEntityTooLarge",
				"The answer (%d bytes) is larger than the cluster's message limit (%d bytes): ask node %s directly or ask for less (Limit)",
				len(a.body), p.nc.MaxPayload(), p.home))
		}
		r := nats.NewMsg(m.Reply)
		r.Header.Set(hdrStatus, strconv.Itoa(a.status))
		if a.errType != "" {
			r.Header.Set(hdrErrType, a.errType)
		}
		r.Data = a.body
		if err := m.RespondMsg(r); err != nil {
			p.h.s.log.Warn("answer forwarded dynamodb request", "err", err)
		}
	}()
}

// forward runs a request on the table node and returns its answer.
func (p *peer) forward(ctx context.Context, target, host string, body []byte) answer {
	if len(body)+forwardHeadroom > int(p.nc.MaxPayload()) {
		return p.h.errAnswer(newErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"Request must be smaller than %d bytes on a node that forwards DynamoDB requests to the cluster's table node %s: send it to that node",
			p.nc.MaxPayload()-forwardHeadroom, p.home))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, forwardTimeout)
		defer cancel()
	}
	m := nats.NewMsg(nodeSubject(p.home))
	m.Header.Set(hdrTarget, target)
	m.Header.Set(hdrHost, host)
	m.Data = body
	r, err := p.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		p.h.s.log.Warn("forward dynamodb request", "table_node", p.home, "err", err)
		return p.h.errAnswer(newErr(http.StatusServiceUnavailable, "ServiceUnavailable",
			"The cluster's DynamoDB table node %s does not answer; its tables are served again when it is back (docs/design/tables.md)", p.home))
	}
	status, err := strconv.Atoi(r.Header.Get(hdrStatus))
	if err != nil {
		return p.h.errAnswer(errInternal())
	}
	return answer{status: status, errType: r.Header.Get(hdrErrType), body: r.Data}
}
