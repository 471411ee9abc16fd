package cluster

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestMajorityCountsRoutes: a server with routes to fewer than a majority
// of the cluster's servers is told at once (readyz's first check); once a
// peer's route is up, a majority of three is there.
func TestMajorityCountsRoutes(t *testing.T) {
	if err := Majority(nil, 3); err != nil {
		t.Errorf("an external NATS (no embedded server): %v", err)
	}
	ports := make([]int, 2)
	for i := range ports {
		ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
	}
	start := func(self, peer int) *server.Server {
		u, _ := url.Parse(fmt.Sprintf("nats://127.0.0.1:%d", ports[peer]))
		ns, err := server.NewServer(&server.Options{ServerName: fmt.Sprintf("s%d", self), Host: "127.0.0.1", Port: -1,
			NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "c", Host: "127.0.0.1", Port: ports[self]},
			Routes:  []*url.URL{u}})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		t.Cleanup(ns.Shutdown)
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("server not ready")
		}
		return ns
	}
	a := start(0, 1)
	if err := Majority(a, 1); err != nil {
		t.Errorf("a single server: %v", err)
	}
	if err := Majority(a, 3); err == nil {
		t.Error("a server with no route passes as a majority of three")
	}
	start(1, 0)
	deadline := time.Now().Add(time.Minute)
	for Majority(a, 3) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("two routed servers of three: %v", Majority(a, 3))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := Majority(a, 5); err == nil {
		t.Error("two servers pass as a majority of five")
	}
}
