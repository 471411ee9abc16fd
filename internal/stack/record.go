package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Keys in the backbone's state bucket:
//
//	stack.rec.<uuid>      the stack record (JSON record)
//	stack.events.<uuid>   its latest events, newest first (events.go)
//	stack.oldevents.<uuid> older events, newest first
//	stack.name.<name>     the uuid of the live stack of that name
//	stack.export.<hex>    an export (hex of its name): owner and value
const (
	keyRecord    = "stack.rec."
	keyEvents    = "stack.events."
	keyOldEvents = "stack.oldevents."
	keyName      = "stack.name."
	keyExport    = "stack.export."
)

// record is a stack as stored.
type record struct {
	UUID, ID, Name       string
	Status, StatusReason string
	Created              time.Time
	Updated, Deleted     time.Time         `json:",omitzero"`
	Capabilities         []string          `json:",omitempty"`
	Tags                 map[string]string `json:",omitempty"`
	DisableRollback      bool              `json:",omitempty"`
	SkipUnsupported      bool              `json:",omitempty"`
	// ParentID and RootID are a nested stack's parent and root stacks.
	ParentID string `json:",omitempty"`
	RootID   string `json:",omitempty"`
	// Current is the deployment the stack is at (or being created with).
	Current deployment
	// Pending is the deployment an update is applying; nil otherwise.
	Pending *deployment `json:",omitempty"`
	// Resources are the resources that exist (or are being made).
	Resources map[string]*resource `json:",omitempty"`
	// Cleanup lists the resources the cleanup phase of an update (or of
	// its rollback) has still to delete, in order.
	Cleanup []string `json:",omitempty"`
	// ChangeSet is the change set (uuid) the running operation executes.
	ChangeSet string `json:",omitempty"`
	// RoleARN is the stack's service role: its operations act as it.
	RoleARN string `json:",omitempty"`
	// Actor is who the last operation (the running one, while the stack
	// is *_IN_PROGRESS) was asked by: without a RoleARN it acts as them
	// (acting.go). Nil for stacks recorded before it was kept.
	Actor *Actor `json:",omitempty"`
}

// deployment is one version of a stack: a template with its parameters
// and what came of them.
type deployment struct {
	Template    string // as submitted
	Processed   string `json:",omitempty"` // after the transform, if any
	Description string `json:",omitempty"`
	Params      []param
	// Order lists the resources of this deployment in creation order.
	Order   []string
	Outputs []Output `json:",omitempty"`
	// Imports are the exports this deployment's template imports.
	Imports []string `json:",omitempty"`
}

// param is a parameter's submitted and resolved value.
type param struct {
	Key    string
	Value  string // resolved: the override or the default; lists joined with ","
	NoEcho bool   `json:",omitempty"`
}

// resource is a resource as the stack records it.
type resource struct {
	Resource
	Status, StatusReason string
	Updated              time.Time
	DeletionPolicy       string `json:",omitempty"`
	UpdateReplacePolicy  string `json:",omitempty"`
	// Prev is what the running update changed this resource from: the
	// previous properties (an in-place update) or, with Replaced, the
	// previous physical resource, deleted at cleanup.
	Prev     *Resource `json:",omitempty"`
	Replaced bool      `json:",omitempty"`
	// Created marks a resource the running operation made.
	Created bool `json:",omitempty"`
}

// maxExportName bounds export names (CloudFormation's limit), which keeps
// their keys (hex) within the store's.
const maxExportName = 255

// exportRecord is stored under keyExport.
type exportRecord struct {
	Name, Value, StackID, StackName string
}

func exportKey(name string) string {
	return fmt.Sprintf("%s%x", keyExport, name)
}

func newUUID() string { return uuid.NewString() }

// inProgress reports whether status is one an operation is running in
// (REVIEW_IN_PROGRESS, a stack waiting for its first change set, is not).
func inProgress(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") && status != StatusReviewInProgress
}

// loadRecord reads the record of stack uuid.
func (s *Service) loadRecord(ctx context.Context, id string) (*record, uint64, error) {
	e, err := s.kv.Get(ctx, keyRecord+id)
	if err != nil {
		return nil, 0, fmt.Errorf("get stack %s: %w", id, err)
	}
	rec := new(record)
	if err := json.Unmarshal(e.Value, rec); err != nil {
		return nil, 0, fmt.Errorf("decode stack %s: %w", id, err)
	}
	return rec, e.Revision, nil
}

// lookup finds a stack by name (live stacks only) or by stack id (deleted
// ones too). A stack that does not exist is CloudFormation's
// ValidationError "Stack with id X does not exist".
func (s *Service) lookup(ctx context.Context, nameOrID string) (*record, uint64, error) {
	notFound := validationError("Stack with id %s does not exist", nameOrID)
	id := ""
	if _, u, ok := splitStackARN(nameOrID); ok {
		id = u
	} else {
		if !validStackName(nameOrID) {
			return nil, 0, notFound
		}
		e, err := s.kv.Get(ctx, keyName+nameOrID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, notFound
		}
		if err != nil {
			return nil, 0, fmt.Errorf("get stack name %s: %w", nameOrID, err)
		}
		id = string(e.Value)
	}
	rec, rev, err := s.loadRecord(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, notFound
	}
	if err != nil {
		return nil, 0, err
	}
	if rec.ID != nameOrID && (rec.Name != nameOrID || rec.Status == StatusDeleteComplete) {
		return nil, 0, notFound
	}
	return rec, rev, nil
}

// records returns every stored stack record.
func (s *Service) records(ctx context.Context) ([]*record, error) {
	keys, err := s.kv.Keys(ctx, keyRecord)
	if err != nil {
		return nil, fmt.Errorf("list stacks: %w", err)
	}
	out := make([]*record, 0, len(keys))
	for _, k := range keys {
		rec, _, err := s.loadRecord(ctx, strings.TrimPrefix(k, keyRecord))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// saveRecord writes rec over revision rev and returns the new revision.
func (s *Service) saveRecord(ctx context.Context, rec *record, rev uint64) (uint64, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encode stack %s: %w", rec.Name, err)
	}
	if rev == 0 {
		rev, err = s.kv.Create(ctx, keyRecord+rec.UUID, b)
	} else {
		rev, err = s.kv.Update(ctx, keyRecord+rec.UUID, b, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("save stack %s: %w", rec.Name, err)
	}
	return rev, nil
}
