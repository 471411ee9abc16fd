package stack

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const exporter = `
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
Outputs:
  AArn:
    Value: !GetAtt A.Arn
    Export:
      Name: !Sub "${AWS::StackName}-arn"
`

const importer = `
Resources:
  User:
    Type: Test::Thing
    Properties:
      Name: user
      Uses: !ImportValue base-arn
`

func TestExportsAndImports(t *testing.T) {
	h := newHarness(t)
	st := h.create("base", exporter, nil)
	wantStatus(t, st, StatusCreateComplete)
	arn := output(st, "AArn")
	if st.Outputs[0].ExportName != "base-arn" {
		t.Fatalf("outputs %+v", st.Outputs)
	}
	exps, err := h.svc.Exports(t.Context())
	if err != nil || len(exps) != 1 || exps[0] != (Export{StackID: st.StackID, Name: "base-arn", Value: arn}) {
		t.Fatalf("Exports = %+v, %v", exps, err)
	}

	st = h.create("user", importer, nil)
	wantStatus(t, st, StatusCreateComplete)
	if got := h.prov.props(h.physical("user", "User"))["Uses"]; got != arn {
		t.Fatalf("imported value %v, want %s", got, arn)
	}

	// An export name is one stack's.
	dup := strings.Replace(exporter, "${AWS::StackName}-arn", "base-arn", 1)
	st = h.create("dup", dup, nil)
	wantStatus(t, st, StatusRollbackComplete)
	if !strings.Contains(st.StatusReason, "Export with name base-arn is already exported by stack base") {
		t.Fatalf("reason %q", st.StatusReason)
	}
	wantStatus(t, h.del("dup"), StatusDeleteComplete)

	// An import that does not exist fails the resource.
	st = h.create("lost", strings.Replace(importer, "base-arn", "nope", 1), nil)
	wantStatus(t, st, StatusRollbackComplete)
	if e := h.event("lost", "User", StatusCreateFailed); !strings.Contains(e.StatusReason, "No export named nope found.") {
		t.Fatalf("User's reason %q", e.StatusReason)
	}

	// An export in use can be neither removed nor deleted.
	st = h.update("base", strings.Replace(exporter, "    Export:\n      Name: !Sub \"${AWS::StackName}-arn\"\n", "", 1), nil)
	wantStatus(t, st, StatusUpdateRollbackComplete)
	if !strings.Contains(st.StatusReason, "Export base-arn cannot be deleted as it is in use by user") {
		t.Fatalf("reason %q", st.StatusReason)
	}
	st = h.del("base")
	wantStatus(t, st, StatusDeleteFailed)
	if st.StatusReason != "Export base-arn cannot be deleted as it is in use by user" {
		t.Fatalf("reason %q", st.StatusReason)
	}
	if h.physical("base", "A") == "" {
		t.Fatalf("a failed delete deleted A")
	}

	// Once the importer is gone, the exporter goes too, and its export.
	wantStatus(t, h.del("user"), StatusDeleteComplete)
	wantStatus(t, h.del("base"), StatusDeleteComplete)
	if exps, err := h.svc.Exports(t.Context()); err != nil || len(exps) != 0 {
		t.Fatalf("Exports after delete = %+v, %v", exps, err)
	}
}

// TestResumeCreate stops the service while a resource is being made and
// starts another on the same store: it rolls the create back.
func TestResumeCreate(t *testing.T) {
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	prov := newFake()
	started := prov.blockOn("create:B")
	svc, stop := startService(t, st, prov)
	id, err := svc.CreateStack(t.Context(), CreateInput{StackName: "app", TemplateBody: threeThings})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	stop() // B's Create sees its context end; the stack stays CREATE_IN_PROGRESS
	if live := prov.liveIDs(); len(live) != 1 {
		t.Fatalf("live %v, want A only", live)
	}

	svc2, _ := startService(t, st, prov)
	got := waitFor(t, svc2, id, func(s Stack) bool { return !inProgress(s.Status) })
	wantStatus(t, got, StatusRollbackComplete)
	if live := prov.liveIDs(); len(live) != 0 {
		t.Fatalf("left behind %v", live)
	}
	if !strings.Contains(got.StatusReason, reasonInterrupted) {
		t.Fatalf("reason %q", got.StatusReason)
	}
}

// TestResumeUpdate stops the service in the middle of an update: the next
// one rolls it back, reverting what was already changed.
func TestResumeUpdate(t *testing.T) {
	st := storetest.Open(t)
	prov := newFake()
	svc, stop := startService(t, st, prov)
	h := &harness{t: t, st: st, svc: svc, prov: prov, stop: stop}
	h.create("app", twoThings, nil)
	a, b := h.physical("app", "A"), h.physical("app", "B")

	started := prov.blockOn("update:B")
	body := strings.Replace(twoThings, "Target: !GetAtt A.Arn", "Target: !GetAtt A.Arn\n      Extra: yes", 1)
	id, err := svc.UpdateStack(t.Context(), UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: body, Parameters: map[string]string{"Greeting": "changed"}}})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	// While the update runs, another one is refused.
	_, err = svc.UpdateStack(t.Context(), UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: twoThings}})
	wantAPIError(t, err, CodeValidationError, "is in UPDATE_IN_PROGRESS state and can not be updated.")
	err = svc.DeleteStack(t.Context(), "app", "")
	wantAPIError(t, err, CodeValidationError, "cannot be deleted while in status UPDATE_IN_PROGRESS")
	stop()
	if got := prov.props(a)["Value"]; got != "changed" {
		t.Fatalf("A's Value = %v before the restart, want changed", got)
	}

	svc2, _ := startService(t, st, prov)
	got := waitFor(t, svc2, id, func(s Stack) bool { return !inProgress(s.Status) })
	wantStatus(t, got, StatusUpdateRollbackComplete)
	if v := prov.props(a)["Value"]; v != "hello" {
		t.Fatalf("A's Value after resume = %v, want hello", v)
	}
	if _, extra := prov.props(b)["Extra"]; extra {
		t.Fatalf("B kept Extra after rollback: %v", prov.props(b))
	}
}

// TestResumeDelete continues a delete cut short.
func TestResumeDelete(t *testing.T) {
	st := storetest.Open(t)
	prov := newFake()
	svc, stop := startService(t, st, prov)
	h := &harness{t: t, st: st, svc: svc, prov: prov, stop: stop}
	stk := h.create("app", threeThings, nil)
	started := prov.blockOn("delete:B")
	if err := svc.DeleteStack(t.Context(), "app", ""); err != nil {
		t.Fatal(err)
	}
	<-started
	stop()
	svc2, _ := startService(t, st, prov)
	got := waitFor(t, svc2, stk.StackID, func(s Stack) bool { return !inProgress(s.Status) })
	wantStatus(t, got, StatusDeleteComplete)
	if live := prov.liveIDs(); len(live) != 0 {
		t.Fatalf("left behind %v", live)
	}
}

func TestParameters(t *testing.T) {
	h := newHarness(t)
	const body = `
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, prod]
  Secret:
    Type: String
    NoEcho: true
  Sizes:
    Type: CommaDelimitedList
    Default: "1,2"
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: !Ref Stage
      Secret: !Ref Secret
      Sizes: !Ref Sizes
`
	ctx := t.Context()
	_, err := h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: body, Parameters: map[string]string{"Stage": "dev"}})
	wantAPIError(t, err, CodeValidationError, "Secret")
	_, err = h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: body, Parameters: map[string]string{"Stage": "qa", "Secret": "s"}})
	wantAPIError(t, err, CodeValidationError, "Stage")
	_, err = h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: body, Parameters: map[string]string{"Stage": "dev", "Secret": "s", "Nope": "x"}})
	wantAPIError(t, err, CodeValidationError, "Nope")
	// Nothing was recorded by the refused calls.
	if sums, err := h.svc.ListStacks(ctx, nil); err != nil || len(sums) != 0 {
		t.Fatalf("ListStacks = %+v, %v", sums, err)
	}

	st := h.create("app", body, map[string]string{"Stage": "dev", "Secret": "hunter2"})
	wantStatus(t, st, StatusCreateComplete)
	want := []Parameter{{"Secret", "****"}, {"Sizes", "1,2"}, {"Stage", "dev"}}
	if !slices.Equal(st.Parameters, want) {
		t.Fatalf("parameters %+v, want %+v", st.Parameters, want)
	}
	props := h.prov.props(h.physical("app", "A"))
	if props["Secret"] != "hunter2" || len(props["Sizes"].([]any)) != 2 {
		t.Fatalf("A's properties %v", props)
	}

	// UsePreviousValue keeps the secret; a new stage updates A by replacement.
	id, err := h.svc.UpdateStack(ctx, UpdateInput{UsePreviousTemplate: true, CreateInput: CreateInput{
		StackName: "app", Parameters: map[string]string{"Stage": "prod"}, UsePrevious: []string{"Secret"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.wait(id), StatusUpdateComplete)
	if props := h.prov.props(h.physical("app", "A")); props["Secret"] != "hunter2" || props["Name"] != "prod" {
		t.Fatalf("A's properties after update %v", props)
	}
	_, err = h.svc.UpdateStack(ctx, UpdateInput{UsePreviousTemplate: true, CreateInput: CreateInput{
		StackName: "app", UsePrevious: []string{"Other"},
	}})
	wantAPIError(t, err, CodeValidationError, "Other")
}

func TestCapabilities(t *testing.T) {
	h := newHarness(t)
	const role = `
Resources:
  R:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
`
	ctx := t.Context()
	_, err := h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: role})
	wantAPIError(t, err, CodeInsufficientCapabilities, "Requires capabilities : [CAPABILITY_IAM]")
	named := strings.Replace(role, "AssumeRolePolicyDocument: {}", "AssumeRolePolicyDocument: {}\n      RoleName: fixed", 1)
	_, err = h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: named, Capabilities: []string{CapabilityIAM}})
	wantAPIError(t, err, CodeInsufficientCapabilities, "Requires capabilities : [CAPABILITY_NAMED_IAM]")
	const samTmpl = `
Transform: AWS::Serverless-2016-10-31
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
`
	_, err = h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: samTmpl, Capabilities: []string{CapabilityIAM}})
	wantAPIError(t, err, CodeInsufficientCapabilities, "Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
	_, err = h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: strings.Replace(samTmpl, SAMTransform, "AWS::Include", 1)})
	wantAPIError(t, err, CodeValidationError, "Transform AWS::Include is not supported")

	wantStatus(t, h.create("app", role, nil), StatusCreateComplete)
	v, err := h.svc.Validate(ctx, named)
	if err != nil || !slices.Equal(v.Capabilities, []string{CapabilityNamedIAM}) || !strings.Contains(v.CapabilitiesReason, "[R]") {
		t.Fatalf("Validate = %+v, %v", v, err)
	}
}

func TestUnsupportedTypes(t *testing.T) {
	h := newHarness(t)
	const body = `
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
  Q:
    Type: AWS::SQS::Queue
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Name: r
  Q2:
    Type: AWS::SQS::Queue
`
	ctx := t.Context()
	_, err := h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: body})
	wantAPIError(t, err, CodeValidationError,
		"Template contains resource types Nimbus does not support: [AWS::Events::Rule, AWS::SQS::Queue]. Deploy with --skip-unsupported to leave them out.")

	id, err := h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: body, Tags: map[string]string{SkipUnsupportedTag: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	st := h.wait(id)
	wantStatus(t, st, StatusCreateComplete)
	if got := h.prov.order(); !slices.Equal(got, []string{"create:A"}) {
		t.Fatalf("provider calls %v", got)
	}
	// A left-out resource was never created: its event says so, not
	// DELETE_SKIPPED (which reads as a retained resource).
	if e := h.event("app", "Q", StatusCreateSkipped); !strings.Contains(e.StatusReason, "AWS::SQS::Queue") {
		t.Fatalf("skip event %+v", e)
	}

	// What refers to a left-out resource gets placeholders, and the
	// left-out resource's event names every referrer.
	refs := body + "  B:\n    Type: Test::Thing\n    Properties:\n      Queue: !GetAtt Q.Arn\n      Name: !Ref Q\n" +
		"Outputs:\n  QUrl:\n    Value: !Sub \"${Q}\"\n"
	id, err = h.svc.CreateStack(ctx, CreateInput{StackName: "refs", TemplateBody: refs, SkipUnsupported: true})
	if err != nil {
		t.Fatal(err)
	}
	st = h.wait(id)
	wantStatus(t, st, StatusCreateComplete)
	got := h.prov.props(h.physical("refs", "B"))
	if got["Queue"] != "arn:aws:sqs:eu-west-1:123456789012:nimbus-left-out-Q" || got["Name"] != "nimbus-left-out-Q" {
		t.Fatalf("B's properties %v", got)
	}
	if len(st.Outputs) != 1 || st.Outputs[0].Value != "nimbus-left-out-Q" {
		t.Fatalf("outputs %+v", st.Outputs)
	}
	if e := h.event("refs", "Q", StatusCreateSkipped); !strings.Contains(e.StatusReason, "references to it from B, Outputs.QUrl resolve to placeholders") {
		t.Fatalf("skip event %+v", e)
	}
}

func TestRequestErrors(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	for _, name := range []string{"", "1abc", "a_b", "a.b", strings.Repeat("a", 129)} {
		_, err := h.svc.CreateStack(ctx, CreateInput{StackName: name, TemplateBody: twoThings})
		wantAPIError(t, err, CodeValidationError, "stackName")
	}
	_, err := h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: "Resources: [oops"})
	wantAPIError(t, err, CodeValidationError, "")
	_, err = h.svc.CreateStack(ctx, CreateInput{StackName: "app"})
	wantAPIError(t, err, CodeValidationError, "Template Body")
	_, err = h.svc.DescribeStacks(ctx, "nope")
	wantAPIError(t, err, CodeValidationError, "Stack with id nope does not exist")
	_, err = h.svc.Events(ctx, "arn:aws:cloudformation:eu-west-1:123456789012:stack/nope/6f1c3f5e-7a8b-4c1d-9e2f-0a1b2c3d4e5f")
	wantAPIError(t, err, CodeValidationError, "does not exist")
	_, err = h.svc.UpdateStack(ctx, UpdateInput{CreateInput: CreateInput{StackName: "nope", TemplateBody: twoThings}})
	wantAPIError(t, err, CodeValidationError, "Stack with id nope does not exist")

	h.create("app", twoThings, nil)
	_, err = h.svc.CreateStack(ctx, CreateInput{StackName: "app", TemplateBody: twoThings})
	wantAPIError(t, err, CodeAlreadyExists, "Stack [app] already exists")
	_, err = h.svc.Template(ctx, "app", "Later")
	wantAPIError(t, err, CodeValidationError, "templateStage")
	if got, err := h.svc.Template(ctx, "app", "Processed"); err != nil || got != twoThings {
		t.Fatalf("Processed template of a plain template = %q, %v", got, err)
	}
}

func TestPhysicalName(t *testing.T) {
	n := PhysicalName("my-stack", "HelloFunction", 64)
	if !strings.HasPrefix(n, "my-stack-HelloFunction-") || len(n) != len("my-stack-HelloFunction-")+13 {
		t.Fatalf("PhysicalName = %q", n)
	}
	for _, c := range n[len(n)-13:] {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			t.Fatalf("suffix of %q has %q", n, c)
		}
	}
	if n2 := PhysicalName("my-stack", "HelloFunction", 64); n2 == n {
		t.Fatalf("two names alike: %s", n)
	}
	long := PhysicalName(strings.Repeat("s", 100), strings.Repeat("L", 60), 64)
	if len(long) != 64 || !strings.Contains(long, "-LLLL") || !strings.HasPrefix(long, "ssss") {
		t.Fatalf("long name %q (%d)", long, len(long))
	}
	if got := PhysicalName("my-long-stack", "Fn", 25); strings.Contains(got, "--") || !strings.HasPrefix(got, "my-long-Fn-") {
		t.Fatalf("cut at a hyphen: %q", got)
	}
	if got := PhysicalName("a", "b", 10); len(got) != 10 {
		t.Fatalf("tiny limit: %q", got)
	}
}

func FuzzSplitStackARN(f *testing.F) {
	f.Add("arn:aws:cloudformation:eu-west-1:123456789012:stack/app/6f1c3f5e-7a8b-4c1d-9e2f-0a1b2c3d4e5f")
	f.Add("arn:aws:cloudformation:::stack//")
	f.Add("app")
	f.Fuzz(func(t *testing.T, s string) {
		name, id, ok := splitStackARN(s)
		if !ok {
			return
		}
		if !validStackName(name) || stackARN("r", "a", name, id) == "" || !strings.HasSuffix(s, "stack/"+name+"/"+id) {
			t.Fatalf("splitStackARN(%q) = %q, %q", s, name, id)
		}
	})
}

func TestProviderPanicAndTimeout(t *testing.T) {
	st := storetest.Open(t)
	prov := newFake()
	svc, stop := startServiceWith(t, st, prov, Options{ResourceTimeout: 20 * time.Millisecond})
	h := &harness{t: t, st: st, svc: svc, prov: prov, stop: stop}

	prov.setFail("create:B", "panic")
	s := h.create("app", threeThings, nil)
	wantStatus(t, s, StatusRollbackComplete)
	if e := h.event("app", "B", StatusCreateFailed); e.StatusReason != "internal error in the resource provider" {
		t.Fatalf("B's reason %q", e.StatusReason)
	}

	prov.blockOn("create:C")
	s = h.create("slow", threeThings, nil)
	wantStatus(t, s, StatusRollbackComplete)
	if e := h.event("slow", "C", StatusCreateFailed); !strings.Contains(e.StatusReason, "Resource timed out waiting for completion") {
		t.Fatalf("C's reason %q", e.StatusReason)
	}
	if live := prov.liveIDs(); len(live) != 0 {
		t.Fatalf("left behind %v", live)
	}
}

const samApp = `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/aaaa
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: get
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/bbbb
Outputs:
  Url:
    Value: !Sub "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
`

// TestSAMTemplate deploys a SAM template through the transform and
// redeploys it with one function's code changed: only that function is
// touched.
func TestSAMTemplate(t *testing.T) {
	h := newHarness(t)
	s := h.create("app", samApp, nil)
	wantStatus(t, s, StatusCreateComplete)
	api := h.physical("app", "ServerlessHttpApi")
	if api == "" || output(s, "Url") != "https://"+api+".execute-api.eu-west-1.amazonaws.com/" {
		t.Fatalf("api %q, outputs %+v", api, s.Outputs)
	}
	for _, id := range []string{"Hello", "HelloRole", "HelloGetPermission", "Other", "OtherRole", "ServerlessHttpApiApiGatewayDefaultStage"} {
		if h.physical("app", id) == "" {
			t.Errorf("no %s", id)
		}
	}
	hello := h.prov.props(h.physical("app", "Hello"))
	if hello["Role"] != "arn:test:"+h.physical("app", "HelloRole") {
		t.Fatalf("Hello's Role = %v", hello["Role"])
	}
	orig, err := h.svc.Template(t.Context(), "app", "Original")
	if err != nil || orig != samApp {
		t.Fatalf("Original template = %q, %v", orig, err)
	}
	proc, err := h.svc.Template(t.Context(), "app", "Processed")
	if err != nil || !strings.Contains(proc, `"AWS::Lambda::Function"`) || strings.Contains(proc, "AWS::Serverless::Function") {
		t.Fatalf("Processed template = %.300s, %v", proc, err)
	}

	h.prov.reset()
	s = h.update("app", strings.Replace(samApp, "nimbus-artifacts/bbbb", "nimbus-artifacts/cccc", 1), nil)
	wantStatus(t, s, StatusUpdateComplete)
	if got := h.prov.order(); !slices.Equal(got, []string{"update:Other"}) {
		t.Fatalf("provider calls %v, want only update:Other", got)
	}
	if code := h.prov.props(h.physical("app", "Other"))["Code"]; code.(map[string]any)["S3Key"] != "cccc" {
		t.Fatalf("Other's Code = %v", code)
	}
}

// TestIndependentResourcesInParallel: two resources that do not refer to
// each other are made at the same time; one that needs both waits.
func TestIndependentResourcesInParallel(t *testing.T) {
	st := storetest.Open(t)
	prov := newFake()
	svc, stop := startService(t, st, prov)
	const body = `
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
  B:
    Type: Test::Thing
    Properties:
      Name: b
  C:
    Type: Test::Thing
    Properties:
      Name: c
      Uses: [!Ref A, !Ref B]
`
	startedA, startedB := prov.blockOn("create:A"), prov.blockOn("create:B")
	id, err := svc.CreateStack(t.Context(), CreateInput{StackName: "app", TemplateBody: body})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan struct{}{startedA, startedB} {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("A and B were not both started while the other ran: %v", prov.order())
		}
	}
	if got := prov.callsOf("create", "C"); len(got) != 0 {
		t.Fatalf("C started before A and B were made")
	}
	stop()
	svc2, _ := startService(t, st, prov)
	wantStatus(t, waitFor(t, svc2, id, func(s Stack) bool { return !inProgress(s.Status) }), StatusRollbackComplete)
}

// TestIncludeRefusedBeforeCreate: Fn::Transform (AWS::Include, a macro)
// anywhere in the template is refused when the stack is asked for, before
// any resource exists, not when its resource's turn comes.
func TestIncludeRefusedBeforeCreate(t *testing.T) {
	h := newHarness(t)
	for name, body := range map[string]string{
		"property": `
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
  B:
    Type: Test::Thing
    DependsOn: A
    Properties:
      Name: b
      Spec:
        Fn::Transform:
          Name: AWS::Include
          Parameters:
            Location: s3://bucket/spec.yaml
`,
		"sam": `
Transform: AWS::Serverless-2016-10-31
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      DefinitionBody:
        Fn::Transform:
          Name: AWS::Include
          Parameters:
            Location: ./openapi.yaml
`,
		"output": `
Resources:
  A:
    Type: Test::Thing
    Properties:
      Name: a
Outputs:
  O:
    Value: !Transform {Name: MyMacro, Parameters: {}}
`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.svc.CreateStack(t.Context(), CreateInput{StackName: "inc-" + name, TemplateBody: body, Capabilities: allCaps})
			wantAPIError(t, err, CodeValidationError, "AWS::Include")
			if got := h.prov.order(); len(got) != 0 {
				t.Fatalf("provider calls %v", got)
			}
		})
	}
}
