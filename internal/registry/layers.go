package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Layers. Each layer is one key, layer.<name>, holding every version ever
// published: versions are numbered from 1 per layer and, as in AWS, a
// number is never used again, so a deleted version stays in the record as
// a tombstone (Deleted). A tombstone still names its package: functions
// that use a layer version keep working after it is deleted (AWS keeps
// the content for them), so the package is kept while a function or
// version still lists the layer version, and collected after.

const layerPrefix = "layer."

func layerKey(name string) string { return layerPrefix + name }

// layerRecord is the value of layer.<name>.
type layerRecord struct {
	LastVersion int64                       `json:"lastVersion"`
	Versions    map[string]*layerVersionRec `json:"versions"` // by version number
}

// layerVersionRec is one version of a layer.
type layerVersionRec struct {
	function.LayerVersion
	// UnzippedSize counts towards the 250 MB a function and its layers
	// may take unzipped.
	UnzippedSize int64 `json:"unzippedSize"`
	// Deleted marks a version DeleteLayerVersion removed: gone for the
	// API, kept for the functions that use it and so its number is not
	// reused.
	Deleted bool    `json:"deleted,omitempty"`
	Policy  *policy `json:"policy,omitempty"`
}

// versionsDesc returns the live versions of rec, newest first.
func (rec *layerRecord) versionsDesc() []*layerVersionRec {
	var out []*layerVersionRec
	for _, v := range rec.Versions {
		if !v.Deleted {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *layerVersionRec) int { return int(b.Version - a.Version) })
	return out
}

func (rec *layerRecord) live(n int64) *layerVersionRec {
	v := rec.Versions[strconv.FormatInt(n, 10)]
	if v == nil || v.Deleted {
		return nil
	}
	return v
}

// errLayerNotFound is AWS's answer to a layer version that does not exist.
var errLayerNotFound = errdefs.NotFound("The resource you requested does not exist.")

// errNoLayer is mutateLayer's answer when the layer has no record.
var errNoLayer = errors.New("no such layer")

func (r *Registry) layerVersionNotFound(name string, n int64) error {
	return errdefs.NotFound("Layer version %s does not exist.", function.LayerVersionARN(r.region, r.account, name, n))
}

// LayerInput is a PublishLayerVersion request, validated.
type LayerInput struct {
	Name                    string
	Zip                     []byte
	UnzippedSize            int64
	Description             string
	LicenseInfo             string
	CompatibleRuntimes      []string
	CompatibleArchitectures []string
}

// PublishLayerVersion stores the package and publishes it as the next
// version of layer in.Name (creating the layer with version 1).
func (r *Registry) PublishLayerVersion(ctx context.Context, in LayerInput) (*function.LayerVersion, error) {
	sha := function.CodeSha256(in.Zip)
	unlock := r.lockCode(function.CodeKey(sha))
	defer unlock()
	if err := r.putCode(ctx, sha, in.Zip); err != nil {
		return nil, err
	}
	var out *layerVersionRec
	_, err := r.mutateLayer(ctx, in.Name, true, func(rec *layerRecord) error {
		n := rec.LastVersion + 1
		rec.LastVersion = n
		out = &layerVersionRec{
			LayerVersion: function.LayerVersion{
				Content:                 &function.LayerContent{CodeSha256: sha, CodeSize: int64(len(in.Zip))},
				LayerArn:                function.LayerARN(r.region, r.account, in.Name),
				LayerVersionArn:         function.LayerVersionARN(r.region, r.account, in.Name, n),
				Description:             in.Description,
				CreatedDate:             function.FormatLastModified(r.now()),
				Version:                 n,
				CompatibleRuntimes:      slices.Clone(in.CompatibleRuntimes),
				LicenseInfo:             in.LicenseInfo,
				CompatibleArchitectures: slices.Clone(in.CompatibleArchitectures),
			},
			UnzippedSize: in.UnzippedSize,
		}
		if rec.Versions == nil {
			rec.Versions = map[string]*layerVersionRec{}
		}
		rec.Versions[strconv.FormatInt(n, 10)] = out
		return nil
	})
	if err != nil {
		r.gcCodeLocked(ctx, sha)
		return nil, err
	}
	return cloneLayerVersion(&out.LayerVersion), nil
}

// LayerVersion returns version n of layer name; ResourceNotFoundException
// if there is none (or it was deleted).
func (r *Registry) LayerVersion(ctx context.Context, name string, n int64) (*function.LayerVersion, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.layer(name)
	if rec == nil {
		return nil, errLayerNotFound
	}
	v := rec.live(n)
	if v == nil {
		return nil, errLayerNotFound
	}
	return cloneLayerVersion(&v.LayerVersion), nil
}

// ListLayerVersions returns the versions of layer name, newest first (none
// for a layer that does not exist, as in AWS).
func (r *Registry) ListLayerVersions(ctx context.Context, name string) ([]*function.LayerVersion, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	rec := r.cache.layer(name)
	if rec == nil {
		return nil, nil
	}
	var out []*function.LayerVersion
	for _, v := range rec.versionsDesc() {
		out = append(out, cloneLayerVersion(&v.LayerVersion))
	}
	return out, nil
}

// LayerSummary is a layer with its live versions, newest first.
type LayerSummary struct {
	Name     string
	Arn      string
	Versions []*function.LayerVersion
}

// ListLayers returns every layer with at least one live version, sorted by
// name.
func (r *Registry) ListLayers(ctx context.Context) ([]LayerSummary, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	r.cache.mu.RLock()
	recs := make(map[string]*layerRecord, len(r.cache.layers))
	for name, e := range r.cache.layers {
		recs[name] = e.rec
	}
	r.cache.mu.RUnlock()
	names := make([]string, 0, len(recs))
	for name := range recs {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []LayerSummary
	for _, name := range names {
		vs := recs[name].versionsDesc()
		if len(vs) == 0 {
			continue
		}
		s := LayerSummary{Name: name, Arn: function.LayerARN(r.region, r.account, name)}
		for _, v := range vs {
			s.Versions = append(s.Versions, cloneLayerVersion(&v.LayerVersion))
		}
		out = append(out, s)
	}
	return out, nil
}

// DeleteLayerVersion deletes version n of layer name. Deleting a version
// that does not exist is not an error (as in AWS). Functions that use it
// keep it.
func (r *Registry) DeleteLayerVersion(ctx context.Context, name string, n int64) error {
	var sha string
	_, err := r.mutateLayer(ctx, name, false, func(rec *layerRecord) error {
		v := rec.live(n)
		if v == nil {
			return errNoChange
		}
		v.Deleted = true
		v.Policy = nil
		sha = v.Content.CodeSha256
		return nil
	})
	if errors.Is(err, errNoLayer) {
		return nil
	}
	if err != nil {
		return err
	}
	if sha != "" {
		r.gcCode(ctx, sha)
	}
	return nil
}

// FunctionLayer is a layer version a function may use, as CreateFunction
// and UpdateFunctionConfiguration resolve it.
type FunctionLayer struct {
	function.Layer
	UnzippedSize int64
}

// FunctionLayers resolves the layer versions of this account and region
// that a configuration names (each a parsed layer version ARN): each must
// exist, unless keep lists it (a version the function already uses, which
// it keeps after the version is deleted, as in AWS). A missing one is
// InvalidParameterValueException "Layer version <arn> does not exist.".
func (r *Registry) FunctionLayers(ctx context.Context, refs []function.LayerRef, keep []function.Layer) ([]FunctionLayer, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	out := make([]FunctionLayer, 0, len(refs))
	for _, ref := range refs {
		arn := function.LayerVersionARN(r.region, r.account, ref.Name, ref.Version)
		rec := r.cache.layer(ref.Name)
		var v *layerVersionRec
		if rec != nil {
			v = rec.Versions[strconv.FormatInt(ref.Version, 10)]
		}
		kept := slices.ContainsFunc(keep, func(l function.Layer) bool { return l.Arn == arn })
		if v == nil || v.Deleted && !kept {
			return nil, awsapi.InvalidParameter("Layer version %s does not exist.", arn)
		}
		out = append(out, FunctionLayer{
			Layer:        function.Layer{Arn: arn, CodeSize: v.Content.CodeSize, CodeSha256: v.Content.CodeSha256},
			UnzippedSize: v.UnzippedSize,
		})
	}
	return out, nil
}

// LayersUnzippedSize is the unzipped size of the layer versions layers
// (deleted ones included).
func (r *Registry) LayersUnzippedSize(layers []function.Layer) int64 {
	var n int64
	for _, l := range layers {
		if v := r.cache.layerVersionByARN(l.Arn); v != nil {
			n += v.UnzippedSize
		}
	}
	return n
}

// layerShas returns the packages of the layer versions layers.
func (r *Registry) layerShas(layers []function.Layer) []string {
	var out []string
	for _, l := range layers {
		if v := r.cache.layerVersionByARN(l.Arn); v != nil {
			out = append(out, v.Content.CodeSha256)
		}
	}
	return out
}

// withLayerCodeLocked returns cfg with its layers' CodeSha256 filled in (a copy
// when there are layers); the caller holds the cache's read lock.
func (r *Registry) withLayerCodeLocked(cfg *function.Config) *function.Config {
	if len(cfg.Layers) == 0 {
		return cfg
	}
	out := *cfg
	out.Layers = slices.Clone(cfg.Layers)
	for i := range out.Layers {
		if v := r.cache.layerVersionByARNLocked(out.Layers[i].Arn); v != nil {
			out.Layers[i].CodeSha256 = v.Content.CodeSha256
		}
	}
	return &out
}

// mutateLayer is mutate for layer.<name>; with create a missing record is
// created (change sees an empty one), without it a missing record is
// errNoLayer.
func (r *Registry) mutateLayer(ctx context.Context, name string, create bool, change func(rec *layerRecord) error) (*layerRecord, error) {
	unlock := r.lockFunction(layerKey(name))
	defer unlock()
	key := layerKey(name)
	for range maxAttempts {
		rec := new(layerRecord)
		var rev uint64
		e, err := r.st.Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if !create {
				return nil, errNoLayer
			}
		case err != nil:
			return nil, fmt.Errorf("read layer %s: %w", name, err)
		default:
			if err := json.Unmarshal(e.Value, rec); err != nil {
				return nil, fmt.Errorf("decode layer %s: %w", name, err)
			}
			rev = e.Revision
		}
		if err := change(rec); errors.Is(err, errNoChange) {
			return rec, nil
		} else if err != nil {
			return nil, err
		}
		val, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("encode layer %s: %w", name, err)
		}
		var newRev uint64
		if rev == 0 {
			newRev, err = r.st.Create(ctx, key, val)
		} else {
			newRev, err = r.st.Update(ctx, key, val, rev)
		}
		switch {
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrExists), errors.Is(err, store.ErrNotFound):
			if err := conflictBackoff(ctx); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("write layer %s: %w", name, err)
		}
		r.cache.putLayer(name, rec, newRev)
		return rec, nil
	}
	return nil, errdefs.Conflict("The operation cannot be performed at this time. An update is in progress for resource: %s", function.LayerARN(r.region, r.account, name))
}

func cloneLayerVersion(v *function.LayerVersion) *function.LayerVersion {
	out := *v
	if v.Content != nil {
		c := *v.Content
		out.Content = &c
	}
	out.CompatibleRuntimes = slices.Clone(v.CompatibleRuntimes)
	out.CompatibleArchitectures = slices.Clone(v.CompatibleArchitectures)
	return &out
}
