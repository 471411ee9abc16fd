package apigw

import (
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

// limiters holds the token buckets of stages and routes.
type limiters struct {
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
