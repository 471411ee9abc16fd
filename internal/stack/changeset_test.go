package stack

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// ReplacementProperties: the fake replaces a resource when its Name changes.
func (f *fakeProvider) ReplacementProperties(string) []string { return []string{"Name"} }

const csV1 = `
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
  D:
    Type: Test::Thing
    Properties:
      Name: d
  E:
    Type: Test::Thing
    Properties:
      Name: e
`

// csV2 replaces A (new Name) and changes its Value through the parameter,
// which changes B's Target; adds C, removes D, leaves E.
const csV2 = `
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a2
      Value: !Ref Greeting
  B:
    Type: Test::Thing
    Properties:
      Name: b
      Target: !GetAtt A.Arn
  C:
    Type: Test::Other
    Properties:
      Name: c
  E:
    Type: Test::Thing
    Properties:
      Name: e
`

func (h *harness) changeSet(in ChangeSetInput) (string, string) {
	h.t.Helper()
	if in.Capabilities == nil {
		in.Capabilities = allCaps
	}
	id, stackID, err := h.svc.CreateChangeSet(h.t.Context(), in)
	if err != nil {
		h.t.Fatalf("CreateChangeSet %s: %v", in.ChangeSetName, err)
	}
	return id, stackID
}

func (h *harness) describeCS(nameOrID, stackName string) *ChangeSet {
	h.t.Helper()
	cs, err := h.svc.DescribeChangeSet(h.t.Context(), nameOrID, stackName)
	if err != nil {
		h.t.Fatalf("DescribeChangeSet %s: %v", nameOrID, err)
	}
	return cs
}

func wantCS(t *testing.T, cs *ChangeSet, status, exec string) {
	t.Helper()
	if cs.Status != status || cs.ExecutionStatus != exec {
		t.Fatalf("change set %s is %s/%s (%s), want %s/%s", cs.Name, cs.Status, cs.ExecutionStatus, cs.StatusReason, status, exec)
	}
}

func byLogicalID(cs *ChangeSet) map[string]ResourceChange {
	out := map[string]ResourceChange{}
	for _, c := range cs.Changes {
		out[c.LogicalID] = c
	}
	return out
}

func TestChangeSetCreateExecute(t *testing.T) {
	h := newHarness(t)
	id, stackID := h.changeSet(ChangeSetInput{ChangeSetName: "first", ChangeSetType: ChangeSetTypeCreate, Description: "v1",
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV1}}})
	if !strings.HasPrefix(id, "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/first/") ||
		!strings.HasPrefix(stackID, "arn:aws:cloudformation:eu-west-1:123456789012:stack/app/") {
		t.Fatalf("ids %s, %s", id, stackID)
	}
	st := h.describe("app")
	wantStatus(t, st, StatusReviewInProgress)
	if len(h.prov.order()) != 0 {
		t.Fatalf("a change set called providers: %v", h.prov.order())
	}
	if got := h.events("app"); !slices.Equal(got, []string{"app REVIEW_IN_PROGRESS"}) {
		t.Fatalf("events %v", got)
	}
	cs := h.describeCS("first", "app")
	wantCS(t, cs, ChangeSetCreateComplete, ExecutionAvailable)
	if cs.ID != id || cs.StackID != stackID || cs.Description != "v1" || cs.Type != ChangeSetTypeCreate {
		t.Fatalf("change set %+v", cs)
	}
	var adds []string
	for _, c := range cs.Changes {
		if c.Action != ActionAdd || c.Replacement != "" || c.PhysicalID != "" || c.ResourceType != "Test::Thing" {
			t.Fatalf("change %+v, want an Add", c)
		}
		adds = append(adds, c.LogicalID)
	}
	if slices.Sort(adds); !slices.Equal(adds, []string{"A", "B", "D", "E"}) {
		t.Fatalf("adds %v", adds)
	}
	if got := cs.Parameters; len(got) != 1 || got[0] != (Parameter{"Greeting", "hello"}) {
		t.Fatalf("parameters %+v", got)
	}
	// A stack under review can not be updated, nor created again.
	_, err := h.svc.UpdateStack(t.Context(), UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV1}})
	wantAPIError(t, err, CodeValidationError, "is in REVIEW_IN_PROGRESS state and can not be updated.")
	_, err = h.svc.CreateStack(t.Context(), CreateInput{StackName: "app", TemplateBody: csV1})
	wantAPIError(t, err, CodeAlreadyExists, "Stack [app] already exists")
	// The same name again is refused; a second CREATE change set is fine.
	_, _, err = h.svc.CreateChangeSet(t.Context(), ChangeSetInput{ChangeSetName: "first", ChangeSetType: ChangeSetTypeCreate,
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV1}}})
	wantAPIError(t, err, CodeAlreadyExists, "ChangeSet [first] already exists")
	other, sameStack := h.changeSet(ChangeSetInput{ChangeSetName: "other", ChangeSetType: ChangeSetTypeCreate,
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV1}}})
	if sameStack != stackID {
		t.Fatalf("second CREATE change set made stack %s, want %s", sameStack, stackID)
	}

	if err := h.svc.ExecuteChangeSet(t.Context(), ExecuteInput{ChangeSetName: id}); err != nil {
		t.Fatal(err)
	}
	st = h.wait(stackID)
	wantStatus(t, st, StatusCreateComplete)
	if got := h.prov.order(); len(got) != 4 {
		t.Fatalf("provider calls %v, want four creates", got)
	}
	wantCS(t, h.describeCS(id, ""), ChangeSetCreateComplete, ExecutionComplete)
	wantCS(t, h.describeCS(other, ""), ChangeSetCreateComplete, ExecutionObsolete)
	err = h.svc.ExecuteChangeSet(t.Context(), ExecuteInput{ChangeSetName: "other", StackName: "app"})
	wantAPIError(t, err, CodeInvalidChangeSetStatus, "["+ExecutionObsolete+"]")
	err = h.svc.ExecuteChangeSet(t.Context(), ExecuteInput{ChangeSetName: id})
	wantAPIError(t, err, CodeInvalidChangeSetStatus, "["+ExecutionComplete+"]")
	if got := h.events("app"); got[0] != "app REVIEW_IN_PROGRESS" || got[1] != "app CREATE_IN_PROGRESS" || got[len(got)-1] != "app CREATE_COMPLETE" {
		t.Fatalf("events %v", got)
	}
}

func TestChangeSetUpdate(t *testing.T) {
	h := newHarness(t)
	h.create("app", csV1, nil)
	oldA, oldB, oldD := h.physical("app", "A"), h.physical("app", "B"), h.physical("app", "D")
	h.prov.reset()

	id, _ := h.changeSet(ChangeSetInput{ChangeSetName: "v2",
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV2, Parameters: map[string]string{"Greeting": "hi"}}}})
	// A second one, from the previous template, becomes obsolete when v2 runs.
	second, _ := h.changeSet(ChangeSetInput{ChangeSetName: "greeting",
		UpdateInput: UpdateInput{UsePreviousTemplate: true, CreateInput: CreateInput{StackName: "app", Parameters: map[string]string{"Greeting": "hola"}}}})
	if len(h.prov.order()) != 0 {
		t.Fatalf("a change set called providers: %v", h.prov.order())
	}
	cs := h.describeCS("v2", "app")
	wantCS(t, cs, ChangeSetCreateComplete, ExecutionAvailable)
	got := byLogicalID(cs)
	if len(got) != 4 || got["E"].Action != "" {
		t.Fatalf("changes %+v, want A, B, C and D only", cs.Changes)
	}
	a := got["A"]
	if a.Action != ActionModify || a.Replacement != ReplacementTrue || a.PhysicalID != oldA || !slices.Equal(a.Scope, []string{"Properties"}) {
		t.Fatalf("A %+v, want a replacement of %s", a, oldA)
	}
	wantDetails := []ChangeDetail{
		{Attribute: "Properties", Name: "Name", RequiresRecreation: recreateAlways, Evaluation: "Static", ChangeSource: "DirectModification"},
		{Attribute: "Properties", Name: "Value", RequiresRecreation: recreateNever, Evaluation: "Static", ChangeSource: "ParameterReference", CausingEntity: "Greeting"},
	}
	if !slices.Equal(a.Details, wantDetails) {
		t.Fatalf("A's details %+v, want %+v", a.Details, wantDetails)
	}
	b := got["B"]
	wantB := []ChangeDetail{{Attribute: "Properties", Name: "Target", RequiresRecreation: recreateNever, Evaluation: "Dynamic", ChangeSource: "ResourceReference", CausingEntity: "A"}}
	if b.Action != ActionModify || b.Replacement != ReplacementFalse || b.PhysicalID != oldB || !slices.Equal(b.Details, wantB) {
		t.Fatalf("B %+v, want an in-place Modify of Target caused by A", b)
	}
	if c := got["C"]; c.Action != ActionAdd || c.ResourceType != "Test::Other" {
		t.Fatalf("C %+v", c)
	}
	if d := got["D"]; d.Action != ActionRemove || d.PhysicalID != oldD || d.Replacement != "" {
		t.Fatalf("D %+v", d)
	}
	if body, err := h.svc.ChangeSetTemplate(t.Context(), id, "", "Original"); err != nil || body != csV2 {
		t.Fatalf("ChangeSetTemplate = %q, %v", body, err)
	}
	if body, err := h.svc.ChangeSetTemplate(t.Context(), "greeting", "app", ""); err != nil || body != csV1 {
		t.Fatalf("ChangeSetTemplate of a UsePreviousTemplate change set = %q, %v", body, err)
	}
	sums, err := h.svc.ListChangeSets(t.Context(), "app")
	if err != nil || len(sums) != 2 || sums[0].Name != "v2" || sums[1].Name != "greeting" || sums[0].Changes != nil {
		t.Fatalf("ListChangeSets = %+v, %v", sums, err)
	}

	if err := h.svc.ExecuteChangeSet(t.Context(), ExecuteInput{ChangeSetName: "v2", StackName: "app"}); err != nil {
		t.Fatal(err)
	}
	st := h.wait("app")
	wantStatus(t, st, StatusUpdateComplete)
	if st.Parameters[0].Value != "hi" {
		t.Fatalf("parameters %+v", st.Parameters)
	}
	calls := h.prov.order()
	for _, want := range []string{"create:A", "update:B", "create:C", "delete:A", "delete:D"} {
		if !slices.Contains(calls, want) {
			t.Fatalf("provider calls %v, want %s among them", calls, want)
		}
	}
	if slices.ContainsFunc(calls, func(c string) bool { return strings.HasSuffix(c, ":E") }) {
		t.Fatalf("E was touched: %v", calls)
	}
	wantCS(t, h.describeCS(id, "app"), ChangeSetCreateComplete, ExecutionComplete)
	wantCS(t, h.describeCS(second, ""), ChangeSetCreateComplete, ExecutionObsolete)

	// The same template and parameters again: an empty change set, FAILED.
	empty, _ := h.changeSet(ChangeSetInput{ChangeSetName: "again",
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV2, UsePrevious: []string{"Greeting"}}}})
	cs = h.describeCS(empty, "")
	wantCS(t, cs, ChangeSetFailed, ExecutionUnavailable)
	if cs.StatusReason != ReasonNoChanges || len(cs.Changes) != 0 {
		t.Fatalf("empty change set %+v", cs)
	}
	err = h.svc.ExecuteChangeSet(t.Context(), ExecuteInput{ChangeSetName: empty})
	wantAPIError(t, err, CodeInvalidChangeSetStatus, "[FAILED]")

	// A direct UpdateStack makes an available change set obsolete.
	h.changeSet(ChangeSetInput{ChangeSetName: "late",
		UpdateInput: UpdateInput{UsePreviousTemplate: true, CreateInput: CreateInput{StackName: "app", Parameters: map[string]string{"Greeting": "yo"}}}})
	h.update("app", csV2, map[string]string{"Greeting": "hey"})
	wantCS(t, h.describeCS("late", "app"), ChangeSetCreateComplete, ExecutionObsolete)

	// Delete by id and by name.
	if err := h.svc.DeleteChangeSet(t.Context(), empty, ""); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.DescribeChangeSet(t.Context(), empty, "")
	var e *awsapi.Error
	if !errors.As(err, &e) || e.Code != CodeChangeSetNotFound || e.Status != 404 {
		t.Fatalf("DescribeChangeSet of a deleted change set: %v", err)
	}
	if err := h.svc.DeleteChangeSet(t.Context(), "late", "app"); err != nil {
		t.Fatal(err)
	}
	sums, _ = h.svc.ListChangeSets(t.Context(), "app")
	if names := changeSetNames(sums); !slices.Equal(names, []string{"v2", "greeting"}) {
		t.Fatalf("change sets %v after deletes", names)
	}

	// Deleting the stack deletes its change sets.
	h.del("app")
	keys, err := h.st.Keys(t.Context(), keyChangeSet)
	if err != nil || len(keys) != 0 {
		t.Fatalf("change set keys after DeleteStack: %v, %v", keys, err)
	}
}

func changeSetNames(cs []ChangeSet) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestChangeSetReviewStackDelete(t *testing.T) {
	h := newHarness(t)
	id, stackID := h.changeSet(ChangeSetInput{ChangeSetName: "cs", ChangeSetType: ChangeSetTypeCreate,
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "rev", TemplateBody: csV1}}})
	if err := h.svc.DeleteChangeSet(t.Context(), id, ""); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.describe("rev"), StatusReviewInProgress)
	if sums, err := h.svc.ListChangeSets(t.Context(), "rev"); err != nil || len(sums) != 0 {
		t.Fatalf("ListChangeSets = %v, %v", sums, err)
	}
	if err := h.svc.DeleteStack(t.Context(), "rev", ""); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.wait(stackID), StatusDeleteComplete)
	// The name is free again, for a stack or a change set.
	h.changeSet(ChangeSetInput{ChangeSetName: "cs", ChangeSetType: ChangeSetTypeCreate,
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "rev", TemplateBody: csV1}}})
}

func TestChangeSetExecuteFailure(t *testing.T) {
	h := newHarness(t)
	h.prov.setFail("create:D", "no room for D")
	id, stackID := h.changeSet(ChangeSetInput{ChangeSetName: "cs", ChangeSetType: ChangeSetTypeCreate,
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV1}}})
	if err := h.svc.ExecuteChangeSet(t.Context(), ExecuteInput{ChangeSetName: id}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.wait(stackID), StatusRollbackComplete)
	wantCS(t, h.describeCS(id, ""), ChangeSetCreateComplete, ExecutionFailed)
}

func TestChangeSetErrors(t *testing.T) {
	h := newHarness(t)
	h.create("app", csV1, nil)
	in := func(name, typ, stackName string) ChangeSetInput {
		return ChangeSetInput{ChangeSetName: name, ChangeSetType: typ,
			UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: stackName, TemplateBody: csV1, Capabilities: allCaps}}}
	}
	cases := []struct {
		in        ChangeSetInput
		code, msg string
	}{
		{in("cs", ChangeSetTypeImport, "app"), CodeValidationError, "IMPORT is not supported"},
		{in("cs", "SOMETIMES", "app"), CodeValidationError, "Member must satisfy enum value set: [CREATE, UPDATE, IMPORT]"},
		{in("1cs", "", "app"), CodeValidationError, "at 'changeSetName' failed to satisfy constraint"},
		{in(strings.Repeat("c", 129), "", "app"), CodeValidationError, "Member must have length between 1 and 128"},
		{in("cs", ChangeSetTypeCreate, "app"), CodeAlreadyExists, "Stack [app] already exists and cannot be created again with the changeSet [cs]."},
		{in("cs", ChangeSetTypeUpdate, "nope"), CodeValidationError, "Stack [nope] does not exist"},
		{in("cs", ChangeSetTypeCreate, "bad_name"), CodeValidationError, "at 'stackName' failed to satisfy constraint"},
		{ChangeSetInput{ChangeSetName: "cs", UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: "Transform: AWS::Serverless-2016-10-31\nResources: {F: {Type: AWS::Serverless::Function}}"}}},
			CodeInsufficientCapabilities, "CAPABILITY_AUTO_EXPAND"},
	}
	for _, c := range cases {
		_, _, err := h.svc.CreateChangeSet(t.Context(), c.in)
		wantAPIError(t, err, c.code, c.msg)
	}
	// Nothing was recorded by the refused requests.
	if sums, err := h.svc.ListChangeSets(t.Context(), "app"); err != nil || len(sums) != 0 {
		t.Fatalf("ListChangeSets = %v, %v", sums, err)
	}
	if _, err := h.svc.DescribeStacks(t.Context(), "nope"); err == nil {
		t.Fatal("a refused CREATE change set left a stack")
	}
	_, err := h.svc.DescribeChangeSet(t.Context(), "cs", "")
	wantAPIError(t, err, CodeValidationError, "StackName must be specified")
	for _, id := range []string{"cs", "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/cs/0b7a4b1c-0000-4000-8000-000000000000", "arn:nope"} {
		_, err = h.svc.DescribeChangeSet(t.Context(), id, "app")
		var e *awsapi.Error
		if !errors.As(err, &e) || e.Code != CodeChangeSetNotFound || e.Status != 404 {
			t.Fatalf("DescribeChangeSet %s: %v, want ChangeSetNotFound", id, err)
		}
	}
}

// TestChangeSetLimit: a stack keeps at most maxChangeSetsPerStack change
// sets; the oldest that can not be executed makes room.
func TestChangeSetLimit(t *testing.T) {
	h := newHarness(t)
	h.create("app", csV1, nil)
	for i := range maxChangeSetsPerStack {
		h.changeSet(ChangeSetInput{ChangeSetName: "cs" + string(rune('a'+i)),
			UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV1, UsePrevious: []string{"Greeting"}}}})
	}
	// All are empty (FAILED): one more drops the oldest.
	h.changeSet(ChangeSetInput{ChangeSetName: "more",
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV2}}})
	sums, _ := h.svc.ListChangeSets(t.Context(), "app")
	names := changeSetNames(sums)
	if len(names) != maxChangeSetsPerStack || slices.Contains(names, "csa") || names[len(names)-1] != "more" {
		t.Fatalf("change sets %v", names)
	}
	// Once all can be executed, the next is refused.
	for i := range maxChangeSetsPerStack - 1 {
		if err := h.svc.DeleteChangeSet(t.Context(), names[i], "app"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range maxChangeSetsPerStack - 1 {
		h.changeSet(ChangeSetInput{ChangeSetName: "x" + string(rune('a'+i)),
			UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV2}}})
	}
	_, _, err := h.svc.CreateChangeSet(t.Context(), ChangeSetInput{ChangeSetName: "over",
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV2, Capabilities: allCaps}}})
	wantAPIError(t, err, CodeLimitExceeded, "delete some with DeleteChangeSet")
}

// FuzzChanges predicts the changes of arbitrary templates against a stack
// made from csV1: it never panics, refusals are 400s, and every change is
// consistent with the stack and the template (Add only for new resources,
// Modify and Remove only for existing ones, each resource at most once).
func FuzzChanges(f *testing.F) {
	for _, body := range []string{csV1, csV2, twoThings, threeThings, samApp, `{"Resources":{"A":{"Type":"Test::Other","Properties":{"Name":{"Fn::GetAtt":["B","Arn"]}}}}}`} {
		f.Add(body, "hi")
	}
	providers := map[string]Provider{}
	for _, typ := range testTypes {
		providers[typ] = newFake()
	}
	s := &Service{kv: storetest.Open(f), providers: providers, region: "eu-west-1", account: "123456789012"}
	stackID := stackARN("eu-west-1", "123456789012", "app", "6f1c3f5e-7a8b-4c1d-9e2f-0a1b2c3d4e5f")
	p1, err := s.prepare(planInput{name: "app", stackID: stackID, body: csV1, capabilities: allCaps})
	if err != nil {
		f.Fatal(err)
	}
	rec := &record{ID: stackID, Name: "app", Current: p1.dep, Resources: map[string]*resource{}}
	for _, id := range p1.dep.Order {
		rec.Resources[id] = &resource{Resource: Resource{LogicalID: id, Type: p1.tmpl.Resources[id].Type,
			Properties: map[string]any{"Name": strings.ToLower(id)}, Result: Result{PhysicalID: "phys-" + id, Attrs: map[string]any{"Arn": "arn:" + id}}}}
	}
	f.Fuzz(func(t *testing.T, body, greeting string) {
		p, err := s.prepare(planInput{name: "app", stackID: stackID, body: body, overrides: map[string]string{"Greeting": greeting},
			prev: rec.Current.Params, capabilities: allCaps})
		if err != nil {
			var e *awsapi.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
				t.Fatalf("prepare error %v is not a 400 with a message", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range s.changes(t.Context(), rec, p) {
			if seen[c.LogicalID] {
				t.Fatalf("%s changed twice", c.LogicalID)
			}
			seen[c.LogicalID] = true
			_, existed := rec.Resources[c.LogicalID]
			kept := slices.Contains(p.dep.Order, c.LogicalID)
			switch c.Action {
			case ActionAdd:
				if existed || !kept || c.Replacement != "" {
					t.Fatalf("Add %+v", c)
				}
			case ActionModify:
				if !existed || !kept || !slices.Contains([]string{ReplacementTrue, ReplacementFalse, ReplacementConditional}, c.Replacement) {
					t.Fatalf("Modify %+v", c)
				}
			case ActionRemove:
				if !existed || kept || c.PhysicalID != "phys-"+c.LogicalID {
					t.Fatalf("Remove %+v", c)
				}
			default:
				t.Fatalf("change %+v", c)
			}
		}
		for _, id := range p.dep.Order {
			if _, existed := rec.Resources[id]; !existed && !seen[id] {
				t.Fatalf("new resource %s not added", id)
			}
		}
	})
}

// TestChangeSetSurvivesRestart: change sets live in the backbone; a new
// Service on the same store describes and executes them.
func TestChangeSetSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	id, stackID := h.changeSet(ChangeSetInput{ChangeSetName: "cs", ChangeSetType: ChangeSetTypeCreate,
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: csV1}}})
	h.stop()
	h.svc, h.stop = startService(t, h.st, h.prov)
	wantStatus(t, h.describe("app"), StatusReviewInProgress)
	cs := h.describeCS("cs", "app")
	wantCS(t, cs, ChangeSetCreateComplete, ExecutionAvailable)
	if cs.ID != id || len(cs.Changes) != 4 {
		t.Fatalf("change set after restart %+v", cs)
	}
	if err := h.svc.ExecuteChangeSet(t.Context(), ExecuteInput{ChangeSetName: id}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.wait(stackID), StatusCreateComplete)
}

// TestChangeSetExecuteRace: of two change sets of a stack executed at
// once, exactly one runs.
func TestChangeSetExecuteRace(t *testing.T) {
	h := newHarness(t)
	h.create("app", csV1, nil)
	for _, g := range []string{"a", "b"} {
		h.changeSet(ChangeSetInput{ChangeSetName: g, UpdateInput: UpdateInput{
			CreateInput: CreateInput{StackName: "app", TemplateBody: csV1, Parameters: map[string]string{"Greeting": g}}}})
	}
	errs := make(chan error, 2)
	for _, g := range []string{"a", "b"} {
		go func() { errs <- h.svc.ExecuteChangeSet(t.Context(), ExecuteInput{ChangeSetName: g, StackName: "app"}) }()
	}
	ok := 0
	for range 2 {
		err := <-errs
		var e *awsapi.Error
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &e) || e.Status != 400:
			t.Fatalf("the losing ExecuteChangeSet: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of two ExecuteChangeSet calls ran", ok)
	}
	st := h.wait("app")
	wantStatus(t, st, StatusUpdateComplete)
	ran := map[string]string{}
	for _, g := range []string{"a", "b"} {
		ran[g] = h.describeCS(g, "app").ExecutionStatus
	}
	want := map[string]string{st.Parameters[0].Value: ExecutionComplete}
	for _, g := range []string{"a", "b"} {
		if g != st.Parameters[0].Value {
			want[g] = ExecutionObsolete
		}
	}
	if ran["a"] != want["a"] || ran["b"] != want["b"] {
		t.Fatalf("execution statuses %v, want %v", ran, want)
	}
}
