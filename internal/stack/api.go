package stack

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// SkipUnsupportedTag is the stack tag that carries the CLI's
// --skip-unsupported (CreateInput.SkipUnsupported).
const SkipUnsupportedTag = "nimbus:skip-unsupported"

// noEchoMask replaces the value of a NoEcho parameter in DescribeStacks.
const noEchoMask = "****"

// Options configure New.
type Options struct {
	// Store holds the stacks (keys "stack.*"). Required.
	Store store.KV
	// Providers make the resources of each supported type.
	Providers map[string]Provider
	// Artifacts is the artifact store providers read code from; the engine
	// only hands it on (Service.Artifacts).
	Artifacts *Artifacts
	// Region and AccountID are the pseudo parameters' values and appear in
	// stack ids; defaults us-east-1 and 000000000000.
	Region, AccountID string
	Logger            *slog.Logger
	// Now is the clock of events and stack times; time.Now if nil.
	Now func() time.Time
	// ResourceTimeout bounds one provider call (default 10 minutes); a
	// call that takes longer fails its resource.
	ResourceTimeout time.Duration
	// Parallelism is how many resources of one stack are created or
	// updated at once (default 4; 1 applies them one by one).
	Parallelism int
	// Secrets answers dynamic references ({{resolve:...}}) and parameters
	// of type AWS::SSM::Parameter::Value<...>; nil refuses them.
	Secrets SecretSource
	// Includes reads the snippets AWS::Include names in a bucket; nil
	// refuses them.
	Includes IncludeReader
	// CodeAccess judges the caller's access to code locations in the
	// node's buckets (Lambda functions and layers); nil allows all.
	CodeAccess CodeAccess
	// Identity names the callers of the API, whom (or whose service
	// role) operations act as (acting.go); nil: provider calls carry no
	// Actor and act as the credentials the providers were built with.
	Identity Identity
}

// SecretSource reads Parameter Store and Secrets Manager for templates.
type SecretSource interface {
	// Resolve answers a dynamic reference with its value.
	Resolve(ctx context.Context, ref cfn.DynamicRef) (string, error)
	// Parameter reads a parameter's current value.
	Parameter(ctx context.Context, name string) (string, error)
}

// Service is the engine. It is safe for concurrent use; operations on one
// stack are serialised, different stacks proceed in parallel.
//
// Every operation runs in a goroutine the Service owns; Run waits for
// them when its context ends. An operation cut short by shutdown leaves its
// stack *_IN_PROGRESS in the store, and the next Run resumes it (rolling a
// create or an update back, finishing a cleanup or a delete).
type Service struct {
	kv         store.KV
	providers  map[string]Provider
	artifacts  *Artifacts
	region     string
	account    string
	log        *slog.Logger
	now        func() time.Time
	timeout    time.Duration
	parallel   int
	secrets    SecretSource
	includes   IncludeReader
	codeAccess CodeAccess
	identity   Identity

	base context.Context // operations' context, cancelled when Run ends
	stop context.CancelFunc
	wg   sync.WaitGroup // one per reserved stack

	mu     sync.Mutex
	active map[string]bool // guarded by mu: stacks (uuid) with an operation running or starting
	closed bool            // guarded by mu
}

// New returns a Service over opts.Store. Call Run to resume interrupted
// operations and to own the background work.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("stack: Options.Store is required")
	}
	s := &Service{
		kv: opts.Store, providers: opts.Providers, artifacts: opts.Artifacts,
		region: cmp.Or(opts.Region, "us-east-1"), account: cmp.Or(opts.AccountID, "000000000000"),
		log: opts.Logger, now: opts.Now, active: map[string]bool{},
		timeout:  cmp.Or(opts.ResourceTimeout, 10*time.Minute),
		parallel: max(cmp.Or(opts.Parallelism, 4), 1),
		secrets:  opts.Secrets, includes: opts.Includes, codeAccess: opts.CodeAccess,
		identity: opts.Identity,
	}
	if s.providers == nil {
		s.providers = map[string]Provider{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "stack")
	if s.now == nil {
		s.now = time.Now
	}
	s.base, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// Artifacts returns the artifact store the Service was given.
func (s *Service) Artifacts() *Artifacts { return s.artifacts }

// Run resumes operations a previous process left in progress and returns
// when ctx ends and every background operation has stopped. Operations
// still running then are abandoned where they are (and resumed by the next
// Run).
func (s *Service) Run(ctx context.Context) error {
	defer s.shutdown()
	recs, err := s.records(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a stop is not a failure
		}
		return fmt.Errorf("resume stacks: %w", err)
	}
	for _, r := range recs {
		if !inProgress(r.Status) || s.reserve(r.UUID) != nil {
			continue
		}
		rec, rev, err := s.loadRecord(ctx, r.UUID)
		if err != nil || !inProgress(rec.Status) {
			s.release(r.UUID)
			if err != nil {
				s.log.Error("resume stack", "stack", r.Name, "err", err)
			}
			continue
		}
		s.log.Info("resuming stack operation", "stack", rec.Name, "status", rec.Status)
		s.launch(rec, rev, nil, (*op).resume)
	}
	<-ctx.Done()
	return nil
}

func (s *Service) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
}

// reserve marks stack id as having an operation, or fails if it has one.
func (s *Service) reserve(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return awsapi.Service("The deployment engine is stopping.")
	}
	if s.active[id] {
		return validationError("Stack %s has an operation in progress.", id)
	}
	s.active[id] = true
	s.wg.Add(1)
	return nil
}

// unmark lets other requests start operations on stack id again.
func (s *Service) unmark(id string) {
	s.mu.Lock()
	delete(s.active, id)
	s.mu.Unlock()
}

// release ends a reservation: unmark, and the goroutine is done.
func (s *Service) release(id string) {
	s.unmark(id)
	s.wg.Done()
}

// launch runs fn on a reserved stack in the background.
func (s *Service) launch(rec *record, rev uint64, p *plan, fn func(*op) error) {
	go func() {
		o := &op{s: s, ctx: acting(s.base, rec), rec: rec, rev: rev, plan: p}
		defer func() {
			if !o.unmarked {
				s.unmark(rec.UUID)
			}
			s.wg.Done()
		}()
		switch err := fn(o); {
		case err == nil:
		case errors.Is(err, errAbandoned):
			s.log.Info("stack operation interrupted", "stack", rec.Name, "status", o.rec.Status)
		default:
			s.log.Error("stack operation failed", "stack", rec.Name, "status", o.rec.Status, "err", err)
		}
	}()
}

// stackEvent records the event of a stack status an API call set.
func (s *Service) stackEvent(ctx context.Context, rec *record) error {
	return s.addEvents(ctx, rec.UUID, Event{
		EventID: newUUID(), StackID: rec.ID, StackName: rec.Name,
		LogicalID: rec.Name, PhysicalID: rec.ID, ResourceType: stackResourceType,
		Status: rec.Status, StatusReason: rec.StatusReason, Timestamp: s.now(),
	})
}

// nameFree checks that no live stack has name, dropping a stale index
// entry (a stack deleted by a process that stopped before releasing it).
func (s *Service) nameFree(ctx context.Context, name string) error {
	e, err := s.kv.Get(ctx, keyName+name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get stack name %s: %w", name, err)
	}
	rec, _, err := s.loadRecord(ctx, string(e.Value))
	if err == nil && rec.Status != StatusDeleteComplete {
		return cfnErr(CodeAlreadyExists, "Stack [%s] already exists", name)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.kv.Delete(ctx, keyName+name, e.Revision); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("drop stale stack name %s: %w", name, err)
	}
	return nil
}

// releaseName drops the name index entry of a deleted stack.
func (s *Service) releaseName(ctx context.Context, rec *record) error {
	e, err := s.kv.Get(ctx, keyName+rec.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get stack name %s: %w", rec.Name, err)
	}
	if string(e.Value) != rec.UUID {
		return nil
	}
	if err := s.kv.Delete(ctx, keyName+rec.Name, e.Revision); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("release stack name %s: %w", rec.Name, err)
	}
	return nil
}

func skipUnsupported(flag bool, tags map[string]string) bool {
	return flag || tags[SkipUnsupportedTag] == "true"
}

// CreateStack records the stack as CREATE_IN_PROGRESS and applies it in the
// background; it returns the stack id at once, as CloudFormation does.
// Template, parameter and capability errors are returned here, before
// anything is recorded; resource failures roll the stack back.
func (s *Service) CreateStack(ctx context.Context, in CreateInput) (string, error) {
	if err := checkStackName(in.StackName); err != nil {
		return "", err
	}
	if err := s.nameFree(ctx, in.StackName); err != nil {
		return "", err
	}
	if err := s.checkRoleARN(ctx, in.RoleARN); err != nil {
		return "", err
	}
	id := newUUID()
	arn := stackARN(s.region, s.account, in.StackName, id)
	skip := skipUnsupported(in.SkipUnsupported, in.Tags)
	p, err := s.prepare(planInput{
		ctx: ctx, name: in.StackName, stackID: arn, body: in.TemplateBody,
		overrides: in.Parameters, usePrevious: in.UsePrevious,
		capabilities: in.Capabilities, skipUnsupported: skip,
	})
	if err != nil {
		return "", err
	}
	rec := &record{
		UUID: id, ID: arn, Name: in.StackName,
		Status: StatusCreateInProgress, StatusReason: reasonUserInitiated, Created: s.now(),
		Capabilities: in.Capabilities, Tags: in.Tags, DisableRollback: in.DisableRollback,
		SkipUnsupported: skip, Current: p.dep, Resources: map[string]*resource{},
	}
	if pa, ok := ctx.Value(parentKey{}).(parentStack); ok {
		rec.ParentID, rec.RootID = pa.parent, pa.root
	}
	s.actFor(ctx, rec, in.RoleARN)
	if err := s.reserve(id); err != nil {
		return "", err
	}
	rev, err := s.saveRecord(ctx, rec, 0)
	if err != nil {
		s.release(id)
		return "", err
	}
	if _, err := s.kv.Create(ctx, keyName+in.StackName, []byte(id)); err != nil {
		s.release(id)
		if derr := s.kv.Delete(ctx, keyRecord+id, rev); derr != nil {
			s.log.Warn("drop stack record", "stack", in.StackName, "err", derr)
		}
		if errors.Is(err, store.ErrExists) {
			return "", cfnErr(CodeAlreadyExists, "Stack [%s] already exists", in.StackName)
		}
		return "", fmt.Errorf("claim stack name %s: %w", in.StackName, err)
	}
	if err := s.stackEvent(ctx, rec); err != nil {
		s.log.Warn("record stack event", "stack", in.StackName, "err", err)
	}
	s.launch(rec, rev, p, (*op).runCreate)
	return arn, nil
}

// UpdateStack applies a new template or parameters in the background.
// Unchanged resources are not touched; a failure rolls the stack back to
// its previous deployment.
func (s *Service) UpdateStack(ctx context.Context, in UpdateInput) (string, error) {
	for range 5 {
		id, err := s.tryUpdate(ctx, in)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return id, err
	}
	return "", validationError("Stack %s is being changed by another request; try again.", in.StackName)
}

func (s *Service) tryUpdate(ctx context.Context, in UpdateInput) (string, error) {
	rec, rev, err := s.lookup(ctx, in.StackName)
	if err != nil {
		return "", err
	}
	if !updatable(rec.Status) {
		return "", validationError("Stack:%s is in %s state and can not be updated.", rec.ID, rec.Status)
	}
	if err := s.checkRoleARN(ctx, in.RoleARN); err != nil {
		return "", err
	}
	body := in.TemplateBody
	if in.UsePreviousTemplate {
		if body != "" {
			return "", validationError("You cannot specify both usePreviousTemplate and Template Body")
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
		return "", err
	}
	if body == rec.Current.Template && slices.Equal(p.dep.Params, rec.Current.Params) && maps.Equal(tags, rec.Tags) &&
		(in.RoleARN == "" || in.RoleARN == rec.RoleARN) {
		return "", validationError("No updates are to be performed.")
	}
	if err := s.reserve(rec.UUID); err != nil {
		return "", err
	}
	s.actFor(ctx, rec, in.RoleARN)
	rec.Pending = &p.dep
	rec.Status, rec.StatusReason, rec.Updated = StatusUpdateInProgress, reasonUserInitiated, s.now()
	rec.Capabilities, rec.Tags, rec.SkipUnsupported = in.Capabilities, tags, skip
	if rev, err = s.saveRecord(ctx, rec, rev); err != nil {
		s.release(rec.UUID)
		return "", err
	}
	if err := s.stackEvent(ctx, rec); err != nil {
		s.log.Warn("record stack event", "stack", rec.Name, "err", err)
	}
	s.launch(rec, rev, p, (*op).runUpdate)
	return rec.ID, nil
}

// DeleteStack deletes a stack's resources in reverse order in the
// background, acting as roleARN if given (else the stack's service role,
// else the caller). Deleting a stack that does not exist is not an error.
func (s *Service) DeleteStack(ctx context.Context, nameOrID, roleARN string) error {
	if err := s.checkRoleARN(ctx, roleARN); err != nil {
		return err
	}
	for range 5 {
		err := s.tryDelete(ctx, nameOrID, roleARN)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return err
	}
	return validationError("Stack %s is being changed by another request; try again.", nameOrID)
}

func (s *Service) tryDelete(ctx context.Context, nameOrID, roleARN string) error {
	rec, rev, err := s.lookup(ctx, nameOrID)
	if awsapi.HasCode(err, CodeValidationError) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case rec.Status == StatusDeleteComplete || rec.Status == StatusDeleteInProgress:
		return nil
	case inProgress(rec.Status):
		return validationError("Stack [%s] cannot be deleted while in status %s", rec.Name, rec.Status)
	}
	if err := s.reserve(rec.UUID); err != nil {
		return err
	}
	s.actFor(ctx, rec, roleARN)
	rec.Status, rec.StatusReason = StatusDeleteInProgress, reasonUserInitiated
	if rev, err = s.saveRecord(ctx, rec, rev); err != nil {
		s.release(rec.UUID)
		return err
	}
	if err := s.stackEvent(ctx, rec); err != nil {
		s.log.Warn("record stack event", "stack", rec.Name, "err", err)
	}
	s.launch(rec, rev, nil, (*op).runDelete)
	return nil
}

// DescribeStacks returns one stack (by name or id; deleted ones only by
// id) or, with an empty name, every live stack.
func (s *Service) DescribeStacks(ctx context.Context, nameOrID string) ([]Stack, error) {
	if nameOrID != "" {
		rec, _, err := s.lookup(ctx, nameOrID)
		if err != nil {
			return nil, err
		}
		return []Stack{rec.stack()}, nil
	}
	recs, err := s.records(ctx)
	if err != nil {
		return nil, err
	}
	out := []Stack{}
	for _, r := range recs {
		if r.Status != StatusDeleteComplete {
			out = append(out, r.stack())
		}
	}
	slices.SortFunc(out, func(a, b Stack) int { return cmp.Compare(a.StackName, b.StackName) })
	return out, nil
}

func (r *record) stack() Stack {
	st := Stack{
		StackID: r.ID, StackName: r.Name, Description: r.Current.Description,
		Status: r.Status, StatusReason: r.StatusReason,
		CreationTime: r.Created, LastUpdatedTime: r.Updated, DeletionTime: r.Deleted,
		Outputs: slices.Clone(r.Current.Outputs), Capabilities: slices.Clone(r.Capabilities),
		Tags: maps.Clone(r.Tags), DisableRollback: r.DisableRollback, RoleARN: r.RoleARN,
		ParentID: r.ParentID, RootID: r.RootID,
	}
	for _, p := range r.Current.Params {
		v := p.Value
		if p.NoEcho {
			v = noEchoMask
		}
		st.Parameters = append(st.Parameters, Parameter{Key: p.Key, Value: v})
	}
	return st
}

// ListStacks lists stacks whose status is in filter (all if empty).
func (s *Service) ListStacks(ctx context.Context, filter []string) ([]Summary, error) {
	recs, err := s.records(ctx)
	if err != nil {
		return nil, err
	}
	out := []Summary{}
	for _, r := range recs {
		if len(filter) > 0 && !slices.Contains(filter, r.Status) {
			continue
		}
		out = append(out, Summary{
			StackID: r.ID, StackName: r.Name, Status: r.Status, StatusReason: r.StatusReason,
			TemplateDescription: r.Current.Description,
			CreationTime:        r.Created, LastUpdatedTime: r.Updated, DeletionTime: r.Deleted,
			ParentID: r.ParentID, RootID: r.RootID,
		})
	}
	slices.SortFunc(out, func(a, b Summary) int { return b.CreationTime.Compare(a.CreationTime) })
	return out, nil
}

// Events returns a stack's events, newest first.
func (s *Service) Events(ctx context.Context, nameOrID string) ([]Event, error) {
	rec, _, err := s.lookup(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	evs, err := s.events(ctx, rec.UUID)
	if evs == nil && err == nil {
		evs = []Event{}
	}
	return evs, err
}

// Resources returns a stack's resources, in creation order.
func (s *Service) Resources(ctx context.Context, nameOrID string) ([]StackResource, error) {
	rec, _, err := s.lookup(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	ids := slices.Clone(rec.Current.Order)
	for _, id := range sortedKeys(rec.Resources) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	out := []StackResource{}
	for _, id := range ids {
		r := rec.Resources[id]
		if r == nil {
			continue
		}
		out = append(out, StackResource{
			StackID: rec.ID, StackName: rec.Name, LogicalID: id, PhysicalID: r.PhysicalID,
			ResourceType: r.Type, Status: r.Status, StatusReason: r.StatusReason, LastUpdated: r.Updated,
		})
	}
	return out, nil
}

// Template returns a stack's template as submitted ("Original", the
// default) or after the SAM transform and AWS::Include ("Processed").
func (s *Service) Template(ctx context.Context, nameOrID, stage string) (string, error) {
	rec, _, err := s.lookup(ctx, nameOrID)
	if err != nil {
		return "", err
	}
	switch stage {
	case "", "Original":
		return rec.Current.Template, nil
	case "Processed":
		return cmp.Or(rec.Current.Processed, rec.Current.Template), nil
	}
	return "", validationError("1 validation error detected: Value '%s' at 'templateStage' failed to satisfy constraint: "+
		"Member must satisfy enum value set: [Original, Processed]", stage)
}

// Exports lists every exported output of every live stack, by name.
func (s *Service) Exports(ctx context.Context) ([]Export, error) {
	keys, err := s.kv.Keys(ctx, keyExport)
	if err != nil {
		return nil, fmt.Errorf("list exports: %w", err)
	}
	out := []Export{}
	for _, k := range keys {
		name, err := hex.DecodeString(strings.TrimPrefix(k, keyExport))
		if err != nil {
			continue
		}
		ex, _, err := s.export(ctx, string(name))
		if err != nil {
			return nil, err
		}
		if ex != nil {
			out = append(out, Export{StackID: ex.StackID, Name: ex.Name, Value: ex.Value})
		}
	}
	slices.SortFunc(out, func(a, b Export) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Validate parses and checks a template without creating anything.
func (s *Service) Validate(ctx context.Context, body string) (*Validation, error) {
	if strings.TrimSpace(body) == "" {
		return nil, validationError("Either Template URL or Template Body must be specified.")
	}
	t, err := cfn.Parse([]byte(body))
	if err != nil {
		return nil, templateError(err)
	}
	if t, _, err = s.expandIncludes(ctx, t); err != nil {
		return nil, err
	}
	if err := refuseMacros(t); err != nil {
		return nil, err
	}
	if err := s.checkTypes(t); err != nil {
		return nil, err
	}
	v := &Validation{Description: t.Description}
	for _, k := range sortedKeys(t.Parameters) {
		p := t.Parameters[k]
		d := ParameterDeclaration{Key: k, Description: p.Description, NoEcho: p.NoEcho}
		if p.Default != nil {
			d.DefaultValue = paramString(p.Default)
		}
		v.Parameters = append(v.Parameters, d)
	}
	var why []string
	for _, tr := range t.Transform {
		if tr == SAMTransform {
			v.Capabilities = append(v.Capabilities, CapabilityAutoExpand)
		}
	}
	need := ""
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		nameProp, ok := iamTypes[r.Type]
		if !ok {
			continue
		}
		why = append(why, id)
		if _, named := r.Properties[nameProp]; named && nameProp != "" {
			need = CapabilityNamedIAM
		} else if need == "" {
			need = CapabilityIAM
		}
	}
	if need != "" {
		v.Capabilities = append(v.Capabilities, need)
		v.CapabilitiesReason = "The following resource(s) require capabilities: [" + strings.Join(why, ", ") + "]"
	}
	return v, nil
}
