package eventpattern

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F) {
	for _, c := range append(append([]matchCase{}, eventBridgeCases...), rulerTestCases...) {
		f.Add(c.pattern, c.event)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "event-ruler-correctness-cases.json"))
	if err != nil {
		f.Fatal(err)
	}
	var cases []struct {
		Rule  json.RawMessage `json:"rule"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add(string(c.Rule), string(c.Event))
	}
}

// FuzzCompiledMatchesNaive compares the compiled matcher with the naive
// evaluator on every pattern EventBridge accepts and every valid JSON event.
func FuzzCompiledMatchesNaive(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := Compile(EventBridge, []byte(pattern))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile returned %T %v, want *Error", err, err)
			}
			return
		}
		if !json.Valid([]byte(event)) || !utf8.ValidString(event) || !utf8.ValidString(pattern) {
			if _, err := p.Match([]byte(event)); err == nil && !json.Valid([]byte(event)) {
				t.Fatalf("Match accepted invalid JSON %q", event)
			}
			return
		}
		got, err := p.Match([]byte(event))
		if err != nil {
			t.Fatalf("Match(%q): %v", event, err)
		}
		want, err := naiveMatch([]byte(pattern), []byte(event))
		if err != nil {
			t.Fatalf("naive: %v", err)
		}
		if got != want {
			t.Fatalf("pattern %s\nevent %s\ncompiled %v, naive %v", pattern, event, got, want)
		}
	})
}

// FuzzCompileDialects feeds every dialect arbitrary patterns: each either
// compiles or returns its dialect's AWS error, never panics.
func FuzzCompileDialects(f *testing.F) {
	for _, c := range errCases {
		f.Add(c.pattern)
	}
	for _, c := range eventBridgeCases {
		f.Add(c.pattern)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		for _, d := range []Dialect{EventBridge, SNSAttributes, SNSBody, Lambda} {
			p, err := Compile(d, []byte(pattern))
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code == "" || e.Message == "" {
					t.Fatalf("%s: Compile returned %v", d, err)
				}
				continue
			}
			if _, err := p.Match([]byte(`{"a":[1,"x",{"b":null}],"detail":{"c":true}}`)); err != nil {
				t.Fatalf("%s: Match: %v", d, err)
			}
		}
	})
}

// FuzzEventParser checks the event parser accepts exactly the JSON that
// encoding/json accepts.
func FuzzEventParser(f *testing.F) {
	for _, c := range eventBridgeCases {
		f.Add(c.event)
	}
	f.Add(`{"a":"\ud800"}`)
	f.Add(`[1, 2e5, -0.5E-3, "x\u00e9"]`)
	p := MustCompile(EventBridge, `{"a":[{"exists":true}],"detail":{"c-count":[5]}}`)
	f.Fuzz(func(t *testing.T, event string) {
		_, err := p.Match([]byte(event))
		if valid := json.Valid([]byte(event)); valid != (err == nil) {
			t.Fatalf("event %q: json.Valid %v, parse error %v", event, valid, err)
		}
	})
}

// FuzzLambdaSQSBody: an SQS record's body is untrusted; a filter sees it as
// JSON when it is a JSON object or array and as a string otherwise, which
// the naive evaluator checks on a document built with encoding/json.
func FuzzLambdaSQSBody(f *testing.F) {
	f.Add(`{"body":{"a":["x"]}}`, `{"a":"x"}`)
	f.Add(`{"body":["hello"]}`, `hello`)
	f.Add(`{"body":{"a":[{"exists":false}]}}`, ` [ {"b":1} ] `)
	f.Add(`{"messageId":["1"],"body":[{"prefix":"{"}]}`, `{"a":`)
	f.Fuzz(func(t *testing.T, pattern, body string) {
		if !utf8.ValidString(body) || !utf8.ValidString(pattern) {
			return
		}
		fl, err := CompileFilters([]string{pattern})
		if err != nil {
			return
		}
		rec, _ := json.Marshal(map[string]any{"messageId": "1", "body": body})
		got, err := fl.Match(rec, EnvelopeSQS)
		if err != nil {
			t.Fatalf("Match(%s): %v", rec, err)
		}
		var bodyVal any = body
		if trimmed := strings.TrimLeft(body, " \t\r\n"); json.Valid([]byte(body)) && (strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")) {
			bodyVal, _ = decodeAny([]byte(body))
		}
		doc, _ := json.Marshal(map[string]any{"messageId": "1", "body": bodyVal})
		want, err := naiveMatch([]byte(pattern), doc)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("pattern %s body %q: filters %v, naive %v", pattern, body, got, want)
		}
	})
}
