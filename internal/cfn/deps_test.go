package cfn_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

func TestDependencies(t *testing.T) {
	tmpl, err := cfn.Parse([]byte(`
Parameters: {P: {Type: String, Default: x}}
Conditions: {C: !Equals [a, a]}
Resources:
  A: {Type: X, Properties: {N: !Ref P, R: !Ref AWS::Region}}
  B: {Type: X, Properties: {N: !GetAtt A.Arn}}
  C:
    Type: X
    DependsOn: [A]
    Properties:
      S: !Sub "${B.Arn}/${D}/${P}/${!E}/${AWS::StackName}"
      V: !Sub ["${x}-${F}", {x: !Ref G}]
  D: {Type: X, Properties: {L: [!If [C, !Ref E, !Ref AWS::NoValue]]}}
  E: {Type: X, Metadata: {M: !Ref F}}
  F: {Type: X, DependsOn: G}
  G: {Type: X, Properties: {Plain: {Ref: [not, a, name]}, Tags: {Ref: H}}}
  H: {Type: X}
Outputs:
  O: {Value: !GetAtt C.Arn, Export: {Name: !Sub "${H}"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	deps, err := tmpl.Dependencies()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"A": {}, "B": {"A"}, "C": {"A", "B", "D", "F", "G"}, "D": {"E"}, "E": {"F"},
		"F": {"G"}, "G": {"H"}, "H": {},
	}
	if !reflect.DeepEqual(deps, want) {
		t.Fatalf("Dependencies =\n%v\nwant\n%v", deps, want)
	}
	order, err := cfn.Order(deps)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A", "B", "H", "G", "F", "E", "D", "C"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("Order = %v; want %v", order, want)
	}
	if got := cfn.References(tmpl.Resources["C"].Properties); !reflect.DeepEqual(got, []string{"B", "D", "F", "G", "P"}) {
		t.Fatalf("References = %v", got)
	}
}

func TestDependenciesUnresolved(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"Resources:\n  A: {Type: X, Properties: {N: !Ref Nope, M: !GetAtt Gone.Arn}}\n", "Template format error: Unresolved resource dependencies [Gone, Nope] in the Resources block of the template"},
		{"Resources:\n  A: {Type: X, DependsOn: Nope}\n", "Unresolved resource dependencies [Nope] in the Resources block"},
		{"Resources:\n  A: {Type: X, Properties: {S: !Sub \"${HOME}/x\"}}\n", "Unresolved resource dependencies [HOME]"},
		{"Resources:\n  A: {Type: X}\nOutputs: {O: {Value: !Ref B}}\n", "Unresolved resource dependencies [B] in the Outputs block of the template"},
		{"Resources:\n  A: {Type: X, Properties: {P: [!If [Nope, a, b]]}}\n", "Template error: unresolved condition dependency Nope in Fn::If"},
		{"Conditions: {C: !Equals [a, a]}\nResources:\n  A: {Type: X, Properties: {P: !If [C, a, b]}}\nOutputs: {O: {Value: !If [D, a, b]}}\n", "unresolved condition dependency D in Fn::If"},
	} {
		tmpl, err := cfn.Parse([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		_, err = tmpl.Dependencies()
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("error = %v; want %q", err, tt.err)
		}
	}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name string
		deps map[string][]string
		want []string
		err  string
	}{
		{name: "empty", deps: map[string][]string{}, want: []string{}},
		{name: "by name", deps: map[string][]string{"c": nil, "a": nil, "b": nil}, want: []string{"a", "b", "c"}},
		{name: "chain", deps: map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, want: []string{"c", "b", "a"}},
		{name: "diamond", deps: map[string][]string{"d": {"b", "c"}, "b": {"a"}, "c": {"a"}, "a": nil}, want: []string{"a", "b", "c", "d"}},
		{name: "stable ties", deps: map[string][]string{"z": nil, "y": {"z"}, "a": {"z"}}, want: []string{"z", "a", "y"}},
		{name: "unknown ignored", deps: map[string][]string{"a": {"zz", "zz"}}, want: []string{"a"}},
		{name: "cycle", deps: map[string][]string{"A": {"B"}, "B": {"A"}, "C": {"A"}, "D": nil}, err: "Circular dependency between resources: [A, B]"},
		{name: "self", deps: map[string][]string{"A": {"A"}}, err: "Circular dependency between resources: [A]"},
		{name: "long cycle", deps: map[string][]string{"A": {"B"}, "B": {"C"}, "C": {"A"}, "D": {"C"}, "E": {"D"}}, err: "Circular dependency between resources: [A, B, C]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cfn.Order(tt.deps)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("Order = %v, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Order = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
