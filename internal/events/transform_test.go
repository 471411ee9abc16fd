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

// TestInputTransformerAWSExamples: the examples of EventBridge's user
// guide ("Input transform examples", "Predefined variables") and of the
// InputTransformer API reference, over their EC2 state-change event. The
// template's own whitespace is kept.
func TestInputTransformerAWSExamples(t *testing.T) {
	ev := json.RawMessage(`{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-2","resources":["arn:aws:ec2:us-east-2:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}`)
	noDetail := `{"account":"123456789012","detail-type":"EC2 Instance State-change Notification","id":"7bf73129-1428-4cd3-a780-95db273d1602","region":"us-east-2","resources":["arn:aws:ec2:us-east-2:123456789012:instance/i-abcd1111"],"source":"aws.ec2","time":"2015-11-11T21:29:54Z","version":"0"}`
	paths := map[string]string{"instance": "$.detail.instance-id", "state": "$.detail.state"}
	rule := &Rule{Name: "example", Bus: DefaultBus}
	a := arns{region: "us-east-2", account: "123456789012"}
	for _, c := range []struct{ name, tmpl, want string }{
		{"simple JSON", "{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}",
			"{\n  \"instance\" : \"i-0123456789\",\n  \"state\": \"RUNNING\"\n}"},
		{"JSON with variables and static information", "{\n  \"instance\" : <instance>,\n  \"state\": [ 9, <state>, true ],\n  \"Transformed\" : \"Yes\"\n}",
			"{\n  \"instance\" : \"i-0123456789\",\n  \"state\": [ 9, \"RUNNING\", true ],\n  \"Transformed\" : \"Yes\"\n}"},
		{"reserved variables in JSON", "{\n  \"instance\" : <instance>,\n  \"state\": <state>,\n  \"ruleArn\" : <aws.events.rule-arn>,\n  \"ruleName\" : <aws.events.rule-name>,\n  \"originalEvent\" : <aws.events.event>\n}",
			"{\n  \"instance\" : \"i-0123456789\",\n  \"state\": \"RUNNING\",\n  \"ruleArn\" : \"arn:aws:events:us-east-2:123456789012:rule/example\",\n  \"ruleName\" : \"example\",\n  \"originalEvent\" : " + noDetail + "\n}"},
		{"reserved variables in a string", `"<aws.events.rule-name> triggered"`, `"example triggered"`},
		{"simple string", `"instance <instance> is in <state>"`, `"instance i-0123456789 is in RUNNING"`},
		{"string with escaped quotes", `"instance \"<instance>\" is in <state>"`, `"instance \"i-0123456789\" is in RUNNING"`},
		{"API reference: JSON with variables in quotes or out", `{"myInstance": <instance>,"myStatus": "<instance> is in state \"<state>\""}`,
			`{"myInstance": "i-0123456789","myStatus": "i-0123456789 is in state \"RUNNING\""}`},
		{"the whole event", `{"event": <aws.events.event.json>}`, `{"event": ` + string(ev) + `}`},
		{"ingestion time", `"at <aws.events.event.ingestion-time>"`, `"at 2015-11-11T21:29:54Z"`},
	} {
		tgt := &Target{InputTransformer: &InputTransformer{InputPathsMap: paths, InputTemplate: c.tmpl}}
		got, err := transformInput(tgt, ev, rule, a)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: %s is not JSON", c.name, got)
		}
	}
}
