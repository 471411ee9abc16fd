package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/cluster"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/lease"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/telemetry"
)

// clusterPath is the cluster status endpoint (`nimbus cluster status`),
// signed with SigV4 like the API.
const clusterPath = "/_nimbus/cluster"

// clusterAckWait is the async dispatcher's AckWait on a cluster: events a
// killed node had pulled run elsewhere this long after its last sign of
// life (running invocations signal every AckWait/3).
const clusterAckWait = 9 * time.Second

// asyncAckWait is the dispatcher's AckWait: the default on one node
// (which redelivers a dead process's events at its restart), shorter on a
// cluster (where another node takes them over).
func (d *Daemon) asyncAckWait() time.Duration {
	if d.shared() {
		return clusterAckWait
	}
	return 0
}

// storeOptions are the backbone's options for cfg.
func storeOptions(cfg config.Config, log *slog.Logger) store.Options {
	o := store.Options{
		DataDir:  filepath.Join(cfg.DataDir, "state"),
		NATSURL:  cfg.NATSURL,
		Logger:   log, // the store names its own component
		Replicas: cfg.EffectiveReplicas(),
	}
	if c := cfg.Cluster; c.Enabled() {
		o.Cluster = &store.ClusterOptions{
			Name: c.Name, Listen: c.Listen, Routes: c.Routes, Secret: c.Secret, NodeName: c.NodeName, Advertise: c.Advertise,
			TLSCert: c.TLSCert, TLSKey: c.TLSKey, TLSCA: c.TLSCA,
		}
	}
	return o
}

// shared reports whether other nodes share this node's backbone.
func (d *Daemon) shared() bool { return d.cfg.NATSURL != "" || d.cfg.Cluster.Enabled() }

// shareSecrets makes a node of a cluster use the cluster's root
// credentials and session key (the first node's), so every node accepts
// what any node issued. Single nodes keep theirs in the data directory.
func (d *Daemon) shareSecrets(ctx context.Context) error {
	if !d.shared() {
		return nil
	}
	created, err := cluster.ShareSecrets(ctx, cluster.SecretsOptions{
		JetStream: d.st.JetStream(),
		Replicas:  d.st.Replicas(),
		DataDir:   d.cfg.DataDir,
		Root:      auth.Credentials{AccessKeyID: d.cfg.AccessKeyID, SecretAccessKey: d.cfg.SecretAccessKey},
		NoRoot:    d.cfg.InsecureNoAuth,
	})
	if err != nil {
		return err
	}
	d.clusterRootCreated = created
	var err2 error
	d.leases, err2 = lease.Open(ctx, lease.Options{
		JetStream: d.st.JetStream(), Replicas: d.st.Replicas(), Holder: d.nodeName(),
		Logger: d.log,
	})
	if err2 != nil {
		return fmt.Errorf("open leases: %w", err2)
	}
	if err := d.shareLimits(ctx); err != nil {
		return err
	}
	d.log.Info("cluster member", "cluster", d.cfg.Cluster.Name, "node", d.nodeName(),
		"replicas", d.st.Replicas(), "servers", d.cfg.Servers())
	return nil
}

// limitsBucket holds every node's share of the cluster-wide concurrency
// limits (lease.Tokens: the account's unreserved concurrency and each
// function's reserved concurrency).
const limitsBucket = "nimbus_concurrency"

// shareLimits opens the shares of the cluster-wide concurrency limits and
// starts renewing them; stopTokens ends that after the pool has closed.
func (d *Daemon) shareLimits(ctx context.Context) error {
	b, err := lease.OpenShares(ctx, lease.ShareOptions{
		JetStream: d.st.JetStream(), Bucket: limitsBucket, Replicas: d.st.Replicas(), Node: d.nodeName(),
		// A claim counts until what it admitted may have ended: Lambda's
		// longest timeout plus the init budget.
		MaxHold:     16 * time.Minute,
		Description: "Nimbus concurrency limits: each node's share, by function and for the account",
	})
	if err != nil {
		return fmt.Errorf("open concurrency shares: %w", err)
	}
	d.tokens = lease.NewTokens(b, d.log)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.tokens.Run(runCtx)
	}()
	d.stopTokens = func() { cancel(); <-done }
	return nil
}

// nodeName is the node's name in its cluster (the embedded server's).
func (d *Daemon) nodeName() string {
	if n := d.st.NodeName(); n != "" {
		return n
	}
	return d.cfg.Cluster.NodeName
}

// schedulerLease is the lease whose holder fires EventBridge Scheduler's
// schedules (the backbone's dedup keeps one firing per due time even
// when two nodes believe they hold it).
const schedulerLease = "scheduler"

// archiveLease is the lease whose holder sweeps EventBridge archives
// (retention and size).
const archiveLease = "events-archives"

// leaseRunner runs fn on the holder of lease name; nil on a single node
// (no leases: fn runs here).
func (d *Daemon) leaseRunner(name string) func(context.Context, func(context.Context) error) error {
	if d.leases == nil {
		return nil
	}
	return func(ctx context.Context, fn func(context.Context) error) error {
		return d.leases.Run(ctx, name, func(ctx context.Context, _ uint64) error { return fn(ctx) })
	}
}

// runCoordinator takes part in the coordinator lease until ctx ends: the
// holder is the node that runs cluster-wide singleton work, shown by
// `nimbus cluster status`.
func (d *Daemon) runCoordinator(ctx context.Context) {
	if d.leases == nil {
		return
	}
	_ = d.leases.Run(ctx, cluster.CoordinatorLease, func(ctx context.Context, token uint64) error {
		d.log.Info("this node is the cluster coordinator", "token", token)
		<-ctx.Done()
		return nil
	})
}

// clusterStatus collects what `nimbus cluster status` prints.
func (d *Daemon) clusterStatus(ctx context.Context) cluster.Status {
	st := cluster.Collect(ctx, cluster.StatusSource{
		Server: d.st.Server(), JetStream: d.st.JetStream(), Leases: d.leases,
		Node: d.nodeName(), Replicas: d.st.Replicas(),
	})
	if d.forward != nil {
		st.Members = d.forward.Snapshot()
	}
	return st
}

// clusterAPI serves GET /_nimbus/cluster (the route table puts it behind
// signature checks).
func (d *Daemon) clusterAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d.clusterStatus(ctx))
	})
}

// quorumCheck is /readyz's cluster check: a node that lost its cluster's
// quorum cannot write, so it is not ready.
func (d *Daemon) quorumCheck() telemetry.Check {
	return telemetry.Check{Name: "quorum", Check: func(ctx context.Context) error {
		if !d.shared() {
			return nil
		}
		if err := cluster.Majority(d.st.Server(), d.cfg.Servers()); err != nil {
			return err
		}
		return cluster.Quorum(ctx, d.st.JetStream())
	}}
}
