package cfn_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// mapResources answers Ref and GetAtt from fixed maps.
type mapResources struct {
	refs  map[string]any
	attrs map[string]any // "Res.Attr"
}

func (m mapResources) Ref(id string) (any, error) {
	if v, ok := m.refs[id]; ok {
		return v, nil
	}
	return nil, errors.New("no resource " + id)
}

func (m mapResources) GetAtt(id, attr string) (any, error) {
	if v, ok := m.attrs[id+"."+attr]; ok {
		return v, nil
	}
	return nil, errors.New("no attribute " + id + "." + attr)
}

func testEnv() *cfn.Env {
	return &cfn.Env{
		Pseudo: testPseudo,
		Params: map[string]any{
			"Stage":   "prod",
			"Subnets": []string{"s1", "s2", "s3"},
			"Count":   "3",
			"Index":   "1",
			"Block":   "10.0.0.0/16",
			"Empty":   "",
		},
		Conditions: map[string]bool{"IsProd": true, "IsDev": false},
		Mappings: map[string]any{
			"Env": map[string]any{
				"prod": map[string]any{"Size": "large", "Zones": []any{"a", "b"}, "Count": 3.0},
			},
		},
		Resources: mapResources{
			refs: map[string]any{"Fn": "my-fn", "Bucket": "my-bucket", "List": []string{"x", "y"}},
			attrs: map[string]any{
				"Fn.Arn":              "arn:aws:lambda:us-east-1:123456789012:function:my-fn",
				"Stack.Outputs.Url":   "https://example.com",
				"Bucket.DomainName":   "my-bucket.s3.amazonaws.com",
				"Api.RootResourceId":  "root123",
				"Table.StreamArn":     "arn:stream",
				"Table.Arn":           "arn:table",
				"Fn.SnapStartVersion": 7.0,
			},
		},
		ImportValue: func(name string) (string, error) {
			if name == "shared-vpc" {
				return "vpc-123", nil
			}
			return "", errors.New("No export named " + name + " found")
		},
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		name string
		in   string // YAML value, parsed as the Value of an output
		want any
		err  string // substring of the error
	}{
		// Ref
		{name: "ref param", in: `!Ref Stage`, want: "prod"},
		{name: "ref list param", in: `!Ref Subnets`, want: []any{"s1", "s2", "s3"}},
		{name: "ref resource", in: `!Ref Fn`, want: "my-fn"},
		{name: "ref resource list", in: `!Ref List`, want: []any{"x", "y"}},
		{name: "ref region", in: `!Ref AWS::Region`, want: "us-east-1"},
		{name: "ref account", in: `!Ref AWS::AccountId`, want: "123456789012"},
		{name: "ref stack name", in: `!Ref AWS::StackName`, want: "teststack"},
		{name: "ref stack id", in: `!Ref AWS::StackId`, want: testPseudo.StackID},
		{name: "ref partition default", in: `!Ref AWS::Partition`, want: "aws"},
		{name: "ref url suffix default", in: `!Ref AWS::URLSuffix`, want: "amazonaws.com"},
		{name: "ref notification arns", in: `!Ref AWS::NotificationARNs`, want: []any{}},
		{name: "ref novalue top", in: `!Ref AWS::NoValue`, want: nil},
		{name: "ref unknown pseudo", in: `!Ref AWS::Nope`, err: "Unresolved resource dependencies [AWS::Nope]"},
		{name: "ref resolver error", in: `!Ref Missing`, err: "no resource Missing"},
		{name: "ref not string", in: `{Ref: [a]}`, err: "Every Ref object must have a single String value."},
		{name: "ref long form", in: `{Ref: Stage}`, want: "prod"},
		// GetAtt
		{name: "getatt dotted", in: `!GetAtt Fn.Arn`, want: "arn:aws:lambda:us-east-1:123456789012:function:my-fn"},
		{name: "getatt first dot", in: `!GetAtt Stack.Outputs.Url`, want: "https://example.com"},
		{name: "getatt list", in: `!GetAtt [Bucket, DomainName]`, want: "my-bucket.s3.amazonaws.com"},
		{name: "getatt long form", in: `{"Fn::GetAtt": [Api, RootResourceId]}`, want: "root123"},
		{name: "getatt ref attr", in: `{"Fn::GetAtt": [Table, !Sub "${Kind}"]}`, err: "Kind"},
		{name: "getatt number", in: `!GetAtt Fn.SnapStartVersion`, want: 7.0},
		{name: "getatt one arg", in: `{"Fn::GetAtt": [Fn]}`, err: "every Fn::GetAtt object requires two non-empty parameters"},
		{name: "getatt empty", in: `{"Fn::GetAtt": ["", Arn]}`, err: "every Fn::GetAtt object requires two non-empty parameters"},
		// Sub
		{name: "sub param", in: `!Sub "${Stage}-x"`, want: "prod-x"},
		{name: "sub pseudo", in: `!Sub "arn:${AWS::Partition}:s3:::${AWS::Region}/${AWS::AccountId}"`, want: "arn:aws:s3:::us-east-1/123456789012"},
		{name: "sub resource", in: `!Sub "${Fn}"`, want: "my-fn"},
		{name: "sub attr", in: `!Sub "${Fn.Arn}:live"`, want: "arn:aws:lambda:us-east-1:123456789012:function:my-fn:live"},
		{name: "sub attr dots", in: `!Sub "${Stack.Outputs.Url}/x"`, want: "https://example.com/x"},
		{name: "sub literal", in: `!Sub "${!Literal} and ${!Stage}"`, want: "${Literal} and ${Stage}"},
		{name: "sub unterminated", in: `!Sub "a ${Stage"`, want: "a ${Stage"},
		{name: "sub no vars", in: `!Sub "plain"`, want: "plain"},
		{name: "sub spaces", in: `!Sub "${ Stage }"`, want: "prod"},
		{name: "sub map", in: `!Sub ["${A}-${B}-${Stage}", {A: a, B: !Ref Fn}]`, want: "a-my-fn-prod"},
		{name: "sub map shadows", in: `!Sub ["${Stage}", {Stage: dev}]`, want: "dev"},
		{name: "sub map number", in: `!Sub ["${N}", {N: 5}]`, want: "5"},
		{name: "sub map list value", in: `!Sub ["${N}", {N: !Ref Subnets}]`, err: "must be a string"},
		{name: "sub list param", in: `!Sub "${Subnets}"`, err: "does not resolve to a string"},
		{name: "sub bad name", in: `!Sub "${a-b}"`, err: "variable names in Fn::Sub syntax must contain only alphanumeric"},
		{name: "sub empty name", in: `!Sub "${}"`, err: "variable names in Fn::Sub syntax"},
		{name: "sub unknown", in: `!Sub "${HOME}"`, err: "no resource HOME"},
		{name: "sub three args", in: `{"Fn::Sub": [a, {}, c]}`, err: "Fn::Sub intrinsic functions don't specify expected arguments"},
		{name: "sub not string", in: `{"Fn::Sub": 5}`, err: "Fn::Sub intrinsic functions"},
		{name: "sub novalue", in: `!Sub "${AWS::NoValue}"`, err: "does not resolve to a string"},
		// Join
		{name: "join", in: `!Join [",", [a, b, c]]`, want: "a,b,c"},
		{name: "join empty list", in: `!Join [",", []]`, want: ""},
		{name: "join list param", in: `!Join [":", !Ref Subnets]`, want: "s1:s2:s3"},
		{name: "join nested sub", in: `!Join ["", [!Sub "${Stage}", "-", !Ref Fn, "-", 3]]`, want: "prod-my-fn-3"},
		{name: "join getazs", in: `!Join [",", !GetAZs ""]`, want: "us-east-1a,us-east-1b,us-east-1c"},
		{name: "join novalue item", in: `!Join [",", [a, !Ref AWS::NoValue, b]]`, want: "a,b"},
		{name: "join if novalue", in: `!Join [",", [a, !If [IsDev, x, !Ref AWS::NoValue]]]`, want: "a"},
		{name: "join nested list", in: `!Join [",", [a, !Ref Subnets]]`, err: "every Fn::Join object requires two parameters"},
		{name: "join one arg", in: `!Join [","]`, err: "every Fn::Join object requires two parameters, (1) a string delimiter"},
		{name: "join not list", in: `!Join [",", abc]`, err: "every Fn::Join object requires two parameters"},
		{name: "join bad delim", in: `!Join [[a], [b]]`, err: "every Fn::Join object requires two parameters"},
		// Select
		{name: "select string index", in: `!Select ["1", [a, b, c]]`, want: "b"},
		{name: "select number index", in: `!Select [2, !Ref Subnets]`, want: "s3"},
		{name: "select ref index", in: `!Select [!Ref Index, !GetAZs ""]`, want: "us-east-1b"},
		{name: "select out of range", in: `!Select [3, [a, b, c]]`, err: "Fn::Select cannot select nonexistent value at index 3"},
		{name: "select negative", in: `!Select [-1, [a]]`, err: "cannot select nonexistent value at index -1"},
		{name: "select bad index", in: `!Select [x, [a]]`, err: "integer index"},
		{name: "select fraction", in: `!Select [0.5, [a]]`, err: "integer index"},
		{name: "select not list", in: `!Select [0, abc]`, err: "Fn::Select requires a list argument"},
		{name: "select map item", in: `!Select [0, [{A: !Ref Stage}]]`, want: map[string]any{"A": "prod"}},
		// Split
		{name: "split", in: `!Split [",", "a,b,,c"]`, want: []any{"a", "b", "", "c"}},
		{name: "split no delim in string", in: `!Split [",", abc]`, want: []any{"abc"}},
		{name: "split empty string", in: `!Split [",", ""]`, want: []any{""}},
		{name: "split of sub", in: `!Select [1, !Split ["-", !Sub "${Stage}-x-y"]]`, want: "x"},
		{name: "split multi-char", in: `!Split ["::", "a::b"]`, want: []any{"a", "b"}},
		{name: "split empty delim", in: `!Split ["", "ab"]`, err: "every Fn::Split object requires two parameters"},
		{name: "split list", in: `!Split [",", [a]]`, err: "Fn::Split"},
		// If
		{name: "if true", in: `!If [IsProd, big, small]`, want: "big"},
		{name: "if false", in: `!If [IsDev, big, small]`, want: "small"},
		{name: "if novalue top", in: `!If [IsDev, x, !Ref AWS::NoValue]`, want: nil},
		{name: "if novalue key", in: `{A: 1, B: !If [IsDev, x, !Ref AWS::NoValue]}`, want: map[string]any{"A": 1.0}},
		{name: "if novalue list", in: `[a, !If [IsDev, x, !Ref AWS::NoValue], b]`, want: []any{"a", "b"}},
		{name: "if lazy", in: `!If [IsProd, ok, !Ref Missing]`, want: "ok"},
		{name: "if nested", in: `!If [IsProd, !If [IsDev, a, b], c]`, want: "b"},
		{name: "if map", in: `!If [IsProd, {Size: !FindInMap [Env, prod, Size]}, {}]`, want: map[string]any{"Size": "large"}},
		{name: "if unknown", in: `!If [Nope, a, b]`, err: "unresolved condition dependency Nope in Fn::If"},
		{name: "if two args", in: `!If [IsProd, a]`, err: "Fn::If requires a list argument with three elements"},
		// Conditions as values
		{name: "equals strings", in: `!Equals [!Ref Stage, prod]`, want: true},
		{name: "equals number vs string", in: `!Equals [!Ref Count, 3]`, want: true},
		{name: "equals false", in: `!Equals [a, b]`, want: false},
		{name: "equals lists", in: `!Equals [!Ref Subnets, [s1, s2, s3]]`, want: true},
		{name: "equals one arg", in: `!Equals [a]`, err: "every Fn::Equals object requires a list of 2"},
		{name: "and", in: `!And [!Equals [a, a], !Condition IsProd]`, want: true},
		{name: "and false", in: `!And [!Condition IsDev, !Condition IsProd]`, want: false},
		{name: "and one", in: `!And [!Condition IsProd]`, err: "every Fn::And object requires a list of at least 2 and at most 10 boolean parameters."},
		{name: "and eleven", in: `!And [true, true, true, true, true, true, true, true, true, true, true]`, err: "at most 10"},
		{name: "or", in: `!Or [!Condition IsDev, !Equals [x, x]]`, want: true},
		{name: "or false", in: `!Or [!Condition IsDev, false]`, want: false},
		{name: "not", in: `!Not [!Condition IsDev]`, want: true},
		{name: "not two", in: `!Not [true, false]`, err: "every Fn::Not object requires one boolean parameter"},
		{name: "not string", in: `!Not [abc]`, err: "boolean"},
		{name: "condition unknown", in: `!Not [!Condition Nope]`, err: "unresolved condition dependency Nope"},
		// FindInMap
		{name: "findinmap", in: `!FindInMap [Env, !Ref Stage, Size]`, want: "large"},
		{name: "findinmap list", in: `!FindInMap [Env, prod, Zones]`, want: []any{"a", "b"}},
		{name: "findinmap number", in: `!FindInMap [Env, prod, Count]`, want: 3.0},
		{name: "findinmap missing", in: `!FindInMap [Env, dev, Size]`, err: "Unable to get mapping for Env::dev::Size"},
		{name: "findinmap no map", in: `!FindInMap [Nope, dev, Size]`, err: "Unable to get mapping for Nope::dev::Size"},
		{name: "findinmap default", in: `!FindInMap [Env, dev, Size, {DefaultValue: !Sub "${Stage}-small"}]`, want: "prod-small"},
		{name: "findinmap default unused", in: `!FindInMap [Env, prod, Size, {DefaultValue: small}]`, want: "large"},
		{name: "findinmap two args", in: `!FindInMap [Env, prod]`, err: "every Fn::FindInMap object requires three parameters"},
		{name: "findinmap list key", in: `!FindInMap [Env, !Ref Subnets, Size]`, err: "every Fn::FindInMap object requires three parameters"},
		// GetAZs
		{name: "getazs empty", in: `!GetAZs ""`, want: []any{"us-east-1a", "us-east-1b", "us-east-1c"}},
		{name: "getazs bare", in: `!GetAZs`, want: []any{"us-east-1a", "us-east-1b", "us-east-1c"}},
		{name: "getazs region", in: `!GetAZs eu-west-1`, want: []any{"eu-west-1a", "eu-west-1b", "eu-west-1c"}},
		{name: "getazs ref region", in: `{"Fn::GetAZs": !Ref AWS::Region}`, want: []any{"us-east-1a", "us-east-1b", "us-east-1c"}},
		// Base64
		{name: "base64", in: `!Base64 hello`, want: "aGVsbG8="},
		{name: "base64 sub", in: `!Base64 {"Fn::Sub": "${Stage}"}`, want: "cHJvZA=="},
		{name: "base64 list", in: `{"Fn::Base64": [a]}`, err: "Fn::Base64 requires a string"},
		// Cidr
		{name: "cidr", in: `!Cidr [10.0.0.0/16, 3, 8]`, want: []any{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"}},
		{name: "cidr strings", in: `!Cidr [!Ref Block, "2", "12"]`, want: []any{"10.0.0.0/20", "10.0.16.0/20"}},
		{name: "cidr unmasked", in: `!Cidr [192.168.1.77/24, 2, 6]`, want: []any{"192.168.1.0/26", "192.168.1.64/26"}},
		{name: "cidr ipv6", in: `!Cidr ["2001:db8::/56", 2, 64]`, want: []any{"2001:db8::/64", "2001:db8:0:1::/64"}},
		{name: "cidr too many", in: `!Cidr [10.0.0.0/24, 5, 6]`, err: "fewer than 5 subnets"},
		{name: "cidr too big", in: `!Cidr [10.0.0.0/24, 1, 9]`, err: "do not fit"},
		{name: "cidr bad block", in: `!Cidr [10.0.0.0, 1, 8]`, err: "not an address block"},
		{name: "cidr count zero", in: `!Cidr [10.0.0.0/16, 0, 8]`, err: "Fn::Cidr requires three parameters"},
		{name: "cidr count 257", in: `!Cidr [10.0.0.0/8, 257, 8]`, err: "Fn::Cidr requires three parameters"},
		// ImportValue
		{name: "import", in: `!ImportValue shared-vpc`, want: "vpc-123"},
		{name: "import sub", in: `!ImportValue {"Fn::Sub": "shared-${!x}"}`, err: "No export named shared-${x} found"},
		{name: "import missing", in: `!ImportValue other`, err: "No export named other found"},
		// LanguageExtensions
		{name: "length", in: `!Length [a, b, !Ref AWS::NoValue]`, want: 2.0},
		{name: "length param", in: `{"Fn::Length": !Ref Subnets}`, want: 3.0},
		{name: "length string", in: `{"Fn::Length": abc}`, err: "Fn::Length requires a list"},
		{name: "tojsonstring", in: `{"Fn::ToJsonString": {b: !Ref Stage, a: [1, true, "<x>"]}}`, want: `{"a":[1,true,"<x>"],"b":"prod"}`},
		{name: "tojsonstring scalar", in: `{"Fn::ToJsonString": abc}`, err: "Fn::ToJsonString requires an object or a list"},
		// Dynamic references
		{name: "dynamic ssm", in: `{A: [x, "{{resolve:ssm:/app/key}}"]}`, err: "dynamic reference {{resolve:ssm:/app/key}} cannot be resolved"},
		{name: "dynamic via sub", in: `!Sub "{{resolve:secretsmanager:${Stage}:SecretString:pw}}"`, err: "dynamic reference {{resolve:secretsmanager:prod:SecretString:pw}} cannot"},
		{name: "not dynamic", in: `"{{resolve}} {{x}}"`, want: "{{resolve}} {{x}}"},
		// Others
		{name: "transform", in: `{"Fn::Transform": {Name: AWS::Include}}`, err: "Fn::Transform is not supported"},
		{name: "unknown function", in: `{"Fn::Nope": 1}`, err: "Encountered unsupported function: Fn::Nope"},
		{name: "plain map", in: `{Fn: 1, Ref: 2}`, want: map[string]any{"Fn": 1.0, "Ref": 2.0}},
		{name: "condition key kept", in: `{Condition: {StringEquals: {"aws:x": !Ref Stage}}}`, want: map[string]any{"Condition": map[string]any{"StringEquals": map[string]any{"aws:x": "prod"}}}},
		{name: "scalars", in: `[1, 2.5, true, null, "s"]`, want: []any{1.0, 2.5, true, nil, "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := parseValue(t, tt.in)
			got, err := cfn.Eval(v, testEnv())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Eval(%s) = %#v, %v; want error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval(%s): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Eval(%s) = %#v; want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// parseValue parses a YAML value by wrapping it in a template's output.
func parseValue(t *testing.T, in string) any {
	t.Helper()
	tmpl, err := cfn.Parse([]byte("Resources:\n  R: {Type: X}\nOutputs:\n  O:\n    Value: " + in + "\n"))
	if err != nil {
		t.Fatalf("parse %s: %v", in, err)
	}
	return tmpl.Outputs["O"].Value
}

func TestEvalLeavesInputAlone(t *testing.T) {
	v := parseValue(t, `{A: [!Ref Stage, !If [IsDev, x, !Ref AWS::NoValue]], B: !FindInMap [Env, prod, Zones]}`)
	before := cfn.Copy(v)
	got, err := cfn.Eval(v, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v, before) {
		t.Fatalf("Eval changed its input: %#v", v)
	}
	// The result shares nothing with the mappings.
	got.(map[string]any)["B"].([]any)[0] = "changed"
	again, _ := cfn.Eval(v, testEnv())
	if again.(map[string]any)["B"].([]any)[0] != "a" {
		t.Fatal("Eval result aliases the Mappings")
	}
}

func TestEvalNoResolver(t *testing.T) {
	env := testEnv()
	env.Resources = nil
	env.ImportValue = nil
	for in, want := range map[string]string{
		`!Ref Fn`:             "Template format error: Unresolved resource dependencies [Fn] in the Resources block of the template",
		`!GetAtt Fn.Arn`:      "Template format error: Unresolved resource dependencies [Fn] in the Resources block of the template",
		`!Sub "${Fn.Arn}"`:    "Template format error: Unresolved resource dependencies [Fn] in the Resources block of the template",
		`!ImportValue shared`: `Fn::ImportValue of "shared" cannot be resolved here`,
	} {
		_, err := cfn.Eval(parseValue(t, in), env)
		if err == nil || err.Error() != want && !strings.Contains(err.Error(), want) {
			t.Errorf("Eval(%s) error = %v; want %q", in, err, want)
		}
	}
}

func TestEvalBounded(t *testing.T) {
	// Each level of Fn::Sub quadruples the string: 4^20 bytes if unbounded.
	v := any("xxxxxxxxxxxxxxxx")
	for range 20 {
		v = map[string]any{"Fn::Sub": []any{"${a}${a}${a}${a}", map[string]any{"a": v}}}
	}
	_, err := cfn.Eval(v, testEnv())
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Eval of an exponential Fn::Sub: %v; want a too-large error", err)
	}
	// Fn::Base64 nested: (4/3)^200.
	v = "hello world"
	for range 200 {
		v = map[string]any{"Fn::Base64": v}
	}
	if _, err := cfn.Eval(v, testEnv()); err == nil {
		t.Fatal("Eval of deeply nested Fn::Base64 succeeded")
	}
}
