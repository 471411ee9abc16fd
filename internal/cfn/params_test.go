package cfn_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

func TestResolveParameters(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
Parameters:
  Name: {Type: String, Default: app, AllowedPattern: "[a-z]+", MinLength: 2, MaxLength: 8}
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Size: {Type: Number, Default: 128, MinValue: 128, MaxValue: 1024}
  Zones: {Type: CommaDelimitedList, Default: "a, b ,c"}
  Ports: {Type: "List<Number>", Default: "80,443"}
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>", Default: ""}
  Vpc: {Type: "AWS::EC2::VPC::Id", Default: vpc-1}
  Secret: {Type: String, NoEcho: true, Default: hunter2}
  Retries: {Type: Number, Default: 3, AllowedValues: [1, 3, 5]}
Resources: {R: {Type: X}}
`))
	if err != nil {
		t.Fatal(err)
	}
	pseudo := cfn.Pseudo{Region: "eu-west-1", AccountID: "111122223333", StackName: "s", StackID: "id", NotificationARNs: []string{"arn:sns"}}
	got, err := tmpl.ResolveParameters(map[string]string{"Env": "prod", "Size": "512"}, pseudo)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Name": "app", "Env": "prod", "Size": "512", "Zones": []string{"a", "b", "c"},
		"Ports": []string{"80", "443"}, "Subnets": []string{}, "Vpc": "vpc-1", "Secret": "hunter2", "Retries": "3",
		"AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333", "AWS::StackName": "s", "AWS::StackId": "id",
		"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": []string{"arn:sns"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ResolveParameters =\n%#v\nwant\n%#v", got, want)
	}
	masked := tmpl.MaskNoEcho(got)
	if masked["Secret"] != "****" || masked["Name"] != "app" || got["Secret"] != "hunter2" {
		t.Fatalf("MaskNoEcho = %v", masked)
	}

	bad := []struct {
		name      string
		overrides map[string]string
		err       string
	}{
		{"unknown", map[string]string{"Nope": "x", "Also": "y"}, "Parameters: [Also, Nope] do not exist in the template"},
		{"not allowed", map[string]string{"Env": "test"}, "Parameter 'Env' must be one of AllowedValues"},
		{"pattern", map[string]string{"Name": "App1"}, "Parameter 'Name' must match pattern [a-z]+"},
		{"pattern is anchored", map[string]string{"Name": "ab-c"}, "must match pattern"},
		{"too short", map[string]string{"Name": "a"}, "Parameter 'Name' must contain at least 2 characters"},
		{"too long", map[string]string{"Name": "abcdefghi"}, "Parameter 'Name' must contain at most 8 characters"},
		{"not number", map[string]string{"Size": "big"}, "Parameter 'Size' must be a number"},
		{"too small", map[string]string{"Size": "64"}, "Parameter 'Size' must be a number not less than 128"},
		{"too large", map[string]string{"Size": "2048"}, "Parameter 'Size' must be a number not greater than 1024"},
		{"list number", map[string]string{"Ports": "80,http"}, "Parameter 'Ports' must be a number"},
		{"number allowed", map[string]string{"Retries": "4"}, "must be one of AllowedValues"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tmpl.ResolveParameters(tt.overrides, pseudo)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error = %v; want %q", err, tt.err)
			}
		})
	}
	if _, err := tmpl.ResolveParameters(map[string]string{"Retries": "5.0"}, pseudo); err != nil {
		t.Errorf("Retries 5.0: %v", err)
	}
}

func TestResolveParametersMissingAndConstraintDescription(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
Parameters:
  A: {Type: String}
  B: {Type: String}
  C: {Type: String, Default: x, AllowedPattern: "[0-9]+", ConstraintDescription: must be digits}
  D: {Type: "AWS::SSM::Parameter::Value<String>", Default: /my/param}
Resources: {R: {Type: X}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.ResolveParameters(nil, cfn.Pseudo{})
	if err == nil || err.Error() != "Parameters: [A, B] must have values" {
		t.Fatalf("error = %v", err)
	}
	_, err = tmpl.ResolveParameters(map[string]string{"A": "", "B": "b"}, cfn.Pseudo{})
	if err == nil || !strings.Contains(err.Error(), "Parameters [D] have SSM parameter types") {
		t.Fatalf("error = %v", err)
	}
	delete(tmpl.Parameters, "D")
	_, err = tmpl.ResolveParameters(map[string]string{"A": "", "B": "b"}, cfn.Pseudo{})
	if err == nil || err.Error() != "Parameter 'C' failed to satisfy constraint: must be digits" {
		t.Fatalf("error = %v", err)
	}
	got, err := tmpl.ResolveParameters(map[string]string{"A": "", "B": "b", "C": "42"}, cfn.Pseudo{})
	if err != nil || got["A"] != "" || got["C"] != "42" {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestEvalConditions(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
Parameters:
  Env: {Type: String, Default: prod}
  Zones: {Type: CommaDelimitedList, Default: "a,b"}
Mappings:
  M: {prod: {Big: "true"}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Big: !Equals [!FindInMap [M, !Ref Env, Big], "true"]
  Both: !And [!Condition IsProd, !Condition Big, !Equals [!Select [1, !Ref Zones], b]]
  Either: !Or [!Condition IsDev, !Equals [!Ref "AWS::Region", us-east-1]]
  Alias: {Condition: Both}
Resources: {R: {Type: X}}
`))
	if err != nil {
		t.Fatal(err)
	}
	params, err := tmpl.ResolveParameters(nil, testPseudo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.EvalConditions(&cfn.Env{Pseudo: testPseudo, Params: params, Mappings: tmpl.Mappings})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"IsProd": true, "IsDev": false, "Big": true, "Both": true, "Either": true, "Alias": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("conditions = %v; want %v", got, want)
	}

	for _, tt := range []struct{ conds, err string }{
		{"A: !Equals [!Ref R, x]", "Template format error: Unresolved dependencies [R]. Cannot reference resources in the Conditions block of the template"},
		{"A: !Equals [!GetAtt R.Arn, x]", "Cannot reference resources in the Conditions block"},
		{"A: !Not [!Condition B]\n  B: !Not [!Condition A]", "Circular dependency between conditions: [A, B]"},
		{"A: !Not [!Condition Nope]", "Unresolved condition dependencies [Nope]"},
		{"A: !Ref AWS::Region", "Conditions can only be boolean operations"},
		{"A: true", "Conditions can only be boolean operations"},
		{deepConditions(300), "conditions refer to each other more than 256 deep"},
		{"A: !Not [abc]", "requires boolean parameters"},
	} {
		tm, err := cfn.Parse([]byte("Conditions:\n  " + tt.conds + "\nResources: {R: {Type: X}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = tm.EvalConditions(&cfn.Env{Pseudo: testPseudo, Resources: mapResources{}})
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error = %v; want %q", tt.conds, err, tt.err)
		}
	}
}

func TestRules(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
Parameters:
  Env: {Type: String, Default: test}
  Size: {Type: String, Default: small}
  Zones: {Type: CommaDelimitedList, Default: "a,b"}
Rules:
  ProdSize:
    RuleCondition: !Equals [!Ref Env, prod]
    Assertions:
      - Assert: {"Fn::Contains": [[large, xlarge], !Ref Size]}
        AssertDescription: prod needs a large size
  ZonesKnown:
    Assertions:
      - Assert: {"Fn::EachMemberIn": [!Ref Zones, [a, b, c]]}
      - Assert: !Not [{"Fn::EachMemberEquals": [!Ref Zones, c]}]
        AssertDescription: not only c
Resources: {R: {Type: X}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		overrides map[string]string
		err       string
	}{
		{map[string]string{}, ""},
		{map[string]string{"Env": "prod", "Size": "large"}, ""},
		{map[string]string{"Env": "prod"}, "Template error: Rule ProdSize failed: prod needs a large size"},
		{map[string]string{"Zones": "a,d"}, "Template error: Rule ZonesKnown failed: Assertion failed"},
		{map[string]string{"Zones": "c,c"}, "Template error: Rule ZonesKnown failed: not only c"},
	} {
		_, err := tmpl.ResolveParameters(tt.overrides, testPseudo)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || err.Error() != tt.err) {
			t.Errorf("%v: error = %v; want %q", tt.overrides, err, tt.err)
		}
	}
	bad, err := cfn.Parse([]byte("Rules: {R: {Assertions: [{Assert: {\"Fn::RefAll\": AWS::EC2::VPC::Id}}]}}\nResources: {R: {Type: X}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.ResolveParameters(nil, testPseudo); err == nil || !strings.Contains(err.Error(), "Fn::RefAll is not supported") {
		t.Errorf("Fn::RefAll: %v", err)
	}
	// Outside Rules, the rule functions do not exist.
	if _, err := cfn.Eval(map[string]any{"Fn::Contains": []any{[]any{"a"}, "a"}}, testEnv()); err == nil || !strings.Contains(err.Error(), "Encountered unsupported function: Fn::Contains") {
		t.Errorf("Fn::Contains outside Rules: %v", err)
	}
}

// deepConditions writes n conditions, each naming the next.
func deepConditions(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "C%d: !Not [!Condition C%d]\n  ", i, i+1)
	}
	fmt.Fprintf(&b, "C%d: !Equals [a, a]", n)
	return b.String()
}

// TestAllowedPatternJavaSyntax: CloudFormation reads AllowedPattern as a
// Java regular expression matched against the whole value; lookahead and
// lookbehind, which RE2 lacks, are common in real templates.
func TestAllowedPatternJavaSyntax(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
Parameters:
  Bucket: {Type: String, Default: my-bucket, AllowedPattern: "(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]"}
  Suffix: {Type: String, Default: ab, AllowedPattern: "[a-z]+(?<!-)"}
  Line: {Type: String, Default: x, AllowedPattern: "x"}
Resources: {R: {Type: X}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		values map[string]string
		err    string
	}{
		{nil, ""},
		{map[string]string{"Bucket": "xn--bucket"}, "Parameter 'Bucket' must match pattern"},
		{map[string]string{"Bucket": "data-s3alias"}, "Parameter 'Bucket' must match pattern"},
		{map[string]string{"Bucket": "my-bucket-2"}, ""},
		{map[string]string{"Suffix": "ab-"}, "Parameter 'Suffix' must match pattern"},
		{map[string]string{"Line": "x\n"}, "Parameter 'Line' must match pattern"}, // the whole value, as Java's matches()
	} {
		_, err := tmpl.ResolveParameters(tt.values, cfn.Pseudo{})
		if (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ResolveParameters(%v) = %v, want %q", tt.values, err, tt.err)
		}
	}
	bad, err := cfn.Parse([]byte("Parameters: {P: {Type: String, Default: x, AllowedPattern: \"(x\"}}\nResources: {R: {Type: X}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.ResolveParameters(nil, cfn.Pseudo{}); err == nil || !strings.Contains(err.Error(), "not a valid regular expression") {
		t.Errorf("an invalid pattern = %v", err)
	}
}
