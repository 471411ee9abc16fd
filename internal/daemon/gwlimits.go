package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/apigw"
	"github.com/nimbus-serverless/nimbus/internal/lease"
)

// quotasBucket holds the cluster's usage-plan quota counts
// (lease.Counters: blocks of each plan's, key's and period's count).
const quotasBucket = "nimbus_quotas"

// gwLimits shares API Gateway's throttling and usage-plan quotas among a
// cluster's nodes (docs/design/cluster.md, "Usage plans"): rates and
// bursts are split among the live nodes (the forwarding adverts say
// which), quotas counted on the backbone.
type gwLimits struct {
	d      *Daemon
	counts *lease.Counters
}

func (g gwLimits) Nodes() int {
	if g.d.forward == nil {
		return 1
	}
	return len(g.d.forward.Members())
}

func (g gwLimits) TakeQuota(ctx context.Context, key string, limit int) bool {
	return g.counts.Take(ctx, key, limit)
}

// apigwCluster is API Gateway's share of the cluster's limits; nil on a
// single node.
func (d *Daemon) apigwCluster(ctx context.Context) (apigw.ClusterLimits, error) {
	if d.forward == nil {
		return nil, nil
	}
	c, err := lease.OpenCounters(ctx, lease.CounterOptions{
		JetStream: d.st.JetStream(), Bucket: quotasBucket, Replicas: d.st.Replicas(),
		// A count outlives its period: a month, and a little.
		Keep:        32 * 24 * time.Hour,
		Description: "Nimbus API Gateway usage-plan quotas: requests counted by plan, key and period",
	})
	if err != nil {
		return nil, fmt.Errorf("open usage-plan quotas: %w", err)
	}
	return gwLimits{d: d, counts: c}, nil
}
