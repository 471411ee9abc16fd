package cfn_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

func TestParseYAMLShortForms(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Resources:
  R:
    Type: AWS::X::Y
    DependsOn: Other
    Properties:
      Ref: !Ref A
      Sub: !Sub "${A}"
      SubList: !Sub ["${B}", {B: !Ref A}]
      GetAtt: !GetAtt A.B.C
      GetAttList: !GetAtt [A, B]
      Join: !Join ["", [!Sub "x-${A}", !GetAtt A.Arn]]
      Select: !Select [0, !Split [",", !ImportValue V]]
      If: !If [C, !Base64 x, !GetAZs ""]
      Cond: !And [!Equals [a, b], !Or [!Not [!Condition C], !Condition D]]
      Map: !FindInMap [M, !Ref A, k]
      Cidr: !Cidr [10.0.0.0/16, 1, 8]
      Transform: !Transform {Name: AWS::Include, Parameters: {Location: x}}
      Date: 2024-01-02
      Quoted: "12"
      Int: 12
      Hex: 0x1F
      Float: 1.5
      Zero: 0123
      Account: 012345678901
      Sexagesimal: 1:30
      NoDotExp: 1e3
      Exp: 1.5e+3
      Bool: true
      Yes: yes
      Off: off
      QuotedYes: "yes"
      Tagged: !!int "12"
      Null: ~
      Inf: .inf
      Merged:
        <<: {a: 1, b: 2}
        b: 3
  Other: {Type: AWS::X::Z}
Conditions:
  C: !Equals [a, a]
  D: !Equals [a, b]
`))
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.FormatVersion != "2010-09-09" {
		t.Errorf("FormatVersion = %q", tmpl.FormatVersion)
	}
	if !reflect.DeepEqual(tmpl.Transform, []string{"AWS::Serverless-2016-10-31"}) {
		t.Errorf("Transform = %v", tmpl.Transform)
	}
	r := tmpl.Resources["R"]
	if !reflect.DeepEqual(r.DependsOn, []string{"Other"}) {
		t.Errorf("DependsOn = %v", r.DependsOn)
	}
	want := map[string]any{
		"Ref":        map[string]any{"Ref": "A"},
		"Sub":        map[string]any{"Fn::Sub": "${A}"},
		"SubList":    map[string]any{"Fn::Sub": []any{"${B}", map[string]any{"B": map[string]any{"Ref": "A"}}}},
		"GetAtt":     map[string]any{"Fn::GetAtt": []any{"A", "B.C"}},
		"GetAttList": map[string]any{"Fn::GetAtt": []any{"A", "B"}},
		"Join": map[string]any{"Fn::Join": []any{"", []any{
			map[string]any{"Fn::Sub": "x-${A}"}, map[string]any{"Fn::GetAtt": []any{"A", "Arn"}}}}},
		"Select": map[string]any{"Fn::Select": []any{0.0, map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::ImportValue": "V"}}}}},
		"If":     map[string]any{"Fn::If": []any{"C", map[string]any{"Fn::Base64": "x"}, map[string]any{"Fn::GetAZs": ""}}},
		"Cond": map[string]any{"Fn::And": []any{
			map[string]any{"Fn::Equals": []any{"a", "b"}},
			map[string]any{"Fn::Or": []any{map[string]any{"Fn::Not": []any{map[string]any{"Condition": "C"}}}, map[string]any{"Condition": "D"}}}}},
		"Map":         map[string]any{"Fn::FindInMap": []any{"M", map[string]any{"Ref": "A"}, "k"}},
		"Cidr":        map[string]any{"Fn::Cidr": []any{"10.0.0.0/16", 1.0, 8.0}},
		"Transform":   map[string]any{"Fn::Transform": map[string]any{"Name": "AWS::Include", "Parameters": map[string]any{"Location": "x"}}},
		"Date":        "2024-01-02",
		"Quoted":      "12",
		"Int":         12.0,
		"Hex":         31.0,
		"Float":       1.5,
		"Zero":        83.0,
		"Account":     "012345678901",
		"Sexagesimal": 90.0,
		"NoDotExp":    "1e3",
		"Exp":         1500.0,
		"Bool":        true,
		"Yes":         true,
		"Null":        nil,
		"Off":         false,
		"QuotedYes":   "yes",
		"Tagged":      12.0,
		"Inf":         ".inf",
		"Merged":      map[string]any{"a": 1.0, "b": 3.0},
	}
	for k, w := range want {
		if got := r.Properties[k]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v; want %#v", k, got, w)
		}
	}
	if len(r.Properties) != len(want) {
		t.Errorf("got %d properties, want %d", len(r.Properties), len(want))
	}
}

func TestParseJSON(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`{
	"AWSTemplateFormatVersion": "2010-09-09",
	"Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
	"Parameters": {"P": {"Type": "Number", "Default": 5, "MinValue": "1", "MaxLength": 3}},
	"Resources": {"R": {"Type": "AWS::X::Y", "DependsOn": ["A", "B"],
		"Properties": {"N": 1.50, "Big": 12345678901234567890, "S": "\u00e9\/", "L": [], "M": {},
			"J": {"Fn::Join": ["", [{"Ref": "P"}]]}}}}
}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.Transform) != 2 {
		t.Errorf("Transform = %v", tmpl.Transform)
	}
	p := tmpl.Parameters["P"]
	if p.Type != "Number" || p.Default != 5.0 || *p.MinValue != 1 || *p.MaxLength != 3 {
		t.Errorf("parameter = %+v", p)
	}
	props := tmpl.Resources["R"].Properties
	if props["N"] != 1.5 || props["Big"] != 12345678901234567890.0 || props["S"] != "é/" {
		t.Errorf("properties = %#v", props)
	}
	if !reflect.DeepEqual(props["L"], []any{}) || !reflect.DeepEqual(props["M"], map[string]any{}) {
		t.Errorf("empty collections = %#v %#v", props["L"], props["M"])
	}
}

func TestParseYAMLFlowStartingWithBrace(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`{Resources: {R: {Type: X, Properties: {A: !Ref B}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.Resources["R"].Properties["A"]; !reflect.DeepEqual(got, map[string]any{"Ref": "B"}) {
		t.Fatalf("A = %#v", got)
	}
}

func TestParseErrors(t *testing.T) {
	big := "Resources:\n  R: {Type: X}\nDescription: " + strings.Repeat("x", cfn.MaxTemplateBytes) + "\n"
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := range 9 {
		name := string(rune('b' + i))
		bomb += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	deep := "Resources:\n  R:\n    Type: X\n    Properties:\n      A: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n"
	tests := []struct{ name, in, err string }{
		{"empty", ``, "Template format error: not a valid template"},
		{"scalar", `hello`, "not a valid template"},
		{"list", `[1]`, "not a valid template"},
		{"no resources", "Description: x\n", "Template format error: At least one Resources member must be defined."},
		{"empty resources", "Resources: {}\n", "At least one Resources member must be defined."},
		{"unknown section", "Foo: 1\nBar: 2\nResources: {R: {Type: X}}\n", "Template format error: Invalid template property or properties [Bar, Foo]"},
		{"no type", "Resources: {R: {Properties: {}}}\n", "Every Resources object must contain a Type member."},
		{"resource not map", "Resources: {R: 5}\n", "resource definition is malformed"},
		{"bad resource name", "Resources: {R-1: {Type: X}}\n", "Resource name R-1 is non alphanumeric."},
		{"bad attribute", "Resources: {R: {Type: X, Foo: 1}}\n", "Invalid template resource property 'Foo'"},
		{"properties list", "Resources: {R: {Type: X, Properties: [1]}}\n", "'Properties' must be an object"},
		{"dependson map", "Resources: {R: {Type: X, DependsOn: {a: 1}}}\n", "DependsOn must be a string or a list of strings"},
		{"bad version", "AWSTemplateFormatVersion: 2011-01-01\nResources: {R: {Type: X}}\n", "Unsupported AWSTemplateFormatVersion"},
		{"bad transform", "Transform: {a: 1}\nResources: {R: {Type: X}}\n", "Transform must be a string or a list of strings"},
		{"foreach", "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\nResources:\n  Fn::ForEach::Fns: [N, [A, B], {Fn: {Type: X}}]\n",
			"Resource name Fn::ForEach::Fns is a loop of the AWS::LanguageExtensions transform; Nimbus does not expand Fn::ForEach."},
		{"foreach output", "Resources: {R: {Type: X}}\nOutputs:\n  Fn::ForEach::Outs: [N, [A, B], {O: {Value: x}}]\n",
			"Output name Fn::ForEach::Outs is a loop of the AWS::LanguageExtensions transform"},
		{"param no type", "Parameters: {P: {Default: x}}\nResources: {R: {Type: X}}\n", "Every Parameters object must contain a Type member."},
		{"param bad type", "Parameters: {P: {Type: Strin}}\nResources: {R: {Type: X}}\n", "Unrecognized parameter type: Strin"},
		{"param bad attr", "Parameters: {P: {Type: String, Foo: 1}}\nResources: {R: {Type: X}}\n", "Invalid template parameter property 'Foo'"},
		{"output no value", "Resources: {R: {Type: X}}\nOutputs: {O: {Description: x}}\n", "Every Outputs member must contain a Value object"},
		{"output bad export", "Resources: {R: {Type: X}}\nOutputs: {O: {Value: x, Export: y}}\n", "Export must be an object"},
		{"condition not string", "Resources: {R: {Type: X, Condition: [a]}}\n", "Template format error: Every Condition member must be a string"},
		{"undefined condition", "Resources: {R: {Type: X, Condition: C}}\n", "Unresolved condition dependencies [C]"},
		{"duplicate key", "Resources:\n  R: {Type: X}\n  R: {Type: Y}\n", "duplicate key \"R\""},
		{"duplicate json key", `{"Resources": {"R": {"Type": "X"}, "R": {"Type": "Y"}}}`, "Duplicate key \"R\""},
		{"bad json", `{"Resources": {"R": {"Type": "X"}`, "not well-formed"},
		{"bad yaml", "Resources: [\n", "YAML not well-formed"},
		{"unknown tag", "Resources: {R: {Type: !Foo x}}\n", "unknown tag !Foo"},
		{"getatt no dot", "Resources: {R: {Type: X, Properties: {A: !GetAtt Res}}}\n", "expected LogicalId.Attribute"},
		{"tagged key", "Resources: {R: {Type: X, Properties: {!Ref A: 1}}}\n", "a mapping key cannot be !Ref"},
		{"too big", big, "more than the 1048576 allowed"},
		{"alias bomb", bomb + "Resources: {R: {Type: X, Properties: {A: *j}}}\n", "the template expands to more than"},
		{"too deep", deep, "nests more than"},
		{"too deep json", `{"Resources": {"R": {"Type": "X", "Properties": {"A": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}}}}`, "nests more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cfn.Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Parse error = %v; want one containing %q", err, tt.err)
			}
		})
	}
}

func TestClone(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
Parameters: {P: {Type: String, AllowedValues: [a, b], MinLength: 1}}
Resources:
  R: {Type: X, DependsOn: [S], Properties: {A: [1, {B: 2}]}, Metadata: {M: 1}}
  S: {Type: Y}
Outputs: {O: {Value: !Ref R, Export: {Name: e}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := tmpl.Marshal()
	c := tmpl.Clone()
	c.Resources["R"].Properties["A"].([]any)[1].(map[string]any)["B"] = 3
	c.Resources["R"].DependsOn[0] = "T"
	c.Resources["R"].Metadata["M"] = 2
	c.Parameters["P"].AllowedValues[0] = "z"
	*c.Parameters["P"].MinLength = 5
	c.Outputs["O"].Value.(map[string]any)["Ref"] = "S"
	c.Outputs["O"].Export.Name = "f"
	delete(c.Resources, "S")
	after, _ := tmpl.Marshal()
	if string(before) != string(after) {
		t.Fatalf("changing the clone changed the original:\n%s\n%s", before, after)
	}
	cm, _ := c.Marshal()
	if string(cm) == string(before) {
		t.Fatal("the clone did not change")
	}
}

// TestYAML11Scalars checks plain scalars against what PyYAML (the YAML 1.1
// parser of samtranslator and cfn-lint) makes of them.
func TestYAML11Scalars(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
Resources:
  R:
    Type: X
    Properties:
      a: [1:30, 190:20:30, -0x1F, 0b101, +.5, 1.0e3, 1.0e+3, 1_000.5, Null, NULL, "~", y, n, Y, N, 1:30.5, 0:30, 09, 0777, -012, 0.5:1, 1., -1.5e-3, 1__0, 0x_1F, 0b, 0x, 12e, +0, -0.0, 00, 0_0]
      b: [!!int "12", !!float "1", !!bool "yes", !!null "", !!str 12]
      c: [Yes, ON, oFF, TRUE, tRUE]
`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(tmpl.Resources["R"].Properties)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[90,685230,-31,5,"+.5","1.0e3",1000,1000.5,null,null,"~","y","n","Y","N",90.5,"0:30","09",511,-10,"0.5:1",1,-0.0015,10,31,"0b","0x","12e",0,-0,0,0],"b":[12,1,true,null,"12"],"c":[true,true,"oFF",true,"tRUE"]}`
	if string(got) != want {
		t.Fatalf("scalars:\n got %s\nwant %s", got, want)
	}
}

// TestSAMResourceAttributesDropped: keys beside Type and Properties that
// samtranslator ignores on a SAM resource are dropped, as samtranslator
// drops them; on other resources they stay refused.
func TestSAMResourceAttributesDropped(t *testing.T) {
	tmpl, err := cfn.Parse([]byte("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Description: d\n    OpenApiVersion: '3.0'\n    Properties: {Handler: h}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if r := tmpl.Resources["F"]; r == nil || r.Properties["Handler"] != "h" {
		t.Errorf("resource F = %+v", tmpl.Resources["F"])
	}
	if _, err := cfn.Parse([]byte("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Description: d\n")); err == nil || !strings.Contains(err.Error(), "Invalid template resource property 'Description'") {
		t.Errorf("Parse of a plain resource with Description = %v", err)
	}
}
