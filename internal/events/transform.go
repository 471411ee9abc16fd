package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Envelope is an event as EventBridge shapes it for rules and targets.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// arns builds this node's EventBridge ARNs.
type arns struct{ region, account string }

func (a arns) bus(name string) string {
	return "arn:aws:events:" + a.region + ":" + a.account + ":event-bus/" + name
}

func (a arns) rule(bus, name string) string {
	if bus == DefaultBus {
		return "arn:aws:events:" + a.region + ":" + a.account + ":rule/" + name
	}
	return "arn:aws:events:" + a.region + ":" + a.account + ":rule/" + bus + "/" + name
}

// jsonPath is a parsed path of the subset AWS's InputPath and
// InputPathsMap use: $ followed by .name, ['name'] or [index] steps.
type jsonPath []pathStep

type pathStep struct {
	key   string
	index int // -1 for a key
}

// parsePath parses a JSONPath of that subset.
func parsePath(s string) (jsonPath, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("a path must start with $")
	}
	var p jsonPath
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("empty name at offset %d", i)
			}
			p = append(p, pathStep{key: s[i+1 : j], index: -1})
			i = j
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ at offset %d", i)
			}
			in := s[i+1 : i+end]
			switch {
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				p = append(p, pathStep{key: in[1 : len(in)-1], index: -1})
			default:
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 || in[0] == '+' {
					return nil, fmt.Errorf("unsupported step [%s]: Nimbus reads names and array indexes only", in)
				}
				p = append(p, pathStep{index: n})
			}
			i += end + 1
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", s[i], i)
		}
	}
	return p, nil
}

// eval returns the JSON at p in doc (nil when absent).
func (p jsonPath) eval(doc json.RawMessage) json.RawMessage {
	cur := doc
	for _, st := range p {
		if st.index >= 0 {
			var arr []json.RawMessage
			if json.Unmarshal(cur, &arr) != nil || st.index >= len(arr) {
				return nil
			}
			cur = arr[st.index]
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) != nil {
			return nil
		}
		v, ok := obj[st.key]
		if !ok {
			return nil
		}
		cur = v
	}
	return cur
}

// Reserved InputTemplate variables.
const (
	varRuleArn       = "aws.events.rule-arn"
	varRuleName      = "aws.events.rule-name"
	varIngestionTime = "aws.events.event.ingestion-time"
	varEvent         = "aws.events.event"
	varEventJSON     = "aws.events.event.json"
)

// transformInput is what target t receives for event ev of rule r: the
// event itself, Input (a constant), the value at InputPath, or the
// InputTemplate with its placeholders filled in.
func transformInput(t *Target, ev json.RawMessage, r *Rule, a arns) (json.RawMessage, error) {
	switch {
	case t.Input != nil:
		return json.RawMessage(*t.Input), nil
	case t.InputPath != nil:
		p, err := parsePath(*t.InputPath)
		if err != nil {
			return nil, err
		}
		v := p.eval(ev)
		if v == nil {
			return json.RawMessage("null"), nil
		}
		return v, nil
	case t.InputTransformer != nil:
		vals := map[string]json.RawMessage{}
		for k, path := range t.InputTransformer.InputPathsMap {
			p, err := parsePath(path)
			if err != nil {
				return nil, err
			}
			vals[k] = p.eval(ev)
		}
		vals[varRuleArn], _ = json.Marshal(a.rule(r.Bus, r.Name))
		vals[varRuleName], _ = json.Marshal(r.Name)
		var env struct {
			Time string `json:"time"`
		}
		_ = json.Unmarshal(ev, &env)
		vals[varIngestionTime], _ = json.Marshal(env.Time)
		vals[varEvent] = withoutDetail(ev)
		vals[varEventJSON] = ev
		return fillTemplate(t.InputTransformer.InputTemplate, vals), nil
	}
	return ev, nil
}

// withoutDetail is the event without its detail field
// (aws.events.event; aws.events.event.json is the whole event).
func withoutDetail(ev json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(ev, &m) != nil {
		return ev
	}
	if _, ok := m["detail"]; !ok {
		return ev
	}
	delete(m, "detail")
	b, err := json.Marshal(m)
	if err != nil {
		return ev
	}
	return b
}

// fillTemplate substitutes <name> placeholders with AWS's quoting rules:
// inside a JSON string a value is written as string content (a string
// without its quotes, anything else as its JSON text, escaped); outside,
// a value is written as JSON (a string with its quotes). A path that
// matched nothing is an empty string inside quotes and null outside. A
// placeholder that names no key stays as written.
func fillTemplate(tmpl string, vals map[string]json.RawMessage) json.RawMessage {
	var out bytes.Buffer
	inString, escaped := false, false
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c == '<' {
			if end := strings.IndexByte(tmpl[i:], '>'); end > 0 {
				name := tmpl[i+1 : i+end]
				if v, ok := vals[name]; ok {
					writeValue(&out, v, inString)
					i += end
					escaped = false
					continue
				}
			}
		}
		out.WriteByte(c)
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inString:
			escaped = true
		case c == '"':
			inString = !inString
		}
	}
	return out.Bytes()
}

func writeValue(out *bytes.Buffer, v json.RawMessage, inString bool) {
	if !inString {
		if v == nil {
			out.WriteString("null")
			return
		}
		out.Write(v)
		return
	}
	if v == nil {
		return
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v) // not a string: its JSON text
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	q := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	out.Write(q[1 : len(q)-1])
}

// ingestionTime formats a time as the envelope's time field.
func ingestionTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// FillTemplate fills the <name> placeholders of an input template from
// vals with EventBridge's quoting rules (see fillTemplate). EventBridge
// Pipes' InputTemplate shares them.
func FillTemplate(tmpl string, vals map[string]json.RawMessage) json.RawMessage {
	return fillTemplate(tmpl, vals)
}

// PathValue is the JSON at a path of the InputPath subset ($, .name,
// ['name'], [index]) in doc: nil when absent, an error when the path
// does not parse.
func PathValue(path string, doc json.RawMessage) (json.RawMessage, error) {
	p, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	return p.eval(doc), nil
}
