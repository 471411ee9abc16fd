package cfn_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeResources answers Ref and Fn::GetAtt with deterministic values, and
// only for resources already made: evaluating in Order must never reach
// one that is not.
type fakeResources struct {
	t    *cfn.Template
	made map[string]bool
}

func (f *fakeResources) check(id string) error {
	if _, ok := f.t.Resources[id]; !ok {
		return fmt.Errorf("no resource %s", id)
	}
	if !f.made[id] {
		return fmt.Errorf("resource %s is not made yet", id)
	}
	return nil
}

func (f *fakeResources) Ref(id string) (any, error) {
	if err := f.check(id); err != nil {
		return nil, err
	}
	return "phys-" + strings.ToLower(id), nil
}

func (f *fakeResources) GetAtt(id, attr string) (any, error) {
	if err := f.check(id); err != nil {
		return nil, err
	}
	return "arn:aws:fake:us-east-1:123456789012:" + id + "/" + attr, nil
}

var testPseudo = cfn.Pseudo{
	Region:    "us-east-1",
	AccountID: "123456789012",
	StackName: "teststack",
	StackID:   "arn:aws:cloudformation:us-east-1:123456789012:stack/teststack/00000000-0000-0000-0000-000000000000",
}

type resolved struct {
	Parameters map[string]any            `json:"Parameters"`
	Conditions map[string]bool           `json:"Conditions"`
	Order      []string                  `json:"Order"`
	Resources  map[string]map[string]any `json:"Resources"`
	Outputs    map[string]any            `json:"Outputs"`
}

// deploy resolves a template as the stack engine does.
func deploy(t *cfn.Template, overrides map[string]string) (*resolved, error) {
	params, err := t.ResolveParameters(overrides, testPseudo)
	if err != nil {
		return nil, err
	}
	env := &cfn.Env{Pseudo: testPseudo, Params: params, Mappings: t.Mappings, ImportValue: func(name string) (string, error) {
		if name == "shared-vpc-id" {
			return "vpc-0123456789abcdef0", nil
		}
		return "", fmt.Errorf("No export named %s found", name)
	}}
	conds, err := t.EvalConditions(env)
	if err != nil {
		return nil, err
	}
	env.Conditions = conds
	deps, err := t.Dependencies()
	if err != nil {
		return nil, err
	}
	order, err := cfn.Order(deps)
	if err != nil {
		return nil, err
	}
	fake := &fakeResources{t: t, made: map[string]bool{}}
	env.Resources = fake
	out := &resolved{Parameters: t.MaskNoEcho(params), Conditions: conds, Order: order, Resources: map[string]map[string]any{}, Outputs: map[string]any{}}
	for _, id := range order {
		r := t.Resources[id]
		if r.Condition != "" && !conds[r.Condition] {
			continue
		}
		props, err := cfn.Eval(r.Properties, env)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		out.Resources[id] = map[string]any{"Type": r.Type, "Properties": props}
		fake.made[id] = true
	}
	for name, o := range t.Outputs {
		if o.Condition != "" && !conds[o.Condition] {
			continue
		}
		v, err := cfn.Eval(o.Value, env)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		entry := map[string]any{"Value": v}
		if o.Export != nil {
			n, err := cfn.Eval(o.Export.Name, env)
			if err != nil {
				return nil, fmt.Errorf("output %s export: %w", name, err)
			}
			entry["ExportName"] = n
		}
		out.Outputs[name] = entry
	}
	return out, nil
}

// TestGolden resolves each testdata template and compares the result with
// its .golden.json file (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	jsonFiles, _ := filepath.Glob("testdata/*.template.json")
	files = append(files, jsonFiles...)
	if len(files) == 0 {
		t.Fatal("no templates in testdata")
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".yaml"), ".template.json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tmpl, err := cfn.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			var overrides map[string]string
			if b, err := os.ReadFile(filepath.Join("testdata", name+".params.json")); err == nil {
				if err := json.Unmarshal(b, &overrides); err != nil {
					t.Fatal(err)
				}
			}
			res, err := deploy(tmpl, overrides)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("resolved template differs from %s (run with -update to accept):\n%s", golden, got)
			}
			// The template survives Marshal and Parse unchanged.
			m, err := tmpl.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again, err := cfn.Parse(m)
			if err != nil {
				t.Fatalf("parse marshalled template: %v\n%s", err, m)
			}
			m2, err := again.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m, m2) {
				t.Errorf("marshal/parse round trip changed the template:\n%s\n%s", m, m2)
			}
		})
	}
}
