package daemon

import (
	"context"
	"fmt"

	"github.com/nimbus-serverless/nimbus/internal/cluster"
	"github.com/nimbus-serverless/nimbus/internal/function"
	inv "github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/pool"
)

// forwarder is internal/cluster's Forwarder as the daemon holds it.
type forwarder interface {
	inv.Invoker
	Run(ctx context.Context)
	Close()
	Members() []string
	Changed() <-chan struct{}
	ProvisionedElsewhere(key string) int
	Snapshot() []cluster.Member
}

// startForwarding makes the synchronous invoke path of a clustered node
// forward invocations to nodes with idle environments when this node has
// none (internal/cluster's Forwarder, docs/design/cluster.md). A single
// node invokes its pool directly.
func (d *Daemon) startForwarding() error {
	if !d.shared() || d.st.Conn() == nil || d.nodeName() == "" {
		return nil
	}
	f, err := cluster.NewForwarder(cluster.ForwardOptions{
		Conn: d.st.Conn(), Node: d.nodeName(), Pool: warmPool{d.pool}, Logger: d.log,
		Provisioned: d.provisionedAllocations,
	})
	if err != nil {
		return fmt.Errorf("invoke forwarding: %w", err)
	}
	d.forward = f
	return nil
}

// syncInvoker is what the synchronous invoke path calls: the forwarder
// on a cluster, else the pool.
func (d *Daemon) syncInvoker() inv.Invoker {
	if d.forward != nil {
		return d.forward
	}
	return d.pool
}

// runForwarding advertises this node's idle environments until ctx ends.
func (d *Daemon) runForwarding(ctx context.Context) {
	if d.forward != nil {
		d.forward.Run(ctx)
	}
}

// warmPool adapts the pool to what forwarding needs.
type warmPool struct{ *pool.Manager }

func (w warmPool) Warm() []cluster.WarmVersion {
	vs := w.Manager.Warm()
	out := make([]cluster.WarmVersion, len(vs))
	for i, v := range vs {
		out[i] = cluster.WarmVersion{FunctionArn: v.FunctionArn, Version: v.Version, RevisionID: v.RevisionID, Idle: v.Idle}
	}
	return out
}

func (w warmPool) HasIdle(fn *function.Config) bool { return w.Manager.HasIdle(fn) }

func (w warmPool) InvokeWarm(ctx context.Context, v cluster.WarmVersion, req *inv.Request) (*inv.Result, bool, error) {
	return w.Manager.InvokeWarm(ctx, pool.WarmVersion{FunctionArn: v.FunctionArn, Version: v.Version, RevisionID: v.RevisionID}, req)
}
