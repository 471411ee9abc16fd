package stack

import (
	"errors"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// Applying a deployment: resources whose dependencies are done start, up to
// Options.Parallelism at a time, as CloudFormation runs independent
// resources in parallel. The apply loop alone evaluates properties and
// touches the record; a step's goroutine only makes its provider call.

type stepKind int

const (
	stepCreate stepKind = iota
	stepUpdate
	stepReplace // a new physical resource for an existing one
)

// step is one provider call of apply.
type step struct {
	id    string
	kind  stepKind
	tr    *cfn.Resource
	props map[string]any
	req   *Request
	prev  Resource // stepUpdate: the resource as it was
	res   *Result
	err   error
}

// run makes the step's provider call (in its own goroutine).
func (o *op) run(st *step) {
	if st.kind == stepUpdate {
		st.res, st.err = o.update1(st.tr.Type, st.req, &st.prev)
		return
	}
	st.res, st.err = o.create1(st.tr.Type, st.req)
	if st.err == nil && (st.res == nil || st.res.PhysicalID == "") {
		st.err = errors.New("the resource provider returned no physical id")
	}
}

// apply creates, updates and replaces the resources of the target
// deployment in dependency order. Resources whose properties did not
// change are not touched. After a failure it starts nothing new, lets the
// running steps end and returns every resource that failed.
func (o *op) apply() (*failure, error) {
	if o.rec.Resources == nil {
		o.rec.Resources = map[string]*resource{}
	}
	for _, id := range sortedKeys(o.plan.skipped) {
		typ := o.plan.skipped[id]
		reason := "Left out: Nimbus does not support " + typ + " (deployed with --skip-unsupported)"
		if refs := o.plan.referrers[id]; len(refs) > 0 {
			reason += "; references to it from " + strings.Join(refs, ", ") + " resolve to placeholders (" + leftOutPrefix + id + ")"
		}
		if err := o.event(id, "", typ, StatusCreateSkipped, reason, nil); err != nil {
			return nil, err
		}
	}
	inOrder := map[string]bool{}
	for _, id := range o.target.Order {
		inOrder[id] = true
	}
	waiting := slices.Clone(o.target.Order)
	done := map[string]bool{}
	results := make(chan *step)
	running := 0
	start := func(st *step) {
		running++
		go func() {
			o.run(st)
			results <- st
		}()
	}
	var fail *failure
	var abort error
	for {
		for fail == nil && abort == nil && running < o.s.parallel {
			if o.ctx.Err() != nil {
				abort = errAbandoned
				break
			}
			i := slices.IndexFunc(waiting, func(id string) bool {
				return !slices.ContainsFunc(o.plan.deps[id], func(d string) bool { return inOrder[d] && !done[d] })
			})
			if i < 0 {
				break
			}
			id := waiting[i]
			waiting = slices.Delete(waiting, i, i+1)
			st, f, err := o.begin(id)
			switch {
			case err != nil:
				abort = err
			case f != nil:
				fail = fail.add(f)
			case st == nil:
				done[id] = true
			default:
				start(st)
			}
		}
		if running == 0 {
			break
		}
		st := <-results
		running--
		next, f, err := o.end(st)
		switch {
		case err != nil:
			abort = cmpErr(abort, err)
		case f != nil:
			fail = fail.add(f)
		case next != nil:
			// Update said replace: nothing changed yet. After a failure
			// elsewhere the resource is left as it is.
			if fail != nil || abort != nil {
				break
			}
			if err := o.beginReplace(next); err != nil {
				abort = err
				break
			}
			start(next)
		default:
			done[st.id] = true
		}
	}
	if abort != nil {
		return nil, abort
	}
	return fail, nil
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// begin evaluates a resource's properties and records what is about to be
// done to it. It returns nil (and no failure) for an unchanged resource.
func (o *op) begin(id string) (*step, *failure, error) {
	tr := o.plan.tmpl.Resources[id]
	cur := o.rec.Resources[id]
	exists := cur != nil && cur.PhysicalID != ""
	props, err := o.evalProps(tr)
	if err != nil {
		f := &failure{verb: "create", ids: []string{id}}
		status, physical := StatusCreateFailed, ""
		if exists {
			f.verb, status, physical = "update", StatusUpdateFailed, cur.PhysicalID
		}
		return nil, f, o.event(id, physical, tr.Type, status, err.Error(), nil)
	}
	st := &step{id: id, tr: tr, props: props, req: o.request(id, tr.Type, props)}
	switch {
	case !exists:
		r := &resource{
			Resource:       Resource{LogicalID: id, Type: tr.Type},
			DeletionPolicy: tr.DeletionPolicy, UpdateReplacePolicy: tr.UpdateReplacePolicy,
			Created: true,
		}
		o.setResource(r, StatusCreateInProgress, "")
		o.rec.Resources[id] = r
		if err := o.save(); err != nil {
			return nil, nil, err
		}
		st.kind = stepCreate
		return st, nil, o.event(id, "", tr.Type, StatusCreateInProgress, "", tr.Properties)
	case cur.Type != tr.Type:
		st.kind = stepReplace
		return st, nil, o.beginReplace(st)
	case sameProps(cur.Properties, props):
		cur.DeletionPolicy, cur.UpdateReplacePolicy = tr.DeletionPolicy, tr.UpdateReplacePolicy
		return nil, nil, nil
	}
	prev := cur.Resource
	cur.Prev, cur.Replaced = &prev, false
	cur.DeletionPolicy, cur.UpdateReplacePolicy = tr.DeletionPolicy, tr.UpdateReplacePolicy
	o.setResource(cur, StatusUpdateInProgress, "")
	if err := o.save(); err != nil {
		return nil, nil, err
	}
	st.kind, st.prev = stepUpdate, prev
	return st, nil, o.event(id, cur.PhysicalID, tr.Type, StatusUpdateInProgress, "", tr.Properties)
}

// beginReplace records that a replacement is starting.
func (o *op) beginReplace(st *step) error {
	st.kind, st.res, st.err = stepReplace, nil, nil
	cur := o.rec.Resources[st.id]
	return o.event(st.id, cur.PhysicalID, st.tr.Type, StatusUpdateInProgress, reasonReplacement, st.tr.Properties)
}

// end records the outcome of a step's provider call. An update that needs
// replacement returns the replacement step, not yet begun.
func (o *op) end(st *step) (*step, *failure, error) {
	if st.err != nil && o.ctx.Err() != nil {
		return nil, nil, errAbandoned
	}
	cur := o.rec.Resources[st.id]
	typ := st.tr.Type
	if st.kind == stepUpdate && errors.Is(st.err, ErrReplace) {
		cur.Prev = nil
		return &step{id: st.id, tr: st.tr, props: st.props, req: st.req}, nil, nil
	}
	if st.err != nil {
		msg := st.err.Error()
		f := &failure{verb: "update", ids: []string{st.id}}
		status, physical := StatusUpdateFailed, cur.PhysicalID
		switch st.kind {
		case stepCreate:
			f.verb, status, physical = "create", StatusCreateFailed, ""
		case stepUpdate:
			// The rollback reverts from what may have been half applied.
			cur.Properties = st.props
		}
		o.setResource(cur, status, msg)
		if err := o.save(); err != nil {
			return nil, nil, err
		}
		return nil, f, o.event(st.id, physical, typ, status, msg, nil)
	}
	status := StatusUpdateComplete
	switch st.kind {
	case stepCreate:
		cur.Result, cur.Properties = *st.res, st.props
		status = StatusCreateComplete
	case stepUpdate:
		cur.Properties = st.props
		if st.res != nil {
			keep := cur.PhysicalID
			cur.Result = *st.res
			if cur.PhysicalID == "" {
				cur.PhysicalID = keep
			}
		}
	case stepReplace:
		old := cur.Resource
		cur.Resource = Resource{LogicalID: st.id, Type: typ, Properties: st.props, Result: *st.res}
		cur.Prev, cur.Replaced = &old, true
		cur.DeletionPolicy, cur.UpdateReplacePolicy = st.tr.DeletionPolicy, st.tr.UpdateReplacePolicy
	}
	o.setResource(cur, status, "")
	if err := o.save(); err != nil {
		return nil, nil, err
	}
	return nil, nil, o.event(st.id, cur.PhysicalID, typ, status, "", nil)
}
