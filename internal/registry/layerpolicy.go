package registry

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
)

// Layer version permissions (AddLayerVersionPermission and friends) are
// recorded in the version's entry of the layer record and returned; Nimbus
// serves one account, so it never has to evaluate them.

var errLayerRevision = awsapi.PreconditionFailed("The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")

// AddLayerVersionPermission adds statement st to the policy of version n
// of layer name and returns the policy's new RevisionId.
func (r *Registry) AddLayerVersionPermission(ctx context.Context, name string, n int64, st Statement, revisionID string) (string, error) {
	var rev string
	_, err := r.mutateLayer(ctx, name, false, func(rec *layerRecord) error {
		v := rec.live(n)
		if v == nil {
			return r.layerVersionNotFound(name, n)
		}
		old := v.Policy
		np := &policy{}
		if old != nil {
			np.Statements = slices.Clone(old.Statements)
		}
		for _, s := range np.Statements {
			if statementSid(s) == st.Sid {
				return errdefs.Conflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", st.Sid)
			}
		}
		if revisionID != "" && (old == nil || old.RevisionID != revisionID) {
			return errLayerRevision
		}
		np.Statements = append(np.Statements, st.JSON)
		np.RevisionID = r.newRevID()
		v.Policy = np
		rev = np.RevisionID
		return nil
	})
	if errors.Is(err, errNoLayer) {
		return "", r.layerVersionNotFound(name, n)
	}
	return rev, err
}

// RemoveLayerVersionPermission removes statement sid from the policy of
// version n of layer name.
func (r *Registry) RemoveLayerVersionPermission(ctx context.Context, name string, n int64, sid, revisionID string) error {
	_, err := r.mutateLayer(ctx, name, false, func(rec *layerRecord) error {
		v := rec.live(n)
		if v == nil {
			return r.layerVersionNotFound(name, n)
		}
		old := v.Policy
		if revisionID != "" && (old == nil || old.RevisionID != revisionID) {
			return errLayerRevision
		}
		var i = -1
		if old != nil {
			i = slices.IndexFunc(old.Statements, func(s json.RawMessage) bool { return statementSid(s) == sid })
		}
		if i < 0 {
			return errdefs.NotFound("Statement %s is not found in resource policy.", sid)
		}
		np := &policy{Statements: slices.Delete(slices.Clone(old.Statements), i, i+1), RevisionID: r.newRevID()}
		if len(np.Statements) == 0 {
			np = nil
		}
		v.Policy = np
		return nil
	})
	if errors.Is(err, errNoLayer) {
		return r.layerVersionNotFound(name, n)
	}
	return err
}

// LayerVersionPolicy returns the statements of the policy of version n of
// layer name and its RevisionId.
func (r *Registry) LayerVersionPolicy(ctx context.Context, name string, n int64) ([]json.RawMessage, string, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, "", err
	}
	rec := r.cache.layer(name)
	if rec == nil || rec.live(n) == nil {
		return nil, "", r.layerVersionNotFound(name, n)
	}
	p := rec.live(n).Policy
	if p == nil || len(p.Statements) == 0 {
		return nil, "", errdefs.NotFound("No policy is associated with the given resource.")
	}
	return slices.Clone(p.Statements), p.RevisionID, nil
}
