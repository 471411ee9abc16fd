package registry

import (
	"context"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// The nimbus:network tag sets a function's outbound network: checked when
// set, carried by Resolve (never part of the stored configuration).
func TestNetworkTag(t *testing.T) {
	r := startRegistry(t, storetest.Open(t), nil)
	ctx := context.Background()
	z := zipOf(t, map[string]string{"app.py": "x"})

	bad := newFunction("bad", z)
	bad.Tags = map[string]string{function.NetworkTag: "everywhere"}
	_, err := r.CreateFunction(ctx, bad)
	wantAWSError(t, err, "InvalidParameterValueException", "The tag nimbus:network must be none or egress.")
	if _, err := r.Config(ctx, "bad", ""); err == nil {
		t.Error("a function with a bad network tag was created")
	}

	in := newFunction("f", z)
	in.Tags = map[string]string{function.NetworkTag: function.NetworkEgress}
	mustCreate(t, r, in)
	cfg, err := r.Resolve(ctx, "f", "")
	if err != nil || cfg.Network != function.NetworkEgress {
		t.Fatalf("Resolve: network %q %v, want egress", cfg.Network, err)
	}
	err = r.TagFunction(ctx, "f", map[string]string{function.NetworkTag: "open"})
	wantAWSError(t, err, "InvalidParameterValueException", "")
	must(t, r.TagFunction(ctx, "f", map[string]string{function.NetworkTag: function.NetworkNone}))
	eventually(t, "the tag change", func() bool {
		cfg, err := r.Resolve(ctx, "f", "")
		return err == nil && cfg.Network == function.NetworkNone
	})
	must(t, r.UntagFunction(ctx, "f", []string{function.NetworkTag}))
	eventually(t, "the untag", func() bool {
		cfg, err := r.Resolve(ctx, "f", "")
		return err == nil && cfg.Network == ""
	})
	stored, _ := r.Config(ctx, "f", "")
	if stored.Network != "" {
		t.Errorf("Config carries network %q; only Resolve should", stored.Network)
	}
}
