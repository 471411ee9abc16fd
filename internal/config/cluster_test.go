package config

import (
	"strings"
	"testing"
)

func clusterConfig(routes ...string) Config {
	c := Default()
	c.Cluster = Cluster{Name: "prod", Listen: "127.0.0.1:6222", Secret: "0123456789abcdef", Routes: routes}
	return c
}

func TestServersCountsPeersNotSelf(t *testing.T) {
	for _, tc := range []struct {
		routes []string
		want   int
	}{
		{nil, 1},
		{[]string{"nats://127.0.0.1:6223"}, 2},
		// One list for every node: this node's own route does not count.
		{[]string{"nats://127.0.0.1:6222", "nats://127.0.0.1:6223", "nats://127.0.0.1:6224"}, 3},
		{[]string{"nats://localhost:6222", "nats://127.0.0.1:6223", "nats://127.0.0.1:6223"}, 2},
	} {
		c := clusterConfig(tc.routes...)
		if got := c.Servers(); got != tc.want {
			t.Errorf("Servers(%v) = %d, want %d", tc.routes, got, tc.want)
		}
	}
	c := clusterConfig("nats://127.0.0.1:6222", "nats://127.0.0.1:6223", "nats://127.0.0.1:6224")
	if got := c.EffectiveReplicas(); got != 3 {
		t.Errorf("three servers: replicas %d, want 3", got)
	}
	c = clusterConfig("nats://127.0.0.1:6223")
	if got := c.EffectiveReplicas(); got != 1 {
		t.Errorf("two servers: replicas %d, want 1 (R2 survives no failure)", got)
	}
}

// TestClusterRefusals: asking more replicas than servers, a cluster
// without a secret, a route with credentials in it, --nats with
// --cluster-*: each is refused at start, naming the problem.
func TestClusterRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"three replicas on two servers", func(c *Config) { c.Replicas = 3 }, "replicas 3 needs 3 NATS servers, but the cluster has 2"},
		{"replicas alone", func(c *Config) { c.Cluster = Cluster{}; c.Replicas = 3 }, "this node runs alone"},
		{"no secret", func(c *Config) { c.Cluster.Secret = "" }, "shared secret"},
		{"short secret", func(c *Config) { c.Cluster.Secret = "short" }, "shared secret"},
		{"route with credentials", func(c *Config) { c.Cluster.Routes = []string{"nats://u:p@127.0.0.1:1"} }, "must be nats://HOST:PORT"},
		{"route scheme", func(c *Config) { c.Cluster.Routes = []string{"http://127.0.0.1:1"} }, "must be nats://HOST:PORT"},
		{"no name", func(c *Config) { c.Cluster.Name = "" }, "cluster name"},
		{"bad name", func(c *Config) { c.Cluster.Name = "a b" }, "cluster name"},
		{"no listen port", func(c *Config) { c.Cluster.Listen = "127.0.0.1" }, "cluster listen address"},
		{"bad node name", func(c *Config) { c.Cluster.NodeName = "a/b" }, "node name"},
		{"nats and cluster", func(c *Config) { c.NATSURL = "nats://x:4222" }, "exclusive"},
		{"too many replicas", func(c *Config) { c.Replicas = 7 }, "between 1 and 5"},
		{"route TLS without its CA", func(c *Config) { c.Cluster.TLSCert, c.Cluster.TLSKey = "c.pem", "k.pem" }, "--cluster-tls-ca"},
		{"advertise without a port", func(c *Config) { c.Cluster.Advertise = "10.0.0.1" }, "cluster advertise address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clusterConfig("nats://127.0.0.1:6223")
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	c := clusterConfig("nats://127.0.0.1:6222", "nats://127.0.0.1:6223", "nats://127.0.0.1:6224")
	c.Replicas = 3
	if err := c.Validate(); err != nil {
		t.Fatalf("a valid three-node configuration: %v", err)
	}
}

func FuzzSplitRoutes(f *testing.F) {
	f.Add("nats://a:1, nats://b:2,,")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range SplitRoutes(s) {
			if r == "" || strings.Contains(r, ",") || strings.TrimSpace(r) != r {
				t.Fatalf("SplitRoutes(%q) gave %q", s, r)
			}
		}
		c := clusterConfig(SplitRoutes(s)...)
		_ = c.Validate() // must not panic on any route text
	})
}
