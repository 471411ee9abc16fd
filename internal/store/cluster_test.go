package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/tlscert"
)

// freePorts returns n loopback ports free at the time of the call.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

// syncBuffer is a log destination tests read while servers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func clusterOpts(name, secret string, self int, ports []int) *ClusterOptions {
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	return &ClusterOptions{
		Name: name, Secret: secret, Routes: routes,
		Listen:   fmt.Sprintf("127.0.0.1:%d", ports[self]),
		NodeName: fmt.Sprintf("n%d", self),
	}
}

// openCluster opens n stores clustered over loopback routes, concurrently
// (each waits for a majority), with replicas R.
func openCluster(t *testing.T, n, replicas int) []*Store {
	t.Helper()
	return openClusterWith(t, n, replicas, func(*ClusterOptions) {})
}

// openClusterWith is openCluster with each node's options changed by edit.
func openClusterWith(t *testing.T, n, replicas int, edit func(*ClusterOptions)) []*Store {
	t.Helper()
	ports := freePorts(t, n)
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = Open(t.Context(), Options{
				DataDir: t.TempDir(), Logger: testLogger(t), Replicas: replicas,
				Cluster: func() *ClusterOptions {
					o := clusterOpts("test", "0123456789abcdef", i, ports)
					edit(o)
					return o
				}(),
			})
		})
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("open node %d: %v", i, errs[i])
		}
		t.Cleanup(func() { _ = s.Close() })
	}
	return stores
}

// TestClusterSharesStateAtThreeReplicas: three embedded servers form one
// JetStream cluster over mutual-TLS routes; a write on one node is read
// on another, and the buckets keep three copies, one per server. A
// route port asks for TLS before anything else.
func TestClusterSharesStateAtThreeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers")
	}
	dir := t.TempDir()
	if err := tlscert.Generate(dir, []string{"127.0.0.1", "localhost"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	s := openClusterWith(t, 3, 3, func(o *ClusterOptions) {
		o.TLSCert, o.TLSKey, o.TLSCA = filepath.Join(dir, tlscert.CertFile), filepath.Join(dir, tlscert.KeyFile), filepath.Join(dir, tlscert.CAFile)
	})
	ctx := t.Context()
	// A peer must present a certificate the CA signed: without one the
	// route port hangs up; with one it greets (INFO).
	caPEM, err := os.ReadFile(filepath.Join(dir, tlscert.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, tlscert.CertFile), filepath.Join(dir, tlscert.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	greet := func(certs []tls.Certificate) (string, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
			Config: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: certs, ServerName: "127.0.0.1"}}
		c, err := d.DialContext(ctx, "tcp", s[1].Server().ClusterAddr().String())
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		return bufio.NewReader(c).ReadString('\n')
	}
	if g, err := greet(nil); err == nil {
		t.Fatalf("a route port greeted a peer without a certificate: %q", g)
	}
	if g, err := greet([]tls.Certificate{pair}); err != nil || !strings.HasPrefix(g, "INFO ") {
		t.Fatalf("a route port with the CA's certificate: %q, %v; want INFO", g, err)
	}
	if _, err := s[0].Create(ctx, "fn.shared", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	// Reads go to the stream leader: a write acknowledged on one node is
	// read at once on every node (read-modify-write needs that).
	for i := range 20 {
		key := fmt.Sprintf("fn.k%d", i)
		if _, err := s[i%3].Create(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
		for j, n := range s {
			if e, err := n.Get(ctx, key); err != nil || string(e.Value) != "v" {
				t.Fatalf("node %d reads %s as %q, %v right after node %d wrote it", j, key, e.Value, err, i%3)
			}
		}
	}
	// The checks of a write read the leader too: an update right after a
	// create on the same node (CreateFunction, PutFunctionConcurrency)
	// and a create right after a delete on the same node pass on every
	// node, although the node's own replica may not have applied the
	// write before yet.
	for i := range 6 {
		n, key := s[i%3], fmt.Sprintf("fn.rw%d", i)
		rev, err := n.Create(ctx, key, []byte("a"))
		if err != nil {
			t.Fatal(err)
		}
		if rev, err = n.Update(ctx, key, []byte("b"), rev); err != nil {
			t.Fatalf("node %d: update right after its create: %v", i%3, err)
		}
		if err := n.Delete(ctx, key, rev); err != nil {
			t.Fatalf("node %d: delete right after its update: %v", i%3, err)
		}
		if _, err := n.Create(ctx, key, []byte("c")); err != nil {
			t.Fatalf("node %d: create right after its delete: %v", i%3, err)
		}
		if _, err := s[(i+1)%3].Create(ctx, key, []byte("d")); !errors.Is(err, ErrExists) {
			t.Fatalf("node %d: create of a live key: %v, want ErrExists", (i+1)%3, err)
		}
		if err := s[(i+2)%3].Delete(ctx, key, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Get(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("node %d: get after another node's delete: %v, want ErrNotFound", i%3, err)
		}
	}
	// A publish no stream leader answers (here: no stream at all; after a
	// kill: one electing its leader) is tried again for a while, then
	// marked for the API edges' 503 rather than their internal error.
	func() {
		defer func(w time.Duration) { leaderWait = w }(leaderWait)
		leaderWait = time.Second
		_, err := s[0].JetStream().Publish(ctx, "nostream.x", []byte("x"))
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, jetstream.ErrNoStreamResponse) {
			t.Errorf("publish with no stream leader: %v, want ErrUnavailable", err)
		}
	}()
	// Stream handles retry their consumer creates (a restarted node's
	// services create their durable consumers at start).
	st, err := s[1].JetStream().CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s[2].JetStream().Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []jetstream.Stream{st, again} {
		if _, ok := h.(clusterStream); !ok || h.CachedInfo().Config.Replicas != 3 {
			t.Fatalf("stream handle %T (replicas %d): want a clusterStream of three", h, h.CachedInfo().Config.Replicas)
		}
		if _, err := h.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
			t.Fatal(err)
		}
	}
	if e, err := s[2].Get(ctx, "fn.shared"); err != nil || string(e.Value) != "v1" {
		t.Fatalf("node 2 reads %q, %v; want v1", e.Value, err)
	}
	e, err := s[1].Get(ctx, "fn.k0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s[1].Delete(ctx, "fn.k0", e.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := s[0].Get(ctx, "fn.k0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a deleted key reads %v on another node, want ErrNotFound", err)
	}
	info, err := s[1].kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; got != 3 {
		t.Fatalf("state bucket replicas = %d, want 3", got)
	}
	ci := info.(*jetstream.KeyValueBucketStatus).StreamInfo().Cluster
	if ci == nil || ci.Leader == "" || len(ci.Replicas) != 2 {
		t.Fatalf("state bucket cluster info = %+v, want a leader and two other replicas", ci)
	}
	if s[0].NodeName() != "n0" || s[0].Replicas() != 3 {
		t.Fatalf("node 0: name %q replicas %d", s[0].NodeName(), s[0].Replicas())
	}

	// Alone (both peers gone), a node refuses writes at once as
	// unavailable, instead of waiting out a timeout.
	_ = s[1].Close()
	_ = s[2].Close()
	deadline := time.Now().Add(30 * time.Second)
	for s[0].Server().NumRemotes() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_, cerr := s[0].Create(ctx, "fn.alone", []byte("x"))
	_, perr := s[0].JetStream().Publish(ctx, "t.x", []byte("x"))
	for _, err := range []error{cerr, perr} {
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errNoMajority) {
			t.Errorf("a write on a node without a majority: %v, want ErrUnavailable (no majority)", err)
		}
	}
}

// TestClusterRefusesWrongNameAndSecret: a server with another cluster name,
// or with the right name and a wrong secret, never joins; the refusal is
// logged in Nimbus's words.
func TestClusterRefusesWrongNameAndSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	for _, tc := range []struct {
		name, cluster, secret, want string
	}{
		{"wrong name", "other", "0123456789abcdef", "cluster peer refused: its cluster name differs"},
		{"wrong secret", "test", "fedcba9876543210", "cluster peer refused: wrong cluster secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := openCluster(t, 3, 3)
			var badLog syncBuffer
			var goodRoutes []string
			for _, g := range good {
				goodRoutes = append(goodRoutes, "nats://"+g.Server().ClusterAddr().String())
			}
			port := freePorts(t, 1)[0]
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			bad, err := Open(ctx, Options{
				DataDir: t.TempDir(), Replicas: 3,
				Logger: slog.New(slog.NewTextHandler(&badLog, &slog.HandlerOptions{Level: slog.LevelWarn})),
				Cluster: &ClusterOptions{Name: tc.cluster, Secret: tc.secret, Routes: goodRoutes,
					Listen: fmt.Sprintf("127.0.0.1:%d", port), NodeName: "intruder"},
			})
			if err == nil {
				_ = bad.Close()
				t.Fatal("a refused node reached a quorum")
			}
			if !strings.Contains(badLog.String(), tc.want) {
				t.Errorf("refused side logged no %q:\n%s", tc.want, badLog.String())
			}
			for i, g := range good {
				if !g.Server().JetStreamIsLeader() {
					continue // only the meta leader lists peers
				}
				if peers := g.Server().JetStreamClusterPeers(); len(peers) != 3 || slices.Contains(peers, "intruder") {
					t.Errorf("meta leader (node %d) has peers %v, want its three", i, peers)
				}
			}
		})
	}
}
