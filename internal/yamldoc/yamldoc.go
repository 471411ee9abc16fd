// Package yamldoc reads JSON and YAML documents from untrusted input into
// plain Go values (map[string]any, []any, string, float64, bool, nil) the
// way CloudFormation and samtranslator read templates: YAML 1.1 scalars as
// PyYAML resolves them (yes/no/on/off are booleans, 0755 is octal), merge
// keys, no duplicate keys, and limits on size, depth and alias expansion
// so that a hostile document cannot exhaust the reader. Local tags (the
// CloudFormation short forms !Ref, !Sub, ...) are read only when the
// caller names them.
//
// It is a leaf: templates (internal/cfn), OpenAPI definitions
// (internal/apigw) and build manifests (internal/build) all read YAML
// through it, so one document means the same everywhere.
package yamldoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile document from exhausting the reader; far
// above anything a real template or API definition needs.
const (
	// DefaultMaxBytes is the largest document Decode accepts unless
	// Options.MaxBytes says otherwise (CloudFormation's template size for
	// a template read from S3).
	DefaultMaxBytes = 1 << 20
	// maxDepth bounds the nesting of maps and lists.
	maxDepth = 128
	// maxNodes bounds the values a document expands to (YAML aliases can
	// repeat a subtree many times, so this counts after expansion).
	maxNodes = 1 << 20
	// maxScalarBytes bounds the bytes of scalars after alias expansion.
	maxScalarBytes = 8 << 20
)

// Options adjust Decode.
type Options struct {
	// MaxBytes bounds the document's size; 0 means DefaultMaxBytes.
	MaxBytes int
	// Tags maps the local tags the document may use (without "!") to the
	// key of the one-entry map each stands for ("Ref" → "Ref", "Sub" →
	// "Fn::Sub"); a tag not in it is an error. Fn::GetAtt's scalar form
	// "A.B" becomes ["A", "B"].
	Tags map[string]string
	// Noun names the document in limit errors ("the template is ..."); ""
	// means "document".
	Noun string
}

// Error is a document that is not well-formed or breaks a limit. Its
// message reads as CloudFormation's after "Template format error: ".
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error {
	return &Error{fmt.Sprintf(format, args...)}
}

type reader struct {
	noun         string
	tags         map[string]string
	nodes, bytes int
}

// Decode reads b as JSON when it looks like JSON and parses as JSON, else
// as YAML (a superset that also reads most JSON). Errors are *Error.
func Decode(b []byte, o Options) (any, error) {
	maxBytes := o.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	r := &reader{noun: o.Noun, tags: o.Tags}
	if r.noun == "" {
		r.noun = "document"
	}
	if len(b) > maxBytes {
		return nil, errorf("the %s is %d bytes, more than the %d allowed", r.noun, len(b), maxBytes)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		v, jerr := r.decodeJSON(b)
		if jerr == nil {
			return v, nil
		}
		var e *Error
		if errors.As(jerr, &e) {
			return nil, jerr // well-formed JSON that breaks a limit or has a duplicate key
		}
		// A YAML flow mapping also starts with '{'.
		r.nodes, r.bytes = 0, 0
		if v, yerr := r.decodeYAML(b); yerr == nil {
			return v, nil
		}
		if errors.Is(jerr, io.EOF) || errors.Is(jerr, io.ErrUnexpectedEOF) {
			return nil, errorf("JSON not well-formed. (unexpected end of input)")
		}
		return nil, errorf("JSON not well-formed. %v", jerr)
	}
	return r.decodeYAML(b)
}

func (r *reader) decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := r.jsonValue(d, 0)
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

func (r *reader) jsonValue(d *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errorf("the %s nests more than %d levels deep", r.noun, maxDepth)
	}
	r.nodes++
	if r.nodes > maxNodes {
		return nil, errorf("the %s has more than %d values", r.noun, maxNodes)
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
					return nil, errorf("JSON not well-formed. Duplicate key %q (offset %d)", k, d.InputOffset())
				}
				v, err := r.jsonValue(d, depth+1)
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
				v, err := r.jsonValue(d, depth+1)
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

func (r *reader) decodeYAML(b []byte) (v any, err error) {
	var doc yaml.Node
	// The YAML library has panicked on hostile input in the past; a
	// template must never take the process down.
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, errorf("YAML not well-formed")
		}
	}()
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return nil, errorf("YAML not well-formed. %s", msg)
	}
	if doc.Kind == 0 {
		return nil, nil // empty document
	}
	return r.value(&doc, 0)
}

func yamlErrorf(n *yaml.Node, format string, args ...any) error {
	return errorf("YAML not well-formed. (line %d, column %d) %s", n.Line, n.Column, fmt.Sprintf(format, args...))
}

func (d *reader) count(n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return errorf("the %s nests more than %d levels deep", d.noun, maxDepth)
	}
	d.nodes++
	d.bytes += len(n.Value)
	if d.nodes > maxNodes || d.bytes > maxScalarBytes {
		return errorf("the %s expands to more than %d values or %d bytes", d.noun, maxNodes, maxScalarBytes)
	}
	return nil
}

func (d *reader) value(n *yaml.Node, depth int) (any, error) {
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

func (d *reader) shortForm(n *yaml.Node, depth int) (any, error) {
	name := n.Tag[1:]
	fn, ok := d.tags[name]
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

func (d *reader) sequence(n *yaml.Node, depth int) ([]any, error) {
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

func (d *reader) mapping(n *yaml.Node, depth int) (map[string]any, error) {
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
	yaml11Bool = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:yes|Yes|YES|true|True|TRUE|on|On|ON|no|No|NO|false|False|FALSE|off|Off|OFF)$`)
	})
	yaml11Int = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	})
	yaml11Float = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*)$`)
	})
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
		case yaml11Bool().MatchString(v):
			return yaml11BoolValue(v)
		case yaml11Int().MatchString(v):
			return yaml11IntValue(v)
		case yaml11Float().MatchString(v):
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
		if yaml11Bool().MatchString(v) {
			return yaml11BoolValue(v)
		}
	case "!!int":
		if yaml11Int().MatchString(v) {
			return yaml11IntValue(v)
		}
	case "!!float":
		if yaml11Float().MatchString(v) {
			return yaml11FloatValue(v)
		}
		if yaml11Int().MatchString(v) {
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
