package yamldoc_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/yamldoc"
)

// TestYAML11Scalars: plain scalars take the types PyYAML (and so
// CloudFormation and samtranslator) gives them; quoted ones stay strings.
func TestYAML11Scalars(t *testing.T) {
	v, err := yamldoc.Decode([]byte(`
swagger: 2.0
version: 1.0
on: yes
off: Off
octal: 0755
exp: 1e3
quoted: "2.0"
time: 1:30
nothing: ~
`), yamldoc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"swagger": 2.0, "version": 1.0, "on": true, "off": false, "octal": float64(0o755),
		"exp": "1e3", "quoted": "2.0", "time": float64(90), "nothing": nil}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("Decode = %#v\nwant %#v", v, want)
	}
}

// TestTags: local tags are read only when the caller names them.
func TestTags(t *testing.T) {
	doc := []byte("a: !Ref X\nb: !GetAtt R.Arn\n")
	if _, err := yamldoc.Decode(doc, yamldoc.Options{}); err == nil || !strings.Contains(err.Error(), "unknown tag !Ref") {
		t.Errorf("Decode without tags = %v, want unknown tag !Ref", err)
	}
	v, err := yamldoc.Decode(doc, yamldoc.Options{Tags: map[string]string{"Ref": "Ref", "GetAtt": "Fn::GetAtt"}})
	want := map[string]any{"a": map[string]any{"Ref": "X"}, "b": map[string]any{"Fn::GetAtt": []any{"R", "Arn"}}}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("Decode with tags = %#v, %v", v, err)
	}
}

// TestHostileDocuments: limits hold and every refusal is an *Error.
func TestHostileDocuments(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := range 9 {
		name := string(rune('b' + i))
		bomb += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	for _, tt := range []struct{ name, in, err string }{
		{"too big", strings.Repeat("x", 101), "the definition is 101 bytes, more than the 100 allowed"},
		{"alias bomb", bomb, "expands to more than"},
		{"deep yaml", strings.Repeat("[", 200) + strings.Repeat("]", 200), "nests more than 128"},
		{"deep json", `{"a": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, "nests more than 128"},
		{"duplicate", "a: 1\na: 2\n", `duplicate key "a"`},
		{"duplicate json", `{"a": 1, "a": 2}`, `Duplicate key "a"`},
		{"bad yaml", "a: [\n", "YAML not well-formed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			limit := 0
			if tt.name == "too big" {
				limit = 100
			}
			_, err := yamldoc.Decode([]byte(tt.in), yamldoc.Options{MaxBytes: limit, Noun: "definition"})
			var e *yamldoc.Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Decode = %v, want an *Error containing %q", err, tt.err)
			}
		})
	}
}

// FuzzDecode: Decode never panics, and what it accepts is a JSON value
// that reads back the same.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"swagger: 2.0\ninfo: {title: t, version: 1.0}\npaths: {/a: {get: {}}}\n",
		`{"openapi": "3.0.1", "paths": {"$default": {"x-amazon-apigateway-any-method": {}}}}`,
		"a: &a [x, x]\nb: &b [*a, *a]\nc: {<<: {d: 1}, e: !Ref x}\n",
		"- 0x1f\n- 0b101\n- -1_000\n- .5\n- 1:30:00.5\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := yamldoc.Decode(b, yamldoc.Options{Tags: map[string]string{"Ref": "Ref"}})
		if err != nil {
			var e *yamldoc.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		j, err := json.Marshal(v)
		if err != nil {
			return // NaN and the like have no JSON form
		}
		if _, err := yamldoc.Decode(j, yamldoc.Options{}); err != nil {
			t.Fatalf("Decode of its own JSON %s: %v", j, err)
		}
	})
}
