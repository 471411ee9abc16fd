package pool

import (
	"bufio"
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Limits are a node's concurrency and memory limits.
type Limits struct {
	// Concurrency is the account-wide limit on concurrent executions
	// (Lambda's ConcurrentExecutions, 1,000 by default in AWS).
	Concurrency int
	// MemoryMB bounds the sum of MemorySize of live environments.
	MemoryMB int
}

// Lambda's account defaults.
const (
	awsConcurrency   = 1000
	awsMinUnreserved = 100
)

// MinUnreserved is how much concurrency must stay unreserved: Lambda's 100
// out of 1,000, scaled down proportionally (a tenth, at least 1) on a node
// whose limit is below 1,000.
func (l Limits) MinUnreserved() int {
	if l.Concurrency >= awsConcurrency {
		return awsMinUnreserved
	}
	return max(1, l.Concurrency*awsMinUnreserved/awsConcurrency)
}

// MaxReservable is the most concurrency all functions together may
// reserve.
func (l Limits) MaxReservable() int { return max(0, l.Concurrency-l.MinUnreserved()) }

// DefaultLimits derives the limits from the node: the memory budget is 80%
// of its memory (the smaller of MemTotal and this process's cgroup memory
// limit), and the concurrency limit is what that budget holds of the
// smallest functions (128 MB), at most 250 per CPU and at most Lambda's
// 1,000. With these, memory is never overcommitted: every environment,
// busy or idle, has its whole MemorySize in the budget.
func DefaultLimits() Limits {
	totalMB := nodeMemoryMB()
	budget := max(function.MinMemorySize, totalMB*80/100)
	conc := min(awsConcurrency, budget/function.MinMemorySize, 250*runtime.NumCPU())
	return Limits{Concurrency: max(1, conc), MemoryMB: budget}
}

// nodeMemoryMB is the memory this process may use: MemTotal, or a lower
// cgroup (v1 or v2) limit. 4 GB if nothing can be read.
func nodeMemoryMB() int {
	mb := 4096
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if kb, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB"))); err == nil {
					mb = n / 1024
				}
			}
		}
		_ = f.Close()
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p) // #nosec G304 -- fixed paths
		if err != nil {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && int(n>>20) < mb {
			mb = int(n >> 20)
		}
	}
	return mb
}

// Reservations reports the functions' reserved concurrency (the registry
// implements it from its cache; it is read on every invoke).
type Reservations interface {
	// ReservedConcurrency is the function's ReservedConcurrentExecutions
	// and whether it has one.
	ReservedConcurrency(functionName string) (int, bool)
	// TotalReserved is the sum over every function.
	TotalReserved() int
}

type noReservations struct{}

func (noReservations) ReservedConcurrency(string) (int, bool) { return 0, false }
func (noReservations) TotalReserved() int                     { return 0 }

// The throttles, as Lambda answers them (429, Reason, Retry-After).
var (
	errReservedLimit = errdefs.Throttled("ReservedFunctionConcurrentInvocationLimitExceeded", 1, "Rate Exceeded.")
	errAccountLimit  = errdefs.Throttled("ConcurrentInvocationLimitExceeded", 1, "Rate Exceeded.")
	// errMemoryLimit: the node's memory budget is full of busy or
	// provisioned environments. Lambda has no such reason; to a client
	// it is the account's concurrency running out.
	errMemoryLimit = errdefs.Throttled("ConcurrentInvocationLimitExceeded", 1, "Rate Exceeded.")
)

// Limits returns the limits in force.
func (m *Manager) Limits() Limits { return m.limits }

// ConcurrentExecutions is the number of invocations of functionName
// running now ("" for all functions).
func (m *Manager) ConcurrentExecutions(functionName string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if functionName != "" {
		return m.inflight[functionName]
	}
	n := 0
	for _, c := range m.inflight {
		n += c
	}
	return n
}

// Stats is a snapshot of the environments.
type Stats struct {
	Environments int // alive (starting, idle or busy), not yet destroyed
	Idle         int // idle, provisioned ones included
	Provisioned  int // provisioned, alive or starting
	Concurrent   int // invocations running
	MemoryMB     int // MemorySize of live environments and starts under way
}

// Stats counts the environments.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Environments: len(m.envs), MemoryMB: m.liveMB + m.pendingMB}
	for _, p := range m.pools {
		s.Idle += len(p.idle) + len(p.provIdle)
		s.Provisioned += p.provReady + p.provStarting
	}
	for _, c := range m.inflight {
		s.Concurrent += c
	}
	return s
}

// ClusterLimits shares concurrency limits among the nodes of a cluster
// (lease.Tokens implements it): a token of a key is one running
// invocation under that key's cluster-wide ceiling.
type ClusterLimits interface {
	// TryTake takes a token from this node's share without waiting.
	TryTake(key string, ceiling int, hold time.Duration) bool
	// Take takes a token, asking the cluster for a larger share if need
	// be; false when the ceiling is reached or cannot be checked.
	Take(ctx context.Context, key string, ceiling int, hold time.Duration) bool
	// Put gives a token back.
	Put(key string)
}

// The cluster-wide keys: a function's reserved concurrency, and the
// account's concurrency not reserved by any function.
const (
	reservedKeyPrefix = "reserved."
	accountKey        = "account"
)

// needToken is acquire's answer when this node's share of a cluster-wide
// limit is used up: admit asks the cluster for more and tries again.
type needToken struct {
	key      string
	ceiling  int
	throttle error
}

func (n *needToken) Error() string { return "no cluster-wide token of " + n.key }

// clusterTokenLocked takes the cluster-wide token a's invocation needs:
// of the function's reservation, or of the account's unreserved
// concurrency (none on a provisioned environment of a function without a
// reservation: its concurrency is set aside already). held is a token
// admit took already.
func (m *Manager) clusterTokenLocked(fn *function.Config, a *admission, hasReserved bool, reserved, totalReserved int, held string) error {
	var key string
	var ceiling int
	var throttle error
	switch {
	case hasReserved:
		key, ceiling, throttle = reservedKeyPrefix+fn.FunctionName, reserved, errReservedLimit
	case a.unreserved:
		key, ceiling, throttle = accountKey, m.limits.Concurrency-totalReserved, errAccountLimit
	default:
		return nil
	}
	if key == held {
		a.token = key
		return nil
	}
	if !m.opts.Cluster.TryTake(key, ceiling, m.tokenHold(fn)) {
		return &needToken{key: key, ceiling: ceiling, throttle: throttle}
	}
	a.token = key
	return nil
}

// tokenHold is how long an invocation of fn admitted now may run: its
// init and its timeout.
func (m *Manager) tokenHold(fn *function.Config) time.Duration {
	return m.initTimeout + time.Duration(fn.TimeoutSeconds())*time.Second
}

// admit is acquire with the cluster's limits: when this node's share of
// one is used up, it asks the cluster for more (a backbone round trip,
// off the warm path) and tries once more.
func (m *Manager) admit(ctx context.Context, fn *function.Config, warmOnly bool) (admission, *environment, *fnPool, error) {
	a, e, p, err := m.acquire(fn, "", warmOnly)
	var need *needToken
	if !errors.As(err, &need) {
		return a, e, p, err
	}
	if !m.opts.Cluster.Take(ctx, need.key, need.ceiling, m.tokenHold(fn)) {
		return a, nil, nil, need.throttle
	}
	a, e, p, err = m.acquire(fn, need.key, warmOnly)
	if errors.As(err, &need) {
		return a, nil, nil, need.throttle
	}
	return a, e, p, err
}
