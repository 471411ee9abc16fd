package apigw

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Account-level defaults API Gateway applies when a stage sets only one
// of rate and burst.
const (
	defaultRate  = 10000
	defaultBurst = 5000
	// maxLimiters bounds the token buckets kept; past it, the least
	// recently created are dropped (they start full again).
	maxLimiters = 10000
)

// ClusterLimits shares throttling and usage-plan quotas among the nodes
// of a cluster (docs/design/cluster.md, "Usage plans"): each node's token
// buckets get an even split of every rate and burst among the live nodes,
// and quotas are counted cluster-wide. Either way the cluster never
// admits more than a limit; a node that gets all the traffic admits only
// its split of a rate.
type ClusterLimits interface {
	// Nodes is how many live nodes share each rate and burst (≥ 1).
	Nodes() int
	// TakeQuota counts one request under key's quota of limit (key names
	// the plan, the API key and the period; letters, digits, '.', '-');
	// false when the quota is used up cluster-wide.
	TakeQuota(ctx context.Context, key string, limit int) bool
}

// limiters holds the token buckets of stages and routes.
type limiters struct {
	cluster ClusterLimits // nil on a single node

	mu    sync.Mutex
	m     map[string]*rate.Limiter // guarded by mu
	order []string                 // guarded by mu; creation order, for eviction
}

func newLimiters() *limiters { return &limiters{m: map[string]*rate.Limiter{}} }

// allow takes a token from the bucket named key, created with the given
// limits (the key includes them, so a settings change starts a new
// bucket). A nil rate and burst mean no limit.
func (l *limiters) allow(key string, r *float64, b *int, now time.Time) bool {
	if r == nil && b == nil {
		return true
	}
	lim, burst := float64(defaultRate), defaultBurst
	if r != nil {
		lim = *r
	}
	if b != nil {
		burst = *b
	}
	if burst <= 0 || lim <= 0 {
		return false
	}
	if math.IsInf(lim, 1) {
		return true
	}
	if l.cluster != nil {
		// This node's split; the remainder of a burst goes one each to
		// no node (never above the limit), but every node keeps 1.
		n := max(l.cluster.Nodes(), 1)
		lim, burst = lim/float64(n), max(burst/n, 1)
	}
	k := fmt.Sprintf("%s|%g|%d", key, lim, burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	tb := l.m[k]
	if tb == nil {
		if len(l.order) >= maxLimiters {
			delete(l.m, l.order[0])
			l.order = l.order[1:]
		}
		tb = rate.NewLimiter(rate.Limit(lim), burst)
		l.m[k] = tb
		l.order = append(l.order, k)
	}
	return tb.AllowN(now, 1)
}
