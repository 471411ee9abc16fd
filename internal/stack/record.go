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
//	stack.events.<uuid>   its events, newest first, at most maxEvents
//	stack.name.<name>     the uuid of the live stack of that name
//	stack.export.<hex>    an export (hex of its name): owner and value
const (
	keyRecord = "stack.rec."
	keyEvents = "stack.events."
	keyName   = "stack.name."
	keyExport = "stack.export."
)

// maxEvents bounds the events kept per stack; older ones are dropped.
const maxEvents = 1000

// maxEventBytes bounds the stored events of one stack, under the bucket's
// value limit.
const maxEventBytes = 768 << 10

// maxEventProps bounds the ResourceProperties kept in one event.
const maxEventProps = 4 << 10

// KV is the part of the backbone's key-value bucket the engine uses.
// *store.Store implements it. Errors wrap store.ErrNotFound,
// store.ErrExists and store.ErrConflict.
type KV interface {
	Get(ctx context.Context, key string) (store.Entry, error)
	Create(ctx context.Context, key string, val []byte) (uint64, error)
	Update(ctx context.Context, key string, val []byte, lastRev uint64) (uint64, error)
	Delete(ctx context.Context, key string, lastRev uint64) error
	Keys(ctx context.Context, prefix string) ([]string, error)
}

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
	// Current is the deployment the stack is at (or being created with).
	Current deployment
	// Pending is the deployment an update is applying; nil otherwise.
	Pending *deployment `json:",omitempty"`
	// Resources are the resources that exist (or are being made).
	Resources map[string]*resource `json:",omitempty"`
	// Cleanup lists the resources the cleanup phase of an update (or of
	// its rollback) has still to delete, in order.
	Cleanup []string `json:",omitempty"`
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

// exportRecord is stored under keyExport.
type exportRecord struct {
	Name, Value, StackID, StackName string
}

func exportKey(name string) string {
	return fmt.Sprintf("%s%x", keyExport, name)
}

func newUUID() string { return uuid.NewString() }

// inProgress reports whether status is one an operation is running in.
func inProgress(status string) bool { return strings.HasSuffix(status, "_IN_PROGRESS") }

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

// events reads a stack's events, newest first.
func (s *Service) events(ctx context.Context, id string) ([]Event, uint64, error) {
	e, err := s.kv.Get(ctx, keyEvents+id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get stack events %s: %w", id, err)
	}
	var evs []Event
	if err := json.Unmarshal(e.Value, &evs); err != nil {
		return nil, 0, fmt.Errorf("decode stack events %s: %w", id, err)
	}
	return evs, e.Revision, nil
}

// addEvents prepends evs (oldest first) to the stored events of stack id,
// keeping at most maxEvents and maxEventBytes.
func (s *Service) addEvents(ctx context.Context, id string, evs ...Event) error {
	for range 10 {
		cur, rev, err := s.events(ctx, id)
		if err != nil {
			return err
		}
		all := make([]Event, 0, len(cur)+len(evs))
		for i := len(evs) - 1; i >= 0; i-- {
			all = append(all, evs[i])
		}
		all = append(all, cur...)
		if len(all) > maxEvents {
			all = all[:maxEvents]
		}
		b, err := json.Marshal(all)
		for err == nil && len(b) > maxEventBytes && len(all) > 1 {
			all = all[:len(all)*3/4]
			b, err = json.Marshal(all)
		}
		if err != nil {
			return fmt.Errorf("encode stack events %s: %w", id, err)
		}
		if rev == 0 {
			_, err = s.kv.Create(ctx, keyEvents+id, b)
		} else {
			_, err = s.kv.Update(ctx, keyEvents+id, b, rev)
		}
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("save stack events %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("save stack events %s: too many conflicts", id)
}
