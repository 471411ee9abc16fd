package cfn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile template from exhausting the parser. The
// size is CloudFormation's for a template read from S3; the others are far
// above anything a real template needs.
const (
	// MaxTemplateBytes is the largest template Parse accepts.
	MaxTemplateBytes = 1 << 20
	// maxDepth bounds the nesting of maps and lists.
	maxDepth = 128
	// maxNodes bounds the values a document expands to (YAML aliases can
	// repeat a subtree many times, so this counts after expansion).
	maxNodes = 1 << 20
	// maxScalarBytes bounds the bytes of scalars after alias expansion.
	maxScalarBytes = 8 << 20
)

// formatError is CloudFormation's "Template format error".
type formatError struct{ msg string }

func (e formatError) Error() string { return "Template format error: " + e.msg }

// formatErrorf builds a "Template format error: ..." error.
func formatErrorf(format string, args ...any) error {
	return formatError{fmt.Sprintf(format, args...)}
}

// decode reads b as JSON when it looks like JSON and parses as JSON, else
// as YAML (a superset that also reads most JSON).
func decode(b []byte) (any, error) {
	if len(b) > MaxTemplateBytes {
		return nil, formatErrorf("the template is %d bytes, more than the %d allowed", len(b), MaxTemplateBytes)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		v, jerr := decodeJSON(b)
		if jerr == nil {
			return v, nil
		}
		var fe formatError
		if errors.As(jerr, &fe) {
			return nil, jerr // well-formed JSON that breaks a limit or has a duplicate key
		}
		// A YAML flow mapping also starts with '{'.
		if v, yerr := decodeYAML(b); yerr == nil {
			return v, nil
		}
		if errors.Is(jerr, io.EOF) || errors.Is(jerr, io.ErrUnexpectedEOF) {
			return nil, formatErrorf("JSON not well-formed. (unexpected end of input)")
		}
		return nil, formatErrorf("JSON not well-formed. %v", jerr)
	}
	return decodeYAML(b)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	nodes := 0
	v, err := jsonValue(d, 0, &nodes)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = &json.SyntaxError{Offset: d.InputOffset()}
		}
		return nil, err
	}
	return v, nil
}

func jsonValue(d *json.Decoder, depth int, nodes *int) (any, error) {
	if depth > maxDepth {
		return nil, formatErrorf("the template nests more than %d levels deep", maxDepth)
	}
	*nodes++
	if *nodes > maxNodes {
		return nil, formatErrorf("the template has more than %d values", maxNodes)
	}
	tok, err := d.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, &json.SyntaxError{Offset: d.InputOffset()}
				}
				if _, dup := m[k]; dup {
					return nil, formatErrorf("JSON not well-formed. Duplicate key %q (offset %d)", k, d.InputOffset())
				}
				v, err := jsonValue(d, depth+1, nodes)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := d.Token(); err != nil { // '}'
				return nil, err
			}
			return m, nil
		case '[':
			l := []any{}
			for d.More() {
				v, err := jsonValue(d, depth+1, nodes)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := d.Token(); err != nil { // ']'
				return nil, err
			}
			return l, nil
		}
		return nil, &json.SyntaxError{Offset: d.InputOffset()}
	case json.Number:
		if f, err := strconv.ParseFloat(string(t), 64); err == nil {
			return f, nil
		}
		return string(t), nil // out of float64's range: keep the digits
	default: // string, bool, nil
		return t, nil
	}
}

// shortForms maps a YAML tag (without "!") to the function it stands for.
var shortForms = map[string]string{
	"Ref":          "Ref",
	"Condition":    "Condition",
	"Base64":       "Fn::Base64",
	"Cidr":         "Fn::Cidr",
	"And":          "Fn::And",
	"Equals":       "Fn::Equals",
	"If":           "Fn::If",
	"Not":          "Fn::Not",
	"Or":           "Fn::Or",
	"FindInMap":    "Fn::FindInMap",
	"GetAtt":       "Fn::GetAtt",
	"GetAZs":       "Fn::GetAZs",
	"ImportValue":  "Fn::ImportValue",
	"Join":         "Fn::Join",
	"Select":       "Fn::Select",
	"Split":        "Fn::Split",
	"Sub":          "Fn::Sub",
	"Transform":    "Fn::Transform",
	"Length":       "Fn::Length",
	"ToJsonString": "Fn::ToJsonString",
}

type yamlDecoder struct {
	nodes, bytes int
}

func decodeYAML(b []byte) (v any, err error) {
	var doc yaml.Node
	// The YAML library has panicked on hostile input in the past; a
	// template must never take the process down.
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, formatErrorf("YAML not well-formed")
		}
	}()
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return nil, formatErrorf("YAML not well-formed. %s", msg)
	}
	if doc.Kind == 0 {
		return nil, nil // empty document
	}
	d := &yamlDecoder{}
	return d.value(&doc, 0)
}

func yamlErrorf(n *yaml.Node, format string, args ...any) error {
	return formatErrorf("YAML not well-formed. (line %d, column %d) %s", n.Line, n.Column, fmt.Sprintf(format, args...))
}

func (d *yamlDecoder) count(n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return formatErrorf("the template nests more than %d levels deep", maxDepth)
	}
	d.nodes++
	d.bytes += len(n.Value)
	if d.nodes > maxNodes || d.bytes > maxScalarBytes {
		return formatErrorf("the template expands to more than %d values or %d bytes", maxNodes, maxScalarBytes)
	}
	return nil
}

func (d *yamlDecoder) value(n *yaml.Node, depth int) (any, error) {
	if err := d.count(n, depth); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.value(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, yamlErrorf(n, "unknown anchor")
		}
		return d.value(n.Alias, depth+1)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return d.shortForm(n, depth)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return scalar(n), nil
	case yaml.SequenceNode:
		return d.sequence(n, depth)
	case yaml.MappingNode:
		return d.mapping(n, depth)
	}
	return nil, yamlErrorf(n, "unexpected node")
}

func (d *yamlDecoder) shortForm(n *yaml.Node, depth int) (any, error) {
	name := n.Tag[1:]
	fn, ok := shortForms[name]
	if !ok {
		return nil, yamlErrorf(n, "unknown tag !%s", name)
	}
	var arg any
	var err error
	switch n.Kind {
	case yaml.ScalarNode:
		arg = n.Value
	case yaml.SequenceNode:
		arg, err = d.sequence(n, depth)
	case yaml.MappingNode:
		arg, err = d.mapping(n, depth)
	default:
		return nil, yamlErrorf(n, "unexpected node after !%s", name)
	}
	if err != nil {
		return nil, err
	}
	if s, ok := arg.(string); ok && fn == "Fn::GetAtt" {
		// CloudFormation splits "Res.Attr.Sub" on the first dot: the
		// attribute may itself contain dots (Outputs.Name).
		res, attr, ok := strings.Cut(s, ".")
		if !ok || res == "" || attr == "" {
			return nil, yamlErrorf(n, "!GetAtt %q: expected LogicalId.Attribute", s)
		}
		arg = []any{res, attr}
	}
	return map[string]any{fn: arg}, nil
}

func (d *yamlDecoder) sequence(n *yaml.Node, depth int) ([]any, error) {
	l := make([]any, 0, len(n.Content))
	for _, c := range n.Content {
		v, err := d.value(c, depth+1)
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
	return l, nil
}

func (d *yamlDecoder) mapping(n *yaml.Node, depth int) (map[string]any, error) {
	m := make(map[string]any, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.AliasNode && kn.Alias != nil {
			kn = kn.Alias
		}
		if kn.Kind != yaml.ScalarNode {
			return nil, yamlErrorf(kn, "a mapping key must be a scalar")
		}
		if strings.HasPrefix(kn.Tag, "!") && !strings.HasPrefix(kn.Tag, "!!") {
			return nil, yamlErrorf(kn, "a mapping key cannot be %s", kn.Tag)
		}
		if kn.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if _, dup := m[kn.Value]; dup {
			return nil, yamlErrorf(kn, "duplicate key %q", kn.Value)
		}
		v, err := d.value(vn, depth+1)
		if err != nil {
			return nil, err
		}
		m[kn.Value] = v
	}
	// Merge keys: explicit keys win, then earlier merged maps.
	for _, mn := range merges {
		var sources []*yaml.Node
		if mn.Kind == yaml.SequenceNode {
			sources = mn.Content
		} else {
			sources = []*yaml.Node{mn}
		}
		for _, s := range sources {
			v, err := d.value(s, depth+1)
			if err != nil {
				return nil, err
			}
			sm, ok := v.(map[string]any)
			if !ok {
				return nil, yamlErrorf(s, "a merge key needs a mapping or a list of mappings")
			}
			for k, v := range sm {
				if _, ok := m[k]; !ok {
					m[k] = v
				}
			}
		}
	}
	return m, nil
}

// YAML 1.1's implicit types, which CloudFormation's parser (and
// samtranslator's) use for plain scalars: yes/no/on/off are booleans, 0755
// is octal, 1e3 (no dot, no exponent sign) is a string.
var (
	yaml11Bool  = regexp.MustCompile(`^(?:yes|Yes|YES|true|True|TRUE|on|On|ON|no|No|NO|false|False|FALSE|off|Off|OFF)$`)
	yaml11Int   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yaml11Float = regexp.MustCompile(`^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*)$`)
)

const quotedOrTagged = yaml.TaggedStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle

// scalar converts a scalar that is not a short form. A plain one takes its
// type as YAML 1.1 resolves it: numbers become float64, booleans bool,
// null nil; everything else, timestamps and .inf/.nan included, stays the
// string written. Quoted and block scalars are strings; an explicit
// !!int, !!float, !!bool or !!null tag converts when it can.
func scalar(n *yaml.Node) any {
	v := n.Value
	if n.Style&quotedOrTagged == 0 {
		switch {
		case v == "" || v == "~" || v == "null" || v == "Null" || v == "NULL":
			return nil
		case yaml11Bool.MatchString(v):
			return yaml11BoolValue(v)
		case yaml11Int.MatchString(v):
			return yaml11IntValue(v)
		case yaml11Float.MatchString(v):
			return yaml11FloatValue(v)
		}
		return v
	}
	if n.Style&yaml.TaggedStyle == 0 {
		return v
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		if yaml11Bool.MatchString(v) {
			return yaml11BoolValue(v)
		}
	case "!!int":
		if yaml11Int.MatchString(v) {
			return yaml11IntValue(v)
		}
	case "!!float":
		if yaml11Float.MatchString(v) {
			return yaml11FloatValue(v)
		}
		if yaml11Int.MatchString(v) {
			return yaml11IntValue(v)
		}
	}
	return v
}

func yaml11BoolValue(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "on":
		return true
	}
	return false
}

// yaml11IntValue converts what yaml11Int matched; a value too large for
// an int64 keeps its text unless it is decimal.
func yaml11IntValue(v string) any {
	return yaml11Number(v, func(s string) (float64, error) {
		switch {
		case strings.Contains(s, ":"):
			return sexagesimal(s, func(part string) (float64, error) {
				d, err := strconv.ParseInt(part, 10, 64)
				return float64(d), err
			})
		case strings.HasPrefix(s, "0b"), strings.HasPrefix(s, "0x"):
			base := 2
			if s[1] == 'x' {
				base = 16
			}
			u, err := strconv.ParseUint(s[2:], base, 64)
			return float64(u), err
		case len(s) > 1 && s[0] == '0':
			u, err := strconv.ParseUint(s[1:], 8, 64)
			return float64(u), err
		}
		return strconv.ParseFloat(s, 64)
	})
}

func yaml11FloatValue(v string) any {
	return yaml11Number(v, func(s string) (float64, error) {
		if strings.Contains(s, ":") {
			return sexagesimal(s, func(part string) (float64, error) { return strconv.ParseFloat(part, 64) })
		}
		return strconv.ParseFloat(s, 64)
	})
}

// yaml11Number converts a YAML 1.1 number: read gets it without
// underscores and sign; v keeps its text when read fails.
func yaml11Number(v string, read func(s string) (float64, error)) any {
	s := strings.ReplaceAll(v, "_", "")
	neg := strings.HasPrefix(s, "-")
	f, err := read(strings.TrimLeft(s, "+-"))
	if err != nil {
		return v
	}
	if neg {
		f = -f
	}
	return f
}

// sexagesimal reads a base 60 number ("1:30:00"), each part with read.
func sexagesimal(s string, read func(part string) (float64, error)) (float64, error) {
	var f float64
	for part := range strings.SplitSeq(s, ":") {
		d, err := read(part)
		if err != nil {
			return 0, err
		}
		f = f*60 + d
	}
	return f, nil
}
