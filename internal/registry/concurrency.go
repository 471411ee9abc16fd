package registry

import (
	"context"
	"maps"
	"slices"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Concurrency settings live in the function's record (fn.<name>), so they
// change by the same compare-and-swap as everything else about the
// function and go away with it: Reserved (PutFunctionConcurrency) and
// Provisioned, by qualifier (PutProvisionedConcurrencyConfig). Deleting a
// version or an alias deletes its provisioned concurrency, as AWS does.

// Provisioned is a stored provisioned concurrency configuration; the
// status of its environments is the pool's to report.
type Provisioned struct {
	Requested    int    `json:"requested"`
	LastModified string `json:"lastModified"`
}

// ReservedConcurrency is the function's reserved concurrency, read from
// the cache (the pool asks on every invoke).
func (r *Registry) ReservedConcurrency(name string) (int, bool) {
	r.cache.mu.RLock()
	defer r.cache.mu.RUnlock()
	e := r.cache.fns[name]
	if e == nil || e.rec.Reserved == nil {
		return 0, false
	}
	return *e.rec.Reserved, true
}

// TotalReserved is the concurrency set aside, all functions together:
// each function's reserved concurrency, or, for a function without one,
// its provisioned concurrency (which AWS takes from the unreserved pool).
// The pool asks on every invoke, so the sum is computed once per change of
// the cache.
func (r *Registry) TotalReserved() int {
	c := r.cache
	g := c.gen.Load()
	c.reserved.mu.Lock()
	if c.reserved.computed && c.reserved.at == g {
		n := c.reserved.sum
		c.reserved.mu.Unlock()
		return n
	}
	c.reserved.mu.Unlock()
	c.mu.RLock()
	n := 0
	for _, e := range c.fns {
		n += setAside(e.rec)
	}
	c.mu.RUnlock()
	c.reserved.mu.Lock()
	c.reserved.at, c.reserved.sum, c.reserved.computed = g, n, true
	c.reserved.mu.Unlock()
	return n
}

// FunctionConcurrency returns the reserved concurrency of name (nil when
// it has none); ResourceNotFoundException for a missing function.
func (r *Registry) FunctionConcurrency(ctx context.Context, name string) (*int, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, r.functionNotFound(name, "")
	}
	if rec.Reserved == nil {
		return nil, nil
	}
	n := *rec.Reserved
	return &n, nil
}

// PutFunctionConcurrency sets the reserved concurrency of name to n. The
// functions' reservations together may not exceed maxReservable (the
// account limit minus the minimum kept unreserved, minUnreserved); AWS's
// InvalidParameterValueException otherwise. The check reads the other
// functions from the cache: two nodes reserving at once may together pass
// it (the pool still never runs more than the account limit).
func (r *Registry) PutFunctionConcurrency(ctx context.Context, name string, n, maxReservable, minUnreserved int) error {
	if err := r.waitReady(ctx); err != nil {
		return err
	}
	_, err := r.mutate(ctx, name, func(rec *record) error {
		others := r.TotalReserved()
		if cur := r.cache.function(name); cur != nil {
			others -= setAside(cur)
		}
		if others+n > maxReservable {
			return awsapi.InvalidParameter("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", minUnreserved)
		}
		if totalProvisioned(rec) > n {
			return awsapi.InvalidParameter("Specified ReservedConcurrentExecutions for function is less than the function's total ProvisionedConcurrentExecutions [%d].", totalProvisioned(rec))
		}
		if rec.Reserved != nil && *rec.Reserved == n {
			return errNoChange
		}
		v := n
		rec.Reserved = &v
		return nil
	})
	return err
}

// DeleteFunctionConcurrency removes the reserved concurrency of name.
func (r *Registry) DeleteFunctionConcurrency(ctx context.Context, name string) error {
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if rec.Reserved == nil {
			return errNoChange
		}
		rec.Reserved = nil
		return nil
	})
	return err
}

// setAside is the concurrency rec's function takes out of the account's
// unreserved pool.
func setAside(rec *record) int {
	if rec.Reserved != nil {
		return *rec.Reserved
	}
	return totalProvisioned(rec)
}

func totalProvisioned(rec *record) int {
	n := 0
	for _, p := range rec.Provisioned {
		n += p.Requested
	}
	return n
}

// ProvisionedEntry is a provisioned concurrency configuration with its
// qualifier and the qualified ARN it applies to.
type ProvisionedEntry struct {
	Qualifier   string
	FunctionArn string
	Provisioned
}

// PutProvisionedConcurrency sets the provisioned concurrency of
// name:qualifier, a published version or an alias ($LATEST is refused, as
// AWS refuses it). A version and an alias pointing at it cannot both have
// one (ResourceConflictException); with reserved concurrency, the total
// provisioned may not exceed it; without, it comes out of the unreserved
// pool, which must keep minUnreserved (all set-asides together at most
// maxReservable).
func (r *Registry) PutProvisionedConcurrency(ctx context.Context, name, qualifier string, n, maxReservable, minUnreserved int) (*ProvisionedEntry, error) {
	if qualifier == function.LatestVersion {
		return nil, awsapi.InvalidParameter("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	}
	var out *ProvisionedEntry
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if err := r.checkProvisionedQualifier(name, rec, qualifier); err != nil {
			return err
		}
		for q := range rec.Provisioned {
			if q != qualifier && r.sameTarget(rec, q, qualifier) {
				if isVersionQualifier(qualifier) {
					return errdefs.Conflict("Version is pointed by a Provisioned Concurrency alias")
				}
				return errdefs.Conflict("Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
			}
		}
		total := n + totalProvisioned(rec)
		if old := rec.Provisioned[qualifier]; old != nil {
			total -= old.Requested
		}
		if rec.Reserved != nil && total > *rec.Reserved {
			return awsapi.InvalidParameter("Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
		}
		if rec.Reserved == nil {
			others := r.TotalReserved()
			if cur := r.cache.function(name); cur != nil {
				others -= setAside(cur)
			}
			if others+total > maxReservable {
				return awsapi.InvalidParameter("Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [%d].", max(0, maxReservable+minUnreserved-others))
			}
		}
		if rec.Provisioned == nil {
			rec.Provisioned = map[string]*Provisioned{}
		}
		p := &Provisioned{Requested: n, LastModified: function.FormatLastModified(r.now())}
		rec.Provisioned[qualifier] = p
		out = &ProvisionedEntry{Qualifier: qualifier, FunctionArn: r.arn(name, qualifier), Provisioned: *p}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkProvisionedQualifier makes sure qualifier names a published version or an
// alias of the function whose record is rec.
func (r *Registry) checkProvisionedQualifier(name string, rec *record, qualifier string) error {
	if isVersionQualifier(qualifier) {
		if _, err := r.version(name, rec, qualifier); err != nil {
			return r.functionNotFound(name, qualifier)
		}
		return nil
	}
	if rec.Aliases[qualifier] == nil {
		return errdefs.NotFound("Cannot find alias arn: %s", r.arn(name, qualifier))
	}
	return nil
}

// sameTarget reports whether qualifiers a and b (version numbers or alias
// names) lead to a common version.
func (r *Registry) sameTarget(rec *record, a, b string) bool {
	va, vb := targets(rec, a), targets(rec, b)
	for v := range va {
		if vb[v] > 0 {
			return true
		}
	}
	return false
}

// targets are the versions qualifier leads to, with their weights.
func targets(rec *record, qualifier string) map[string]float64 {
	if isVersionQualifier(qualifier) {
		return map[string]float64{qualifier: 1}
	}
	a := rec.Aliases[qualifier]
	if a == nil {
		return nil
	}
	out := map[string]float64{}
	rest := 1.0
	if a.RoutingConfig != nil {
		for v, w := range a.RoutingConfig.AdditionalVersionWeights {
			out[v] = w
			rest -= w
		}
	}
	out[a.FunctionVersion] = rest
	return out
}

// ProvisionedConcurrency returns the configuration of name:qualifier;
// ProvisionedConcurrencyConfigNotFoundException if there is none.
func (r *Registry) ProvisionedConcurrency(ctx context.Context, name, qualifier string) (*ProvisionedEntry, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, r.functionNotFound(name, "")
	}
	if err := r.checkProvisionedQualifier(name, rec, qualifier); err != nil && qualifier != function.LatestVersion {
		return nil, err
	}
	p := rec.Provisioned[qualifier]
	if p == nil {
		return nil, errProvisionedNotFound
	}
	return &ProvisionedEntry{Qualifier: qualifier, FunctionArn: r.arn(name, qualifier), Provisioned: *p}, nil
}

var errProvisionedNotFound = &awsapi.Error{Status: 404, Code: "ProvisionedConcurrencyConfigNotFoundException", Type: "User",
	Message: "No Provisioned Concurrency Config found for this function"}

// DeleteProvisionedConcurrency removes the configuration of
// name:qualifier (a missing one is not an error, as in AWS).
func (r *Registry) DeleteProvisionedConcurrency(ctx context.Context, name, qualifier string) error {
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if err := r.checkProvisionedQualifier(name, rec, qualifier); err != nil {
			return err
		}
		if rec.Provisioned[qualifier] == nil {
			return errNoChange
		}
		delete(rec.Provisioned, qualifier)
		return nil
	})
	return err
}

// ListProvisionedConcurrency returns the configurations of name sorted by
// qualifier.
func (r *Registry) ListProvisionedConcurrency(ctx context.Context, name string) ([]ProvisionedEntry, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, r.functionNotFound(name, "")
	}
	var out []ProvisionedEntry
	for _, q := range slices.Sorted(maps.Keys(rec.Provisioned)) {
		out = append(out, ProvisionedEntry{Qualifier: q, FunctionArn: r.arn(name, q), Provisioned: *rec.Provisioned[q]})
	}
	return out, nil
}

// ProvisionedTarget is one version's share of a configuration: Config is
// the version's configuration as Resolve returns it.
type ProvisionedTarget struct {
	Config *function.Config
	Count  int
}

// ProvisionedPlan is every configuration of every function with the
// versions its environments go to (an alias's split by its routing
// weights), for the pool to provision.
type ProvisionedPlan struct {
	FunctionName string
	Qualifier    string
	Targets      []ProvisionedTarget
}

// ProvisionedPlans lists the plans of all functions, from the cache.
func (r *Registry) ProvisionedPlans() []ProvisionedPlan {
	r.cache.mu.RLock()
	defer r.cache.mu.RUnlock()
	var out []ProvisionedPlan
	for _, name := range slices.Sorted(maps.Keys(r.cache.fns)) {
		rec := r.cache.fns[name].rec
		for _, q := range slices.Sorted(maps.Keys(rec.Provisioned)) {
			p := rec.Provisioned[q]
			plan := ProvisionedPlan{FunctionName: name, Qualifier: q}
			tv := targets(rec, q)
			left := p.Requested
			vs := slices.Sorted(maps.Keys(tv))
			// The primary version takes what rounding leaves.
			primary := q
			if a := rec.Aliases[q]; a != nil {
				primary = a.FunctionVersion
			}
			for _, v := range vs {
				if v == primary {
					continue
				}
				c := int(float64(p.Requested)*tv[v] + 0.5)
				c = min(c, left)
				left -= c
				if cfg := r.cache.vers[name][versionNumber(v)]; cfg != nil && c > 0 {
					plan.Targets = append(plan.Targets, ProvisionedTarget{Config: r.withLayerCodeLocked(cfg), Count: c})
				}
			}
			if cfg := r.cache.vers[name][versionNumber(primary)]; cfg != nil && left > 0 {
				plan.Targets = append(plan.Targets, ProvisionedTarget{Config: r.withLayerCodeLocked(cfg), Count: left})
			}
			out = append(out, plan)
		}
	}
	return out
}

// Changes delivers a token after the cache changes (coalesced: one token
// may stand for many changes). It has one consumer, the daemon's
// provisioning loop.
func (r *Registry) Changes() <-chan struct{} { return r.cache.changed }
