package stack

import (
	"slices"
	"strings"
	"testing"
)

const twoThings = `
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
      Value: !Ref Greeting
  B:
    Type: Test::Thing
    Properties:
      Name: b
      Target: !GetAtt A.Arn
Outputs:
  BArn:
    Description: the arn of B
    Value: !GetAtt B.Arn
  AName:
    Value: !Ref A
`

func TestCreateUpdateDelete(t *testing.T) {
	h := newHarness(t)
	st := h.create("app", twoThings, nil)
	wantStatus(t, st, StatusCreateComplete)
	if got := h.prov.order(); !slices.Equal(got, []string{"create:A", "create:B"}) {
		t.Fatalf("provider calls %v, want A then B", got)
	}
	a, b := h.physical("app", "A"), h.physical("app", "B")
	if got := h.prov.props(b)["Target"]; got != "arn:test:"+a {
		t.Fatalf("B's Target = %v, want A's Arn arn:test:%s", got, a)
	}
	if output(st, "BArn") != "arn:test:"+b || output(st, "AName") != a {
		t.Fatalf("outputs %+v; want BArn arn:test:%s, AName %s", st.Outputs, b, a)
	}
	if !strings.HasPrefix(st.StackID, "arn:aws:cloudformation:eu-west-1:123456789012:stack/app/") {
		t.Fatalf("stack id %s", st.StackID)
	}
	if got := st.Parameters; len(got) != 1 || got[0] != (Parameter{Key: "Greeting", Value: "hello"}) {
		t.Fatalf("parameters %+v", got)
	}
	wantEvents := []string{
		"app CREATE_IN_PROGRESS", "A CREATE_IN_PROGRESS", "A CREATE_COMPLETE",
		"B CREATE_IN_PROGRESS", "B CREATE_COMPLETE", "app CREATE_COMPLETE",
	}
	if got := h.events("app"); !slices.Equal(got, wantEvents) {
		t.Fatalf("events %v, want %v", got, wantEvents)
	}

	// A parameter that only A uses: A is updated in place, and B, whose
	// properties are the same, is not touched.
	h.prov.reset()
	st = h.update("app", twoThings, map[string]string{"Greeting": "hi"})
	wantStatus(t, st, StatusUpdateComplete)
	if got := h.prov.order(); !slices.Equal(got, []string{"update:A"}) {
		t.Fatalf("provider calls %v, want only update:A", got)
	}
	if h.physical("app", "A") != a || h.prov.props(a)["Value"] != "hi" {
		t.Fatalf("A is %s with %v, want %s with Value hi", h.physical("app", "A"), h.prov.props(a), a)
	}

	// Nothing changed: no update.
	_, err := h.svc.UpdateStack(t.Context(), UpdateInput{CreateInput: CreateInput{
		StackName: "app", TemplateBody: twoThings, Parameters: map[string]string{"Greeting": "hi"}, Capabilities: allCaps,
	}})
	wantAPIError(t, err, CodeValidationError, "No updates are to be performed.")
	_, err = h.svc.UpdateStack(t.Context(), UpdateInput{UsePreviousTemplate: true, CreateInput: CreateInput{
		StackName: "app", UsePrevious: []string{"Greeting"}, Capabilities: allCaps,
	}})
	wantAPIError(t, err, CodeValidationError, "No updates are to be performed.")

	// Remove B, add C: C is created, then B deleted in the cleanup phase.
	h.prov.reset()
	three := strings.Replace(twoThings, "  B:\n    Type: Test::Thing\n    Properties:\n      Name: b\n      Target: !GetAtt A.Arn\n",
		"  C:\n    Type: Test::Other\n    Properties:\n      Name: c\n", 1)
	three = strings.Replace(three, "!GetAtt B.Arn", "!GetAtt C.Arn", 1)
	st = h.update("app", three, map[string]string{"Greeting": "hi"})
	wantStatus(t, st, StatusUpdateComplete)
	if got := h.prov.order(); !slices.Equal(got, []string{"create:C", "delete:B"}) {
		t.Fatalf("provider calls %v, want create:C, delete:B", got)
	}
	if got := h.events("app"); !slices.Contains(got, "app "+StatusUpdateCleanup) {
		t.Fatalf("no cleanup phase in %v", got)
	}

	h.prov.reset()
	st = h.del("app")
	wantStatus(t, st, StatusDeleteComplete)
	if got := h.prov.order(); !slices.Equal(got, []string{"delete:C", "delete:A"}) {
		t.Fatalf("provider calls %v, want delete:C, delete:A", got)
	}
	if live := h.prov.liveIDs(); len(live) != 0 {
		t.Fatalf("left behind %v", live)
	}
	_, err = h.svc.DescribeStacks(t.Context(), "app")
	wantAPIError(t, err, CodeValidationError, "Stack with id app does not exist")
	if got := h.describe(st.StackID); got.Status != StatusDeleteComplete || got.DeletionTime.IsZero() {
		t.Fatalf("deleted stack by id: %+v", got)
	}
	sums, err := h.svc.ListStacks(t.Context(), []string{StatusDeleteComplete})
	if err != nil || len(sums) != 1 || sums[0].StackID != st.StackID {
		t.Fatalf("ListStacks DELETE_COMPLETE = %+v, %v", sums, err)
	}
	if sts, err := h.svc.DescribeStacks(t.Context(), ""); err != nil || len(sts) != 0 {
		t.Fatalf("DescribeStacks of all = %+v, %v; want none live", sts, err)
	}
	// Deleting again, or a stack that never was, is not an error.
	if err := h.svc.DeleteStack(t.Context(), "app", ""); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.DeleteStack(t.Context(), "never", ""); err != nil {
		t.Fatal(err)
	}
	// The name is free again.
	st = h.create("app", twoThings, nil)
	wantStatus(t, st, StatusCreateComplete)
}

func TestReplacement(t *testing.T) {
	h := newHarness(t)
	h.create("app", twoThings, nil)
	oldA, oldB := h.physical("app", "A"), h.physical("app", "B")

	// A new Name replaces A; B's Target (A's Arn) changes with it, so B is
	// updated in place; the old A is deleted last, in the cleanup phase.
	h.prov.reset()
	st := h.update("app", strings.Replace(twoThings, "Name: a", "Name: a2", 1), nil)
	wantStatus(t, st, StatusUpdateComplete)
	want := []string{"update:A", "create:A", "update:B", "delete:A"}
	if got := h.prov.order(); !slices.Equal(got, want) {
		t.Fatalf("provider calls %v, want %v", got, want)
	}
	newA := h.physical("app", "A")
	if newA == oldA || h.physical("app", "B") != oldB {
		t.Fatalf("A %s -> %s, B %s -> %s: want a new A and the same B", oldA, newA, oldB, h.physical("app", "B"))
	}
	if got := h.prov.callsOf("delete", "A"); got[0].PhysicalID != oldA {
		t.Fatalf("deleted %s, want the old A %s", got[0].PhysicalID, oldA)
	}
	if got := h.prov.props(oldB)["Target"]; got != "arn:test:"+newA {
		t.Fatalf("B's Target = %v, want the new A's arn", got)
	}
	if got := h.event("app", "A", StatusUpdateInProgress); got.StatusReason != reasonReplacement && h.event("app", "A", StatusUpdateComplete).PhysicalID != newA {
		t.Fatalf("replacement events: %+v", got)
	}
	if slices.Contains(h.prov.liveIDs(), oldA) {
		t.Fatalf("old A %s still exists", oldA)
	}
}

func TestUpdateReplacePolicyRetain(t *testing.T) {
	h := newHarness(t)
	body := strings.Replace(twoThings, "  A:\n    Type: Test::Thing\n", "  A:\n    Type: Test::Thing\n    UpdateReplacePolicy: Retain\n", 1)
	h.create("app", body, nil)
	oldA := h.physical("app", "A")
	st := h.update("app", strings.Replace(body, "Name: a", "Name: a2", 1), nil)
	wantStatus(t, st, StatusUpdateComplete)
	if got := h.prov.callsOf("delete", ""); len(got) != 0 {
		t.Fatalf("deleted %+v; the replaced A is retained", got)
	}
	if !slices.Contains(h.prov.liveIDs(), oldA) {
		t.Fatalf("old A deleted")
	}
	if e := h.event("app", "A", StatusDeleteSkipped); e.PhysicalID != oldA {
		t.Fatalf("DELETE_SKIPPED for %s, want %s", e.PhysicalID, oldA)
	}
}

const threeThings = `
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
  B:
    Type: Test::Thing
    Properties:
      Name: b
      Target: !Ref A
  C:
    Type: Test::Other
    Properties:
      Name: c
      Target: !Ref B
`

func TestCreateFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	h.prov.setFail("create:C", "C is not allowed here")
	st := h.create("app", threeThings, nil)
	wantStatus(t, st, StatusRollbackComplete)
	if !strings.Contains(st.StatusReason, "The following resource(s) failed to create: [C]") {
		t.Fatalf("reason %q", st.StatusReason)
	}
	if e := h.event("app", "C", StatusCreateFailed); e.StatusReason != "C is not allowed here" {
		t.Fatalf("C's CREATE_FAILED reason %q", e.StatusReason)
	}
	want := []string{"create:A", "create:B", "create:C", "delete:B", "delete:A"}
	if got := h.prov.order(); !slices.Equal(got, want) {
		t.Fatalf("provider calls %v, want %v", got, want)
	}
	if live := h.prov.liveIDs(); len(live) != 0 {
		t.Fatalf("left behind %v", live)
	}
	if got := h.events("app"); !slices.Contains(got, "app "+StatusRollbackInProgress) {
		t.Fatalf("events %v", got)
	}

	// A stack in ROLLBACK_COMPLETE can only be deleted.
	_, err := h.svc.CreateStack(t.Context(), CreateInput{StackName: "app", TemplateBody: threeThings})
	wantAPIError(t, err, CodeAlreadyExists, "Stack [app] already exists")
	_, err = h.svc.UpdateStack(t.Context(), UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: twoThings}})
	wantAPIError(t, err, CodeValidationError, "is in ROLLBACK_COMPLETE state and can not be updated.")
	wantStatus(t, h.del("app"), StatusDeleteComplete)

	// DisableRollback keeps what was made.
	h.prov.setFail("create:C", "C is not allowed here")
	id, err := h.svc.CreateStack(t.Context(), CreateInput{StackName: "kept", TemplateBody: threeThings, DisableRollback: true})
	if err != nil {
		t.Fatal(err)
	}
	st = h.wait(id)
	wantStatus(t, st, StatusCreateFailed)
	if live := h.prov.liveIDs(); len(live) != 2 {
		t.Fatalf("live %v, want A and B kept", live)
	}
}

func TestUpdateFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	const before = `
Parameters:
  V:
    Type: String
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
      Value: !Ref V
  B:
    Type: Test::Thing
    Properties:
      Name: b
  Gone:
    Type: Test::Thing
    Properties:
      Name: gone
Outputs:
  Out:
    Value: !Ref V
`
	// After: A updated in place, B replaced, New created, Gone removed,
	// and Bad fails.
	const after = `
Parameters:
  V:
    Type: String
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
      Value: !Ref V
  B:
    Type: Test::Thing
    Properties:
      Name: b2
  New:
    Type: Test::Thing
    Properties:
      Name: new
  Bad:
    Type: Test::Other
    DependsOn: [A, B, New]
    Properties:
      Name: bad
Outputs:
  Out:
    Value: !Sub "${V}-after"
`
	st := h.create("app", before, map[string]string{"V": "one"})
	wantStatus(t, st, StatusCreateComplete)
	a, b, gone := h.physical("app", "A"), h.physical("app", "B"), h.physical("app", "Gone")

	h.prov.reset()
	h.prov.setFail("create:Bad", "no room for Bad")
	st = h.update("app", after, map[string]string{"V": "two"})
	wantStatus(t, st, StatusUpdateRollbackComplete)
	if !strings.Contains(st.StatusReason, "The following resource(s) failed to create: [Bad]") {
		t.Fatalf("reason %q", st.StatusReason)
	}
	// A got its old properties back, B is the old B, New is gone, Gone
	// was never touched.
	if got := h.prov.props(a)["Value"]; got != "one" {
		t.Fatalf("A's Value after rollback = %v, want one", got)
	}
	ups := h.prov.callsOf("update", "A")
	if len(ups) != 2 || ups[1].Props["Value"] != "one" {
		t.Fatalf("A's updates %+v; want one forward, one back to Value one", ups)
	}
	if h.physical("app", "B") != b || h.physical("app", "Gone") != gone || h.physical("app", "New") != "" {
		t.Fatalf("resources after rollback: B %s (want %s), Gone %s (want %s), New %q",
			h.physical("app", "B"), b, h.physical("app", "Gone"), gone, h.physical("app", "New"))
	}
	if got := h.prov.callsOf("delete", "Gone"); len(got) != 0 {
		t.Fatalf("Gone deleted by a failed update: %+v", got)
	}
	live := h.prov.liveIDs()
	if want := []string{a, b, gone}; !slices.Equal(live, sortedCopy(want)) {
		t.Fatalf("live %v, want %v", live, want)
	}
	if output(st, "Out") != "one" || st.Parameters[0].Value != "one" {
		t.Fatalf("outputs %+v, parameters %+v: want the previous ones", st.Outputs, st.Parameters)
	}
	tmpl, err := h.svc.Template(t.Context(), "app", "Original")
	if err != nil || tmpl != before {
		t.Fatalf("template after rollback = %q, %v", tmpl, err)
	}
	evs := h.events("app")
	for _, want := range []string{"app " + StatusUpdateRollbackInProgress, "app " + StatusUpdateRollbackCleanup, "Bad " + StatusCreateFailed} {
		if !slices.Contains(evs, want) {
			t.Fatalf("no %q in %v", want, evs)
		}
	}

	// The stack can be updated again.
	h.prov.setFail("create:Bad", "")
	st = h.update("app", after, map[string]string{"V": "two"})
	wantStatus(t, st, StatusUpdateComplete)
	if output(st, "Out") != "two-after" {
		t.Fatalf("outputs %+v", st.Outputs)
	}
	if got := h.prov.callsOf("delete", "Gone"); len(got) != 1 {
		t.Fatalf("Gone deletions %+v", got)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func TestUpdateFailureOfAnUpdateRevertsIt(t *testing.T) {
	h := newHarness(t)
	h.create("app", twoThings, nil)
	a := h.physical("app", "A")
	h.prov.reset()
	h.prov.setFail("update:B", "B refuses")
	// A and B both change; B fails: A is reverted, and so is B (it may be
	// half changed).
	body := strings.Replace(twoThings, "Target: !GetAtt A.Arn", "Target: !GetAtt A.Arn\n      Extra: 1", 1)
	st := h.update("app", body, map[string]string{"Greeting": "hey"})
	wantStatus(t, st, StatusUpdateRollbackComplete)
	if !strings.Contains(st.StatusReason, "failed to update: [B]") {
		t.Fatalf("reason %q", st.StatusReason)
	}
	if got := h.prov.props(a)["Value"]; got != "hello" {
		t.Fatalf("A's Value = %v, want hello back", got)
	}
	if e := h.event("app", "B", StatusUpdateFailed); e.StatusReason != "B refuses" {
		t.Fatalf("B's UPDATE_FAILED reason %q", e.StatusReason)
	}
}

func TestUpdateRollbackFailed(t *testing.T) {
	h := newHarness(t)
	h.create("app", twoThings, nil)
	h.prov.setFailN("update:A", "A is stuck", -1)
	st := h.update("app", twoThings, map[string]string{"Greeting": "hey"})
	wantStatus(t, st, StatusUpdateRollbackFailed)
	if !strings.Contains(st.StatusReason, "failed to update: [A]") {
		t.Fatalf("reason %q", st.StatusReason)
	}
	_, err := h.svc.UpdateStack(t.Context(), UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: twoThings}})
	wantAPIError(t, err, CodeValidationError, "is in UPDATE_ROLLBACK_FAILED state and can not be updated.")
	// It can still be deleted.
	wantStatus(t, h.del("app"), StatusDeleteComplete)
	if live := h.prov.liveIDs(); len(live) != 0 {
		t.Fatalf("left behind %v", live)
	}
}

func TestDeletionPolicyRetain(t *testing.T) {
	h := newHarness(t)
	body := strings.Replace(threeThings, "  C:\n    Type: Test::Other\n", "  C:\n    Type: Test::Other\n    DeletionPolicy: Retain\n", 1)
	h.create("app", body, nil)
	c := h.physical("app", "C")
	st := h.del("app")
	wantStatus(t, st, StatusDeleteComplete)
	if got := h.prov.order(); slices.Contains(got, "delete:C") {
		t.Fatalf("C deleted: %v", got)
	}
	if live := h.prov.liveIDs(); !slices.Equal(live, []string{c}) {
		t.Fatalf("live %v, want only the retained C", live)
	}
	if e := h.event(st.StackID, "C", StatusDeleteSkipped); e.PhysicalID != c {
		t.Fatalf("DELETE_SKIPPED event %+v", e)
	}

	// Removed from the template by an update: retained too.
	h.create("two", body, nil)
	c2 := h.physical("two", "C")
	st = h.update("two", strings.Replace(twoThings, "Name: b", "Name: b", 1), nil)
	wantStatus(t, st, StatusUpdateComplete)
	if !slices.Contains(h.prov.liveIDs(), c2) {
		t.Fatalf("C removed by update was deleted")
	}
}

func TestConditions(t *testing.T) {
	h := newHarness(t)
	const body = `
Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
  Monitor:
    Type: Test::Thing
    Condition: IsProd
    Properties:
      Name: monitor
      Watch: !Ref A
Outputs:
  Mon:
    Condition: IsProd
    Value: !Ref Monitor
`
	st := h.create("app", body, map[string]string{"Env": "dev"})
	wantStatus(t, st, StatusCreateComplete)
	if h.physical("app", "Monitor") != "" || len(st.Outputs) != 0 {
		t.Fatalf("Monitor made under a false condition (outputs %+v)", st.Outputs)
	}
	st = h.update("app", body, map[string]string{"Env": "prod"})
	wantStatus(t, st, StatusUpdateComplete)
	m := h.physical("app", "Monitor")
	if m == "" || output(st, "Mon") != m {
		t.Fatalf("Monitor %q, outputs %+v", m, st.Outputs)
	}
	st = h.update("app", body, map[string]string{"Env": "dev"})
	wantStatus(t, st, StatusUpdateComplete)
	if h.physical("app", "Monitor") != "" || slices.Contains(h.prov.liveIDs(), m) {
		t.Fatalf("Monitor not deleted when its condition became false")
	}
}
