package vtl

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Input is API Gateway's $input: the payload (the method request's body
// in a request template, the integration's answer in a response
// template) and the method request's parameters.
type Input struct {
	Body []byte
	// Path, Query and Header are the method request's parameters.
	Path, Query, Header *Map

	parsed  bool
	doc     any
	doneErr error
}

// NewInput returns $input for a body and the request's parameters (nil
// maps are empty).
func NewInput(body []byte, path, query, header *Map) *Input {
	in := &Input{Body: body, Path: path, Query: query, Header: header}
	for _, m := range []**Map{&in.Path, &in.Query, &in.Header} {
		if *m == nil {
			*m = NewMap()
		}
	}
	return in
}

func (in *Input) String() string { return "" }

// document is the body as JSON; an empty body is an empty object, as API
// Gateway treats it.
func (in *Input) document() (any, error) {
	if !in.parsed {
		in.parsed = true
		if strings.TrimSpace(string(in.Body)) == "" {
			in.doc = NewMap()
		} else {
			in.doc, in.doneErr = ParseJSON(in.Body)
			if in.doneErr != nil {
				in.doneErr = evalError("Unable to parse the body as JSON: %v", in.doneErr)
			}
		}
	}
	return in.doc, in.doneErr
}

func (in *Input) prop(name string) (any, bool) {
	if name == "body" {
		return string(in.Body), true
	}
	return nil, false
}

func (in *Input) call(s *state, name string, args []any) (any, error) {
	switch name {
	case "body":
		return string(in.Body), nil
	case "json", "path":
		p, ok := argString(args, 0)
		if !ok {
			return nil, evalError("$input.%s needs a JSONPath", name)
		}
		doc, err := in.document()
		if err != nil {
			return nil, err
		}
		v, err := evalPath(doc, p)
		if err != nil {
			return nil, err
		}
		if name == "path" {
			return v, nil
		}
		if v == nil {
			return "", nil
		}
		if n := approxSize(v, 0); n > MaxOutput {
			return nil, limitErr("value is larger than %d bytes", MaxOutput)
		}
		return JSON(v), nil
	case "params":
		if len(args) == 0 {
			all := NewMap()
			all.Set("path", in.Path)
			all.Set("querystring", in.Query)
			all.Set("header", in.Header)
			return all, nil
		}
		p, ok := argString(args, 0)
		if !ok {
			return "", nil
		}
		for _, m := range []*Map{in.Path, in.Query} {
			if v, found := m.Get(p); found {
				return v, nil
			}
		}
		if v, found := in.Header.Get(p); found {
			return v, nil
		}
		for _, k := range in.Header.keys {
			if strings.EqualFold(k, p) {
				return in.Header.m[k], nil
			}
		}
		return "", nil
	}
	return nil, nil
}

// Util is API Gateway's $util.
type Util struct{}

func (Util) String() string { return "" }

func (Util) prop(string) (any, bool) { return nil, false }

func (Util) call(_ *state, name string, args []any) (any, error) {
	a, ok := argString(args, 0)
	if !ok {
		if len(args) == 0 {
			return nil, evalError("$util.%s needs an argument", name)
		}
		return nil, nil
	}
	switch name {
	case "escapeJavaScript":
		return bounded(EscapeJavaScript(a))
	case "parseJson":
		v, err := ParseJSON([]byte(a))
		if err != nil {
			return nil, evalError("Unable to parse JSON: %v", err)
		}
		return v, nil
	case "urlEncode":
		// Java's URLEncoder: "*" stays, "~" is escaped, space is "+".
		return bounded(strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(a), "~", "%7E"), "%2A", "*"))
	case "urlDecode":
		s, err := url.QueryUnescape(a)
		if err != nil {
			return nil, evalError("URLDecoder: %v", err)
		}
		return s, nil
	case "base64Encode":
		return bounded(base64.StdEncoding.EncodeToString([]byte(a)))
	case "base64Decode":
		b, err := base64.StdEncoding.DecodeString(a)
		if err != nil {
			return nil, evalError("Illegal base64 character in %q", a)
		}
		return string(b), nil
	}
	return nil, nil
}

// EscapeJavaScript escapes s as Apache Commons Lang's
// StringEscapeUtils.escapeJavaScript does, as API Gateway's $util does:
// quotes (single too), backslash and slash with a backslash, control
// characters as \b \t \n \f \r or \u00XX, and everything past ASCII as
// \uXXXX (UTF-16 units, upper-case hex).
func EscapeJavaScript(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\'' || r == '"' || r == '\\' || r == '/':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04X`, r)
		case r > 0x7f:
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04X\u%04X`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04X`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Variables returns a template's variables as API Gateway defines them.
// context and stageVariables may be nil.
func Variables(in *Input, context, stageVariables *Map) map[string]any {
	if context == nil {
		context = NewMap()
	}
	if stageVariables == nil {
		stageVariables = NewMap()
	}
	return map[string]any{"input": in, "util": Util{}, "context": context, "stageVariables": stageVariables}
}
