package events

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestBusPolicies: PutPermission adds (or replaces) a statement of AWS's
// shape, DescribeEventBus answers the policy, RemovePermission takes one
// statement or all; bad input stores nothing.
func TestBusPolicies(t *testing.T) {
	h := start(t, storetest.Open(t), nil, false)
	ctx := t.Context()
	c := h.client
	if _, err := c.PutPermission(ctx, &eventbridge.PutPermissionInput{Action: aws.String("events:PutEvents"),
		Principal: aws.String("111122223333"), StatementId: aws.String("acct")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutPermission(ctx, &eventbridge.PutPermissionInput{Action: aws.String("events:PutEvents"), Principal: aws.String("*"),
		StatementId: aws.String("org"), Condition: &ebtypes.Condition{Type: aws.String("StringEquals"), Key: aws.String("aws:PrincipalOrgID"), Value: aws.String("o-abc")}}); err != nil {
		t.Fatal(err)
	}
	policy := func() (doc struct {
		Version   string
		Statement []map[string]any
	}) {
		d, err := c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Policy != nil {
			if err := json.Unmarshal([]byte(*d.Policy), &doc); err != nil {
				t.Fatalf("policy %s: %v", *d.Policy, err)
			}
		}
		return doc
	}
	doc := policy()
	if doc.Version != "2012-10-17" || len(doc.Statement) != 2 {
		t.Fatalf("policy %+v", doc)
	}
	st := doc.Statement[0]
	if st["Sid"] != "acct" || st["Effect"] != "Allow" || st["Action"] != "events:PutEvents" ||
		st["Resource"] != "arn:aws:events:us-east-1:000000000000:event-bus/default" ||
		st["Principal"].(map[string]any)["AWS"] != "arn:aws:iam::111122223333:root" {
		t.Fatalf("statement %v", st)
	}
	if cond, _ := doc.Statement[1]["Condition"].(map[string]any); doc.Statement[1]["Principal"] != "*" || cond["StringEquals"] == nil {
		t.Fatalf("statement %v", doc.Statement[1])
	}
	for _, in := range []*eventbridge.PutPermissionInput{
		{Action: aws.String("events:PutRule"), Principal: aws.String("111122223333"), StatementId: aws.String("x")},
		{Action: aws.String("events:PutEvents"), Principal: aws.String("me"), StatementId: aws.String("x")},
		{Action: aws.String("events:PutEvents"), Principal: aws.String("111122223333"), StatementId: aws.String("bad id")},
		{Policy: aws.String(`{"Statement":`)},
	} {
		if _, err := c.PutPermission(ctx, in); err == nil {
			t.Errorf("%+v accepted", in)
		}
	}
	if len(policy().Statement) != 2 {
		t.Fatal("a refused PutPermission changed the policy")
	}
	if _, err := c.RemovePermission(ctx, &eventbridge.RemovePermissionInput{StatementId: aws.String("acct")}); err != nil {
		t.Fatal(err)
	}
	if doc := policy(); len(doc.Statement) != 1 || doc.Statement[0]["Sid"] != "org" {
		t.Fatalf("after remove: %+v", doc)
	}
	if _, err := c.RemovePermission(ctx, &eventbridge.RemovePermissionInput{StatementId: aws.String("acct")}); apiCode(err) != "ResourceNotFoundException" {
		t.Fatalf("removing a removed statement: %v", err)
	}
	if _, err := c.RemovePermission(ctx, &eventbridge.RemovePermissionInput{RemoveAllPermissions: true}); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{}); d.Policy != nil {
		t.Fatalf("policy after removing all: %s", *d.Policy)
	}
}
