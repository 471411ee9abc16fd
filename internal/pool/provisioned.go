package pool

import (
	"encoding/json"
	"errors"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// ProvisionedConfig is one provisioned concurrency configuration (of a
// version or an alias) and the versions its environments go to: the
// version itself, or the versions an alias routes to, split by weight.
type ProvisionedConfig struct {
	FunctionName string
	Qualifier    string
	Targets      []ProvisionedTarget
}

// ProvisionedTarget is how many environments one version gets. Config is
// the version's configuration as invocations resolve it.
type ProvisionedTarget struct {
	Config *function.Config
	Count  int
}

// Provisioning statuses, as Lambda names them.
const (
	ProvisionedInProgress = "IN_PROGRESS"
	ProvisionedReady      = "READY"
	ProvisionedFailed     = "FAILED"
)

// ProvisionedStatus is the state of one configuration on this node.
type ProvisionedStatus struct {
	Status string
	Reason string // why it FAILED
	// Allocated environments, initialised and kept for it.
	Allocated int
}

type provKey struct{ name, qualifier string }

// provState is one configuration as SetProvisioned last gave it.
type provState struct {
	targets []provTarget
}

type provTarget struct {
	pool  *fnPool
	count int
}

// maxProvisioningStarts bounds the provisioned environments initialising
// at once, so a large configuration does not starve invocations of CPU.
const maxProvisioningStarts = 8

// SetProvisioned replaces the set of provisioned concurrency
// configurations (the daemon feeds it from the registry on every change,
// and at start, which is how a restarted node re-provisions). Environments
// are started in the background up to each version's total; environments
// no longer wanted become ordinary on-demand ones (reclaimed by the
// keep-alive policy).
func (m *Manager) SetProvisioned(configs []ProvisionedConfig) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	wanted := map[*fnPool]int{}
	m.prov = map[provKey]*provState{}
	for _, c := range configs {
		st := &provState{}
		for _, t := range c.Targets {
			if t.Config == nil || t.Count <= 0 {
				continue
			}
			vk := versionKey{t.Config.FunctionArn, t.Config.Version}
			if rev, ok := m.revision[vk]; ok && rev != t.Config.RevisionId {
				if old := m.pools[poolKey{vk, rev}]; old != nil {
					m.retireLocked(old)
				}
			}
			m.revision[vk] = t.Config.RevisionId
			p := m.poolLocked(poolKey{vk, t.Config.RevisionId}, t.Config)
			wanted[p] += t.Count
			st.targets = append(st.targets, provTarget{pool: p, count: t.Count})
		}
		m.prov[provKey{c.FunctionName, c.Qualifier}] = st
	}
	for _, p := range m.pools {
		w := wanted[p]
		if w != p.provWanted {
			p.provErr = "" // a new request: try again
		}
		p.provWanted = w
		// Idle provisioned environments beyond what is wanted become
		// on-demand ones.
		for p.provReady+p.provStarting > p.provWanted && len(p.provIdle) > 0 {
			e := p.provIdle[0]
			p.provIdle = p.provIdle[1:]
			e.provisioned = false
			p.provReady--
			p.idle = append([]*environment{e}, p.idle...)
		}
	}
	m.mu.Unlock()
	m.fillProvisioned()
}

// fillProvisioned starts the provisioned environments missing (those that
// died are replaced too), unless the pool's last attempt failed.
func (m *Manager) fillProvisioned() {
	type job struct {
		p  *fnPool
		fn *function.Config
	}
	var jobs []job
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	for _, p := range m.pools {
		for p.provErr == "" && p.provReady+p.provStarting < p.provWanted {
			if !m.makeRoomLocked(p.fn.MemoryMB()) {
				p.provErr = "Insufficient memory on the node for the requested provisioned concurrency."
				break
			}
			m.pendingMB += p.fn.MemoryMB()
			p.provStarting++
			jobs = append(jobs, job{p, p.fn})
		}
	}
	m.mu.Unlock()
	if len(jobs) == 0 {
		return
	}
	sem := m.provSem
	for _, j := range jobs {
		ok := m.goroutine(func() {
			select {
			case sem <- struct{}{}:
			case <-m.stop:
				m.provisionDone(j.p, j.fn, nil, "")
				return
			}
			defer func() { <-sem }()
			m.provision(j.p, j.fn)
		})
		if !ok { // Close has begun
			m.provisionDone(j.p, j.fn, nil, "")
		}
	}
}

// provision starts one provisioned environment of p.
func (m *Manager) provision(p *fnPool, fn *function.Config) {
	req := &invoke.Request{RequestID: newRequestID()}
	e, res, err := m.start(m.stopCtx, fn, req, p, initProvisioned)
	reason := ""
	switch {
	case err != nil && !errors.Is(err, errClosed) && m.stopCtx.Err() == nil:
		reason = "The execution environment could not be started."
		if e := errdefs.As(err); e != nil {
			reason = e.Message
		}
	case err == nil && res != nil:
		var ep invoke.ErrorPayload
		_ = json.Unmarshal(res.Payload, &ep)
		reason = "FUNCTION_ERROR_INIT_FAILURE: " + ep.ErrorType + ": " + ep.ErrorMessage
	}
	if err != nil || res != nil {
		e = nil
	}
	m.provisionDone(p, fn, e, reason)
	if e != nil {
		m.release(e) // frozen, into provIdle
	}
	m.mu.Lock()
	hook := m.hookProvisioned
	m.mu.Unlock()
	if hook != nil {
		hook()
	}
}

// provisionDone ends one provisioned start: e (busy) is the new
// environment, or nil with the reason it failed.
func (m *Manager) provisionDone(p *fnPool, fn *function.Config, e *environment, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pendingMB -= fn.MemoryMB()
	p.provStarting--
	if e == nil {
		if reason != "" {
			p.provErr = reason
			m.log.Warn("provisioned environment failed", "function", fn.FunctionName, "version", fn.Version, "reason", reason)
		}
		return
	}
	if e.state == stateBusy {
		e.provisioned = true
		p.provReady++
	}
}

// ProvisionedStatus reports the configuration of functionName:qualifier
// as last given to SetProvisioned; ok is false if there is none.
func (m *Manager) ProvisionedStatus(functionName, qualifier string) (ProvisionedStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.prov[provKey{functionName, qualifier}]
	if st == nil {
		return ProvisionedStatus{}, false
	}
	out := ProvisionedStatus{Status: ProvisionedReady}
	for _, t := range st.targets {
		out.Allocated += min(t.pool.provReady, t.count)
		switch {
		case t.pool.provErr != "":
			out.Status, out.Reason = ProvisionedFailed, t.pool.provErr
		case t.pool.provReady < t.count && out.Status != ProvisionedFailed:
			out.Status = ProvisionedInProgress
		}
	}
	return out, true
}
