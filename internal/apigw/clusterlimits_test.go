package apigw

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// fakeCluster is the rest of a cluster as one node's gateway sees it: a
// number of live nodes and quota counts other nodes add to.
type fakeCluster struct {
	nodes int

	mu     sync.Mutex
	counts map[string]int // guarded by mu
}

func (f *fakeCluster) Nodes() int { return f.nodes }

func (f *fakeCluster) TakeQuota(_ context.Context, key string, limit int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts[key] >= limit {
		return false
	}
	f.counts[key]++
	return true
}

// On a cluster a usage plan's quota is the cluster's count, not this
// node's (requests other nodes served count against it), and its
// throttle's burst is this node's split among the live nodes.
func TestUsagePlansOnACluster(t *testing.T) {
	h := newHarness(t)
	cl := &fakeCluster{nodes: 2, counts: map[string]int{}}
	h.g.limits.cluster = cl
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "body": "ok"})
	id, _ := h.restAPI("f", map[string]any{"apiKeyRequired": true})
	var key apiKey
	h.mgmt("POST", "/apikeys", map[string]any{"name": "k", "enabled": true}, 201, &key)
	var quota, throttled usagePlan
	h.mgmt("POST", "/usageplans", map[string]any{"name": "q", "apiStages": []map[string]string{{"apiId": id, "stage": "prod"}},
		"quota": map[string]any{"limit": 3, "period": "DAY"}}, 201, &quota)
	h.mgmt("POST", "/usageplans/"+quota.ID+"/keys", map[string]any{"keyId": key.ID, "keyType": "API_KEY"}, 201, nil)
	call := func() int {
		return h.call(id, "GET", "/prod/items/1", map[string]string{"X-API-Key": key.Value}).Code
	}
	if code := call(); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	var qkey string
	cl.mu.Lock()
	for k, n := range cl.counts {
		if n == 1 && strings.HasPrefix(k, "quota."+quota.ID+"."+key.ID+".") {
			qkey = k
		}
	}
	cl.counts[qkey] += 1 // another node served one
	cl.mu.Unlock()
	if qkey == "" {
		t.Fatalf("the quota was not counted on the cluster: %v", cl.counts)
	}
	if code := call(); code != 200 {
		t.Fatalf("third request of the cluster: %d", code)
	}
	if code := call(); code != 429 {
		t.Fatalf("fourth request of the cluster, quota 3: %d", code)
	}

	// A throttle of burst 4 (no refill: the clock stands still) admits
	// two on each of two nodes.
	var key2 apiKey
	h.mgmt("POST", "/apikeys", map[string]any{"name": "k2", "enabled": true}, 201, &key2)
	h.mgmt("POST", "/usageplans", map[string]any{"name": "t", "apiStages": []map[string]string{{"apiId": id, "stage": "prod"}},
		"throttle": map[string]any{"rateLimit": 0.001, "burstLimit": 4}}, 201, &throttled)
	h.mgmt("POST", "/usageplans/"+throttled.ID+"/keys", map[string]any{"keyId": key2.ID, "keyType": "API_KEY"}, 201, nil)
	var codes []int
	for range 3 {
		codes = append(codes, h.call(id, "GET", "/prod/items/1", map[string]string{"X-API-Key": key2.Value}).Code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Fatalf("burst 4 over 2 nodes, three requests here: %v, want 200 200 429", codes)
	}
}
