package events

import (
	"encoding/json"
	"testing"
)

func TestFillTemplate(t *testing.T) {
	vals := map[string]json.RawMessage{
		"s":   json.RawMessage(`"a \"q\" <b>"`),
		"n":   json.RawMessage(`42`),
		"o":   json.RawMessage(`{"k":[1,2]}`),
		"nil": nil,
	}
	for tmpl, want := range map[string]string{
		`{"v": "<s>"}`:               `{"v": "a \"q\" <b>"}`,
		`{"v": <s>}`:                 `{"v": "a \"q\" <b>"}`,
		`{"v": <n>, "t": "<n>"}`:     `{"v": 42, "t": "42"}`,
		`{"v": <o>, "t": "<o>"}`:     `{"v": {"k":[1,2]}, "t": "{\"k\":[1,2]}"}`,
		`{"v": <nil>, "t": "<nil>"}`: `{"v": null, "t": ""}`,
		`"<s> is <n>"`:               `"a \"q\" <b> is 42"`,
		`{"esc": "\"<n>\""}`:         `{"esc": "\"42\""}`,
		`{"v": "<unknown>"}`:         `{"v": "<unknown>"}`,
	} {
		if got := string(fillTemplate(tmpl, vals)); got != want {
			t.Errorf("%s -> %s, want %s", tmpl, got, want)
		}
	}
}

func TestPaths(t *testing.T) {
	doc := json.RawMessage(`{"detail":{"a":[{"b":"x"}],"c.d":1}}`)
	for p, want := range map[string]string{
		"$":                string(doc),
		"$.detail.a[0].b":  `"x"`,
		"$.detail['c.d']":  `1`,
		"$.detail.missing": ``,
		"$.detail.a[5]":    ``,
	} {
		jp, err := parsePath(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got := string(jp.eval(doc)); got != want {
			t.Errorf("%s = %s, want %s", p, got, want)
		}
	}
	for _, p := range []string{"", "detail", "$..a", "$.a[", "$.a[-1]", "$.a[*]", "$.a[?(@.b)]"} {
		if _, err := parsePath(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

// FuzzInputTransformer: any template and path parse or are refused
// without panicking; a path yields valid JSON or nothing, and a value
// placed inside a template's string keeps a valid template valid.
func FuzzInputTransformer(f *testing.F) {
	f.Add(`{"a": "<x>"}`, "$.detail.x", `{"detail":{"x":"v\"<"}}`)
	f.Add(`"<x> and <y>"`, "$.detail['x'][0]", `{"detail":{"x":[1]}}`)
	f.Fuzz(func(t *testing.T, tmpl, path, event string) {
		p, err := parsePath(path)
		if err != nil || !json.Valid([]byte(event)) {
			return
		}
		v := p.eval(json.RawMessage(event))
		if v != nil && !json.Valid(v) {
			t.Fatalf("path %s gave invalid JSON %s", path, v)
		}
		inString := `{"k": "` + tmpl + `"}`
		if !json.Valid([]byte(inString)) || bytesContainQuoteOrBackslash(tmpl) {
			return
		}
		out := fillTemplate(`{"k": "<x>`+tmpl+`"}`, map[string]json.RawMessage{"x": v})
		if !json.Valid(out) {
			t.Fatalf("%s inside a string gave invalid JSON %s", v, out)
		}
	})
}

func bytesContainQuoteOrBackslash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' || s[i] == '<' {
			return true
		}
	}
	return false
}

// TestTemplateInjection (attack): an event's values cannot add keys to,
// or break out of, the template they are placed in, and a value that
// looks like a placeholder is not expanded again.
func TestTemplateInjection(t *testing.T) {
	ev := json.RawMessage(`{"detail":{"name":"\", \"admin\": true, \"x\": \"<n>","n":7}}`)
	target := &Target{InputTransformer: &InputTransformer{
		InputPathsMap: map[string]string{"name": "$.detail.name", "n": "$.detail.n"},
		InputTemplate: `{"name": "<name>", "raw": <name>, "n": <n>}`,
	}}
	out, err := transformInput(target, ev, &Rule{Name: "r", Bus: DefaultBus}, arns{region: "us-east-1", account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("transformed input is not JSON: %s", out)
	}
	want := `", "admin": true, "x": "<n>`
	if len(got) != 3 || got["name"] != want || got["raw"] != want || got["n"] != 7.0 {
		t.Errorf("transformed input %s", out)
	}
}
