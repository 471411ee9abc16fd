package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// MaxTags is how many tags a function may carry.
const MaxTags = 50

// CreateAlias creates alias a.Name of function name pointing at
// a.FunctionVersion (with optional routing). The registry fills in
// AliasArn and RevisionId. An existing alias is ResourceConflictException;
// a version that does not exist is ResourceNotFoundException.
func (r *Registry) CreateAlias(ctx context.Context, name string, a function.Alias) (*function.Alias, error) {
	var out *function.Alias
	found := false
	_, err := r.mutate(ctx, name, func(rec *record) error {
		found = true
		if old := rec.Aliases[a.Name]; old != nil {
			return errdefs.Conflict("Alias already exists: %s", old.AliasArn)
		}
		na := cloneAlias(&a)
		na.AliasArn = r.arn(name, a.Name)
		na.RevisionId = r.newRevID()
		if err := r.checkAliasTargets(name, rec, na); err != nil {
			return err
		}
		if rec.Aliases == nil {
			rec.Aliases = map[string]*function.Alias{}
		}
		rec.Aliases[a.Name] = na
		out = na
		return nil
	})
	if errors.Is(err, errdefs.ErrNotFound) && !found {
		// AWS names the version the alias was to point at
		// (localstack's AWS-recorded snapshot, routing_config_exc_fn_doesnotexist).
		return nil, r.functionNotFound(name, a.FunctionVersion)
	}
	if err != nil {
		return nil, err
	}
	return cloneAlias(out), nil
}

// UpdateAlias changes alias aliasName of name: apply gets a private copy
// to change. revisionID, when set, must be the alias's RevisionId. The
// RevisionId rotates on every update, as in AWS.
func (r *Registry) UpdateAlias(ctx context.Context, name, aliasName, revisionID string, apply func(a *function.Alias)) (*function.Alias, error) {
	var out *function.Alias
	_, err := r.mutate(ctx, name, func(rec *record) error {
		old := rec.Aliases[aliasName]
		if old == nil {
			return errdefs.NotFound("Cannot find alias arn: %s", r.arn(name, aliasName))
		}
		if revisionID != "" && revisionID != old.RevisionId {
			return errRevision
		}
		na := cloneAlias(old)
		apply(na)
		if na.RoutingConfig != nil && len(na.RoutingConfig.AdditionalVersionWeights) == 0 {
			na.RoutingConfig = nil
		}
		na.Name, na.AliasArn = aliasName, r.arn(name, aliasName)
		na.RevisionId = r.newRevID()
		if err := r.checkAliasTargets(name, rec, na); err != nil {
			return err
		}
		rec.Aliases[aliasName] = na
		out = na
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cloneAlias(out), nil
}

// checkAliasTargets checks that the versions a points at exist and that
// its routing configuration is one AWS accepts.
func (r *Registry) checkAliasTargets(name string, rec *record, a *function.Alias) error {
	if _, err := r.version(name, rec, a.FunctionVersion); err != nil {
		return r.functionNotFound(name, a.FunctionVersion)
	}
	if a.RoutingConfig == nil {
		return nil
	}
	w := a.RoutingConfig.AdditionalVersionWeights
	if len(w) > 1 {
		return awsapi.InvalidParameter("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for v := range w {
		if v == a.FunctionVersion {
			return awsapi.InvalidParameter("Invalid function version %s. Function version %s is already included in routing configuration.", v, v)
		}
		if a.FunctionVersion == function.LatestVersion {
			// AWS sends this one without the Type member (localstack's
			// AWS-recorded snapshot, target_version_exc_version_latest).
			e := awsapi.InvalidParameter("$LATEST is not supported for an alias pointing to more than 1 version")
			e.Type = ""
			return e
		}
		if _, err := r.version(name, rec, v); err != nil {
			return r.functionNotFound(name, v)
		}
	}
	return nil
}

// GetAlias returns alias aliasName of name.
func (r *Registry) GetAlias(ctx context.Context, name, aliasName string) (*function.Alias, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, r.functionNotFound(name, "")
	}
	a := rec.Aliases[aliasName]
	if a == nil {
		return nil, errdefs.NotFound("Cannot find alias arn: %s", r.arn(name, aliasName))
	}
	return cloneAlias(a), nil
}

// DeleteAlias deletes alias aliasName of name. Deleting an alias (or of a
// function) that does not exist succeeds, as in AWS.
func (r *Registry) DeleteAlias(ctx context.Context, name, aliasName string) error {
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if rec.Aliases[aliasName] == nil {
			return errNoChange
		}
		delete(rec.Aliases, aliasName)
		delete(rec.URLs, aliasName) // an alias's function URL goes with it
		delete(rec.EventInvokeConfigs, aliasName)
		delete(rec.Policies, aliasName)
		delete(rec.Provisioned, aliasName) // its provisioned concurrency goes with it, as in AWS
		return nil
	})
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

// ListAliases returns the aliases of name sorted by name; with version
// set, only those whose FunctionVersion is version.
func (r *Registry) ListAliases(ctx context.Context, name, version string) ([]*function.Alias, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, r.functionNotFound(name, "")
	}
	var out []*function.Alias
	for _, a := range rec.Aliases {
		if version == "" || a.FunctionVersion == version {
			out = append(out, cloneAlias(a))
		}
	}
	slices.SortFunc(out, func(a, b *function.Alias) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// checkNetworkTag refuses a NetworkTag value that is not a network policy.
func checkNetworkTag(tags map[string]string) error {
	if v, ok := tags[function.NetworkTag]; ok && v != function.NetworkNone && v != function.NetworkEgress {
		return awsapi.InvalidParameter("The tag %s must be %s or %s.", function.NetworkTag, function.NetworkNone, function.NetworkEgress)
	}
	return nil
}

// TagFunction adds tags to name (replacing the values of keys it has).
func (r *Registry) TagFunction(ctx context.Context, name string, tags map[string]string) error {
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if rec.Tags == nil {
			rec.Tags = map[string]string{}
		}
		for k, v := range tags {
			rec.Tags[k] = v
		}
		if err := checkNetworkTag(rec.Tags); err != nil {
			return err
		}
		if len(rec.Tags) > MaxTags {
			return awsapi.InvalidParameter("Number of tags exceeds resource tag limit.")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	return nil
}

// UntagFunction removes the tags keys from name; absent keys are ignored.
func (r *Registry) UntagFunction(ctx context.Context, name string, keys []string) error {
	_, err := r.mutate(ctx, name, func(rec *record) error {
		n := len(rec.Tags)
		for _, k := range keys {
			delete(rec.Tags, k)
		}
		if len(rec.Tags) == n {
			return errNoChange
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("untag %s: %w", name, err)
	}
	return nil
}
