package pool

import (
	"context"
	"errors"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// What another node needs to send this node an invocation only when it
// can run it warm (internal/cluster's invoke forwarding).

// errNoWarm is acquire's answer to a warm-only invocation when no idle
// environment of the version (at that revision) is here: nothing ran.
var errNoWarm = errors.New("no idle environment")

// WarmVersion is how many idle environments this node has of one
// function version at one revision.
type WarmVersion struct {
	FunctionArn, Version, RevisionID string
	Idle                             int
}

// Warm lists the versions with idle environments (on-demand and
// provisioned) on this node.
func (m *Manager) Warm() []WarmVersion {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []WarmVersion
	for k, p := range m.pools {
		if n := len(p.idle) + len(p.provIdle); n > 0 && !p.retired {
			out = append(out, WarmVersion{FunctionArn: k.arn, Version: k.version, RevisionID: k.revision, Idle: n})
		}
	}
	return out
}

// HasIdle reports whether an invocation of fn would find an idle
// environment here now.
func (m *Manager) HasIdle(fn *function.Config) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pools[poolKey{versionKey{fn.FunctionArn, fn.Version}, fn.RevisionId}]
	return p != nil && !p.retired && len(p.idle)+len(p.provIdle) > 0
}

// InvokeWarm is Invoke of the version v names, at v's revision, on an
// idle environment only, with the configuration this node's environments
// of it were started with: ran is false (and nothing ran, no error) when
// there is none, or when a limit or a stop refused it before it ran (err
// says which), so the caller can run it elsewhere. This node never
// retires its own revision for another node's view.
func (m *Manager) InvokeWarm(ctx context.Context, v WarmVersion, req *invoke.Request) (res *invoke.Result, ran bool, err error) {
	m.mu.Lock()
	var fn *function.Config
	if p := m.pools[poolKey{versionKey{v.FunctionArn, v.Version}, v.RevisionID}]; p != nil && !p.retired {
		fn = p.fn
	}
	m.mu.Unlock()
	if fn == nil {
		return nil, false, nil
	}
	res, err = m.invoke(ctx, fn, req, true)
	switch {
	case errors.Is(err, errNoWarm):
		return nil, false, nil
	case errors.Is(err, errdefs.ErrThrottled), errors.Is(err, errdefs.ErrShuttingDown):
		return nil, false, err // refused before it ran
	}
	return res, true, err
}

// ProvisionedAllocation is how many environments of one provisioned
// concurrency configuration are initialised on this node.
type ProvisionedAllocation struct {
	FunctionName, Qualifier string
	Allocated               int
}

// ProvisionedAllocations lists this node's allocation of every
// configuration it was given (another node adds them up with its own).
func (m *Manager) ProvisionedAllocations() []ProvisionedAllocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ProvisionedAllocation, 0, len(m.prov))
	for k, st := range m.prov {
		a := ProvisionedAllocation{FunctionName: k.name, Qualifier: k.qualifier}
		for _, t := range st.targets {
			a.Allocated += min(t.pool.provReady, t.count)
		}
		out = append(out, a)
	}
	return out
}
