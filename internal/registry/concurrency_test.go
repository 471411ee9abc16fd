package registry

import (
	"context"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func TestReservedConcurrency(t *testing.T) {
	st := storetest.Open(t)
	r := startRegistry(t, st, nil)
	ctx := context.Background()
	z := zipOf(t, map[string]string{"app.py": "x"})
	mustCreate(t, r, newFunction("a", z))
	mustCreate(t, r, newFunction("b", z))
	if n := r.TotalReserved(); n != 0 {
		t.Fatalf("TotalReserved %d on a fresh registry", n)
	}
	must(t, r.PutFunctionConcurrency(ctx, "a", 5, 9, 1))
	if n := r.TotalReserved(); n != 5 {
		t.Fatalf("TotalReserved %d, want 5", n)
	}
	must(t, r.PutFunctionConcurrency(ctx, "b", 4, 9, 1))
	// 5 + 4 = 9 reservable: a cannot grow.
	wantAWSError(t, r.PutFunctionConcurrency(ctx, "a", 6, 9, 1), "InvalidParameterValueException",
		"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [1].")
	if n, ok := r.ReservedConcurrency("a"); !ok || n != 5 {
		t.Errorf("ReservedConcurrency(a) = %d %v", n, ok)
	}
	must(t, r.DeleteFunctionConcurrency(ctx, "b"))
	if n := r.TotalReserved(); n != 5 {
		t.Errorf("TotalReserved %d after delete, want 5", n)
	}
	must(t, r.DeleteFunction(ctx, "a"))
	if n := r.TotalReserved(); n != 0 {
		t.Errorf("TotalReserved %d after the function went, want 0", n)
	}
}

func TestProvisionedPlansFollowAliasWeights(t *testing.T) {
	st := storetest.Open(t)
	r := startRegistry(t, st, nil)
	ctx := context.Background()
	z := zipOf(t, map[string]string{"app.py": "x"})
	in := newFunction("p", z)
	in.Publish = true
	mustCreate(t, r, in)
	_, err := r.UpdateConfiguration(ctx, "p", "", func(c *function.Config) error { c.Description = "v2"; return nil })
	must(t, err)
	_, err = r.PublishVersion(ctx, "p", PublishInput{})
	must(t, err)
	_, err = r.CreateAlias(ctx, "p", function.Alias{Name: "live", FunctionVersion: "1",
		RoutingConfig: &function.RoutingConfig{AdditionalVersionWeights: map[string]float64{"2": 0.25}}})
	must(t, err)
	_, err = r.PutProvisionedConcurrency(ctx, "p", "live", 8, 900, 100)
	must(t, err)
	_, err = r.PutProvisionedConcurrency(ctx, "p", "2", 1, 900, 100)
	wantAWSError(t, err, "ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias")
	plans := r.ProvisionedPlans()
	if len(plans) != 1 || len(plans[0].Targets) != 2 {
		t.Fatalf("plans %+v", plans)
	}
	got := map[string]int{}
	for _, tg := range plans[0].Targets {
		got[tg.Config.Version] = tg.Count
	}
	if got["1"] != 6 || got["2"] != 2 {
		t.Errorf("split %v, want 6 on version 1 and 2 on version 2", got)
	}
	// Without reserved concurrency it comes out of the unreserved pool.
	if n := r.TotalReserved(); n != 8 {
		t.Errorf("TotalReserved %d with 8 provisioned, want 8", n)
	}
	_, err = r.PutProvisionedConcurrency(ctx, "p", "live", 11, 10, 1)
	wantAWSError(t, err, "InvalidParameterValueException", "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [11].")
	// Deleting the alias deletes its configuration.
	must(t, r.DeleteAlias(ctx, "p", "live"))
	if plans := r.ProvisionedPlans(); len(plans) != 0 {
		t.Errorf("plans after the alias went: %+v", plans)
	}
}
