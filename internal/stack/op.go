package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// errAbandoned ends an operation whose context ended (the service is
// stopping): the stack stays *_IN_PROGRESS in the store and the next Run
// resumes it.
var errAbandoned = errors.New("stack operation abandoned at shutdown")

// op is one running operation on one stack. While the stack is
// *_IN_PROGRESS only its op writes the stack's record.
type op struct {
	s    *Service
	ctx  context.Context
	rec  *record
	rev  uint64
	plan *plan // the checked template of a create or update; nil when resumed
	// target is the deployment being applied: &rec.Current for a create,
	// rec.Pending for an update.
	target *deployment
	// unmarked is set once the op has let other requests in (its final
	// status); the stack may then have another op.
	unmarked bool
}

// failure is a resource that failed, as the stack's status reason tells it.
type failure struct {
	verb string // "create", "update"
	id   string
}

func (f *failure) reason() string {
	return fmt.Sprintf("The following resource(s) failed to %s: [%s]. ", f.verb, f.id)
}

// check turns a provider's or the store's error into errAbandoned when the
// operation's context has ended.
func (o *op) check(err error) error {
	if err != nil && o.ctx.Err() != nil {
		return errAbandoned
	}
	return err
}

func (o *op) save() error {
	rev, err := o.s.saveRecord(o.ctx, o.rec, o.rev)
	if err != nil {
		return o.check(err)
	}
	o.rev = rev
	return nil
}

// event records one resource event.
func (o *op) event(id, physical, typ, status, reason string, props map[string]any) error {
	ev := Event{
		EventID: newUUID(), StackID: o.rec.ID, StackName: o.rec.Name,
		LogicalID: id, PhysicalID: physical, ResourceType: typ,
		Status: status, StatusReason: reason, Timestamp: o.s.now(),
	}
	if props != nil {
		if b, err := json.Marshal(props); err == nil && len(b) <= maxEventProps {
			ev.ResourceProperties = string(b)
		}
	}
	return o.check(o.s.addEvents(o.ctx, o.rec.UUID, ev))
}

// status moves the stack to status: it records the event, then saves the
// stack, so that whoever sees the status sees every event before it. A
// final status ends the operation for other requests before it is saved.
func (o *op) status(status, reason string) error {
	o.rec.Status, o.rec.StatusReason = status, reason
	if err := o.event(o.rec.Name, o.rec.ID, stackResourceType, status, reason, nil); err != nil {
		return err
	}
	if !inProgress(status) && !o.unmarked {
		o.s.unmark(o.rec.UUID)
		o.unmarked = true
	}
	if err := o.save(); err != nil {
		return err
	}
	o.s.log.Info("stack status", "stack", o.rec.Name, "status", status)
	return nil
}

// call runs one provider call with the resource timeout, turning a panic
// into an error (a provider's bug fails its resource, not the node).
func (o *op) call(fn func(ctx context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(o.ctx, o.s.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			o.s.log.Error("resource provider panicked", "stack", o.rec.Name, "panic", fmt.Sprint(p), "trace", string(debug.Stack()))
			err = errors.New("internal error in the resource provider")
		}
	}()
	err = fn(ctx)
	if err != nil && o.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("Resource timed out waiting for completion (%s)", o.s.timeout) //nolint:staticcheck // CloudFormation's wording
	}
	return err
}

func (o *op) create1(typ string, r *Request) (res *Result, err error) {
	err = o.call(func(ctx context.Context) error {
		res, err = o.s.providers[typ].Create(ctx, r)
		return err
	})
	return res, err
}

func (o *op) update1(typ string, r *Request, prev *Resource) (res *Result, err error) {
	err = o.call(func(ctx context.Context) error {
		res, err = o.s.providers[typ].Update(ctx, r, prev)
		return err
	})
	return res, err
}

// setResource records a resource's status.
func (o *op) setResource(r *resource, status, reason string) {
	r.Status, r.StatusReason, r.Updated = status, reason, o.s.now()
}

func (o *op) request(id, typ string, props map[string]any) *Request {
	return &Request{
		StackName: o.rec.Name, StackID: o.rec.ID, LogicalID: id, Type: typ,
		Properties: props, Region: o.s.region, AccountID: o.s.account,
	}
}

// env is the evaluation environment over the resources made so far.
func (o *op) env() *cfn.Env {
	env := o.plan.env
	env.Resources = resolver{o}
	env.ImportValue = o.importValue
	return &env
}

// resolver answers Ref and Fn::GetAtt from the stack's resources as the
// running operation has made them.
type resolver struct{ o *op }

func (r resolver) resource(id string) (*resource, error) {
	if typ, ok := r.o.plan.skipped[id]; ok {
		return nil, fmt.Errorf("Resource %s (%s) was left out because Nimbus does not support %s", id, typ, typ) //nolint:staticcheck // shown to users as a sentence
	}
	res := r.o.rec.Resources[id]
	if res == nil || res.PhysicalID == "" {
		return nil, fmt.Errorf("Template error: resource %s is not available (its condition is false or it does not exist)", id) //nolint:staticcheck // CloudFormation's wording
	}
	return res, nil
}

func (r resolver) Ref(id string) (any, error) {
	res, err := r.resource(id)
	if err != nil {
		return nil, err
	}
	if res.Ref != nil {
		return res.Ref, nil
	}
	return res.PhysicalID, nil
}

func (r resolver) GetAtt(id, attr string) (any, error) {
	res, err := r.resource(id)
	if err != nil {
		return nil, err
	}
	v, ok := res.Attrs[attr]
	if !ok {
		return nil, fmt.Errorf("Template error: resource %s does not support attribute type %s in Fn::GetAtt", id, attr) //nolint:staticcheck // CloudFormation's wording
	}
	return v, nil
}

// importValue answers Fn::ImportValue and records the import.
func (o *op) importValue(name string) (string, error) {
	if len(name) > maxExportName {
		return "", fmt.Errorf("No export named %s found.", name) //nolint:staticcheck // CloudFormation's wording
	}
	ex, _, err := o.s.export(o.ctx, name)
	if err != nil {
		return "", err
	}
	if ex == nil || ex.StackID == o.rec.ID {
		return "", fmt.Errorf("No export named %s found.", name) //nolint:staticcheck // CloudFormation's wording
	}
	if !slices.Contains(o.target.Imports, name) {
		o.target.Imports = append(o.target.Imports, name)
		slices.Sort(o.target.Imports)
	}
	return ex.Value, nil
}

// evalProps evaluates a resource's properties.
func (o *op) evalProps(tr *cfn.Resource) (map[string]any, error) {
	if len(tr.Properties) == 0 {
		return map[string]any{}, nil
	}
	v, err := cfn.Eval(tr.Properties, o.env())
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return map[string]any{}, nil
		}
		return nil, errors.New("Template error: Properties must be an object") //nolint:staticcheck // CloudFormation's wording
	}
	return m, nil
}

// sameProps reports whether two resolved property sets are equal as JSON.
func sameProps(a, b map[string]any) bool {
	if a == nil {
		a = map[string]any{}
	}
	if b == nil {
		b = map[string]any{}
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// apply creates, updates and replaces the resources of the target
// deployment in order. Resources whose properties did not change are not
// touched. It stops at the first resource that fails.
func (o *op) apply() (*failure, error) {
	if o.rec.Resources == nil {
		o.rec.Resources = map[string]*resource{}
	}
	for _, id := range sortedKeys(o.plan.skipped) {
		typ := o.plan.skipped[id]
		reason := "Left out: Nimbus does not support " + typ + " (deployed with --skip-unsupported)"
		if err := o.event(id, "", typ, StatusDeleteSkipped, reason, nil); err != nil {
			return nil, err
		}
	}
	for _, id := range o.target.Order {
		if o.ctx.Err() != nil {
			return nil, errAbandoned
		}
		tr := o.plan.tmpl.Resources[id]
		cur := o.rec.Resources[id]
		exists := cur != nil && cur.PhysicalID != ""
		props, err := o.evalProps(tr)
		if err != nil {
			f := &failure{verb: "create", id: id}
			status, physical := StatusCreateFailed, ""
			if exists {
				f.verb, status, physical = "update", StatusUpdateFailed, cur.PhysicalID
			}
			return f, o.event(id, physical, tr.Type, status, err.Error(), nil)
		}
		var f *failure
		switch {
		case !exists:
			f, err = o.create(id, tr, props)
		case cur.Type != tr.Type:
			f, err = o.replace(id, tr, props, cur)
		case sameProps(cur.Properties, props):
			cur.DeletionPolicy, cur.UpdateReplacePolicy = tr.DeletionPolicy, tr.UpdateReplacePolicy
		default:
			f, err = o.update(id, tr, props, cur)
		}
		if f != nil || err != nil {
			return f, err
		}
	}
	return nil, nil
}

func (o *op) create(id string, tr *cfn.Resource, props map[string]any) (*failure, error) {
	r := &resource{
		Resource:       Resource{LogicalID: id, Type: tr.Type},
		DeletionPolicy: tr.DeletionPolicy, UpdateReplacePolicy: tr.UpdateReplacePolicy,
		Created: true,
	}
	o.setResource(r, StatusCreateInProgress, "")
	o.rec.Resources[id] = r
	if err := o.save(); err != nil {
		return nil, err
	}
	if err := o.event(id, "", tr.Type, StatusCreateInProgress, "", tr.Properties); err != nil {
		return nil, err
	}
	res, err := o.create1(tr.Type, o.request(id, tr.Type, props))
	if err == nil && (res == nil || res.PhysicalID == "") {
		err = errors.New("the resource provider returned no physical id")
	}
	if err != nil {
		if o.ctx.Err() != nil {
			return nil, errAbandoned
		}
		o.setResource(r, StatusCreateFailed, err.Error())
		if err := o.save(); err != nil {
			return nil, err
		}
		return &failure{verb: "create", id: id}, o.event(id, "", tr.Type, StatusCreateFailed, err.Error(), nil)
	}
	r.Result, r.Properties = *res, props
	o.setResource(r, StatusCreateComplete, "")
	if err := o.save(); err != nil {
		return nil, err
	}
	return nil, o.event(id, r.PhysicalID, tr.Type, StatusCreateComplete, "", nil)
}

func (o *op) update(id string, tr *cfn.Resource, props map[string]any, cur *resource) (*failure, error) {
	prev := cur.Resource
	cur.Prev, cur.Replaced = &prev, false
	cur.DeletionPolicy, cur.UpdateReplacePolicy = tr.DeletionPolicy, tr.UpdateReplacePolicy
	o.setResource(cur, StatusUpdateInProgress, "")
	if err := o.save(); err != nil {
		return nil, err
	}
	if err := o.event(id, cur.PhysicalID, tr.Type, StatusUpdateInProgress, "", tr.Properties); err != nil {
		return nil, err
	}
	given := prev
	res, err := o.update1(tr.Type, o.request(id, tr.Type, props), &given)
	if errors.Is(err, ErrReplace) {
		cur.Prev = nil
		return o.replace(id, tr, props, cur)
	}
	if err != nil {
		if o.ctx.Err() != nil {
			return nil, errAbandoned
		}
		// The rollback reverts from what may have been half applied.
		cur.Properties = props
		o.setResource(cur, StatusUpdateFailed, err.Error())
		if err := o.save(); err != nil {
			return nil, err
		}
		return &failure{verb: "update", id: id}, o.event(id, cur.PhysicalID, tr.Type, StatusUpdateFailed, err.Error(), nil)
	}
	cur.Properties = props
	if res != nil {
		keep := cur.PhysicalID
		cur.Result = *res
		if cur.PhysicalID == "" {
			cur.PhysicalID = keep
		}
	}
	o.setResource(cur, StatusUpdateComplete, "")
	if err := o.save(); err != nil {
		return nil, err
	}
	return nil, o.event(id, cur.PhysicalID, tr.Type, StatusUpdateComplete, "", nil)
}

// replace creates a new physical resource for id; the old one is deleted
// in the cleanup phase (or the new one, if the update rolls back).
func (o *op) replace(id string, tr *cfn.Resource, props map[string]any, cur *resource) (*failure, error) {
	if err := o.event(id, cur.PhysicalID, tr.Type, StatusUpdateInProgress, reasonReplacement, tr.Properties); err != nil {
		return nil, err
	}
	res, err := o.create1(tr.Type, o.request(id, tr.Type, props))
	if err == nil && (res == nil || res.PhysicalID == "") {
		err = errors.New("the resource provider returned no physical id")
	}
	if err != nil {
		if o.ctx.Err() != nil {
			return nil, errAbandoned
		}
		o.setResource(cur, StatusUpdateFailed, err.Error())
		if err := o.save(); err != nil {
			return nil, err
		}
		return &failure{verb: "update", id: id}, o.event(id, cur.PhysicalID, tr.Type, StatusUpdateFailed, err.Error(), nil)
	}
	old := cur.Resource
	cur.Resource = Resource{LogicalID: id, Type: tr.Type, Properties: props, Result: *res}
	cur.Prev, cur.Replaced = &old, true
	cur.DeletionPolicy, cur.UpdateReplacePolicy = tr.DeletionPolicy, tr.UpdateReplacePolicy
	o.setResource(cur, StatusUpdateComplete, "")
	if err := o.save(); err != nil {
		return nil, err
	}
	return nil, o.event(id, cur.PhysicalID, tr.Type, StatusUpdateComplete, "", nil)
}

// outputs evaluates the target deployment's outputs. A failure is
// returned as the stack's status reason.
func (o *op) outputs() ([]Output, string) {
	env := o.env()
	var outs []Output
	for _, k := range slices.Sorted(maps.Keys(o.plan.tmpl.Outputs)) {
		def := o.plan.tmpl.Outputs[k]
		if def.Condition != "" && !env.Conditions[def.Condition] {
			continue
		}
		v, err := cfn.Eval(def.Value, env)
		if err != nil {
			return nil, fmt.Sprintf("Output %s: %v", k, err)
		}
		out := Output{Key: k, Value: outputString(v), Description: def.Description}
		if def.Export != nil {
			n, err := cfn.Eval(def.Export.Name, env)
			if err != nil {
				return nil, fmt.Sprintf("Output %s: export name: %v", k, err)
			}
			name, ok := n.(string)
			if !ok || name == "" || len(name) > maxExportName {
				return nil, fmt.Sprintf("Output %s: the export name must be a string of 1 to %d characters", k, maxExportName)
			}
			out.ExportName = name
		}
		outs = append(outs, out)
	}
	return outs, ""
}

// outputString is an output's value as CloudFormation shows it: lists
// joined with commas.
func outputString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = outputString(x)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		b, _ := json.Marshal(v)
		return string(b)
	case nil:
		return ""
	}
	return paramString(v)
}

// finish evaluates the outputs and claims the exports of the target
// deployment. It returns a non-empty reason if the stack must roll back.
func (o *op) finish(prev []Output) (string, error) {
	outs, reason := o.outputs()
	if reason != "" {
		return reason, nil
	}
	reason, err := o.s.claimExports(o.ctx, o.rec, prev, outs)
	if err != nil || reason != "" {
		return reason, o.check(err)
	}
	o.target.Outputs = outs
	return "", nil
}
