package daemon

import (
	"context"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/cluster"

	"github.com/nimbus-serverless/nimbus/internal/lambdaapi"
	"github.com/nimbus-serverless/nimbus/internal/pool"
)

// provision keeps the pool's provisioned concurrency equal to the
// registry's configurations: once the registry has loaded (which is how a
// restarted node re-provisions), then after every change, until ctx ends.
// On a cluster each node provisions its share of every configuration
// among the live nodes (cluster.Share), again whenever a node joins or
// its adverts stop (a dead node's share is taken over): so the cluster
// runs the configured number, not that many per node.
func (d *Daemon) provision(ctx context.Context) {
	select {
	case <-d.reg.Ready():
	case <-ctx.Done():
		return
	}
	var membersChanged <-chan struct{}
	if d.forward != nil {
		// Hear the other nodes' adverts before the first split, so a
		// starting node does not provision everything for a moment.
		select {
		case <-time.After(provisionSettle):
		case <-ctx.Done():
			return
		}
		membersChanged = d.forward.Changed()
	}
	for {
		var members []string
		if d.forward != nil {
			members = d.forward.Members()
		}
		var cfgs []pool.ProvisionedConfig
		for _, p := range d.reg.ProvisionedPlans() {
			c := pool.ProvisionedConfig{FunctionName: p.FunctionName, Qualifier: p.Qualifier}
			for _, t := range p.Targets {
				n := t.Count
				if members != nil {
					n = cluster.Share(n, members, d.nodeName())
				}
				c.Targets = append(c.Targets, pool.ProvisionedTarget{Config: t.Config, Count: n})
			}
			cfgs = append(cfgs, c)
		}
		d.pool.SetProvisioned(cfgs)
		select {
		case <-d.reg.Changes():
		case <-membersChanged:
		case <-ctx.Done():
			return
		}
	}
}

// provisionSettle is how long a clustered node listens to the other
// nodes' adverts before it first splits provisioned concurrency.
const provisionSettle = 3 * cluster.DefaultAdvertiseEvery

// provisionedStatus shows provisioned concurrency to the API: this node's
// allocation plus, on a cluster, what the other live nodes report.
type provisionedStatus struct {
	p *pool.Manager
	d *Daemon
}

func (s provisionedStatus) ProvisionedStatus(name, qualifier string) (lambdaapi.ProvisionedState, bool) {
	st, ok := s.p.ProvisionedStatus(name, qualifier)
	out := lambdaapi.ProvisionedState{Status: st.Status, Reason: st.Reason, Allocated: st.Allocated}
	if ok && s.d.forward != nil {
		out.Allocated += s.d.forward.ProvisionedElsewhere(cluster.ProvisionedKey(name, qualifier))
	}
	return out, ok
}

// provisionedAllocations is what this node's adverts report.
func (d *Daemon) provisionedAllocations() map[string]int {
	out := map[string]int{}
	for _, a := range d.pool.ProvisionedAllocations() {
		if a.Allocated > 0 {
			out[cluster.ProvisionedKey(a.FunctionName, a.Qualifier)] = a.Allocated
		}
	}
	return out
}

// Limits are the node's concurrency limit and memory budget (MB).
func (d *Daemon) Limits() (concurrency, memoryBudgetMB int) {
	l := d.pool.Limits()
	return l.Concurrency, l.MemoryMB
}

// StartPhases returns where the node's last on-demand cold starts spent
// their time (pool.Manager.StartPhases), for `nimbus bench`.
func (d *Daemon) StartPhases() []pool.StartPhases { return d.pool.StartPhases() }

// SpareInits is how many sandbox inits the node's pool has ready and how
// many it keeps (bench).
func (d *Daemon) SpareInits() (ready, target int) { return d.pool.SpareInits() }
