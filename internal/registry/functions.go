package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// CreateInput is a new function.
type CreateInput struct {
	// Config holds FunctionName and the validated settings (runtime,
	// handler, role, limits, environment, ...). The registry fills in the
	// identity, code and state fields: FunctionArn, Version, CodeSha256,
	// CodeSize, LastModified, RevisionId, State and LastUpdateStatus.
	Config function.Config
	// Zip is the validated code package.
	Zip []byte
	// Tags of the function.
	Tags map[string]string
	// Publish also publishes version 1 and returns its configuration.
	Publish bool
}

// CreateFunction stores a new function (and with Publish its version 1).
// It stores the code first, so the function is Active when it returns. An
// existing function of that name is ResourceConflictException.
func (r *Registry) CreateFunction(ctx context.Context, in CreateInput) (*function.Config, error) {
	name := in.Config.FunctionName
	if err := checkNetworkTag(in.Tags); err != nil {
		return nil, err
	}
	sha := function.CodeSha256(in.Zip)
	unlock := r.lockCode(function.CodeKey(sha))
	defer unlock()
	if err := r.putCode(ctx, sha, in.Zip); err != nil {
		return nil, err
	}
	cfg := clone(&in.Config)
	cfg.FunctionArn = r.arn(name, "")
	cfg.Version = function.LatestVersion
	cfg.CodeSha256 = sha
	cfg.CodeSize = int64(len(in.Zip))
	r.touch(cfg)
	rec := &record{Latest: *cfg}
	if len(in.Tags) > 0 {
		rec.Tags = make(map[string]string, len(in.Tags))
		for k, v := range in.Tags {
			rec.Tags[k] = v
		}
	}
	var ver *function.Config
	if in.Publish {
		rec.LastVersion, rec.Versions = 1, []int{1}
		rec.PublishedFrom = latestDigest(cfg)
		ver = r.versionOf(cfg, 1, "")
	}
	val, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode function %s: %w", name, err)
	}
	rev, err := r.st.Create(ctx, fnKey(name), val)
	if errors.Is(err, store.ErrExists) {
		r.gcCodeLocked(ctx, sha)
		return nil, errdefs.Conflict("Function already exist: %s", name)
	}
	if err != nil {
		r.gcCodeLocked(ctx, sha)
		return nil, fmt.Errorf("create function %s: %w", name, err)
	}
	r.cache.putRecord(name, rec, rev)
	if ver == nil {
		return clone(&rec.Latest), nil
	}
	if err := r.writeVersion(ctx, name, 1, ver); err != nil {
		return nil, err
	}
	return clone(ver), nil
}

// touch marks cfg as just changed: a new RevisionId and LastModified, and
// the end states (see the package comment).
func (r *Registry) touch(cfg *function.Config) {
	cfg.RevisionId = r.newRevID()
	cfg.LastModified = function.FormatLastModified(r.now())
	cfg.State = function.StateActive
	cfg.StateReason, cfg.StateReasonCode = "", ""
	cfg.LastUpdateStatus = function.UpdateSuccessful
	cfg.LastUpdateStatusReason, cfg.LastUpdateStatusReasonCode = "", ""
}

// versionOf is the configuration version n gets when published from
// latest now.
func (r *Registry) versionOf(latest *function.Config, n int, description string) *function.Config {
	v := clone(latest)
	v.Version = strconv.Itoa(n)
	v.FunctionArn = r.arn(latest.FunctionName, v.Version)
	if description != "" {
		v.Description = description
	}
	r.touch(v)
	return v
}

// checkUpdatable refuses changes AWS refuses while a function is being
// created or updated, and a RevisionId that is not the current one.
func (r *Registry) checkUpdatable(cfg *function.Config, revisionID string) error {
	if cfg.State == function.StatePending {
		return errdefs.Conflict("The operation cannot be performed at this time. The function is currently in the following state: %s", cfg.State)
	}
	if cfg.LastUpdateStatus == function.UpdateInProgress {
		return errdefs.Conflict("The operation cannot be performed at this time. An update is in progress for resource: %s", cfg.FunctionArn)
	}
	if revisionID != "" && revisionID != cfg.RevisionId {
		return errRevision
	}
	return nil
}

var errRevision = awsapi.PreconditionFailed("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

// UpdateConfiguration changes the $LATEST configuration of name: apply
// gets a private copy to change (and may return a client error, which
// aborts). revisionID, when set, must be the current RevisionId
// (PreconditionFailedException otherwise). It returns the new $LATEST.
func (r *Registry) UpdateConfiguration(ctx context.Context, name, revisionID string, apply func(cfg *function.Config) error) (*function.Config, error) {
	var oldLayers []function.Layer
	rec, err := r.mutate(ctx, name, func(rec *record) error {
		if err := r.checkUpdatable(&rec.Latest, revisionID); err != nil {
			return err
		}
		oldLayers = slices.Clone(rec.Latest.Layers)
		if err := apply(&rec.Latest); err != nil {
			return err
		}
		r.touch(&rec.Latest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A deleted layer version the function no longer uses may be unused.
	for _, sha := range r.layerShas(oldLayers) {
		r.gcCode(ctx, sha)
	}
	return clone(&rec.Latest), nil
}

// CodeUpdate is an UpdateFunctionCode request.
type CodeUpdate struct {
	Zip           []byte   // validated code package
	Architectures []string // nil: unchanged
	RevisionID    string   // when set, must be the current RevisionId
	Publish       bool     // also publish a version
	DryRun        bool     // check only; store nothing
}

// UpdateCode replaces the code of $LATEST. With Publish it also publishes
// a version (or returns the newest one if nothing changed since) and
// returns that version's configuration.
func (r *Registry) UpdateCode(ctx context.Context, name string, in CodeUpdate) (*function.Config, error) {
	sha := function.CodeSha256(in.Zip)
	setCode := func(cfg *function.Config) {
		cfg.CodeSha256 = sha
		cfg.CodeSize = int64(len(in.Zip))
		if in.Architectures != nil {
			cfg.Architectures = slices.Clone(in.Architectures)
		}
		r.touch(cfg)
	}
	if in.DryRun {
		rec, _, err := r.readRecord(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := r.checkUpdatable(&rec.Latest, in.RevisionID); err != nil {
			return nil, err
		}
		setCode(&rec.Latest)
		return &rec.Latest, nil
	}

	unlock := r.lockCode(function.CodeKey(sha))
	if err := r.putCode(ctx, sha, in.Zip); err != nil {
		unlock()
		return nil, err
	}
	var oldSha string
	var pub publication
	rec, err := r.mutate(ctx, name, func(rec *record) error {
		if err := r.checkUpdatable(&rec.Latest, in.RevisionID); err != nil {
			return err
		}
		oldSha = rec.Latest.CodeSha256
		setCode(&rec.Latest)
		if in.Publish {
			pub = r.reserveVersion(ctx, name, rec, "")
		}
		return nil
	})
	if err != nil {
		r.gcCodeLocked(ctx, sha)
		unlock()
		return nil, err
	}
	unlock()
	if oldSha != sha {
		r.gcCode(ctx, oldSha)
	}
	if !in.Publish {
		return clone(&rec.Latest), nil
	}
	return r.finishPublication(ctx, name, pub)
}

// publication is the outcome of reserveVersion: an existing version to
// return, or a new one to write.
type publication struct {
	existing *function.Config
	n        int
	cfg      *function.Config
}

// reserveVersion decides what publishing rec's $LATEST yields. If nothing
// changed since the newest version was published, that version (AWS
// returns it rather than publishing a duplicate). Otherwise it reserves the
// next number in rec and builds the version's configuration.
func (r *Registry) reserveVersion(ctx context.Context, name string, rec *record, description string) publication {
	if last := rec.LastVersion; last > 0 && rec.hasVersion(last) {
		prev := r.cache.version(name, last)
		if prev == nil {
			if e, err := r.st.Get(ctx, verKey(name, last)); err == nil {
				prev = new(function.Config)
				if json.Unmarshal(e.Value, prev) != nil {
					prev = nil
				}
			}
		}
		unchanged := rec.PublishedFrom == "" || rec.PublishedFrom == latestDigest(&rec.Latest)
		if prev != nil && unchanged && samePublishedContent(&rec.Latest, prev) {
			return publication{existing: prev}
		}
	}
	n := rec.LastVersion + 1
	rec.LastVersion = n
	rec.Versions = append(rec.Versions, n)
	rec.PublishedFrom = latestDigest(&rec.Latest)
	return publication{n: n, cfg: r.versionOf(&rec.Latest, n, description)}
}

func (r *Registry) finishPublication(ctx context.Context, name string, pub publication) (*function.Config, error) {
	if pub.existing != nil {
		return clone(pub.existing), nil
	}
	if err := r.writeVersion(ctx, name, pub.n, pub.cfg); err != nil {
		return nil, err
	}
	return clone(pub.cfg), nil
}

// samePublishedContent reports whether a version published from latest
// now would equal v, ignoring identity, time, description and state (a
// version's description may be PublishVersion's rather than $LATEST's).
func samePublishedContent(latest, v *function.Config) bool {
	return publishedContent(latest, false) == publishedContent(v, false)
}

// latestDigest identifies what publishing $LATEST now would capture,
// $LATEST's description included: AWS publishes a new version after any
// change of $LATEST's code or configuration (UpdateFunctionConfiguration
// of the description alone included), and returns the newest version only
// when nothing changed.
func latestDigest(latest *function.Config) string {
	sum := sha256.Sum256([]byte(publishedContent(latest, true)))
	return hex.EncodeToString(sum[:])
}

func publishedContent(c *function.Config, withDescription bool) string {
	c = clone(c)
	c.FunctionArn, c.Version, c.RevisionId, c.LastModified = "", "", "", ""
	if !withDescription {
		c.Description = ""
	}
	c.State, c.StateReason, c.StateReasonCode = "", "", ""
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = "", "", ""
	b, _ := json.Marshal(c)
	return string(b)
}

// PublishInput is a PublishVersion request.
type PublishInput struct {
	CodeSha256  string // when set, must be $LATEST's (InvalidParameterValueException)
	RevisionID  string // when set, must be $LATEST's (PreconditionFailedException)
	Description string // the version's description; $LATEST's when empty
}

// PublishVersion publishes $LATEST as a new version, or returns the newest
// version if $LATEST has not changed since it was published.
func (r *Registry) PublishVersion(ctx context.Context, name string, in PublishInput) (*function.Config, error) {
	var pub publication
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if err := r.checkUpdatable(&rec.Latest, in.RevisionID); err != nil {
			return err
		}
		if in.CodeSha256 != "" && in.CodeSha256 != rec.Latest.CodeSha256 {
			return awsapi.InvalidParameter("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", in.CodeSha256, rec.Latest.CodeSha256)
		}
		pub = r.reserveVersion(ctx, name, rec, in.Description)
		if pub.existing != nil {
			return errNoChange
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r.finishPublication(ctx, name, pub)
}

// deleteRecord deletes fn.<name> with a revision check, retrying on
// conflict, and returns the record it deleted.
func (r *Registry) deleteRecord(ctx context.Context, name string) (*record, error) {
	unlock := r.lockFunction(name)
	defer unlock()
	for range maxAttempts {
		cur, rev, err := r.readRecord(ctx, name)
		if err != nil {
			return nil, err
		}
		err = r.st.Delete(ctx, fnKey(name), rev)
		switch {
		case errors.Is(err, store.ErrConflict):
			continue
		case errors.Is(err, store.ErrNotFound):
			return nil, r.functionNotFound(name, "")
		case err != nil:
			return nil, fmt.Errorf("delete function %s: %w", name, err)
		}
		r.cache.dropRecord(name, rev)
		return cur, nil
	}
	return nil, errdefs.Conflict("The operation cannot be performed at this time. An update is in progress for resource: %s", r.arn(name, ""))
}

// DeleteFunction deletes a function with all its versions and aliases.
func (r *Registry) DeleteFunction(ctx context.Context, name string) error {
	rec, err := r.deleteRecord(ctx, name)
	if err != nil {
		return err
	}
	shas := append([]string{rec.Latest.CodeSha256}, r.layerShas(rec.Latest.Layers)...)
	// Every version key, also ones a crash left behind.
	keys, err := r.st.Keys(ctx, verKeyPrefix(name))
	if err != nil {
		r.log.Warn("list versions of deleted function", "function", name, "err", err)
	}
	nums := slices.Clone(rec.Versions)
	for _, k := range keys {
		if n, err := strconv.Atoi(k[len(verKeyPrefix(name)):]); err == nil && !slices.Contains(nums, n) {
			nums = append(nums, n)
		}
	}
	for _, n := range nums {
		if cfg := r.cache.version(name, n); cfg != nil {
			shas = append(shas, cfg.CodeSha256)
			shas = append(shas, r.layerShas(cfg.Layers)...)
		}
		if err := r.deleteVersionKey(ctx, name, n); err != nil {
			r.log.Warn("delete version of deleted function", "function", name, "version", n, "err", err)
		}
	}
	slices.Sort(shas)
	for _, sha := range slices.Compact(shas) {
		r.gcCode(ctx, sha)
	}
	return nil
}

// DeleteVersion deletes published version qualifier of name. A version
// that does not exist (or a qualifier that is no version number) is not
// an error, as in AWS; a version an alias points at is
// ResourceConflictException.
func (r *Registry) DeleteVersion(ctx context.Context, name, qualifier string) error {
	n, err := strconv.Atoi(qualifier)
	if err != nil || n <= 0 || strconv.Itoa(n) != qualifier {
		n = 0
	}
	deleted := false
	_, err = r.mutate(ctx, name, func(rec *record) error {
		deleted = false
		if n == 0 || !rec.hasVersion(n) {
			return errNoChange
		}
		var users []string
		for aname, a := range rec.Aliases {
			if a.FunctionVersion == qualifier {
				users = append(users, aname)
				continue
			}
			if a.RoutingConfig != nil {
				if _, ok := a.RoutingConfig.AdditionalVersionWeights[qualifier]; ok {
					users = append(users, aname)
				}
			}
		}
		if len(users) > 0 {
			slices.Sort(users)
			return errdefs.Conflict("Unable to delete version because the following aliases reference it: [%s]", strings.Join(users, ", "))
		}
		rec.Versions = slices.DeleteFunc(rec.Versions, func(v int) bool { return v == n })
		delete(rec.EventInvokeConfigs, qualifier)
		delete(rec.Policies, qualifier)
		delete(rec.Provisioned, qualifier) // as in AWS, with the version
		deleted = true
		return nil
	})
	if err != nil || !deleted {
		return err
	}
	cfg := r.cache.version(name, n)
	if err := r.deleteVersionKey(ctx, name, n); err != nil {
		r.log.Warn("delete version key", "function", name, "version", n, "err", err)
		return nil // the record no longer lists it: it is gone for clients
	}
	if cfg != nil {
		r.gcCode(ctx, cfg.CodeSha256)
		for _, sha := range r.layerShas(cfg.Layers) {
			r.gcCode(ctx, sha)
		}
	}
	return nil
}
