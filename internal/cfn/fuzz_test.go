package cfn_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

func seedTemplates(f *testing.F) {
	f.Helper()
	files, _ := filepath.Glob("testdata/*.yaml")
	jsonFiles, _ := filepath.Glob("testdata/*.template.json")
	for _, file := range append(files, jsonFiles...) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"Resources": {"R": {"Type": "X", "Properties": {"A": {"Fn::Sub": ["${a}", {"a": {"Ref": "AWS::Region"}}]}}}}}`,
		"Resources: {R: {Type: X, Properties: {A: !GetAtt A.B.C, B: !Sub ['${x}', {x: !Join [',', !GetAZs '']}]}}}\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nResources: {R: {Type: X, Properties: {A: *b, <<: {c: 1}}}}\n",
		"Conditions: {C: !Equals [!Ref P, x]}\nParameters: {P: {Type: String, Default: x}}\nResources: {R: {Type: X, Condition: C, Properties: {A: !If [C, !Cidr [10.0.0.0/16, 2, 8], !Ref AWS::NoValue]}}}\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse: Parse never panics, and what it accepts survives Marshal and
// Parse again unchanged.
func FuzzParse(f *testing.F) {
	seedTemplates(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		tmpl, err := cfn.Parse(b)
		if err != nil {
			return
		}
		m, err := tmpl.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed template: %v", err)
		}
		again, err := cfn.Parse(m)
		if err != nil {
			t.Fatalf("Parse of a marshalled template: %v\n%s", err, m)
		}
		m2, err := again.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if string(m) != string(m2) {
			t.Fatalf("round trip changed the template:\n%s\n%s", m, m2)
		}
		_ = tmpl.Clone()
	})
}

// FuzzEval: whatever Parse accepts, the whole deploy path (parameters,
// conditions, dependencies, order, evaluation) terminates without
// panicking, and what Eval returns is JSON.
func FuzzEval(f *testing.F) {
	seedTemplates(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		tmpl, err := cfn.Parse(b)
		if err != nil {
			return
		}
		params, err := tmpl.ResolveParameters(nil, testPseudo)
		if err != nil {
			params = cfn.PseudoParams(testPseudo)
		}
		env := &cfn.Env{Pseudo: testPseudo, Params: params, Mappings: tmpl.Mappings,
			ImportValue: func(name string) (string, error) { return "imported-" + name, nil }}
		conds, err := tmpl.EvalConditions(env)
		if err != nil {
			conds = map[string]bool{}
		}
		env.Conditions = conds
		if deps, err := tmpl.Dependencies(); err == nil {
			if _, err := cfn.Order(deps); err != nil {
				_ = err
			}
		}
		fake := &fakeResources{t: tmpl, made: map[string]bool{}}
		for id := range tmpl.Resources {
			fake.made[id] = true
		}
		env.Resources = fake
		for _, r := range tmpl.Resources {
			v, err := cfn.Eval(r.Properties, env)
			if err != nil {
				continue
			}
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("Eval result is not JSON: %v", err)
			}
		}
		for _, o := range tmpl.Outputs {
			_, _ = cfn.Eval(o.Value, env)
			_ = cfn.References(o.Value)
		}
	})
}
