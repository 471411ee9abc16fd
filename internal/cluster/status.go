package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/lease"
)

// CoordinatorLease is the lease whose holder is the cluster's
// coordinator: the node that runs work there must be one of.
const CoordinatorLease = "coordinator"

// Status is the cluster as one node sees it (`nimbus cluster status`).
type Status struct {
	// Cluster is the cluster's name ("" on a single node or an external
	// NATS the node cannot inspect).
	Cluster string `json:"cluster,omitempty"`
	// Node is the answering node's name.
	Node string `json:"node,omitempty"`
	// Replicas is the copies the node asks for its streams.
	Replicas int `json:"replicas"`
	// MetaLeader is the JetStream meta leader's name; empty when the
	// answering node sees no quorum.
	MetaLeader string `json:"meta_leader,omitempty"`
	// Quorum reports whether JetStream answers writes from this node.
	Quorum      bool        `json:"quorum"`
	QuorumError string      `json:"quorum_error,omitempty"`
	Nodes       []Node      `json:"nodes,omitempty"`
	Streams     []Stream    `json:"streams,omitempty"`
	Coordinator *lease.Info `json:"coordinator,omitempty"`
	// Members are the live nodes by their adverts (membership.go): each
	// one's idle environments and provisioned concurrency.
	Members []Member `json:"members,omitempty"`
}

// Node is one server of the JetStream meta group.
type Node struct {
	Name    string `json:"name"`
	Leader  bool   `json:"leader,omitempty"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline,omitempty"`
	// ActiveAgo is how long ago the leader last heard from it.
	ActiveAgo string `json:"active_ago,omitempty"`
	Lag       uint64 `json:"lag,omitempty"`
}

// Stream is one stream's placement.
type Stream struct {
	Name     string    `json:"name"`
	Replicas int       `json:"replicas"`
	Leader   string    `json:"leader,omitempty"`
	Peers    []Replica `json:"peers,omitempty"`
	Messages uint64    `json:"messages"`
}

// Replica is a stream's follower.
type Replica struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline,omitempty"`
	Lag     uint64 `json:"lag,omitempty"`
}

// StatusSource is what Collect reads: the embedded server (nil with an
// external NATS), a JetStream context and the lease bucket (nil on a
// single node).
type StatusSource struct {
	Server    *server.Server
	JetStream jetstream.JetStream
	Leases    *lease.Leases
	Node      string
	Replicas  int
}

// Collect gathers the status. Parts it cannot read are left out; the
// quorum check is a JetStream account-info request, which in a cluster
// only the meta leader answers.
func Collect(ctx context.Context, src StatusSource) Status {
	st := Status{Node: src.Node, Replicas: src.Replicas}
	if err := Quorum(ctx, src.JetStream); err != nil {
		st.QuorumError = err.Error()
	} else {
		st.Quorum = true
	}
	if ns := src.Server; ns != nil {
		st.Cluster = ns.ClusterName()
		if jsz, err := ns.Jsz(&server.JSzOptions{}); err == nil && jsz.Meta != nil {
			st.MetaLeader = jsz.Meta.Leader
			if st.MetaLeader != "" {
				st.Nodes = append(st.Nodes, Node{Name: st.MetaLeader, Leader: true, Current: true})
			}
			for _, p := range jsz.Meta.Replicas {
				if p.Name == st.MetaLeader || slices.ContainsFunc(st.Nodes, func(n Node) bool { return n.Name == p.Name }) {
					continue
				}
				st.Nodes = append(st.Nodes, Node{Name: p.Name, Current: p.Current, Offline: p.Offline,
					ActiveAgo: p.Active.Round(time.Millisecond).String(), Lag: p.Lag})
			}
			if src.Node != "" && !slices.ContainsFunc(st.Nodes, func(n Node) bool { return n.Name == src.Node }) {
				// The meta group lists the answering node's peers, not itself.
				st.Nodes = append(st.Nodes, Node{Name: src.Node, Current: ns.JetStreamIsCurrent()})
			}
			slices.SortFunc(st.Nodes, func(a, b Node) int {
				if a.Name < b.Name {
					return -1
				}
				return 1
			})
		}
	}
	if st.Quorum {
		lister := src.JetStream.ListStreams(ctx)
		for si := range lister.Info() {
			s := Stream{Name: si.Config.Name, Replicas: si.Config.Replicas, Messages: si.State.Msgs}
			if ci := si.Cluster; ci != nil {
				s.Leader = ci.Leader
				for _, p := range ci.Replicas {
					s.Peers = append(s.Peers, Replica{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag})
				}
			}
			st.Streams = append(st.Streams, s)
		}
		slices.SortFunc(st.Streams, func(a, b Stream) int {
			if a.Name < b.Name {
				return -1
			}
			return 1
		})
	}
	if src.Leases != nil {
		if info, ok, err := src.Leases.Current(ctx, CoordinatorLease); err == nil && ok {
			st.Coordinator = &info
		}
	}
	return st
}

// Majority reports whether the embedded server ns has routes to a
// majority of the cluster's servers (servers, itself included). A node
// cut off from the others (a partition, or its peers killed) fails it at
// once; Quorum's request is still answered until the meta group notices
// (its lost-quorum interval, about 10 s). nil for an external NATS (ns
// nil) or a single server.
func Majority(ns *server.Server, servers int) error {
	if ns == nil || servers <= 1 {
		return nil
	}
	if have := ns.NumRemotes() + 1; have < servers/2+1 {
		return fmt.Errorf("routes to %d of the cluster's %d servers (this one included): not a majority", have, servers)
	}
	return nil
}

// Quorum reports whether JetStream answers this node: in a cluster only
// with a meta leader, which needs a majority of the servers. A node on
// the minority side of a partition gets an error.
func Quorum(ctx context.Context, js jetstream.JetStream) error {
	if js == nil {
		return errors.New("no JetStream")
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream unavailable (no cluster quorum?): %w", err)
	}
	return nil
}
