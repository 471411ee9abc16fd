package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// randFloat picks among an alias's versions; no secret depends on it.
func randFloat() float64 { return rand.Float64() } //nolint:gosec // weighted routing, not security

// versionNumber parses a published version qualifier ("1", "42"); 0 if
// qualifier is not one.
func versionNumber(q string) int {
	if q == "" || q[0] == '0' || len(q) > 9 {
		return 0
	}
	n, err := strconv.Atoi(q)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

func isVersionQualifier(q string) bool {
	if q == "" {
		return false
	}
	for i := 0; i < len(q); i++ {
		if q[i] < '0' || q[i] > '9' {
			return false
		}
	}
	return true
}

// Config returns the configuration a control-plane read names: $LATEST for
// qualifier "" (unqualified FunctionArn) or "$LATEST", a published version,
// or an alias (the configuration of the version the alias points at, with
// the alias's ARN as FunctionArn). The caller owns the copy.
func (r *Registry) Config(ctx context.Context, name, qualifier string) (*function.Config, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, r.functionNotFound(name, qualifier)
	}
	if qualifier == "" {
		return clone(&rec.Latest), nil
	}
	target := qualifier
	if !isVersionQualifier(qualifier) && qualifier != function.LatestVersion {
		a := rec.Aliases[qualifier]
		if a == nil {
			return nil, r.functionNotFound(name, qualifier)
		}
		target = a.FunctionVersion
	}
	cfg, err := r.version(name, rec, target)
	if err != nil {
		return nil, r.functionNotFound(name, qualifier)
	}
	cfg = clone(cfg)
	cfg.FunctionArn = r.arn(name, qualifier)
	return cfg, nil
}

// version returns the cached configuration of version v ($LATEST or a
// number) of the function whose record is rec; read only.
func (r *Registry) version(name string, rec *record, v string) (*function.Config, error) {
	if v == function.LatestVersion {
		return &rec.Latest, nil
	}
	n := versionNumber(v)
	if n == 0 || !rec.hasVersion(n) {
		return nil, errNotFound
	}
	cfg := r.cache.version(name, n)
	if cfg == nil {
		return nil, errNotFound // reserved, not written yet
	}
	return cfg, nil
}

var errNotFound = errors.New("not found")

// Resolve returns the configuration of the version an invocation of
// name:qualifier runs: $LATEST when qualifier is "" or "$LATEST", a
// published version, or the version an alias points at (for an alias with
// AdditionalVersionWeights, the additional version with its weight's
// probability). It reads only the cache. The result is a shallow copy:
// its maps and slices are shared and must not be modified.
//
// A missing function, version or alias is ResourceNotFoundException
// ("Function not found: <ARN as named>"); a function still Pending is
// ResourceConflictException, as in AWS.
func (r *Registry) Resolve(ctx context.Context, name, qualifier string) (*function.Config, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	r.cache.mu.RLock()
	cfg := r.resolveLocked(name, qualifier)
	var network string
	if e := r.cache.fns[name]; e != nil {
		network = e.rec.Tags[function.NetworkTag]
	}
	if cfg != nil {
		cfg = r.withLayerCodeLocked(cfg)
	}
	r.cache.mu.RUnlock()
	if cfg == nil {
		return nil, r.functionNotFound(name, qualifier)
	}
	if cfg.State == function.StatePending {
		return nil, errdefs.Conflict("The operation cannot be performed at this time. The function is currently in the following state: %s", cfg.State)
	}
	out := *cfg
	out.Network = network
	return &out, nil
}

func (r *Registry) resolveLocked(name, qualifier string) *function.Config {
	e := r.cache.fns[name]
	if e == nil {
		return nil
	}
	rec := e.rec
	target := qualifier
	switch {
	case qualifier == "" || qualifier == function.LatestVersion:
		return &rec.Latest
	case isVersionQualifier(qualifier):
	default:
		a := rec.Aliases[qualifier]
		if a == nil {
			return nil
		}
		target = a.FunctionVersion
		if a.RoutingConfig != nil {
			p := r.rand()
			for v, w := range a.RoutingConfig.AdditionalVersionWeights {
				if p < w {
					target = v
				}
				break // at most one entry
			}
		}
	}
	if target == function.LatestVersion {
		return &rec.Latest
	}
	n := versionNumber(target)
	if n == 0 || !rec.hasVersion(n) {
		return nil
	}
	return r.cache.vers[name][n]
}

// Tags returns the tags of name (never nil).
func (r *Registry) Tags(ctx context.Context, name string) (map[string]string, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, r.functionNotFound(name, "")
	}
	out := make(map[string]string, len(rec.Tags))
	for k, v := range rec.Tags {
		out[k] = v
	}
	return out, nil
}

// ListFunctions returns the $LATEST configuration of every function sorted
// by name (unqualified FunctionArn). With allVersions each function's
// $LATEST is followed by its published versions in ascending order, every
// FunctionArn qualified.
func (r *Registry) ListFunctions(ctx context.Context, allVersions bool) ([]*function.Config, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	snaps := r.cache.snapshot()
	names := make([]string, 0, len(snaps))
	for name := range snaps {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []*function.Config
	for _, name := range names {
		s := snaps[name]
		latest := clone(&s.rec.Latest)
		if !allVersions {
			out = append(out, latest)
			continue
		}
		latest.FunctionArn = r.arn(name, function.LatestVersion)
		out = append(out, latest)
		for _, v := range s.versions {
			out = append(out, clone(v))
		}
	}
	return out, nil
}

// ListVersions returns $LATEST (FunctionArn qualified with $LATEST) and
// the published versions of name in ascending order.
func (r *Registry) ListVersions(ctx context.Context, name string) ([]*function.Config, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	r.cache.mu.RLock()
	e := r.cache.fns[name]
	var latest *function.Config
	var versions []*function.Config
	if e != nil {
		latest = &e.rec.Latest
		for _, n := range e.rec.Versions {
			if v := r.cache.vers[name][n]; v != nil {
				versions = append(versions, v)
			}
		}
	}
	r.cache.mu.RUnlock()
	if latest == nil {
		return nil, r.functionNotFound(name, "")
	}
	l := clone(latest)
	l.FunctionArn = r.arn(name, function.LatestVersion)
	out := []*function.Config{l}
	for _, v := range versions {
		out = append(out, clone(v))
	}
	return out, nil
}

// Usage reports the number of functions and the total size of their code
// packages ($LATEST and every published version) and of the layer
// versions, as GetAccountSettings does.
func (r *Registry) Usage(ctx context.Context) (functions int, codeSize int64, err error) {
	if err := r.waitReady(ctx); err != nil {
		return 0, 0, err
	}
	for _, s := range r.cache.snapshot() {
		functions++
		codeSize += s.rec.Latest.CodeSize
		for _, v := range s.versions {
			codeSize += v.CodeSize
		}
	}
	// Layer archives count too, as in AWS (live versions).
	r.cache.mu.RLock()
	for _, e := range r.cache.layers {
		for _, v := range e.rec.Versions {
			if !v.Deleted && v.Content != nil {
				codeSize += v.Content.CodeSize
			}
		}
	}
	r.cache.mu.RUnlock()
	return functions, codeSize, nil
}

// Code returns the code package whose CodeSha256 is codeSha256.
// ResourceNotFoundException if there is none.
func (r *Registry) Code(ctx context.Context, codeSha256 string) ([]byte, error) {
	key := function.CodeKey(codeSha256)
	if key == "" {
		return nil, errdefs.NotFound("Code package not found: %s", codeSha256)
	}
	data, err := r.st.GetCode(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errdefs.NotFound("Code package not found: %s", codeSha256)
	}
	if err != nil {
		return nil, fmt.Errorf("read code %s: %w", key, err)
	}
	if function.CodeSha256(data) != codeSha256 {
		return nil, fmt.Errorf("read code %s: content does not match its digest", key)
	}
	return data, nil
}

// CodeSha256FromKey turns a code key (function.CodeKey) back into a
// CodeSha256, or "" if key is not one.
func CodeSha256FromKey(key string) string {
	if len(key) != 64 {
		return ""
	}
	raw := make([]byte, 32)
	for i := range raw {
		hi, ok1 := unhex(key[2*i])
		lo, ok2 := unhex(key[2*i+1])
		if !ok1 || !ok2 {
			return ""
		}
		raw[i] = hi<<4 | lo
	}
	return base64.StdEncoding.EncodeToString(raw)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
