package stack

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Change sets (CreateChangeSet, DescribeChangeSet, ExecuteChangeSet,
// DeleteChangeSet, ListChangeSets). A change set is computed at once, with
// the same checks as CreateStack/UpdateStack (prepare) and the changes
// predicted by changes; executing it starts the create or update exactly
// as CreateStack/UpdateStack would, from the template and resolved
// parameters the change set recorded.

// Change set types, statuses and execution statuses.
const (
	ChangeSetTypeCreate = "CREATE"
	ChangeSetTypeUpdate = "UPDATE"
	ChangeSetTypeImport = "IMPORT"

	ChangeSetCreateComplete = "CREATE_COMPLETE"
	ChangeSetFailed         = "FAILED"

	ExecutionUnavailable = "UNAVAILABLE"
	ExecutionAvailable   = "AVAILABLE"
	ExecutionInProgress  = "EXECUTE_IN_PROGRESS"
	ExecutionComplete    = "EXECUTE_COMPLETE"
	ExecutionFailed      = "EXECUTE_FAILED"
	ExecutionObsolete    = "OBSOLETE"

	// StatusReviewInProgress is a stack a CREATE change set made, with no
	// resources until the change set is executed.
	StatusReviewInProgress = "REVIEW_IN_PROGRESS"

	// ReasonNoChanges is the status reason of a change set that changes
	// nothing (the AWS CLI's deploy recognises it).
	ReasonNoChanges = "The submitted information didn't contain changes. Submit different information to create a change set."

	CodeChangeSetNotFound       = "ChangeSetNotFound"
	CodeInvalidChangeSetStatus  = "InvalidChangeSetStatus"
	maxChangeSetName            = 128
	maxChangeSetsPerStack       = 20
	keyChangeSet                = "stack.cs." // stack.cs.<stack uuid>.<change set uuid>
	changeSetARNResourcePrefix  = "changeSet/"
	changeSetNameConstraintText = "[a-zA-Z][-a-zA-Z0-9]*"
)

// ChangeSetInput is CreateChangeSet's input.
type ChangeSetInput struct {
	UpdateInput
	ChangeSetName string
	// ChangeSetType is CREATE or UPDATE (the default); IMPORT is refused.
	ChangeSetType string
	Description   string
}

// ExecuteInput is ExecuteChangeSet's input.
type ExecuteInput struct {
	ChangeSetName   string // name or id (ARN)
	StackName       string // name or id; required with a change set name
	DisableRollback bool
}

// ChangeSet is a change set as DescribeChangeSet shows it (ListChangeSets
// leaves Changes, Parameters, Capabilities and Tags out).
type ChangeSet struct {
	ID, Name, StackID, StackName, Description string
	Type                                      string
	Status, StatusReason, ExecutionStatus     string
	CreationTime                              time.Time
	Parameters                                []Parameter
	Capabilities                              []string
	Tags                                      map[string]string
	Changes                                   []ResourceChange
}

// changeSetRecord is a change set as stored.
type changeSetRecord struct {
	UUID, ID, Name, StackUUID string
	Type                      string
	Description               string `json:",omitempty"`
	Status, StatusReason      string
	Execution                 string
	Created                   time.Time
	// Base is the stack's last update time when the change set was made:
	// once the stack has been updated since, the change set is obsolete.
	Base            time.Time         `json:",omitzero"`
	Template        string            // as submitted (or the previous one)
	Processed       string            `json:",omitempty"` // after the transform
	Params          []param           // resolved
	Capabilities    []string          `json:",omitempty"`
	Tags            map[string]string `json:",omitempty"`
	SkipUnsupported bool              `json:",omitempty"`
	Changes         []ResourceChange  `json:",omitempty"`
	// RoleARN is the service role executing it acts as (else the
	// stack's, else the caller of ExecuteChangeSet).
	RoleARN string `json:",omitempty"`
}

func changeSetKey(stackUUID, id string) string { return keyChangeSet + stackUUID + "." + id }

func changeSetNotFound(name string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusNotFound, Code: CodeChangeSetNotFound, Type: "User",
		Message: "ChangeSet [" + name + "] does not exist"}
}

func checkChangeSetName(name string) error {
	if validStackName(name) && len(name) <= maxChangeSetName {
		return nil
	}
	if name == "" || len(name) > maxChangeSetName {
		return validationError("1 validation error detected: Value '%s' at 'changeSetName' failed to satisfy constraint: "+
			"Member must have length between 1 and %d", truncate(name, 200), maxChangeSetName)
	}
	return validationError("1 validation error detected: Value '%s' at 'changeSetName' failed to satisfy constraint: "+
		"Member must satisfy regular expression pattern: %s", name, changeSetNameConstraintText)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// CreateChangeSet computes a change set and returns its id and the stack's.
// A CREATE change set of a new stack records the stack REVIEW_IN_PROGRESS,
// with no resources, as CloudFormation does. A change set that changes
// nothing is recorded FAILED with ReasonNoChanges.
func (s *Service) CreateChangeSet(ctx context.Context, in ChangeSetInput) (string, string, error) {
	if err := checkChangeSetName(in.ChangeSetName); err != nil {
		return "", "", err
	}
	switch in.ChangeSetType {
	case "":
		in.ChangeSetType = ChangeSetTypeUpdate
	case ChangeSetTypeCreate, ChangeSetTypeUpdate:
	case ChangeSetTypeImport:
		return "", "", validationError("ChangeSetType IMPORT is not supported by Nimbus: it cannot import existing resources into a stack.")
	default:
		return "", "", validationError("1 validation error detected: Value '%s' at 'changeSetType' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [CREATE, UPDATE, IMPORT]", truncate(in.ChangeSetType, 64))
	}
	if err := s.checkRoleARN(ctx, in.RoleARN); err != nil {
		return "", "", err
	}
	if in.ChangeSetType == ChangeSetTypeCreate {
		return s.createChangeSetNew(ctx, in)
	}
	return s.createChangeSetUpdate(ctx, in)
}

// createChangeSetNew makes a CREATE change set, and the stack
// REVIEW_IN_PROGRESS unless it is already.
func (s *Service) createChangeSetNew(ctx context.Context, in ChangeSetInput) (string, string, error) {
	if err := checkStackName(in.StackName); err != nil {
		return "", "", err
	}
	if in.UsePreviousTemplate {
		return "", "", validationError("UsePreviousTemplate cannot be used with ChangeSetType CREATE.")
	}
	if len(in.UsePrevious) > 0 {
		return "", "", validationError("Invalid input for parameter key %s. UsePreviousValue can only be used when updating a stack", in.UsePrevious[0])
	}
	rec, _, err := s.lookup(ctx, in.StackName)
	isNew := false
	switch {
	case err == nil && rec.Status != StatusReviewInProgress:
		return "", "", cfnErr(CodeAlreadyExists, "Stack [%s] already exists and cannot be created again with the changeSet [%s].", in.StackName, in.ChangeSetName)
	case err == nil:
	case awsapi.HasCode(err, CodeValidationError):
		if err := s.nameFree(ctx, in.StackName); err != nil {
			return "", "", err
		}
		id := newUUID()
		isNew = true
		rec = &record{UUID: id, ID: stackARN(s.region, s.account, in.StackName, id), Name: in.StackName,
			Status: StatusReviewInProgress, StatusReason: reasonUserInitiated, Created: s.now()}
	default:
		return "", "", err
	}
	skip := skipUnsupported(in.SkipUnsupported, in.Tags)
	p, err := s.prepare(planInput{
		ctx: ctx, name: in.StackName, stackID: rec.ID, body: in.TemplateBody, overrides: in.Parameters,
		capabilities: in.Capabilities, skipUnsupported: skip,
	})
	if err != nil {
		return "", "", err
	}
	if isNew {
		if err := s.recordReview(ctx, rec); err != nil {
			return "", "", err
		}
	}
	cs := s.newChangeSet(rec, in, p, skip, in.Tags)
	cs.Changes = s.changes(ctx, rec, p)
	if err := s.saveChangeSet(ctx, rec, cs); err != nil {
		return "", "", err
	}
	return cs.ID, rec.ID, nil
}

// recordReview records a new REVIEW_IN_PROGRESS stack and claims its name.
func (s *Service) recordReview(ctx context.Context, rec *record) error {
	rev, err := s.saveRecord(ctx, rec, 0)
	if err != nil {
		return err
	}
	if _, err := s.kv.Create(ctx, keyName+rec.Name, []byte(rec.UUID)); err != nil {
		if derr := s.kv.Delete(ctx, keyRecord+rec.UUID, rev); derr != nil {
			s.log.Warn("drop stack record", "stack", rec.Name, "err", derr)
		}
		if errors.Is(err, store.ErrExists) {
			return cfnErr(CodeAlreadyExists, "Stack [%s] already exists", rec.Name)
		}
		return fmt.Errorf("claim stack name %s: %w", rec.Name, err)
	}
	if err := s.stackEvent(ctx, rec); err != nil {
		s.log.Warn("record stack event", "stack", rec.Name, "err", err)
	}
	return nil
}

// createChangeSetUpdate makes an UPDATE change set of an existing stack.
func (s *Service) createChangeSetUpdate(ctx context.Context, in ChangeSetInput) (string, string, error) {
	rec, _, err := s.lookup(ctx, in.StackName)
	if awsapi.HasCode(err, CodeValidationError) {
		return "", "", validationError("Stack [%s] does not exist", in.StackName)
	}
	if err != nil {
		return "", "", err
	}
	if !updatable(rec.Status) {
		return "", "", validationError("Stack:%s is in %s state and can not be updated.", rec.ID, rec.Status)
	}
	body := in.TemplateBody
	if in.UsePreviousTemplate {
		if body != "" {
			return "", "", validationError("You cannot specify both usePreviousTemplate and Template Body")
		}
		body = rec.Current.Template
	}
	tags := rec.Tags
	if in.Tags != nil {
		tags = in.Tags
	}
	skip := skipUnsupported(in.SkipUnsupported, tags)
	p, err := s.prepare(planInput{
		ctx: ctx, name: rec.Name, stackID: rec.ID, body: body,
		overrides: in.Parameters, usePrevious: in.UsePrevious, prev: rec.Current.Params,
		capabilities: in.Capabilities, skipUnsupported: skip,
	})
	if err != nil {
		return "", "", err
	}
	cs := s.newChangeSet(rec, in, p, skip, tags)
	if body == rec.Current.Template && slices.Equal(p.dep.Params, rec.Current.Params) && maps.Equal(tags, rec.Tags) {
		cs.Status, cs.StatusReason, cs.Execution = ChangeSetFailed, ReasonNoChanges, ExecutionUnavailable
	} else {
		cs.Changes = s.changes(ctx, rec, p)
	}
	if err := s.saveChangeSet(ctx, rec, cs); err != nil {
		return "", "", err
	}
	return cs.ID, rec.ID, nil
}

func (s *Service) newChangeSet(rec *record, in ChangeSetInput, p *plan, skip bool, tags map[string]string) *changeSetRecord {
	id := newUUID()
	return &changeSetRecord{
		UUID: id, ID: "arn:aws:cloudformation:" + s.region + ":" + s.account + ":" + changeSetARNResourcePrefix + in.ChangeSetName + "/" + id,
		Name: in.ChangeSetName, StackUUID: rec.UUID, Type: in.ChangeSetType, Description: in.Description,
		Status: ChangeSetCreateComplete, Execution: ExecutionAvailable, Created: s.now(), Base: rec.Updated,
		Template: p.dep.Template, Processed: p.dep.Processed, Params: p.dep.Params, Capabilities: in.Capabilities, Tags: tags, SkipUnsupported: skip,
		RoleARN: in.RoleARN,
	}
}

// saveChangeSet stores a new change set of rec. A stack keeps at most
// maxChangeSetsPerStack: the oldest that can no longer be executed makes
// room; with none, the request is refused.
func (s *Service) saveChangeSet(ctx context.Context, rec *record, cs *changeSetRecord) error {
	all, err := s.changeSetsOf(ctx, rec.UUID)
	if err != nil {
		return err
	}
	for _, c := range all {
		if c.cs.Name == cs.Name {
			return cfnErr(CodeAlreadyExists, "ChangeSet [%s] already exists", cs.Name)
		}
	}
	if len(all) >= maxChangeSetsPerStack {
		i := slices.IndexFunc(all, func(c storedChangeSet) bool { return s.executionStatus(rec, c.cs) != ExecutionAvailable })
		if i < 0 {
			return cfnErr(CodeLimitExceeded, "Stack [%s] has %d change sets that can be executed; delete some with DeleteChangeSet before creating another.",
				rec.Name, len(all))
		}
		if err := s.kv.Delete(ctx, changeSetKey(rec.UUID, all[i].cs.UUID), all[i].rev); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("drop change set %s: %w", all[i].cs.Name, err)
		}
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return fmt.Errorf("encode change set %s: %w", cs.Name, err)
	}
	if _, err := s.kv.Create(ctx, changeSetKey(rec.UUID, cs.UUID), b); err != nil {
		return fmt.Errorf("save change set %s: %w", cs.Name, err)
	}
	return nil
}

type storedChangeSet struct {
	cs  *changeSetRecord
	rev uint64
}

// changeSetsOf returns a stack's change sets, oldest first.
func (s *Service) changeSetsOf(ctx context.Context, stackUUID string) ([]storedChangeSet, error) {
	keys, err := s.kv.Keys(ctx, keyChangeSet+stackUUID+".")
	if err != nil {
		return nil, fmt.Errorf("list change sets: %w", err)
	}
	out := make([]storedChangeSet, 0, len(keys))
	for _, k := range keys {
		c, rev, err := s.loadChangeSet(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, storedChangeSet{c, rev})
	}
	slices.SortFunc(out, func(a, b storedChangeSet) int {
		return cmp.Or(a.cs.Created.Compare(b.cs.Created), cmp.Compare(a.cs.UUID, b.cs.UUID))
	})
	return out, nil
}

func (s *Service) loadChangeSet(ctx context.Context, key string) (*changeSetRecord, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("get change set: %w", err)
	}
	c := new(changeSetRecord)
	if err := json.Unmarshal(e.Value, c); err != nil {
		return nil, 0, fmt.Errorf("decode change set %s: %w", key, err)
	}
	return c, e.Revision, nil
}

// splitChangeSetARN returns the name and uuid of a change set id.
func splitChangeSetARN(s string) (name, id string, ok bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "cloudformation" {
		return "", "", false
	}
	rest, found := strings.CutPrefix(parts[5], changeSetARNResourcePrefix)
	if !found {
		return "", "", false
	}
	name, id, found = strings.Cut(rest, "/")
	return name, id, found && name != "" && id != "" && !strings.ContainsAny(id, "./*>")
}

// findChangeSet finds a change set by id, or by name within a stack.
func (s *Service) findChangeSet(ctx context.Context, nameOrID, stackName string) (*record, *changeSetRecord, uint64, error) {
	if strings.HasPrefix(nameOrID, "arn:") {
		_, id, ok := splitChangeSetARN(nameOrID)
		if !ok {
			return nil, nil, 0, changeSetNotFound(nameOrID)
		}
		keys, err := s.kv.Keys(ctx, keyChangeSet)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("list change sets: %w", err)
		}
		for _, k := range keys {
			if !strings.HasSuffix(k, "."+id) {
				continue
			}
			c, rev, err := s.loadChangeSet(ctx, k)
			if err != nil || c.ID != nameOrID {
				break
			}
			rec, _, err := s.loadRecord(ctx, c.StackUUID)
			if err != nil || (stackName != "" && stackName != rec.Name && stackName != rec.ID) {
				break
			}
			return rec, c, rev, nil
		}
		return nil, nil, 0, changeSetNotFound(nameOrID)
	}
	if err := checkChangeSetName(nameOrID); err != nil {
		return nil, nil, 0, err
	}
	if stackName == "" {
		return nil, nil, 0, validationError("StackName must be specified if ChangeSetName is not specified as an ARN.")
	}
	rec, _, err := s.lookup(ctx, stackName)
	if err != nil {
		return nil, nil, 0, err
	}
	all, err := s.changeSetsOf(ctx, rec.UUID)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, c := range all {
		if c.cs.Name == nameOrID {
			return rec, c.cs, c.rev, nil
		}
	}
	return nil, nil, 0, changeSetNotFound(nameOrID)
}

// executionStatus is a change set's execution status: an executable one
// is obsolete once its stack has moved on.
func (s *Service) executionStatus(rec *record, c *changeSetRecord) string {
	if c.Execution != ExecutionAvailable {
		return c.Execution
	}
	if c.Type == ChangeSetTypeCreate && rec.Status != StatusReviewInProgress ||
		c.Type == ChangeSetTypeUpdate && (!rec.Updated.Equal(c.Base) || !updatable(rec.Status)) {
		return ExecutionObsolete
	}
	return ExecutionAvailable
}

func (s *Service) changeSetView(rec *record, c *changeSetRecord, full bool) ChangeSet {
	out := ChangeSet{
		ID: c.ID, Name: c.Name, StackID: rec.ID, StackName: rec.Name, Description: c.Description, Type: c.Type,
		Status: c.Status, StatusReason: c.StatusReason, ExecutionStatus: s.executionStatus(rec, c), CreationTime: c.Created,
	}
	if !full {
		return out
	}
	out.Capabilities, out.Tags, out.Changes = slices.Clone(c.Capabilities), maps.Clone(c.Tags), slices.Clone(c.Changes)
	for _, p := range c.Params {
		v := p.Value
		if p.NoEcho {
			v = noEchoMask
		}
		out.Parameters = append(out.Parameters, Parameter{Key: p.Key, Value: v})
	}
	return out
}

// DescribeChangeSet returns a change set with its changes.
func (s *Service) DescribeChangeSet(ctx context.Context, nameOrID, stackName string) (*ChangeSet, error) {
	rec, c, _, err := s.findChangeSet(ctx, nameOrID, stackName)
	if err != nil {
		return nil, err
	}
	v := s.changeSetView(rec, c, true)
	return &v, nil
}

// ChangeSetTemplate returns a change set's template as submitted
// ("Original", the default) or after the SAM transform ("Processed").
func (s *Service) ChangeSetTemplate(ctx context.Context, nameOrID, stackName, stage string) (string, error) {
	_, c, _, err := s.findChangeSet(ctx, nameOrID, stackName)
	if err != nil {
		return "", err
	}
	switch stage {
	case "", "Original":
		return c.Template, nil
	case "Processed":
		return cmp.Or(c.Processed, c.Template), nil
	}
	return "", validationError("1 validation error detected: Value '%s' at 'templateStage' failed to satisfy constraint: "+
		"Member must satisfy enum value set: [Original, Processed]", truncate(stage, 64))
}

// ListChangeSets lists a stack's change sets, oldest first.
func (s *Service) ListChangeSets(ctx context.Context, stackName string) ([]ChangeSet, error) {
	rec, _, err := s.lookup(ctx, stackName)
	if err != nil {
		return nil, err
	}
	all, err := s.changeSetsOf(ctx, rec.UUID)
	if err != nil {
		return nil, err
	}
	out := make([]ChangeSet, 0, len(all))
	for _, c := range all {
		out = append(out, s.changeSetView(rec, c.cs, false))
	}
	return out, nil
}

// DeleteChangeSet deletes a change set that is not being executed. The
// REVIEW_IN_PROGRESS stack of a CREATE change set stays (DeleteStack
// deletes it).
func (s *Service) DeleteChangeSet(ctx context.Context, nameOrID, stackName string) error {
	rec, c, rev, err := s.findChangeSet(ctx, nameOrID, stackName)
	if err != nil {
		return err
	}
	if c.Execution == ExecutionInProgress {
		return cfnErr(CodeInvalidChangeSetStatus, "ChangeSet [%s] cannot be deleted while in status %s", c.ID, c.Execution)
	}
	if err := s.kv.Delete(ctx, changeSetKey(rec.UUID, c.UUID), rev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete change set %s: %w", c.Name, err)
	}
	return nil
}

// ExecuteChangeSet starts the create or update a change set describes, in
// the background, as CreateStack/UpdateStack do; the stack's other change
// sets become obsolete.
func (s *Service) ExecuteChangeSet(ctx context.Context, in ExecuteInput) error {
	rec, c, csRev, err := s.findChangeSet(ctx, in.ChangeSetName, in.StackName)
	if err != nil {
		return err
	}
	if st := s.executionStatus(rec, c); c.Status != ChangeSetCreateComplete || st != ExecutionAvailable {
		if c.Status != ChangeSetCreateComplete {
			st = c.Status
		}
		return cfnErr(CodeInvalidChangeSetStatus, "ChangeSet [%s] cannot be executed in its current status of [%s]", c.ID, st)
	}
	id := rec.UUID
	if err := s.reserve(id); err != nil {
		return err
	}
	rec, rev, err := s.loadRecord(ctx, id)
	if err == nil && s.executionStatus(rec, c) != ExecutionAvailable {
		err = cfnErr(CodeInvalidChangeSetStatus, "ChangeSet [%s] cannot be executed in its current status of [%s]", c.ID, ExecutionObsolete)
	}
	var p *plan
	if err == nil {
		overrides := map[string]string{}
		for _, prm := range c.Params {
			overrides[prm.Key] = prm.Value
		}
		p, err = s.prepare(planInput{
			ctx: ctx, name: rec.Name, stackID: rec.ID, body: c.Template, overrides: overrides, prev: rec.Current.Params,
			capabilities: c.Capabilities, skipUnsupported: c.SkipUnsupported,
		})
	}
	if err != nil {
		s.release(id)
		return err
	}
	run := (*op).runUpdate
	if c.Type == ChangeSetTypeCreate {
		run = (*op).runCreate
		rec.Status, rec.Current, rec.Resources = StatusCreateInProgress, p.dep, map[string]*resource{}
		rec.DisableRollback = in.DisableRollback
	} else {
		rec.Status, rec.Pending, rec.Updated = StatusUpdateInProgress, &p.dep, s.now()
	}
	rec.StatusReason, rec.ChangeSet = reasonUserInitiated, c.UUID
	s.actFor(ctx, rec, c.RoleARN)
	rec.Capabilities, rec.Tags, rec.SkipUnsupported = c.Capabilities, c.Tags, c.SkipUnsupported
	c.Execution = ExecutionInProgress
	if csRev, err = s.putChangeSet(ctx, c, csRev); err != nil {
		s.release(rec.UUID)
		return err
	}
	if rev, err = s.saveRecord(ctx, rec, rev); err != nil {
		s.release(rec.UUID)
		c.Execution = ExecutionAvailable
		if _, perr := s.putChangeSet(ctx, c, csRev); perr != nil {
			s.log.Warn("restore change set", "stack", rec.Name, "err", perr)
		}
		return err
	}
	if err := s.stackEvent(ctx, rec); err != nil {
		s.log.Warn("record stack event", "stack", rec.Name, "err", err)
	}
	s.obsoleteOthers(ctx, rec, c.UUID)
	s.launch(rec, rev, p, run)
	return nil
}

func (s *Service) putChangeSet(ctx context.Context, c *changeSetRecord, rev uint64) (uint64, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return 0, fmt.Errorf("encode change set %s: %w", c.Name, err)
	}
	rev, err = s.kv.Update(ctx, changeSetKey(c.StackUUID, c.UUID), b, rev)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, changeSetNotFound(c.Name)
	case errors.Is(err, store.ErrConflict):
		return 0, cfnErr(CodeInvalidChangeSetStatus, "ChangeSet [%s] is being changed by another request; try again.", c.ID)
	case err != nil:
		return 0, fmt.Errorf("save change set %s: %w", c.Name, err)
	}
	return rev, nil
}

// obsoleteOthers marks the stack's other executable change sets obsolete.
func (s *Service) obsoleteOthers(ctx context.Context, rec *record, keep string) {
	all, err := s.changeSetsOf(ctx, rec.UUID)
	if err != nil {
		s.log.Warn("list change sets", "stack", rec.Name, "err", err)
		return
	}
	for _, c := range all {
		if c.cs.UUID == keep || c.cs.Execution != ExecutionAvailable {
			continue
		}
		c.cs.Execution = ExecutionObsolete
		if _, err := s.putChangeSet(ctx, c.cs, c.rev); err != nil {
			s.log.Warn("mark change set obsolete", "stack", rec.Name, "err", err)
		}
	}
}

// afterFinalStatus is called by an operation that reached a final status:
// the change set it executed (if any) records the outcome, and a deleted
// stack's change sets go.
func (s *Service) afterFinalStatus(ctx context.Context, rec *record, changeSet, status string) {
	if status == StatusDeleteComplete {
		all, err := s.changeSetsOf(ctx, rec.UUID)
		if err != nil {
			s.log.Warn("list change sets", "stack", rec.Name, "err", err)
			return
		}
		for _, c := range all {
			if err := s.kv.Delete(ctx, changeSetKey(rec.UUID, c.cs.UUID), c.rev); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("delete change set", "stack", rec.Name, "err", err)
			}
		}
		return
	}
	if changeSet == "" {
		return
	}
	c, rev, err := s.loadChangeSet(ctx, changeSetKey(rec.UUID, changeSet))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("load change set", "stack", rec.Name, "err", err)
		}
		return
	}
	c.Execution = ExecutionFailed
	if status == StatusCreateComplete || status == StatusUpdateComplete {
		c.Execution = ExecutionComplete
	}
	if _, err := s.putChangeSet(ctx, c, rev); err != nil {
		s.log.Warn("record change set outcome", "stack", rec.Name, "err", err)
	}
}
