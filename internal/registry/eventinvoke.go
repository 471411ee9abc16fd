package registry

import (
	"context"
	"errors"
	"slices"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Asynchronous-invocation settings (PutFunctionEventInvokeConfig and
// friends) live in the function's record, keyed by qualifier, so deleting
// the function, a version or an alias deletes its settings in the same
// compare-and-swap.

// eicKey is the qualifier an event-invoke configuration is stored under:
// "" (unqualified) means $LATEST.
func eicKey(qualifier string) string {
	if qualifier == "" {
		return function.LatestVersion
	}
	return qualifier
}

func (r *Registry) noEventInvokeConfig(name, qualifier string) error {
	return errdefs.NotFound("The function %s doesn't have an EventInvokeConfig", r.arn(name, eicKey(qualifier)))
}

// qualifierExists reports whether q ($LATEST, a version number or an
// alias name) names something of rec.
func qualifierExists(rec *record, q string) bool {
	if q == function.LatestVersion {
		return true
	}
	if n := versionNumber(q); n > 0 {
		return rec.hasVersion(n)
	}
	return rec.Aliases[q] != nil
}

func cloneEIC(c *function.EventInvokeConfig) *function.EventInvokeConfig {
	out := *c
	if c.MaximumRetryAttempts != nil {
		v := *c.MaximumRetryAttempts
		out.MaximumRetryAttempts = &v
	}
	if c.MaximumEventAgeInSeconds != nil {
		v := *c.MaximumEventAgeInSeconds
		out.MaximumEventAgeInSeconds = &v
	}
	if c.DestinationConfig != nil {
		d := function.DestinationConfig{}
		if c.DestinationConfig.OnSuccess != nil {
			o := *c.DestinationConfig.OnSuccess
			d.OnSuccess = &o
		}
		if c.DestinationConfig.OnFailure != nil {
			o := *c.DestinationConfig.OnFailure
			d.OnFailure = &o
		}
		out.DestinationConfig = &d
	}
	return &out
}

// PutEventInvokeConfig stores cfg as the asynchronous-invocation settings
// of name:qualifier, replacing any there were. The registry fills in
// FunctionArn and LastModified. A function, version or alias that does
// not exist is ResourceNotFoundException.
func (r *Registry) PutEventInvokeConfig(ctx context.Context, name, qualifier string, cfg function.EventInvokeConfig) (*function.EventInvokeConfig, error) {
	return r.changeEventInvokeConfig(ctx, name, qualifier, false, func(*function.EventInvokeConfig) *function.EventInvokeConfig {
		return cloneEIC(&cfg)
	})
}

// UpdateEventInvokeConfig changes the settings of name:qualifier: apply
// gets a private copy of the current ones. Settings that do not exist are
// ResourceNotFoundException.
func (r *Registry) UpdateEventInvokeConfig(ctx context.Context, name, qualifier string, apply func(*function.EventInvokeConfig)) (*function.EventInvokeConfig, error) {
	return r.changeEventInvokeConfig(ctx, name, qualifier, true, func(old *function.EventInvokeConfig) *function.EventInvokeConfig {
		c := cloneEIC(old)
		apply(c)
		return c
	})
}

func (r *Registry) changeEventInvokeConfig(ctx context.Context, name, qualifier string, mustExist bool, next func(old *function.EventInvokeConfig) *function.EventInvokeConfig) (*function.EventInvokeConfig, error) {
	key := eicKey(qualifier)
	var out *function.EventInvokeConfig
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if !qualifierExists(rec, key) {
			return r.functionNotFound(name, qualifier)
		}
		old := rec.EventInvokeConfigs[key]
		if old == nil && mustExist {
			return r.noEventInvokeConfig(name, qualifier)
		}
		if old == nil {
			old = &function.EventInvokeConfig{}
		}
		c := next(old)
		c.FunctionArn = r.arn(name, key)
		c.LastModified = float64(r.now().UnixMilli()) / 1000
		if rec.EventInvokeConfigs == nil {
			rec.EventInvokeConfigs = map[string]*function.EventInvokeConfig{}
		}
		rec.EventInvokeConfigs[key] = c
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cloneEIC(out), nil
}

// EventInvokeConfig returns the settings of name:qualifier, or
// ResourceNotFoundException when there are none.
func (r *Registry) EventInvokeConfig(ctx context.Context, name, qualifier string) (*function.EventInvokeConfig, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil || rec.EventInvokeConfigs[eicKey(qualifier)] == nil {
		return nil, r.noEventInvokeConfig(name, qualifier)
	}
	return cloneEIC(rec.EventInvokeConfigs[eicKey(qualifier)]), nil
}

// AsyncSettings returns the settings that apply to an asynchronous
// invocation of name:qualifier from the cache, nil when there are none
// (the defaults apply). The result is shared: do not modify it.
func (r *Registry) AsyncSettings(name, qualifier string) *function.EventInvokeConfig {
	rec := r.cache.function(name)
	if rec == nil {
		return nil
	}
	return rec.EventInvokeConfigs[eicKey(qualifier)]
}

// DeleteEventInvokeConfig removes the settings of name:qualifier; settings
// that do not exist are ResourceNotFoundException, as in AWS.
func (r *Registry) DeleteEventInvokeConfig(ctx context.Context, name, qualifier string) error {
	key := eicKey(qualifier)
	found := false
	_, err := r.mutate(ctx, name, func(rec *record) error {
		found = true
		if rec.EventInvokeConfigs[key] == nil {
			return r.noEventInvokeConfig(name, qualifier)
		}
		delete(rec.EventInvokeConfigs, key)
		return nil
	})
	if errors.Is(err, errdefs.ErrNotFound) && !found {
		return r.noEventInvokeConfig(name, qualifier)
	}
	return err
}

// ListEventInvokeConfigs returns every qualifier's settings of name,
// ordered by qualifier.
func (r *Registry) ListEventInvokeConfigs(ctx context.Context, name string) ([]*function.EventInvokeConfig, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, r.functionNotFound(name, "")
	}
	keys := make([]string, 0, len(rec.EventInvokeConfigs))
	for k := range rec.EventInvokeConfigs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*function.EventInvokeConfig, 0, len(keys))
	for _, k := range keys {
		out = append(out, cloneEIC(rec.EventInvokeConfigs[k]))
	}
	return out, nil
}
