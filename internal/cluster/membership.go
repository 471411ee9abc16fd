package cluster

import (
	"slices"
	"time"
)

// The forwarders' adverts double as the cluster's membership: a node is
// live while its adverts are fresh (3 advert intervals). Provisioned
// concurrency is split among the live nodes by it (Share), and each
// node's allocations ride on its adverts, so any node reports the
// cluster's sum (docs/design/cluster.md, "Provisioned concurrency").

// Members are the live nodes, this one included, sorted by name.
func (f *Forwarder) Members() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.liveLocked()
}

func (f *Forwarder) liveLocked() []string {
	stale := time.Now().Add(-freshAdverts * f.every)
	out := []string{f.node}
	for name, p := range f.peers {
		if !p.at.Before(stale) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Changed has a value when the set of live nodes has changed since it was
// last read (a node joined, or its adverts stopped).
func (f *Forwarder) Changed() <-chan struct{} { return f.changed }

// noteMembers signals Changed when the live set differs from the last
// one signalled.
func (f *Forwarder) noteMembers() {
	f.mu.Lock()
	live := f.liveLocked()
	same := slices.Equal(live, f.members)
	f.members = live
	f.mu.Unlock()
	if !same {
		select {
		case f.changed <- struct{}{}:
		default:
		}
	}
}

// ProvisionedElsewhere is the sum of the provisioned concurrency the
// other live nodes reported allocated for key (ProvisionedKey).
func (f *Forwarder) ProvisionedElsewhere(key string) int {
	stale := time.Now().Add(-freshAdverts * f.every)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.peers {
		if !p.at.Before(stale) {
			n += p.prov[key]
		}
	}
	return n
}

// ProvisionedKey names one provisioned concurrency configuration in
// adverts.
func ProvisionedKey(functionName, qualifier string) string { return functionName + ":" + qualifier }

// Share is node's part of total split among members (sorted, node among
// them): an even split, the remainder going one each to the first nodes
// by name. The shares of all members add up to total.
func Share(total int, members []string, node string) int {
	i := slices.Index(members, node)
	if i < 0 || len(members) == 0 {
		return total
	}
	n := len(members)
	s := total / n
	if i < total%n {
		s++
	}
	return s
}

// Member is a live node as its adverts show it (`nimbus cluster status`).
type Member struct {
	Name string `json:"name"`
	// Idle is the node's idle environments, every function's.
	Idle int `json:"idle_environments"`
	// Provisioned is its allocated provisioned concurrency, by
	// configuration (function:qualifier).
	Provisioned map[string]int `json:"provisioned,omitempty"`
}

// Snapshot is every live node, this one first, as the adverts show them.
func (f *Forwarder) Snapshot() []Member {
	self := Member{Name: f.node}
	for _, v := range f.pool.Warm() {
		self.Idle += v.Idle
	}
	if f.prov != nil {
		self.Provisioned = f.prov()
	}
	out := []Member{self}
	stale := time.Now().Add(-freshAdverts * f.every)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, name := range f.liveLocked() {
		p := f.peers[name]
		if name == f.node || p == nil || p.at.Before(stale) {
			continue
		}
		m := Member{Name: name, Provisioned: p.prov, Idle: p.idleTotal}
		out = append(out, m)
	}
	return out
}
