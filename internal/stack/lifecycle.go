package stack

import (
	"context"
	"errors"
	"slices"
	"strings"
)

// The operations, each run by one goroutine per stack (see Service.launch).
// docs/design/deploy.md draws the state machine.

// runCreate applies a new stack: CREATE_IN_PROGRESS -> CREATE_COMPLETE, or
// on failure ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE (CREATE_FAILED with
// DisableRollback).
func (o *op) runCreate() error {
	o.target = &o.rec.Current
	f, err := o.apply()
	if err != nil {
		return err
	}
	reason := ""
	if f != nil {
		reason = f.reason()
	} else if reason, err = o.finish(nil); err != nil {
		return err
	}
	if reason == "" {
		for _, r := range o.rec.Resources {
			r.Created = false
		}
		return o.status(StatusCreateComplete, "")
	}
	if o.rec.DisableRollback {
		return o.status(StatusCreateFailed, reason)
	}
	return o.rollbackCreate(reason, reason+reasonRollbackRequested)
}

// rollbackCreate deletes everything a failed create made. The stack is
// ROLLBACK_IN_PROGRESS with reason started, then ROLLBACK_COMPLETE with
// reason.
func (o *op) rollbackCreate(reason, started string) error {
	if o.rec.Status != StatusRollbackInProgress {
		if err := o.status(StatusRollbackInProgress, started); err != nil {
			return err
		}
	}
	failed, err := o.deleteAll(true)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return o.status(StatusRollbackFailed, deleteReason(failed))
	}
	if err := o.s.syncExports(o.ctx, o.rec, nil); err != nil {
		return o.check(err)
	}
	o.rec.Current.Outputs = nil
	return o.status(StatusRollbackComplete, reason)
}

func deleteReason(ids []string) string {
	return "The following resource(s) failed to delete: [" + strings.Join(ids, ", ") + "]. "
}

// runUpdate applies rec.Pending: UPDATE_IN_PROGRESS ->
// UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE, or on failure
// the update rollback.
func (o *op) runUpdate() error {
	o.target = o.rec.Pending
	f, err := o.apply()
	if err != nil {
		return err
	}
	reason := ""
	if f != nil {
		reason = f.reason()
	} else if reason, err = o.finish(o.rec.Current.Outputs); err != nil {
		return err
	}
	if reason != "" {
		return o.rollbackUpdate(reason)
	}
	return o.commitUpdate()
}

// commitUpdate makes the pending deployment current and deletes what it
// replaced or no longer has.
func (o *op) commitUpdate() error {
	oldOrder := o.rec.Current.Order
	o.rec.Current, o.rec.Pending = *o.rec.Pending, nil
	for _, r := range o.rec.Resources {
		if !r.Replaced {
			r.Prev = nil
		}
		r.Created = false
	}
	o.rec.Cleanup = o.cleanupList(oldOrder)
	if err := o.status(StatusUpdateCleanup, ""); err != nil {
		return err
	}
	return o.finishCleanup(false)
}

// cleanupList lists, in deletion order (the reverse of order, then the
// rest by name), the resources the cleanup phase deletes: those the current
// deployment does not have, and those with a replaced physical resource.
func (o *op) cleanupList(order []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		r := o.rec.Resources[id]
		if r == nil || seen[id] {
			return
		}
		seen[id] = true
		if (r.Replaced && r.Prev != nil) || !slices.Contains(o.rec.Current.Order, id) {
			out = append(out, id)
		}
	}
	for _, id := range slices.Backward(order) {
		add(id)
	}
	for _, id := range sortedKeys(o.rec.Resources) {
		add(id)
	}
	return out
}

// finishCleanup runs the cleanup phase of an update (or of its rollback)
// and ends it: UPDATE_COMPLETE (UPDATE_ROLLBACK_COMPLETE). Deletions that
// fail are reported as events; the stack still completes, as in
// CloudFormation.
func (o *op) finishCleanup(rollback bool) error {
	for len(o.rec.Cleanup) > 0 {
		if err := o.stopping(); err != nil {
			return err
		}
		id := o.rec.Cleanup[0]
		if r := o.rec.Resources[id]; r != nil {
			switch {
			case r.Replaced && r.Prev != nil:
				policy := r.UpdateReplacePolicy
				if rollback {
					policy = "" // the replacement being undone
				}
				if _, err := o.deletePhysical(id, r.Prev, policy); err != nil {
					return err
				}
				r.Prev, r.Replaced = nil, false
			case !slices.Contains(o.rec.Current.Order, id):
				policy := r.DeletionPolicy
				if rollback && r.Created && policy == policyRetainExceptOnCreate {
					policy = ""
				}
				if _, err := o.deletePhysical(id, &r.Resource, policy); err != nil {
					return err
				}
				delete(o.rec.Resources, id)
			}
		}
		o.rec.Cleanup = o.rec.Cleanup[1:]
		if err := o.save(); err != nil {
			return err
		}
	}
	if err := o.s.syncExports(o.ctx, o.rec, o.rec.Current.Outputs); err != nil {
		return o.check(err)
	}
	if rollback {
		return o.status(StatusUpdateRollbackComplete, o.rec.StatusReason)
	}
	return o.status(StatusUpdateComplete, "")
}

// rollbackUpdate returns the stack to its current deployment: resources
// updated in place get their previous properties back, replacements give
// way to the resources they replaced, and resources the update created
// are deleted in the cleanup phase.
func (o *op) rollbackUpdate(reason string) error {
	if o.rec.Status != StatusUpdateRollbackInProgress {
		// Swapping replacements back is a record change only: it is saved
		// with the status, so a resumed rollback does not swap twice.
		for _, r := range o.rec.Resources {
			if r.Replaced && r.Prev != nil {
				newer := r.Resource
				r.Resource, r.Prev = *r.Prev, &newer
			}
		}
		if err := o.status(StatusUpdateRollbackInProgress, reason); err != nil {
			return err
		}
	}
	for _, id := range o.revertOrder() {
		if err := o.stopping(); err != nil {
			return err
		}
		r := o.rec.Resources[id]
		if r == nil || r.Prev == nil || r.Replaced {
			continue
		}
		failed, err := o.revert(id, r)
		if err != nil {
			return err
		}
		if failed {
			o.rec.Pending = nil
			return o.status(StatusUpdateRollbackFailed, "The following resource(s) failed to update: ["+id+"]. ")
		}
	}
	newOrder := []string(nil)
	if o.rec.Pending != nil {
		newOrder = o.rec.Pending.Order
	}
	o.rec.Pending = nil
	o.rec.Cleanup = o.cleanupList(newOrder)
	if err := o.status(StatusUpdateRollbackCleanup, o.rec.StatusReason); err != nil {
		return err
	}
	return o.finishCleanup(true)
}

// revertOrder is the order rollback reverts resources in: the current
// deployment's, then any other by name.
func (o *op) revertOrder() []string {
	out := slices.Clone(o.rec.Current.Order)
	for _, id := range sortedKeys(o.rec.Resources) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// revert gives r its previous properties back.
func (o *op) revert(id string, r *resource) (bool, error) {
	prev := r.Prev
	if err := o.event(id, r.PhysicalID, prev.Type, StatusUpdateInProgress, "", nil); err != nil {
		return false, err
	}
	if _, ok := o.s.providers[prev.Type]; !ok {
		return true, o.event(id, r.PhysicalID, prev.Type, StatusUpdateFailed, "Nimbus has no provider for "+prev.Type, nil)
	}
	cur := r.Resource
	res, err := o.update1(prev.Type, o.request(id, prev.Type, prev.Properties), &cur)
	if errors.Is(err, ErrReplace) {
		// Going back needs replacement, so going forward did too: the
		// provider changed nothing and the resource is as it was.
		res, err = nil, nil
	}
	if err != nil {
		if o.ctx.Err() != nil {
			return false, errAbandoned
		}
		o.setResource(r, StatusUpdateFailed, err.Error())
		if err := o.save(); err != nil {
			return false, err
		}
		return true, o.event(id, r.PhysicalID, prev.Type, StatusUpdateFailed, err.Error(), nil)
	}
	r.Resource = *prev
	if res != nil {
		keep := r.PhysicalID
		r.Result = *res
		if r.PhysicalID == "" {
			r.PhysicalID = keep
		}
	}
	r.Prev = nil
	o.setResource(r, StatusUpdateComplete, "")
	if err := o.save(); err != nil {
		return false, err
	}
	return false, o.event(id, r.PhysicalID, prev.Type, StatusUpdateComplete, "", nil)
}

// deletePhysical deletes one physical resource unless policy retains it.
// It reports whether the deletion failed (with a DELETE_FAILED event).
func (o *op) deletePhysical(id string, res *Resource, policy string) (bool, error) {
	if res.PhysicalID == "" {
		return false, nil // never made
	}
	if policy == policyRetain || policy == policyRetainExceptOnCreate {
		return false, o.event(id, res.PhysicalID, res.Type, StatusDeleteSkipped, "", nil)
	}
	p, ok := o.s.providers[res.Type]
	if !ok {
		return false, o.event(id, res.PhysicalID, res.Type, StatusDeleteSkipped, "Nimbus has no provider for "+res.Type, nil)
	}
	if err := o.event(id, res.PhysicalID, res.Type, StatusDeleteInProgress, "", nil); err != nil {
		return false, err
	}
	cur := *res
	if err := o.call(func(ctx context.Context) error { return p.Delete(ctx, o.request(id, res.Type, res.Properties), &cur) }); err != nil {
		if o.ctx.Err() != nil {
			return false, errAbandoned
		}
		return true, o.event(id, res.PhysicalID, res.Type, StatusDeleteFailed, err.Error(), nil)
	}
	return false, o.event(id, res.PhysicalID, res.Type, StatusDeleteComplete, "", nil)
}

// deleteAll deletes every resource of the stack in reverse order and
// returns those that failed (they stay recorded, DELETE_FAILED).
func (o *op) deleteAll(createRollback bool) ([]string, error) {
	ids := slices.Clone(o.rec.Current.Order)
	if o.rec.Pending != nil {
		for _, id := range o.rec.Pending.Order {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Reverse(ids)
	for _, id := range sortedKeys(o.rec.Resources) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var failed []string
	for _, id := range ids {
		if err := o.stopping(); err != nil {
			return nil, err
		}
		r := o.rec.Resources[id]
		if r == nil {
			continue
		}
		prevBad := false
		if r.Replaced && r.Prev != nil {
			bad, err := o.deletePhysical(id, r.Prev, "")
			if err != nil {
				return nil, err
			}
			if prevBad = bad; !bad {
				r.Prev, r.Replaced = nil, false
			}
		}
		policy := r.DeletionPolicy
		if createRollback && policy == policyRetainExceptOnCreate {
			policy = ""
		}
		bad, err := o.deletePhysical(id, &r.Resource, policy)
		if err != nil {
			return nil, err
		}
		if bad || prevBad {
			failed = append(failed, id)
			o.setResource(r, StatusDeleteFailed, "")
		} else {
			delete(o.rec.Resources, id)
		}
		if err := o.save(); err != nil {
			return nil, err
		}
	}
	return failed, nil
}

// runDelete deletes the stack: DELETE_IN_PROGRESS -> DELETE_COMPLETE, or
// DELETE_FAILED (an export in use, a resource that could not be deleted).
func (o *op) runDelete() error {
	for _, name := range sortedKeys(exportsOf(o.rec.Current.Outputs)) {
		users, err := o.s.importers(o.ctx, name, o.rec.ID)
		if err != nil {
			return o.check(err)
		}
		if len(users) > 0 {
			return o.status(StatusDeleteFailed, "Export "+name+" cannot be deleted as it is in use by "+strings.Join(users, ", "))
		}
	}
	failed, err := o.deleteAll(false)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return o.status(StatusDeleteFailed, deleteReason(failed))
	}
	if err := o.s.syncExports(o.ctx, o.rec, nil); err != nil {
		return o.check(err)
	}
	o.rec.Pending, o.rec.Resources, o.rec.Cleanup = nil, nil, nil
	o.rec.Deleted = o.s.now()
	if err := o.status(StatusDeleteComplete, ""); err != nil {
		return err
	}
	return o.check(o.s.releaseName(o.ctx, o.rec))
}

// resume continues or rolls back an operation a previous process left in
// progress.
func (o *op) resume() error {
	switch o.rec.Status {
	case StatusCreateInProgress:
		if o.rec.DisableRollback {
			return o.status(StatusCreateFailed, reasonInterrupted)
		}
		return o.rollbackCreate(reasonInterrupted, reasonInterrupted)
	case StatusRollbackInProgress:
		return o.rollbackCreate(strings.TrimSuffix(o.rec.StatusReason, reasonRollbackRequested), o.rec.StatusReason)
	case StatusUpdateInProgress:
		return o.rollbackUpdate(reasonInterrupted)
	case StatusUpdateRollbackInProgress:
		return o.rollbackUpdate(o.rec.StatusReason)
	case StatusUpdateCleanup:
		return o.finishCleanup(false)
	case StatusUpdateRollbackCleanup:
		return o.finishCleanup(true)
	case StatusDeleteInProgress:
		return o.runDelete()
	}
	return errors.New("resume: stack " + o.rec.Name + " is in no operation (" + o.rec.Status + ")")
}
