package registry

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Resource-based policies (AddPermission, RemovePermission, GetPolicy)
// live in the function's record by qualifier ($LATEST, a version number
// or an alias), like function URLs, so they go with what they name. They
// are recorded and returned; Nimbus does not evaluate them yet.

// policy is one qualifier's resource policy.
type policy struct {
	// RevisionID changes with every statement added or removed.
	RevisionID string            `json:"revisionId"`
	Statements []json.RawMessage `json:"statements"`
}

// Statement is one policy statement: its Sid and its JSON.
type Statement struct {
	Sid  string
	JSON json.RawMessage
}

var errNoPolicy = errdefs.NotFound("The resource you requested does not exist.")

func statementSid(raw json.RawMessage) string {
	var s struct{ Sid string }
	_ = json.Unmarshal(raw, &s)
	return s.Sid
}

// checkQualifier refuses a qualifier that names no version or alias of rec.
func (r *Registry) checkQualifier(name string, rec *record, q string) error {
	if q == function.LatestVersion {
		return nil
	}
	if isVersionQualifier(q) {
		if _, err := r.version(name, rec, q); err != nil {
			return r.functionNotFound(name, q)
		}
		return nil
	}
	if rec.Aliases[q] == nil {
		return r.functionNotFound(name, q)
	}
	return nil
}

// AddPermission adds statement st to the policy of name:qualifier
// ("" or $LATEST for the unqualified function). revisionID, when set,
// must be the policy's current RevisionId. A Sid already in the policy is
// ResourceConflictException.
func (r *Registry) AddPermission(ctx context.Context, name, qualifier string, st Statement, revisionID string) error {
	q := urlQualifier(qualifier)
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if err := r.checkQualifier(name, rec, q); err != nil {
			return err
		}
		old := rec.Policies[q]
		if revisionID != "" && (old == nil || old.RevisionID != revisionID) {
			return errRevision
		}
		np := &policy{}
		if old != nil {
			np.Statements = slices.Clone(old.Statements)
		}
		for _, s := range np.Statements {
			if statementSid(s) == st.Sid {
				return errdefs.Conflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", st.Sid)
			}
		}
		np.Statements = append(np.Statements, st.JSON)
		np.RevisionID = r.newRevID()
		if rec.Policies == nil {
			rec.Policies = map[string]*policy{}
		}
		rec.Policies[q] = np
		return nil
	})
	return err
}

// RemovePermission removes the statement sid from the policy of
// name:qualifier.
func (r *Registry) RemovePermission(ctx context.Context, name, qualifier, sid, revisionID string) error {
	q := urlQualifier(qualifier)
	_, err := r.mutate(ctx, name, func(rec *record) error {
		if err := r.checkQualifier(name, rec, q); err != nil {
			return err
		}
		old := rec.Policies[q]
		if old == nil || len(old.Statements) == 0 {
			return errdefs.NotFound("No policy is associated with the given resource.")
		}
		if revisionID != "" && old.RevisionID != revisionID {
			return errRevision
		}
		i := slices.IndexFunc(old.Statements, func(s json.RawMessage) bool { return statementSid(s) == sid })
		if i < 0 {
			return errdefs.NotFound("Statement %s is not found in resource policy.", sid)
		}
		np := &policy{Statements: slices.Delete(slices.Clone(old.Statements), i, i+1), RevisionID: r.newRevID()}
		if len(np.Statements) == 0 {
			delete(rec.Policies, q)
			return nil
		}
		rec.Policies[q] = np
		return nil
	})
	return err
}

// Policy returns the statements of the policy of name:qualifier and its
// RevisionId; none is ResourceNotFoundException.
func (r *Registry) Policy(ctx context.Context, name, qualifier string) ([]json.RawMessage, string, error) {
	if err := r.waitReady(ctx); err != nil {
		return nil, "", err
	}
	rec := r.cache.function(name)
	if rec == nil {
		return nil, "", r.functionNotFound(name, qualifier)
	}
	q := urlQualifier(qualifier)
	if err := r.checkQualifier(name, rec, q); err != nil {
		return nil, "", err
	}
	p := rec.Policies[q]
	if p == nil || len(p.Statements) == 0 {
		return nil, "", errNoPolicy
	}
	return slices.Clone(p.Statements), p.RevisionID, nil
}
