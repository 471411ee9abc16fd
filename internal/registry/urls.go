package registry

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Function URLs live in the function's record (URLs, by qualifier), so a
// URL is created, changed and deleted by the same compare-and-swap as the
// aliases it may point at, and disappears with its function or alias. The
// cache keeps an index from URL id to function and qualifier for the
// front door (ResolveURL).

// urlRef locates a function URL by its id.
type urlRef struct {
	name      string
	qualifier string
}

// setRecordLocked replaces (rec != nil) or removes (rec == nil) the cached
// record of name and keeps the URL index in step. c.mu is held.
func (c *cache) setRecordLocked(name string, rec *record, rev uint64) {
	if old := c.fns[name]; old != nil {
		for _, u := range old.rec.URLs {
			if ref, ok := c.urls[u.URLID]; ok && ref.name == name {
				delete(c.urls, u.URLID)
			}
		}
	}
	if rec == nil {
		delete(c.fns, name)
		return
	}
	c.fns[name] = &fnEntry{rec: rec, rev: rev}
	for q, u := range rec.URLs {
		c.urls[u.URLID] = urlRef{name: name, qualifier: q}
	}
}

// urlIDTaken reports whether id is in use by any cached function.
func (c *cache) urlIDTaken(id string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.urls[id]
	return ok
}

var (
	errURLFunctionMissing = errdefs.NotFound("Function does not exist")
	errURLMissing         = errdefs.NotFound("The resource you requested does not exist.")
)

// urlQualifier is the key of a URL in the record: $LATEST for none.
func urlQualifier(q string) string {
	if q == "" {
		return function.LatestVersion
	}
	return q
}

// CreateURLConfig gives function name (or its alias u.Qualifier) a
// function URL with u's AuthType, Cors and InvokeMode. The registry fills
// in the id, FunctionArn and times. A URL that exists already is
// ResourceConflictException; a missing function or alias is
// ResourceNotFoundException, in AWS's words.
func (r *Registry) CreateURLConfig(ctx context.Context, name string, u function.URLConfig) (*function.URLConfig, error) {
	q := urlQualifier(u.Qualifier)
	var out *function.URLConfig
	_, err := r.mutate(ctx, name, func(rec *record) error {
		arn := r.arn(name, "")
		if q != function.LatestVersion {
			arn = r.arn(name, q)
		}
		if rec.URLs[q] != nil {
			return errdefs.Conflict("Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function", arn)
		}
		if q != function.LatestVersion && rec.Aliases[q] == nil {
			return errURLFunctionMissing
		}
		nu := u.Clone()
		nu.Qualifier = q
		nu.FunctionArn = arn
		nu.URLID = function.NewURLID()
		for r.cache.urlIDTaken(nu.URLID) {
			nu.URLID = function.NewURLID()
		}
		nu.CreationTime = function.FormatURLTime(r.now())
		nu.LastModifiedTime = nu.CreationTime
		if rec.URLs == nil {
			rec.URLs = map[string]*function.URLConfig{}
		}
		rec.URLs[q] = nu
		out = nu
		return nil
	})
	if isNotFound(err) && out == nil && !isURLError(err) {
		return nil, errURLFunctionMissing
	}
	if err != nil {
		return nil, err
	}
	return out.Clone(), nil
}

// UpdateURLConfig changes the function URL of name:qualifier: apply gets
// a private copy (its id, qualifier and ARN are kept).
func (r *Registry) UpdateURLConfig(ctx context.Context, name, qualifier string, apply func(u *function.URLConfig)) (*function.URLConfig, error) {
	q := urlQualifier(qualifier)
	var out *function.URLConfig
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if q != function.LatestVersion && rec.Aliases[q] == nil {
			return errURLFunctionMissing
		}
		old := rec.URLs[q]
		if old == nil {
			return errURLMissing
		}
		nu := old.Clone()
		apply(nu)
		nu.URLID, nu.Qualifier, nu.FunctionArn, nu.CreationTime = old.URLID, old.Qualifier, old.FunctionArn, old.CreationTime
		nu.LastModifiedTime = function.FormatURLTime(r.now())
		rec.URLs[q] = nu
		out = nu
		return nil
	})
	if isNotFound(err) && !isURLError(err) {
		return nil, errURLFunctionMissing
	}
	if err != nil {
		return nil, err
	}
	return out.Clone(), nil
}

// GetURLConfig returns the function URL of name:qualifier.
func (r *Registry) GetURLConfig(ctx context.Context, name, qualifier string) (*function.URLConfig, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil || rec.URLs[urlQualifier(qualifier)] == nil {
		return nil, errURLMissing
	}
	return rec.URLs[urlQualifier(qualifier)].Clone(), nil
}

// DeleteURLConfig deletes the function URL of name:qualifier; one that
// does not exist is ResourceNotFoundException, as in AWS.
func (r *Registry) DeleteURLConfig(ctx context.Context, name, qualifier string) error {
	q := urlQualifier(qualifier)
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if rec.URLs[q] == nil {
			return errURLMissing
		}
		delete(rec.URLs, q)
		return nil
	})
	if isNotFound(err) {
		return errURLMissing
	}
	return err
}

// ListURLConfigs returns the function URLs of name ordered by FunctionArn.
func (r *Registry) ListURLConfigs(ctx context.Context, name string) ([]*function.URLConfig, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, errURLFunctionMissing
	}
	out := make([]*function.URLConfig, 0, len(rec.URLs))
	for _, u := range rec.URLs {
		out = append(out, u.Clone())
	}
	slices.SortFunc(out, func(a, b *function.URLConfig) int { return strings.Compare(a.FunctionArn, b.FunctionArn) })
	return out, nil
}

// ResolveURL finds the function URL with id urlID: its configuration and
// the function's name. It reads only the cache. An unknown id is
// ResourceNotFoundException.
func (r *Registry) ResolveURL(ctx context.Context, urlID string) (string, *function.URLConfig, error) {
	if err := r.waitReady(ctx); err != nil {
		return "", nil, err
	}
	r.cache.mu.RLock()
	defer r.cache.mu.RUnlock()
	ref, ok := r.cache.urls[urlID]
	if !ok {
		return "", nil, errURLMissing
	}
	e := r.cache.fns[ref.name]
	if e == nil || e.rec.URLs[ref.qualifier] == nil {
		return "", nil, errURLMissing
	}
	return ref.name, e.rec.URLs[ref.qualifier].Clone(), nil
}

func isNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }

// isURLError reports whether err is one of the URL-specific answers
// (rather than the registry's generic "Function not found").
func isURLError(err error) bool {
	return err == errURLMissing || err == errURLFunctionMissing //nolint:errorlint // sentinels returned as is
}
