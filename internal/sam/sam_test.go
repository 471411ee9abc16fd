package sam

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var testOpts = Options{Region: "us-east-1", AccountID: "123456789012", StackName: "test", Partition: "aws"}

// loadTemplate parses a template file with cfn.Parse, as the engine does.
func loadTemplate(t testing.TB, b []byte) *cfn.Template {
	t.Helper()
	tmpl, err := cfn.Parse(b)
	if err != nil {
		t.Fatalf("cfn.Parse: %v", err)
	}
	return tmpl
}

// toJSONModel turns a transformed template into the JSON data model.
func toJSONModel(t testing.TB, tmpl *cfn.Template) map[string]any {
	t.Helper()
	b, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type pyResult struct {
	Template map[string]any `json:"template"`
	Error    string         `json:"error"`
}

var (
	pyOnce    sync.Once
	pyResults map[string]pyResult
	pyErr     error
)

// samtranslator runs testdata/samtranslate.py once over every template in
// testdata/templates and testdata/invalid.
func samtranslator(t *testing.T) map[string]pyResult {
	t.Helper()
	if err := exec.Command("python3", "-c", "import samtranslator").Run(); err != nil {
		t.Skipf("samtranslator is not importable: %v", err)
	}
	pyOnce.Do(func() {
		var reqs []map[string]any
		for _, dir := range []string{"templates", "invalid", "eventsources"} {
			files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
			if err != nil {
				pyErr = err
				return
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					pyErr = err
					return
				}
				reqs = append(reqs, map[string]any{"name": dir + "/" + filepath.Base(f), "template": json.RawMessage(b)})
			}
		}
		corpus, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.yaml"))
		if err != nil {
			pyErr = err
			return
		}
		for _, f := range corpus {
			b, err := os.ReadFile(f)
			if err != nil {
				pyErr = err
				return
			}
			reqs = append(reqs, map[string]any{"name": "corpus/" + filepath.Base(f), "yaml": string(b)})
		}
		for name, tmpl := range exampleTemplates(t) {
			b, err := tmpl.Marshal()
			if err != nil {
				pyErr = err
				return
			}
			reqs = append(reqs, map[string]any{"name": "examples/" + name, "template": json.RawMessage(b)})
		}
		in, err := json.Marshal(reqs)
		if err != nil {
			pyErr = err
			return
		}
		cmd := exec.Command("python3", filepath.Join("testdata", "samtranslate.py"))
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			pyErr = fmt.Errorf("samtranslate.py: %w: %s", err, stderr.String())
			return
		}
		pyErr = json.Unmarshal(out, &pyResults)
	})
	if pyErr != nil {
		t.Fatal(pyErr)
	}
	return pyResults
}

var (
	deploymentHash  = regexp.MustCompile(`Deployment[0-9a-f]{10}\b`)
	deploymentDesc  = regexp.MustCompile(`RestApi deployment id: [0-9a-f]{40}`)
	doubleCondition = regexp.MustCompile(`\{"Condition":\{"Condition":("[^"]*")\}\}`)
)

// normalize replaces the hash suffixes that Nimbus does not reproduce
// (REST API deployments: samtranslator hashes Python's repr of the
// definition) in every logical ID and reference.
func normalize(v map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	s := deploymentHash.ReplaceAllString(string(b), "Deployment<hash>")
	s = deploymentDesc.ReplaceAllString(s, "RestApi deployment id: <hash>")
	// samtranslator wraps the parts of the Fn::And it makes for a
	// conditional event-invoke destination twice ({"Condition":
	// {"Condition": name}}), which CloudFormation refuses; Nimbus writes
	// the valid form.
	s = doubleCondition.ReplaceAllString(s, `{"Condition":$1}`)
	var out map[string]any
	_ = json.Unmarshal([]byte(s), &out)
	sortUnordered(out)
	// The cfn model omits empty Properties; samtranslator writes {}.
	// Tags lists are compared by key: the model keeps no key order, so the
	// transform orders user tags by key where samtranslator keeps the
	// template's order (globals' tags first).
	for _, r := range section(out, "Resources") {
		rm, ok := r.(map[string]any)
		if !ok {
			continue
		}
		p, ok := rm["Properties"].(map[string]any)
		if ok && len(p) == 0 {
			delete(rm, "Properties")
		}
		if tags, ok := p["Tags"].([]any); ok {
			sort.SliceStable(tags, func(i, j int) bool {
				ki, _ := tags[i].(map[string]any)["Key"].(string)
				kj, _ := tags[j].(map[string]any)["Key"].(string)
				return ki < kj
			})
		}
	}
	return out
}

// sortUnordered sorts the lists whose order means nothing and that
// samtranslator builds from sets or in its own resource order: a shared
// usage plan's ApiStages and StageKeys, DependsOn, the items of Fn::Or and
// an OpenAPI body's tags (samtranslator orders those by Python 2.7's dict
// hashing, which it emulates for backward compatibility).
func sortUnordered(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if l, ok := e.([]any); ok && (k == "ApiStages" || k == "StageKeys" || k == "Fn::Or" || k == "DependsOn" || k == "tags") {
				sort.SliceStable(l, func(i, j int) bool { return pyJSON(l[i]) < pyJSON(l[j]) })
			}
			sortUnordered(e)
		}
	case []any:
		for _, e := range x {
			sortUnordered(e)
		}
	}
}

func section(m map[string]any, name string) map[string]any {
	s, _ := m[name].(map[string]any)
	if s == nil {
		return map[string]any{}
	}
	return s
}

// TestDifferential transforms every template in testdata/templates with
// both this package and samtranslator and compares the resources: logical
// IDs (with deployment hashes normalised), types, attributes and
// properties, plus the Outputs and Conditions.
func TestDifferential(t *testing.T) {
	py := samtranslator(t)
	n := eachTestdata(t, "templates", ".json", func(t *testing.T, key string, b []byte) {
		want, ok := py[key]
		if !ok {
			t.Fatal("no samtranslator result")
		}
		if want.Error != "" {
			t.Fatalf("samtranslator rejected the template: %s", want.Error)
		}
		got, err := Transform(loadTemplate(t, b), nil, testOpts)
		if err != nil {
			t.Fatalf("Transform: %v", err)
		}
		gm := compareTransforms(t, got, want.Template, "Resources", "Outputs", "Conditions")
		if _, ok := gm["Globals"]; ok {
			t.Error("Globals left in the output")
		}
		if _, ok := gm["Transform"]; ok {
			t.Error("Transform left in the output")
		}
		golden(t, filepath.Base(key), got)
	})
	if n < 15 {
		t.Fatalf("only %d templates", n)
	}
}

// eachTestdata runs fn as a subtest for every testdata/<dir>/*<ext> file,
// with the key samtranslate.py gives its result under ("<dir>/<file>") and
// the file's content. It returns how many files there were.
func eachTestdata(t *testing.T, dir, ext string, fn func(t *testing.T, key string, b []byte)) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ext), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, dir+"/"+name, b)
		})
	}
	return len(files)
}

// compareTransforms compares the named sections of this package's output
// with samtranslator's (both normalised) and returns ours as a JSON model.
func compareTransforms(t *testing.T, got *cfn.Template, want map[string]any, sections ...string) map[string]any {
	t.Helper()
	gm := normalize(toJSONModel(t, got))
	wm := normalize(want)
	for _, name := range sections {
		compareSection(t, name, section(gm, name), section(wm, name))
	}
	return gm
}

// TestDifferentialCorpus does the same for YAML templates from
// aws-sam-translator's own test inputs (testdata/corpus), read by cfn.Parse
// here and by samtranslator's YAML loader there.
func TestDifferentialCorpus(t *testing.T) {
	py := samtranslator(t)
	eachTestdata(t, "corpus", ".yaml", func(t *testing.T, key string, b []byte) {
		want := py[key]
		tmpl := loadTemplate(t, b)
		if !HasTransform(tmpl) {
			tmpl.Transform = append(tmpl.Transform, TransformName)
		}
		got, err := Transform(tmpl, nil, testOpts)
		if want.Error != "" {
			if err == nil {
				t.Fatalf("Transform accepted it; samtranslator said: %s", want.Error)
			}
			return
		}
		if err != nil {
			t.Fatalf("Transform: %v", err)
		}
		compareTransforms(t, got, want.Template, "Resources", "Outputs", "Conditions")
	})
}

// exampleTemplates reads the repository's example SAM applications with
// their code locations rewritten as the CLI does after uploading.
func exampleTemplates(t testing.TB) map[string]*cfn.Template {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*cfn.Template{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := loadTemplate(t, b)
		for id, r := range tmpl.Resources {
			switch r.Type {
			case typeFunction:
				r.Properties["CodeUri"] = "s3://nimbus-artifacts/" + sha1Hex(id)
			case typeLayer:
				r.Properties["ContentUri"] = "s3://nimbus-artifacts/" + sha1Hex(id)
			}
		}
		out[filepath.Base(filepath.Dir(f))] = tmpl
	}
	return out
}

// TestDifferentialExamples checks the example applications transform as
// samtranslator transforms them.
func TestDifferentialExamples(t *testing.T) {
	py := samtranslator(t)
	examples := exampleTemplates(t)
	if len(examples) == 0 {
		t.Skip("no examples")
	}
	for name, tmpl := range examples {
		t.Run(name, func(t *testing.T) {
			want := py["examples/"+name]
			if want.Error != "" {
				t.Fatalf("samtranslator rejected the example: %s", want.Error)
			}
			got, err := Transform(tmpl, nil, testOpts)
			if err != nil {
				t.Fatalf("Transform: %v", err)
			}
			compareTransforms(t, got, want.Template, "Resources", "Outputs")
		})
	}
}

func compareSection(t *testing.T, name string, got, want map[string]any) {
	t.Helper()
	var missing, extra []string
	for id := range want {
		if _, ok := got[id]; !ok {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: missing %v, extra %v", name, missing, extra)
	}
	for _, id := range sortedKeys(want) {
		g, ok := got[id]
		if !ok {
			continue
		}
		if !reflect.DeepEqual(g, want[id]) {
			gb, _ := json.MarshalIndent(g, "", "  ")
			wb, _ := json.MarshalIndent(want[id], "", "  ")
			t.Errorf("%s.%s differs\n--- nimbus\n%s\n--- samtranslator\n%s", name, id, gb, wb)
		}
	}
}

func golden(t *testing.T, name string, tmpl *cfn.Template) {
	t.Helper()
	got, err := json.MarshalIndent(tmpl, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update after checking the diff)", path)
	}
}

// TestDifferentialEventSources checks the translations of event sources
// whose services Nimbus does not have yet, as they will be once their
// types leave UnsupportedEvents.
func TestDifferentialEventSources(t *testing.T) {
	py := samtranslator(t)
	saved, savedRes, savedProps := UnsupportedEvents, UnsupportedResources, unsupportedProperties
	UnsupportedEvents, UnsupportedResources, unsupportedProperties = map[string]string{}, map[string]string{}, map[string]string{}
	defer func() { UnsupportedEvents, UnsupportedResources, unsupportedProperties = saved, savedRes, savedProps }()
	eachTestdata(t, "eventsources", ".json", func(t *testing.T, key string, b []byte) {
		want := py[key]
		if want.Error != "" {
			t.Fatalf("samtranslator rejected the template: %s", want.Error)
		}
		got, err := Transform(loadTemplate(t, b), nil, testOpts)
		if err != nil {
			t.Fatalf("Transform: %v", err)
		}
		compareTransforms(t, got, want.Template, "Resources", "Outputs", "Conditions")
	})
}

// TestDifferentialInvalid checks that templates samtranslator rejects are
// rejected here too.
func TestDifferentialInvalid(t *testing.T) {
	py := samtranslator(t)
	eachTestdata(t, "invalid", ".json", func(t *testing.T, key string, b []byte) {
		want := py[key]
		if want.Error == "" {
			t.Fatal("samtranslator accepted the template")
		}
		_, err := Transform(loadTemplate(t, b), nil, testOpts)
		if err == nil {
			t.Fatalf("Transform accepted it; samtranslator said: %s", want.Error)
		}
		t.Logf("nimbus: %v\nsamtranslator: %s", err, want.Error)
	})
}

// TestUnsupportedListsEveryEvent checks that one error names every event
// and resource whose service Nimbus lacks, one line each.
func TestUnsupportedListsEveryEvent(t *testing.T) {
	b := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {
	  "Worker": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k", "Handler": "h", "Runtime": "python3.12",
	    "Events": {"Queue": {"Type": "SQS", "Properties": {"Queue": "arn:aws:sqs:us-east-1:1:q"}},
	               "Nightly": {"Type": "Kinesis", "Properties": {"Stream": "arn:aws:kinesis:us-east-1:1:stream/s"}},
	               "Web": {"Type": "Api", "Properties": {"Path": "/", "Method": "get"}}}}},
	  "Other": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k", "Handler": "h", "Runtime": "python3.12",
	    "Events": {"Bus": {"Type": "MQ", "Properties": {}}}}}}}`)
	_, err := Transform(loadTemplate(t, b), nil, testOpts)
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnsupportedError", err)
	}
	want := []string{
		"Events of type MQ (function Other, event Bus) need Amazon MQ, which Nimbus does not have yet",
		"Events of type Kinesis (function Worker, event Nightly) need Amazon Kinesis, which Nimbus does not have yet",
	}
	if !reflect.DeepEqual(ue.Lines, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(ue.Lines, "\n"), strings.Join(want, "\n"))
	}
	if err.Error() != strings.Join(want, "\n") {
		t.Errorf("Error() = %q", err.Error())
	}
}

// TestUnsupportedDurableConfig: a durable function is refused by name
// before the transform, as the other features Nimbus lacks are (its
// translation is checked in testdata/eventsources/durable.json).
func TestUnsupportedDurableConfig(t *testing.T) {
	b := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {
	  "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k", "Handler": "h", "Runtime": "python3.12",
	    "DurableConfig": {"ExecutionTimeout": 900}}}}}`)
	_, err := Transform(loadTemplate(t, b), nil, testOpts)
	var ue *UnsupportedError
	if !errors.As(err, &ue) || len(ue.Lines) != 1 ||
		ue.Lines[0] != "Property DurableConfig (function Fn) needs Lambda durable functions, which Nimbus does not have yet" {
		t.Fatalf("err = %v", err)
	}
}

// TestTranslateUnsupportedSimpleTable checks that SimpleTable becomes the
// plain AWS::DynamoDB::Table (with --skip-unsupported too), while
// unsupported events are still refused.
func TestTranslateUnsupportedSimpleTable(t *testing.T) {
	b := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {
	  "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k", "Handler": "h", "Runtime": "python3.12",
	    "Environment": {"Variables": {"TABLE": {"Ref": "Table"}}}}},
	  "Table": {"Type": "AWS::Serverless::SimpleTable"}}}`)
	opts := testOpts
	opts.TranslateUnsupported = true
	out, err := Transform(loadTemplate(t, b), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Resources["Table"]; r == nil || r.Type != "AWS::DynamoDB::Table" {
		t.Fatalf("Table = %+v", r)
	}
	withEvent := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {
	  "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k", "Handler": "h", "Runtime": "python3.12",
	    "Events": {"Q": {"Type": "MQ", "Properties": {"Broker": "arn:aws:mq:us-east-1:1:broker:b", "Queues": ["q"]}}}}}}}`)
	var ue *UnsupportedError
	if _, err := Transform(loadTemplate(t, withEvent), nil, opts); !errors.As(err, &ue) {
		t.Fatalf("an MQ event with TranslateUnsupported: err = %v, want *UnsupportedError", err)
	}
}

// TestUnknownSAMTypeRefused checks an AWS::Serverless::* type the
// transform does not know (or one taken out of UnsupportedResources
// before its translation exists) is an error, not dropped.
func TestUnknownSAMTypeRefused(t *testing.T) {
	saved := UnsupportedResources
	UnsupportedResources = map[string]string{}
	defer func() { UnsupportedResources = saved }()
	for _, typ := range []string{"AWS::Serverless::Gizmo"} {
		b := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"T": {"Type": "` + typ + `"}}}`)
		_, err := Transform(loadTemplate(t, b), nil, testOpts)
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s: err = %v, want an *Error naming the type", typ, err)
		}
	}
}

func TestWithoutTransformUnchanged(t *testing.T) {
	tmpl := loadTemplate(t, []byte(`{"Resources": {"F": {"Type": "AWS::Serverless::Function"}}}`))
	got, err := Transform(tmpl, nil, testOpts)
	if err != nil || got != tmpl {
		t.Fatalf("got %p, %v; want the same template back", got, err)
	}
}

// TestTransformDoesNotModifyInput checks the input template is left as it
// was (the engine keeps it as the original template).
func TestTransformDoesNotModifyInput(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "templates", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := loadTemplate(t, b)
		before := toJSONModel(t, tmpl)
		if _, err := Transform(tmpl, nil, testOpts); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if after := toJSONModel(t, tmpl); !reflect.DeepEqual(before, after) {
			t.Errorf("%s: Transform modified its input", f)
		}
	}
}

// TestParametersOverrideDefaults checks params given to Transform win over
// the template's defaults where SAM resolves them (AutoPublishAlias).
func TestParametersOverrideDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "templates", "params_alias.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Transform(loadTemplate(t, b), map[string]any{"AliasName": "canary", "AWS::AccountId": "1"}, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	alias := got.Resources["FnAliascanary"]
	if alias == nil || alias.Properties["Name"] != "canary" {
		t.Fatalf("no FnAliascanary alias: %v", sortedKeys(got.Resources))
	}
	if v := got.Outputs["Alias"].Value; !reflect.DeepEqual(v, map[string]any{"Ref": "FnAliascanary"}) {
		t.Errorf("Outputs.Alias = %v", v)
	}
}

func FuzzTransform(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, file := range files {
		if strings.Contains(file, "golden") {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Transform":"AWS::Serverless-2016-10-31","Resources":{"F":{"Type":"AWS::Serverless::Function","Properties":{"Events":[1],"Policies":{"Fn::If":[1]}}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tmpl, err := cfn.Parse(b)
		if err != nil {
			return
		}
		out, err := Transform(tmpl, map[string]any{"P": "x", "L": []string{"a", "b"}}, testOpts)
		if err == nil && out == nil {
			t.Fatal("nil template without an error")
		}
		if err == nil && HasTransform(tmpl) {
			for id, r := range out.Resources {
				if strings.HasPrefix(r.Type, "AWS::Serverless::") {
					t.Fatalf("%s is still %s", id, r.Type)
				}
			}
		}
	})
}

// shapes are the values FuzzTransformShapes puts in place of a template's
// values: every JSON type, empty and odd intrinsics.
var shapes = []any{nil, "", "x", "s3://b/k", 0.0, 1.5, -1.0, true, false, []any{}, []any{"x"}, []any{nil, 1.0},
	map[string]any{}, map[string]any{"x": "y"}, map[string]any{"Ref": "P"}, map[string]any{"Ref": 1.0},
	map[string]any{"Fn::If": []any{"C"}}, map[string]any{"Fn::If": "C"}, map[string]any{"Fn::Sub": 1.0},
	map[string]any{"Fn::Sub": []any{}}, map[string]any{"Fn::GetAtt": []any{"A"}}, map[string]any{"Ref": "AWS::NoValue"},
	map[string]any{"Fn::If": []any{"C", map[string]any{"Ref": "AWS::NoValue"}, "x"}}, "{proxy+}", "$default", "ANY"}

// replaceNth replaces the n-th value of v (in a depth-first walk over
// sorted keys) with s, returning the new value and how many it counted.
func replaceNth(v any, n int, s any) (any, int) {
	if n == 0 {
		return s, 1
	}
	count := 1
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			nv, c := replaceNth(x[k], n-count, s)
			x[k] = nv
			count += c
			if count > n {
				break
			}
		}
	case []any:
		for i := range x {
			nv, c := replaceNth(x[i], n-count, s)
			x[i] = nv
			count += c
			if count > n {
				break
			}
		}
	}
	return v, count
}

// FuzzTransformShapes replaces values anywhere in the test templates with
// values of other shapes: Transform must return an error or a template,
// never panic or leave SAM resources behind.
func FuzzTransformShapes(f *testing.F) {
	fuzzShapes(f, filepath.Join("testdata", "templates", "*.json"))
}

// FuzzEventSources does the same over the event sources Nimbus translates
// but does not run yet.
func FuzzEventSources(f *testing.F) {
	saved, savedRes := UnsupportedEvents, UnsupportedResources
	UnsupportedEvents, UnsupportedResources = map[string]string{}, map[string]string{}
	f.Cleanup(func() { UnsupportedEvents, UnsupportedResources = saved, savedRes })
	fuzzShapes(f, filepath.Join("testdata", "eventsources", "*.json"))
}

func fuzzShapes(f *testing.F, glob string) {
	files, _ := filepath.Glob(glob)
	var seeds []map[string]any
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, m)
	}
	for i := range seeds {
		f.Add(uint8(i), uint16(40), uint8(3), uint16(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, seed uint8, at uint16, shape uint8, at2 uint16, shape2 uint8) {
		m, _ := deepCopy(seeds[int(seed)%len(seeds)]).(map[string]any)
		res, _ := m["Resources"].(map[string]any)
		var v any = res
		v, _ = replaceNth(v, int(at)+1, deepCopy(shapes[int(shape)%len(shapes)]))
		v, _ = replaceNth(v, int(at2)+1, deepCopy(shapes[int(shape2)%len(shapes)]))
		m["Resources"] = v
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := cfn.Parse(b)
		if err != nil {
			return
		}
		out, err := Transform(tmpl, nil, testOpts)
		if err != nil {
			return
		}
		for id, r := range out.Resources {
			if strings.HasPrefix(r.Type, "AWS::Serverless::") {
				t.Fatalf("%s is still %s", id, r.Type)
			}
		}
	})
}

// TestYAMLTemplate checks a YAML template with short forms transforms as
// its JSON twin does.
func TestYAMLTemplate(t *testing.T) {
	y, err := os.ReadFile(filepath.Join("testdata", "hello_api.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := os.ReadFile(filepath.Join("testdata", "templates", "hello_api.json"))
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := Transform(loadTemplate(t, y), nil, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Transform(loadTemplate(t, j), nil, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	gy, gj := toJSONModel(t, fromYAML), toJSONModel(t, fromJSON)
	delete(gy, "AWSTemplateFormatVersion")
	if !reflect.DeepEqual(gy, gj) {
		t.Errorf("YAML and JSON templates transform differently")
	}
}

func BenchmarkTransform(b *testing.B) {
	for _, name := range []string{"hello_api", "authorizers", "all_policy_templates"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "templates", name+".json"))
		if err != nil {
			b.Fatal(err)
		}
		tmpl := loadTemplate(b, raw)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Transform(tmpl, nil, testOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
