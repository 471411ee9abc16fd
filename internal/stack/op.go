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
	"time"

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

// failure is the resources that failed, as the stack's status reason
// tells them.
type failure struct {
	verb string // "create", "update": the first failure's
	ids  []string
}

func (f *failure) reason() string {
	return fmt.Sprintf("The following resource(s) failed to %s: [%s]. ", f.verb, strings.Join(f.ids, ", "))
}

// add merges g into f.
func (f *failure) add(g *failure) *failure {
	if f == nil {
		return g
	}
	f.ids = append(f.ids, g.ids...)
	return f
}

// check turns a provider's or the store's error into errAbandoned when the
// operation's context has ended.
func (o *op) check(err error) error {
	if err != nil && o.ctx.Err() != nil {
		return errAbandoned
	}
	return err
}

// persistTimeout bounds a store write of a running operation.
const persistTimeout = 30 * time.Second

// persist is the context of the operation's record and event writes. It
// outlives shutdown, so that a provider call that has returned is
// recorded; the operation stops before its next provider call instead.
func (o *op) persist() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(o.ctx), persistTimeout)
}

// stopping is errAbandoned once the service is stopping.
func (o *op) stopping() error {
	if o.ctx.Err() != nil {
		return errAbandoned
	}
	return nil
}

func (o *op) save() error {
	ctx, cancel := o.persist()
	defer cancel()
	rev, err := o.s.saveRecord(ctx, o.rec, o.rev)
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
	ctx, cancel := o.persist()
	defer cancel()
	return o.check(o.s.addEvents(ctx, o.rec.UUID, ev))
}

// status moves the stack to status: it records the event, then saves the
// stack, so that whoever sees the status sees every event before it. A
// final status ends the operation for other requests before it is saved.
func (o *op) status(status, reason string) error {
	o.rec.Status, o.rec.StatusReason = status, reason
	if err := o.event(o.rec.Name, o.rec.ID, stackResourceType, status, reason, nil); err != nil {
		return err
	}
	if !inProgress(status) {
		// The executed change set records the outcome before the stack
		// shows it.
		ctx, cancel := o.persist()
		o.s.afterFinalStatus(ctx, o.rec, o.rec.ChangeSet, status)
		cancel()
		o.rec.ChangeSet = ""
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
	if env.Dynamic != nil {
		env.Dynamic = o.s.dynamicResolver(o.ctx) // as the operation acts
	}
	env.Resources = resolver{o}
	env.ImportValue = o.importValue
	return &env
}

// resolver answers Ref and Fn::GetAtt from the stack's resources as the
// running operation has made them.
type resolver struct{ o *op }

func (r resolver) resource(id string) (*resource, error) {
	if typ, ok := r.o.plan.skipped[id]; ok {
		return leftOut(id, typ), nil
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
	if typ, ok := r.o.plan.skipped[id]; ok {
		return leftOutAttr(id, typ, attr, r.o.s.region, r.o.s.account), nil
	}
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
