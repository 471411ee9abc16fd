package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxReplicas is the most copies JetStream keeps of a stream.
const MaxReplicas = 5

var (
	clusterNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`) })
	nodeNameRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`) })
)

// SplitRoutes splits a comma-separated route list, dropping empty items.
func SplitRoutes(s string) []string {
	var out []string
	for r := range strings.SplitSeq(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// Servers is how many NATS servers the configuration names: 1 without
// clustering, else this node plus every route that is not this node's own
// listener (compared by port and local address).
func (c *Config) Servers() int {
	if c.NATSURL != "" {
		return 0 // unknown: an external cluster
	}
	if !c.Cluster.Enabled() {
		return 1
	}
	seen := map[string]bool{}
	for _, r := range c.Cluster.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			continue
		}
		if isSelf(u.Host, c.Cluster.Listen) {
			continue
		}
		seen[u.Host] = true
	}
	return 1 + len(seen)
}

// EffectiveReplicas is the replica count streams get: Replicas when set,
// else 3 with three or more servers, else 1.
func (c *Config) EffectiveReplicas() int {
	if c.Replicas > 0 {
		return c.Replicas
	}
	if c.Servers() >= 3 {
		return 3
	}
	return 1
}

// isSelf reports whether the route host:port is this node's route
// listener: same port, and a host that is the listener's or one of this
// machine's addresses.
func isSelf(route, listen string) bool {
	rh, rp, err := net.SplitHostPort(route)
	if err != nil {
		return false
	}
	lh, lp, err := net.SplitHostPort(listen)
	if err != nil || rp != lp {
		return false
	}
	if rh == lh {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs0, err := net.DefaultResolver.LookupIPAddr(ctx, rh)
	if err != nil {
		return false
	}
	ips := make([]net.IP, 0, len(addrs0))
	for _, a := range addrs0 {
		ips = append(ips, a.IP)
	}
	if lip := net.ParseIP(lh); lip != nil && !lip.IsUnspecified() {
		return slices.ContainsFunc(ips, lip.Equal)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && slices.ContainsFunc(ips, n.IP.Equal) {
			return true
		}
	}
	return false
}

func (c *Config) validateCluster() []error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > MaxReplicas {
		errs = append(errs, fmt.Errorf("replicas %d must be between 1 and %d (0: chosen from the cluster size)", c.Replicas, MaxReplicas))
	}
	cl := c.Cluster
	if !cl.Enabled() {
		if c.NATSURL == "" && c.Replicas > 1 {
			errs = append(errs, fmt.Errorf("replicas %d needs %d NATS servers, but this node runs alone (give --cluster-name, --cluster-listen and --routes, or --nats)", c.Replicas, c.Replicas))
		}
		return errs
	}
	if c.NATSURL != "" {
		return append(errs, errors.New("--nats and --cluster-* are exclusive: the embedded server clusters, an external one is clustered on its own"))
	}
	if !clusterNameRE().MatchString(cl.Name) {
		errs = append(errs, fmt.Errorf("cluster name %q must be 1-64 letters, digits, '-' or '_'", cl.Name))
	}
	if cl.NodeName != "" && !nodeNameRE().MatchString(cl.NodeName) {
		errs = append(errs, fmt.Errorf("node name %q must be 1-64 letters, digits, '.', '-' or '_'", cl.NodeName))
	}
	if _, p, err := net.SplitHostPort(cl.Listen); err != nil {
		errs = append(errs, fmt.Errorf("cluster listen address %q: %w", cl.Listen, err))
	} else if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("cluster listen address %q needs a port (1-65535)", cl.Listen))
	}
	if n := btoi(cl.TLSCert != "") + btoi(cl.TLSKey != "") + btoi(cl.TLSCA != ""); n != 0 && n != 3 {
		errs = append(errs, errors.New("route TLS needs --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca together"))
	}
	if cl.Advertise != "" {
		if h, p, err := net.SplitHostPort(cl.Advertise); err != nil || h == "" {
			errs = append(errs, fmt.Errorf("cluster advertise address %q must be HOST:PORT", cl.Advertise))
		} else if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("cluster advertise address %q needs a port (1-65535)", cl.Advertise))
		}
	}
	if len(cl.Secret) < 16 {
		errs = append(errs, errors.New("a cluster needs a shared secret of at least 16 characters (NIMBUS_CLUSTER_SECRET or --cluster-secret-file): routes without one would let anyone who reaches the cluster port read every function's state"))
	}
	for _, r := range cl.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "nats" || u.Host == "" || u.Port() == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("route %q must be nats://HOST:PORT (no credentials: the cluster secret is added)", r))
		}
	}
	if n := c.Servers(); c.Replicas > n {
		errs = append(errs, fmt.Errorf("replicas %d needs %d NATS servers, but the cluster has %d (this node and %d other routes): JetStream cannot keep more copies than servers",
			c.Replicas, c.Replicas, n, n-1))
	}
	return errs
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
