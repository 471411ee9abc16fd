package pool

import "time"

// DefaultFreezeAfter is how long an idle environment keeps running before
// it is frozen. Lambda freezes at once; freezing and thawing cost about a
// millisecond each on cgroup v1 (the freezer settles asynchronously), so a
// client that invokes back to back would pay both on every call. A short
// grace keeps a busy environment hot while an idle one still stops long
// before a timer a function could reasonably rely on.
const DefaultFreezeAfter = 10 * time.Millisecond

// freezer is what the pool needs of a sandboxed process to freeze it
// between invocations (sandbox.Process: the cgroup freezer, v1
// freezer.state or v2 cgroup.freeze, or SIGSTOP without cgroups).
type freezer interface {
	Freeze() error
	Thaw() error
}

// freezer freezes environments idle for freezeAfter, until Close.
func (m *Manager) freezer() {
	defer m.wg.Done()
	if m.freezeAfter < 0 {
		return
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-m.stop:
			t.Stop()
			return
		case <-m.freezeKick:
		case <-t.C:
		}
		if next := m.freezeDue(); next > 0 {
			t.Reset(next)
		}
	}
}

// freezeDue freezes the environments whose grace has run out and returns
// how long until the next one's does (0: none waiting).
func (m *Manager) freezeDue() time.Duration {
	now := time.Now()
	var due []*environment
	var next time.Duration
	m.mu.Lock()
	for _, p := range m.pools {
		for _, list := range [][]*environment{p.idle, p.provIdle} {
			for _, e := range list {
				if e.frozenHint || e.debugPort != 0 { // a debugger must find it running
					continue
				}
				if left := e.idleSince.Add(m.freezeAfter).Sub(now); left > 0 {
					if next == 0 || left < next {
						next = left
					}
					continue
				}
				e.frozenHint = true
				due = append(due, e)
			}
		}
	}
	m.mu.Unlock()
	for _, e := range due {
		m.freezeIdle(e)
	}
	return next
}

// freezeIdle freezes e if it is still idle. An invoke that takes it
// meanwhile waits on fmu and thaws it.
func (m *Manager) freezeIdle(e *environment) {
	f, ok := any(e.proc).(freezer)
	if !ok || e.proc == nil {
		return
	}
	e.fmu.Lock()
	defer e.fmu.Unlock()
	m.mu.Lock()
	idle := e.state == stateIdle
	m.mu.Unlock()
	if !idle || e.frozen {
		return
	}
	if err := f.Freeze(); err != nil {
		m.log.Warn("freeze environment", "env_id", e.id, "err", err)
		// A freeze that did not settle may still be under way (cgroup v1
		// goes on from FREEZING to FROZEN): count e as frozen, so an
		// invoke that took it meanwhile (waiting on fmu) thaws it, or
		// fails it as broken, instead of handing its event to a stopped
		// runtime that answers only with the function's timeout.
		e.frozen = true
		m.mu.Lock()
		if e.state == stateIdle {
			e.pool.removeIdle(e)
			m.killLocked(e)
		}
		m.mu.Unlock()
		return
	}
	e.frozen = true
}

// thaw resumes e if it is frozen (the caller holds it busy, or is
// destroying it).
func (m *Manager) thaw(e *environment) error {
	e.fmu.Lock()
	defer e.fmu.Unlock()
	if !e.frozen {
		return nil
	}
	if f, ok := any(e.proc).(freezer); ok && e.proc != nil {
		if err := f.Thaw(); err != nil {
			return err
		}
	}
	e.frozen = false
	return nil
}
