package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// fakePool is a node's pool: it records what ran on it.
type fakePool struct {
	name string

	mu    sync.Mutex
	idle  map[versionKey]int // guarded by mu
	ran   []string           // guarded by mu: "cold <id>" or "warm <id>"
	warm  func(req *invoke.Request) (*invoke.Result, bool, error)
	reply []byte // guarded by mu: what warm invocations answer (default: name)
}

func (p *fakePool) Invoke(_ context.Context, _ *function.Config, req *invoke.Request) (*invoke.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ran = append(p.ran, "local "+req.RequestID)
	return &invoke.Result{Payload: []byte(`"` + p.name + `"`), ExecutedVersion: "$LATEST"}, nil
}

func (p *fakePool) HasIdle(fn *function.Config) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idle[versionKey{fn.FunctionArn, fn.Version, fn.RevisionId}] > 0
}

func (p *fakePool) Warm() []WarmVersion {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []WarmVersion
	for k, n := range p.idle {
		out = append(out, WarmVersion{FunctionArn: k.arn, Version: k.version, RevisionID: k.revision, Idle: n})
	}
	return out
}

func (p *fakePool) InvokeWarm(_ context.Context, v WarmVersion, req *invoke.Request) (*invoke.Result, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle[versionKey{v.FunctionArn, v.Version, v.RevisionID}] == 0 {
		return nil, false, nil
	}
	if p.warm != nil {
		res, ran, err := p.warm(req)
		if ran {
			p.ran = append(p.ran, "warm "+req.RequestID)
		}
		return res, ran, err
	}
	p.ran = append(p.ran, "warm "+req.RequestID+" "+string(req.Payload)+" "+req.TraceID)
	reply := p.reply
	if reply == nil {
		reply = []byte(`"` + p.name + `"`)
	}
	return &invoke.Result{Payload: reply, ExecutedVersion: v.Version, Duration: time.Millisecond}, true, nil
}

func (p *fakePool) runs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ran...)
}

// natsServer is an in-process NATS server with a small message size, so
// answers travel in several chunks.
func natsServer(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{DontListen: true, MaxPayload: 64 << 10, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

func node(t *testing.T, ns *server.Server, name string, p WarmPool) *Forwarder {
	t.Helper()
	f, stop := startNode(t, ns, name, p, nil)
	t.Cleanup(stop)
	return f
}

// stoppableNode is a node with provisioned allocations prov; stop ends
// its adverts and service, as a kill would.
func stoppableNode(t *testing.T, ns *server.Server, name string, prov map[string]int) (*Forwarder, func()) {
	t.Helper()
	f, stop := startNode(t, ns, name, &fakePool{name: name}, func() map[string]int { return prov })
	var once sync.Once
	t.Cleanup(func() { once.Do(stop) })
	return f, func() { once.Do(stop) }
}

func startNode(t *testing.T, ns *server.Server, name string, p WarmPool, prov func() map[string]int) (*Forwarder, func()) {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewForwarder(ForwardOptions{Conn: nc, Node: name, Pool: p, AdvertiseEvery: 20 * time.Millisecond, Provisioned: prov})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	return f, func() { cancel(); <-done; f.Close(); nc.Close() }
}

var fn = &function.Config{FunctionName: "f", FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:f",
	Version: "$LATEST", RevisionId: "r1", Timeout: 3}

func key(c *function.Config) versionKey { return versionKey{c.FunctionArn, c.Version, c.RevisionId} }

// heard waits until f has a fresh advert of fn from node.
func heard(t *testing.T, f *Forwarder, node string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		p := f.peers[node]
		ok := p != nil && p.idle[key(fn)] == want && time.Since(p.at) < f.every*freshAdverts/2
		f.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no advert of %d idle from %s", want, node)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func invokeOn(t *testing.T, f *Forwarder, id string, payload string) (*invoke.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return f.Invoke(ctx, fn, &invoke.Request{RequestID: id, InvokedFunctionArn: fn.FunctionArn, Payload: []byte(payload), TraceID: "Root=1-abc"})
}

// A node with no idle environment of a version sends the invocation to a
// node that advertised one; it runs there, warm, with its payload and
// trace, and the answer comes back whole, even when it takes several
// messages.
func TestForwardToAWarmNode(t *testing.T) {
	ns := natsServer(t)
	pa, pb := &fakePool{name: "a"}, &fakePool{name: "b", idle: map[versionKey]int{key(fn): 1}}
	big := []byte(`"` + strings.Repeat("x", 300<<10) + `"`) // five chunks of 64 KB
	pb.reply = big
	a := node(t, ns, "a", pa)
	node(t, ns, "b", pb)
	heard(t, a, "b", 1)

	res, err := invokeOn(t, a, "req-1", `{"k":1}`)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Payload, big) || res.ExecutedVersion != "$LATEST" || res.Duration != time.Millisecond {
		t.Fatalf("forwarded answer: %d bytes, version %q, duration %s", len(res.Payload), res.ExecutedVersion, res.Duration)
	}
	if got := pb.runs(); len(got) != 1 || got[0] != `warm req-1 {"k":1} Root=1-abc` {
		t.Fatalf("b ran %q", got)
	}
	if got := pa.runs(); len(got) != 0 {
		t.Fatalf("a ran %q as well", got)
	}
	if fw, dec := a.Stats(); fw != 1 || dec != 0 {
		t.Fatalf("stats forwarded %d declined %d", fw, dec)
	}
}

// The invocation runs locally when this node has an idle environment,
// when no node advertised one, when the other node has none any more
// (declined), when the node that advertised is gone, and when the
// request is larger than a message.
func TestForwardFallsBackToLocal(t *testing.T) {
	ns := natsServer(t)
	pa, pb := &fakePool{name: "a", idle: map[versionKey]int{}}, &fakePool{name: "b", idle: map[versionKey]int{key(fn): 2}}
	a := node(t, ns, "a", pa)

	// Nobody advertised.
	if res, err := invokeOn(t, a, "none", "{}"); err != nil || string(res.Payload) != `"a"` {
		t.Fatalf("no advert: %s %v", res.Payload, err)
	}
	b := node(t, ns, "b", pb)
	heard(t, a, "b", 2)

	// Idle here: never forwarded.
	pa.mu.Lock()
	pa.idle[key(fn)] = 1
	pa.mu.Unlock()
	if res, err := invokeOn(t, a, "here", "{}"); err != nil || string(res.Payload) != `"a"` {
		t.Fatalf("idle here: %s %v", res.Payload, err)
	}
	pa.mu.Lock()
	pa.idle = map[versionKey]int{}
	pa.mu.Unlock()

	// Larger than a message (64 KB here).
	if res, err := invokeOn(t, a, "large", `"`+strings.Repeat("y", 70<<10)+`"`); err != nil || string(res.Payload) != `"a"` {
		t.Fatalf("large request: %s %v", res.Payload, err)
	}

	// b's environments were taken meanwhile: it declines, a runs it.
	pb.mu.Lock()
	pb.warm = func(*invoke.Request) (*invoke.Result, bool, error) { return nil, false, nil }
	pb.mu.Unlock()
	if res, err := invokeOn(t, a, "declined", "{}"); err != nil || string(res.Payload) != `"a"` {
		t.Fatalf("declined: %s %v", res.Payload, err)
	}
	if fw, dec := a.Stats(); fw != 1 || dec != 1 {
		t.Fatalf("stats forwarded %d declined %d", fw, dec)
	}

	// b is gone (its subscriptions with it) while its adverts go on.
	b.Close()
	heard(t, a, "b", 2)
	if res, err := invokeOn(t, a, "gone", "{}"); err != nil || string(res.Payload) != `"a"` {
		t.Fatalf("node gone: %v %v", res, err)
	}
	if fw, dec := a.Stats(); fw != 2 || dec != 2 {
		t.Fatalf("stats forwarded %d declined %d", fw, dec)
	}
	want := []string{"local none", "local here", "local large", "local declined", "local gone"}
	if got := pa.runs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("a ran %q, want %q", got, want)
	}
	if got := pb.runs(); len(got) != 0 {
		t.Fatalf("b ran %q", got)
	}
}

// A platform failure on the other node comes back as the same category
// (the function ran there: it is not run again here); a limit that
// refused it there before it ran sends it back here.
func TestForwardErrors(t *testing.T) {
	ns := natsServer(t)
	pa, pb := &fakePool{name: "a"}, &fakePool{name: "b", idle: map[versionKey]int{key(fn): 1}}
	a := node(t, ns, "a", pa)
	node(t, ns, "b", pb)
	heard(t, a, "b", 1)

	pb.mu.Lock()
	pb.warm = func(*invoke.Request) (*invoke.Result, bool, error) {
		return nil, true, errdefs.EnvironmentFailed("The function's execution environment failed.")
	}
	pb.mu.Unlock()
	_, err := invokeOn(t, a, "failed", "{}")
	if e := errdefs.As(err); e == nil || !errors.Is(err, errdefs.ErrEnvironmentFailed) || e.Message != "The function's execution environment failed." {
		t.Fatalf("failure on b: %v", err)
	}

	heard(t, a, "b", 1)
	pb.mu.Lock()
	pb.warm = func(*invoke.Request) (*invoke.Result, bool, error) {
		return nil, false, errdefs.Throttled("ReservedFunctionConcurrentInvocationLimitExceeded", 1, "Rate Exceeded.")
	}
	pb.mu.Unlock()
	res, err := invokeOn(t, a, "throttled", "{}")
	if err != nil || string(res.Payload) != `"a"` {
		t.Fatalf("throttled on b: %s %v, want it run on a", res.Payload, err)
	}
}

// A forwarded request that is not one (any bytes on the subject) is
// refused, never run.
func FuzzDecodeRequest(f *testing.F) {
	good := []byte(`{"v":{"arn":"arn:aws:lambda:us-east-1:000000000000:function:f","ver":"$LATEST","rev":"r1"},"rid":"x","timeout_ms":5}`)
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(good)))
	f.Add(append(msg, `{"p":1}`...))
	f.Add([]byte{0, 0, 0, 9, '{'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		meta, payload, err := decodeRequest(data)
		if err != nil {
			return
		}
		if meta.Version.FunctionArn == "" || meta.RequestID == "" {
			t.Fatalf("accepted a request without function or id: %+v", meta)
		}
		if len(payload) > len(data) {
			t.Fatal("payload longer than the message")
		}
	})
}
