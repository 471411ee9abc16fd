package pool

import "time"

// KeepAlive is the policy that decides when an idle environment is
// reclaimed. It is one replaceable piece: the Manager asks it about every
// idle on-demand environment each time the reaper runs (provisioned
// environments are never asked; they stay while they are wanted).
// Implementations must be safe for concurrent use and must not block:
// they are called with the Manager's lock held.
type KeepAlive interface {
	// Expired reports whether env should be reclaimed at now.
	Expired(env IdleEnvironment, now time.Time) bool
}

// IdleEnvironment is what a KeepAlive policy knows about an idle
// environment.
type IdleEnvironment struct {
	FunctionArn string // unqualified for $LATEST, as configured
	Version     string
	MemoryMB    int
	// LastUsed is when its last invocation ended.
	LastUsed time.Time
	// Invocations it has served.
	Invocations int
	// IdleInPool counts the idle on-demand environments of its pool,
	// itself included.
	IdleInPool int
}

// FixedKeepAlive is the default policy: an environment idle for Timeout
// (DefaultIdleTimeout, 10 minutes, when zero) is reclaimed, whatever its
// function. Lambda keeps idle environments for an unpublished period
// observed between 5 and 15 minutes; a fixed period is predictable for
// users and for capacity planning, and memory pressure is handled apart
// (idle environments are evicted least-recently-used when a new one does
// not fit).
type FixedKeepAlive struct {
	Timeout time.Duration
}

// Expired reports whether env has been idle for Timeout.
func (k FixedKeepAlive) Expired(env IdleEnvironment, now time.Time) bool {
	t := k.Timeout
	if t <= 0 {
		t = DefaultIdleTimeout
	}
	return !now.Before(env.LastUsed.Add(t))
}

// reap asks the keep-alive policy about idle environments periodically.
func (m *Manager) reap() {
	defer m.wg.Done()
	period := min(max(m.opts.IdleTimeout/4, 5*time.Millisecond), time.Minute)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.reapOnce()
	}
}

// reapOnce reclaims the idle environments the policy says have expired;
// it returns how many.
func (m *Manager) reapOnce() int {
	n := 0
	m.mu.Lock()
	now := m.now()
	for _, p := range m.pools {
		keep := p.idle[:0]
		for _, e := range p.idle {
			info := IdleEnvironment{
				FunctionArn: p.key.arn, Version: p.key.version, MemoryMB: e.memMB,
				LastUsed: e.lastUsed, Invocations: e.invocations, IdleInPool: len(p.idle),
			}
			if m.keepAlive.Expired(info, now) {
				m.killLocked(e)
				n++
				continue
			}
			keep = append(keep, e)
		}
		clear(p.idle[len(keep):])
		p.idle = keep
		if len(p.idle) == 0 && len(p.provIdle) == 0 && p.provWanted == 0 && p.provReady+p.provStarting == 0 {
			m.dropPoolLocked(p)
		}
	}
	hook := m.hookReaped
	m.mu.Unlock()
	if n > 0 {
		m.log.Debug("idle environments reclaimed", "count", n)
		if hook != nil {
			hook(n)
		}
	}
	m.fillProvisioned()
	return n
}

// dropPoolLocked forgets an empty pool with no environment left in any
// state (an environment holds its pool by pointer and is destroyed on
// release if the pool was dropped).
func (m *Manager) dropPoolLocked(p *fnPool) {
	if p.coldStarts > 0 {
		return
	}
	for e := range m.envs {
		if e.pool == p && e.state != stateDead {
			return
		}
	}
	delete(m.pools, p.key)
	if m.revision[p.key.versionKey] == p.key.revision {
		delete(m.revision, p.key.versionKey)
	}
	p.retired = true
}
