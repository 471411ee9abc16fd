package registry

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func layerInput(name string, zip []byte) LayerInput {
	return LayerInput{Name: name, Zip: zip, UnzippedSize: 1}
}

// TestLayersAcrossNodesAndRestart: a layer published on one node is seen
// by another through the watch (Resolve fills the package of a function's
// layer there), and a restarted node loads layers, tombstones included.
func TestLayersAcrossNodesAndRestart(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	a := startRegistry(t, st, nil)
	w := newWatcher(t, 10*time.Second)
	b := startRegistry(t, st, w.tweak)
	lz := zipOf(t, map[string]string{"python/m.py": "x"})
	lv, err := a.PublishLayerVersion(ctx, layerInput("lib", lz))
	if err != nil || lv.Version != 1 || lv.LayerVersionArn != "arn:aws:lambda:"+region+":"+account+":layer:lib:1" {
		t.Fatalf("publish: %+v, %v", lv, err)
	}
	in := newFunction("f", zipOf(t, map[string]string{"a": "1"}))
	in.Config.Layers = []function.Layer{{Arn: lv.LayerVersionArn, CodeSize: lv.Content.CodeSize}}
	mustCreate(t, a, in)
	w.waitFor("the function's layer", func() bool {
		cfg, err := b.Resolve(ctx, "f", "")
		return err == nil && len(cfg.Layers) == 1 && cfg.Layers[0].CodeSha256 == function.CodeSha256(lz)
	})
	must(t, a.DeleteLayerVersion(ctx, "lib", 1))
	w.waitFor("the delete", func() bool { _, err := b.LayerVersion(ctx, "lib", 1); return err != nil })

	r := startRegistry(t, st, nil) // a restart: loads from the store
	if _, err := r.LayerVersion(ctx, "lib", 1); err == nil {
		t.Error("a deleted version is back after a restart")
	}
	cfg, err := r.Resolve(ctx, "f", "")
	if err != nil || cfg.Layers[0].CodeSha256 != function.CodeSha256(lz) {
		t.Errorf("after restart: %+v, %v", cfg, err)
	}
	lv2, err := r.PublishLayerVersion(ctx, layerInput("lib", lz))
	if err != nil || lv2.Version != 2 {
		t.Errorf("numbering after restart: %+v, %v", lv2, err)
	}
}

// TestConcurrentLayerPublishNumbersAreUnique: concurrent publishes on two
// nodes get distinct, consecutive version numbers.
func TestConcurrentLayerPublishNumbersAreUnique(t *testing.T) {
	st := storetest.Open(t)
	nodes := []*Registry{startRegistry(t, st, nil), startRegistry(t, st, nil)}
	ctx := context.Background()
	const n = 12
	var mu sync.Mutex
	got := map[int64]bool{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lv, err := nodes[i%2].PublishLayerVersion(ctx, layerInput("shared", zipOf(t, map[string]string{"f": string(rune('a' + i))})))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[lv.Version] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	for v := int64(1); v <= n; v++ {
		if !got[v] {
			t.Errorf("version %d missing; got %v", v, got)
		}
	}
}

// TestProvisionedPlansCarryLayerPackages: provisioned environments start
// from ProvisionedPlans, which must name each layer's package as Resolve
// does.
func TestProvisionedPlansCarryLayerPackages(t *testing.T) {
	r := startRegistry(t, storetest.Open(t), nil)
	ctx := context.Background()
	lz := zipOf(t, map[string]string{"python/m.py": "x"})
	lv, err := r.PublishLayerVersion(ctx, layerInput("lib", lz))
	if err != nil {
		t.Fatal(err)
	}
	in := newFunction("f", zipOf(t, map[string]string{"a": "1"}))
	in.Config.Layers = []function.Layer{{Arn: lv.LayerVersionArn, CodeSize: lv.Content.CodeSize}}
	in.Publish = true
	mustCreate(t, r, in)
	if _, err := r.PutProvisionedConcurrency(ctx, "f", "1", 1, 1000, 100); err != nil {
		t.Fatal(err)
	}
	plans := r.ProvisionedPlans()
	if len(plans) != 1 || len(plans[0].Targets) != 1 {
		t.Fatalf("plans %+v", plans)
	}
	layers := plans[0].Targets[0].Config.Layers
	if len(layers) != 1 || layers[0].CodeSha256 != function.CodeSha256(lz) {
		t.Errorf("provisioned layers %+v", layers)
	}
}
