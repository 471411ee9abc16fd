package daemon

import (
	"context"

	"github.com/nimbus-serverless/nimbus/internal/lambdaapi"
	"github.com/nimbus-serverless/nimbus/internal/pool"
)

// provision keeps the pool's provisioned concurrency equal to the
// registry's configurations: once the registry has loaded (which is how a
// restarted node re-provisions), then after every change, until ctx ends.
func (d *Daemon) provision(ctx context.Context) {
	select {
	case <-d.reg.Ready():
	case <-ctx.Done():
		return
	}
	for {
		var cfgs []pool.ProvisionedConfig
		for _, p := range d.reg.ProvisionedPlans() {
			c := pool.ProvisionedConfig{FunctionName: p.FunctionName, Qualifier: p.Qualifier}
			for _, t := range p.Targets {
				c.Targets = append(c.Targets, pool.ProvisionedTarget{Config: t.Config, Count: t.Count})
			}
			cfgs = append(cfgs, c)
		}
		d.pool.SetProvisioned(cfgs)
		select {
		case <-d.reg.Changes():
		case <-ctx.Done():
			return
		}
	}
}

// provisionedStatus shows the pool's provisioned concurrency to the API.
type provisionedStatus struct{ p *pool.Manager }

func (s provisionedStatus) ProvisionedStatus(name, qualifier string) (lambdaapi.ProvisionedState, bool) {
	st, ok := s.p.ProvisionedStatus(name, qualifier)
	return lambdaapi.ProvisionedState{Status: st.Status, Reason: st.Reason, Allocated: st.Allocated}, ok
}

// Limits are the node's concurrency limit and memory budget (MB).
func (d *Daemon) Limits() (concurrency, memoryBudgetMB int) {
	l := d.pool.Limits()
	return l.Concurrency, l.MemoryMB
}

// StartPhases returns where the node's last on-demand cold starts spent
// their time (pool.Manager.StartPhases), for `nimbus bench`.
func (d *Daemon) StartPhases() []pool.StartPhases { return d.pool.StartPhases() }
