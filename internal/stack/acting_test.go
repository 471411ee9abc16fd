package stack

import (
	"context"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

type whoKey struct{}

// as is a request context of the API caller who.
func as(t *testing.T, who string) context.Context {
	return context.WithValue(t.Context(), whoKey{}, who)
}

// fakeIdentity names the caller put on the context by as, and lets
// CloudFormation assume every role but role/untrusted.
type fakeIdentity struct{}

func (fakeIdentity) Caller(ctx context.Context) (Actor, bool) {
	who, ok := ctx.Value(whoKey{}).(string)
	return Actor{Principal: who}, ok
}

func (fakeIdentity) CheckRole(_ context.Context, arn string) error {
	if strings.HasSuffix(arn, ":role/untrusted") {
		return validationError("Role %s is invalid or cannot be assumed", arn)
	}
	return nil
}

// actors are the actors of the calls of op (all if "") since the last
// reset, deduplicated.
func (f *fakeProvider) actors(op string) []string {
	var out []string
	for _, c := range f.callsOf(op, "") {
		if len(out) == 0 || out[len(out)-1] != c.Actor {
			out = append(out, c.Actor)
		}
	}
	return out
}

func wantActors(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s acted as %q, want %q", what, got, want)
	}
}

const roleArn = "arn:aws:iam::123456789012:role/deployer"

// TestOperationsActAsTheirCaller: every provider call of an operation
// carries who it acts as: the caller of CreateStack, UpdateStack (and its
// rollback), DeleteStack, ExecuteChangeSet, or the service role the
// stack, the change set or DeleteStack names; an operation resumed after
// a restart acts as the caller who started it.
func TestOperationsActAsTheirCaller(t *testing.T) {
	st := storetest.Open(t)
	prov := newFake()
	svc, stop := startServiceWith(t, st, prov, Options{Identity: fakeIdentity{}})
	wait := func(id string) Stack { return waitFor(t, svc, id, func(s Stack) bool { return !inProgress(s.Status) }) }

	id, err := svc.CreateStack(as(t, "alice"), CreateInput{StackName: "app", TemplateBody: twoThings})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, wait(id), StatusCreateComplete)
	wantActors(t, "CreateStack", prov.actors(""), "alice")

	// A failed update and its rollback act as the caller of the update.
	prov.reset()
	prov.setFail("update:B", "denied")
	body := strings.Replace(twoThings, "Target: !GetAtt A.Arn", "Target: !GetAtt A.Arn\n      Extra: yes", 1)
	up := UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: body, Parameters: map[string]string{"Greeting": "x"}}}
	if _, err := svc.UpdateStack(as(t, "bob"), up); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, wait(id), StatusUpdateRollbackComplete)
	wantActors(t, "UpdateStack and its rollback", prov.actors(""), "bob")

	// An update cut short by a restart is rolled back as its caller.
	prov.reset()
	started := prov.blockOn("update:B")
	if _, err := svc.UpdateStack(as(t, "carol"), up); err != nil {
		t.Fatal(err)
	}
	<-started
	stop()
	prov.reset()
	svc, _ = startServiceWith(t, st, prov, Options{Identity: fakeIdentity{}})
	wantStatus(t, wait(id), StatusUpdateRollbackComplete)
	wantActors(t, "the resumed rollback", prov.actors(""), "carol")

	// Service roles: refused when CloudFormation cannot assume them or
	// they are no role's ARN; a change set's acts when it is executed
	// (by anyone), DeleteStack's for the deletion.
	_, err = svc.CreateStack(as(t, "alice"), CreateInput{StackName: "bad", TemplateBody: twoThings, RoleARN: "arn:aws:iam::123456789012:role/untrusted"})
	wantAPIError(t, err, CodeValidationError, "Role arn:aws:iam::123456789012:role/untrusted is invalid or cannot be assumed")
	_, err = svc.CreateStack(as(t, "alice"), CreateInput{StackName: "bad", TemplateBody: twoThings, RoleARN: "deployer"})
	wantAPIError(t, err, CodeValidationError, "deployer is not a valid RoleARN")

	prov.reset()
	if _, _, err := svc.CreateChangeSet(as(t, "dave"), ChangeSetInput{ChangeSetName: "cs",
		UpdateInput: UpdateInput{CreateInput: CreateInput{StackName: "app", TemplateBody: body, RoleARN: roleArn}}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.ExecuteChangeSet(as(t, "erin"), ExecuteInput{ChangeSetName: "cs", StackName: "app"}); err != nil {
		t.Fatal(err)
	}
	got := wait(id)
	wantStatus(t, got, StatusUpdateComplete)
	if got.RoleARN != roleArn {
		t.Errorf("RoleARN = %q after the change set, want %s", got.RoleARN, roleArn)
	}
	wantActors(t, "the change set", prov.actors(""), "role:"+roleArn)

	// The stack keeps its role: a later caller's delete acts as it.
	prov.reset()
	if err := svc.DeleteStack(as(t, "frank"), "app", ""); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, wait(id), StatusDeleteComplete)
	wantActors(t, "DeleteStack", prov.actors("delete"), "role:"+roleArn)

	// Without one, DeleteStack acts as its caller, or as the role it names.
	for _, tc := range []struct {
		role string
		want []string
	}{{"", []string{"grace"}}, {roleArn, []string{"grace", "role:" + roleArn}}} {
		prov.reset()
		id, err := svc.CreateStack(as(t, "grace"), CreateInput{StackName: "app2", TemplateBody: twoThings})
		if err != nil {
			t.Fatal(err)
		}
		wait(id)
		if err := svc.DeleteStack(as(t, "grace"), "app2", tc.role); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, wait(id), StatusDeleteComplete)
		wantActors(t, "CreateStack then DeleteStack "+tc.role, prov.actors(""), tc.want...)
	}
}
