package stack

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// bucketFake is an IncludeReader over a map of "bucket/key" → object.
type bucketFake map[string]string

func (b bucketFake) read(_ context.Context, bucket, key string) ([]byte, error) {
	v, ok := b[bucket+"/"+key]
	if !ok {
		return nil, errors.New("NoSuchKey: The specified key does not exist.")
	}
	return []byte(v), nil
}

// TestIncludeFromBucket: an AWS::Include of an s3:// Location is replaced
// by the snippet in the bucket (nested includes too, long-form
// intrinsics evaluated with the template); an unreadable or unparsable
// snippet refuses the template before any resource exists.
func TestIncludeFromBucket(t *testing.T) {
	objects := bucketFake{
		"snips/spec.yaml":   "Size: 3\nOwner: {Ref: AWS::StackName}\nNested:\n  Fn::Transform: {Name: AWS::Include, Parameters: {Location: s3://snips/inner.json}}\n",
		"snips/inner.json":  `{"Deep": true}`,
		"snips/broken.yaml": "Size: [1,\n",
		"snips/self.yaml":   "X:\n  Fn::Transform: {Name: AWS::Include, Parameters: {Location: s3://snips/self.yaml}}\n",
	}
	prov := newFake()
	svc, _ := startServiceWith(t, storetest.Open(t), prov, Options{Includes: objects.read})
	h := &harness{t: t, prov: prov, svc: svc}
	tmpl := func(loc string) string {
		return `
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
            Location: ` + loc + "\n"
	}
	st := h.create("inc-ok", tmpl("s3://snips/spec.yaml"), nil)
	wantStatus(t, st, StatusCreateComplete)
	var spec map[string]any
	for _, id := range prov.liveIDs() {
		if p := prov.props(id); p["Name"] == "b" {
			spec, _ = p["Spec"].(map[string]any)
		}
	}
	nested, _ := spec["Nested"].(map[string]any)
	if spec["Size"] != float64(3) && spec["Size"] != 3 || spec["Owner"] != "inc-ok" || nested["Deep"] != true {
		t.Errorf("B's Spec = %#v", spec)
	}
	got, err := svc.Template(t.Context(), "inc-ok", "Processed")
	if err != nil || !strings.Contains(got, `"Deep":true`) {
		t.Errorf("processed template = %q, %v", got, err)
	}

	before := len(prov.order())
	for loc, want := range map[string]string{
		"s3://snips/missing.yaml": "Transform AWS::Include failed with: Location s3://snips/missing.yaml: NoSuchKey",
		"s3://snips/broken.yaml":  "Location s3://snips/broken.yaml",
		"s3://snips/self.yaml":    "nests more than 8 levels",
		"s3://snips":              "s3://bucket/key",
		"https://example.com/x":   "Fn::Transform is not supported",
	} {
		_, err := svc.CreateStack(t.Context(), CreateInput{StackName: "inc-bad", TemplateBody: tmpl(loc), Capabilities: allCaps})
		wantAPIError(t, err, CodeValidationError, want)
		if _, err := svc.Validate(t.Context(), tmpl(loc)); err == nil {
			t.Errorf("Validate accepted Location %s", loc)
		}
	}
	if after := len(prov.order()); after != before {
		t.Errorf("refused templates made provider calls: %v", prov.order()[before:])
	}
}

// TestValidateListsUnsupportedTypes: ValidateTemplate refuses resource
// types without a provider, as a deploy would, so `nimbus deploy` says so
// before it builds anything.
func TestValidateListsUnsupportedTypes(t *testing.T) {
	h := newHarness(t)
	body := `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  Prod: !Equals [!Ref Env, prod]
Resources:
  A: {Type: Test::Thing, Properties: {Name: a}}
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: x, Runtime: python3.12, InlineCode: x}}
  Pool: {Type: AWS::Cognito::UserPool}
  Graph: {Type: AWS::AppSync::GraphQLApi, Properties: {Name: g}}
  Later: {Type: AWS::Cognito::UserPool, Condition: Prod}
`
	_, err := h.svc.Validate(t.Context(), body)
	wantAPIError(t, err, CodeValidationError, "[AWS::AppSync::GraphQLApi, AWS::Cognito::UserPool]")
	if _, err := h.svc.Validate(t.Context(), "Resources:\n  A: {Type: Test::Thing, Properties: {Name: a}}\n"); err != nil {
		t.Errorf("Validate of supported types: %v", err)
	}
}
