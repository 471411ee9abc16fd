package pipes

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/events"
)

// Pipes' InputTemplate: <$.path> placeholders read the event (an SQS
// body or Kinesis data holding JSON is read as that JSON) and the
// reserved <aws.pipes.*> variables name the pipe; values are written with
// EventBridge's quoting rules (internal/events.FillTemplate). A template
// whose result is not JSON is text: the target gets it as a string.

// reserved are the variables Pipes defines.
func reserved(p *stored, ev json.RawMessage, ingested time.Time) map[string]json.RawMessage {
	q := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	return map[string]json.RawMessage{
		"aws.pipes.pipe-arn":             q(p.Arn),
		"aws.pipes.pipe-name":            q(p.Name),
		"aws.pipes.source-arn":           q(p.Source),
		"aws.pipes.enrichment-arn":       q(p.Enrichment),
		"aws.pipes.target-arn":           q(p.Target),
		"aws.pipes.event.ingestion-time": q(ingested.UTC().Format(time.RFC3339)),
		"aws.pipes.event":                ev,
		"aws.pipes.event.json":           decodedBody(ev),
	}
}

// render fills tmpl for one event.
func render(tmpl string, ev json.RawMessage, p *stored, ingested time.Time) json.RawMessage {
	vals := reserved(p, ev, ingested)
	doc := decodedBody(ev)
	for _, name := range placeholders(tmpl) {
		if strings.HasPrefix(name, "$") {
			vals[name] = lookup(name, doc)
		}
	}
	if t := strings.TrimSpace(tmpl); t == "" || !strings.ContainsAny(t[:1], `{["`) {
		return renderText(tmpl, vals)
	}
	out := events.FillTemplate(tmpl, vals)
	if json.Valid(out) {
		return out
	}
	b, _ := json.Marshal(string(out)) // not JSON after all: the target gets a string
	return b
}

// renderText fills a template that is text, not JSON: each value is
// written as string content (a string without its quotes, anything else
// as its JSON text), and the target gets the result as a string.
func renderText(tmpl string, vals map[string]json.RawMessage) json.RawMessage {
	var out strings.Builder
	for {
		i := strings.IndexByte(tmpl, '<')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(tmpl[i:], '>')
		}
		if i < 0 || j < 0 {
			out.WriteString(tmpl)
			break
		}
		name := tmpl[i+1 : i+j]
		v, ok := vals[name]
		if !ok {
			out.WriteString(tmpl[:i+1])
			tmpl = tmpl[i+1:]
			continue
		}
		out.WriteString(tmpl[:i])
		var s string
		if json.Unmarshal(v, &s) == nil {
			out.WriteString(s)
		} else if v != nil {
			out.Write(v)
		}
		tmpl = tmpl[i+j+1:]
	}
	b, _ := json.Marshal(out.String())
	return b
}

// lookup is the value at a path in doc (nil when absent or not a path).
func lookup(path string, doc json.RawMessage) json.RawMessage {
	v, err := events.PathValue(path, doc)
	if err != nil {
		return nil
	}
	if v == nil {
		v, _ = events.PathValue(path, decodedBody(doc))
	}
	return v
}

// placeholders are the <name> tokens of a template.
func placeholders(tmpl string) []string {
	var out []string
	for {
		i := strings.IndexByte(tmpl, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(tmpl[i:], '>')
		if j < 0 {
			return out
		}
		if name := tmpl[i+1 : i+j]; name != "" && !strings.ContainsAny(name, "<\n") {
			out = append(out, name)
		}
		tmpl = tmpl[i+j+1:]
	}
}
