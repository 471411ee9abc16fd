package cfnapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Request limits.
const (
	// MaxTemplateBytes bounds a TemplateBody and a template read through
	// TemplateURL. CloudFormation takes 51,200 bytes inline and 1 MB
	// through TemplateURL (S3); `nimbus deploy` inlines OpenAPI
	// definitions (DefinitionUri) into the template, so the inline body
	// gets the TemplateURL bound too.
	MaxTemplateBytes = 1 << 20
	// MaxRequestBytes bounds a query request's body: a template of
	// MaxTemplateBytes percent-encoded (3 bytes per byte at worst) and
	// room for parameters and tags.
	MaxRequestBytes = 3*MaxTemplateBytes + 256<<10
)

// Form is a parsed query-protocol request: Action, Version and the
// operation's members, flattened as botocore serialises them
// (Parameters.member.1.ParameterKey, Capabilities.member.1, ...).
type Form struct{ url.Values }

func validation(format string, args ...any) *awsapi.Error {
	e := awsapi.Validation(format, args...)
	e.Code = "ValidationError" // CloudFormation's name for it
	return e
}

// ParseRequest reads the query-protocol form of r: the URL's query string,
// and for POST a body of type application/x-www-form-urlencoded (at most
// MaxRequestBytes).
func ParseRequest(r *http.Request) (Form, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return Form{}, validation("The query string is malformed: %s", queryErrText(err))
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return Form{vals}, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return Form{}, &awsapi.Error{Status: http.StatusUnsupportedMediaType, Code: "UnsupportedMediaType", Type: "User",
				Message: "The request body must be application/x-www-form-urlencoded."}
		}
	}
	if r.ContentLength > MaxRequestBytes {
		return Form{}, tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return Form{}, tooLarge()
		}
		return Form{}, fmt.Errorf("read request body: %w", err)
	}
	if len(body) > MaxRequestBytes {
		return Form{}, tooLarge()
	}
	bv, err := url.ParseQuery(string(body))
	if err != nil {
		return Form{}, validation("The request body is malformed: %s", queryErrText(err))
	}
	for k, v := range vals {
		if _, ok := bv[k]; !ok {
			bv[k] = v
		}
	}
	return Form{bv}, nil
}

func tooLarge() *awsapi.Error {
	return &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Type: "User",
		Message: fmt.Sprintf("Request must be smaller than %d bytes.", MaxRequestBytes)}
}

// queryErrText names what url.ParseQuery refused without echoing the
// whole offending key.
func queryErrText(err error) string {
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return "invalid escape " + strconv.Quote(truncate(string(ee), 16))
	}
	return "invalid form encoding"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// has reports whether key was sent at all.
func (f Form) has(key string) bool { _, ok := f.Values[key]; return ok }

// Bool reads a boolean member ("true"/"false"); absent is false.
func (f Form) Bool(key string) (bool, error) {
	v := f.Get(key)
	switch strings.ToLower(v) {
	case "":
		return false, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a boolean", truncate(v, 64), lowerFirst(key))
}

// memberIndexes returns the indexes N of prefix.member.N[.rest] keys,
// ascending, each once.
func (f Form) memberIndexes(prefix string) []int {
	p := prefix + ".member."
	var idx []int
	for k := range f.Values {
		rest, ok := strings.CutPrefix(k, p)
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ".")
		i, err := strconv.Atoi(n)
		if err != nil || i < 1 || strconv.Itoa(i) != n {
			continue
		}
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

// List reads a list of strings, prefix.member.1, prefix.member.2, ...
func (f Form) List(prefix string) []string {
	var out []string
	for _, i := range f.memberIndexes(prefix) {
		if k := prefix + ".member." + strconv.Itoa(i); f.has(k) {
			out = append(out, f.Get(k))
		}
	}
	return out
}

// Structs reads a list of structures, prefix.member.N.Field; each entry
// maps field names to values. One pass over the form, so a large form
// costs no more than its size.
func (f Form) Structs(prefix string) []map[string]string {
	p := prefix + ".member."
	byIndex := map[int]map[string]string{}
	for k := range f.Values {
		rest, ok := strings.CutPrefix(k, p)
		if !ok {
			continue
		}
		n, field, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(n)
		if !ok || field == "" || err != nil || i < 1 || strconv.Itoa(i) != n {
			continue
		}
		m := byIndex[i]
		if m == nil {
			m = map[string]string{}
			byIndex[i] = m
		}
		m[field] = f.Get(k)
	}
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	out := make([]map[string]string, 0, len(idx))
	for _, i := range idx {
		out = append(out, byIndex[i])
	}
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// required returns the member's value or CloudFormation's "must not be
// null" error.
func (f Form) required(key string) (string, error) {
	if !f.has(key) {
		return "", validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(key))
	}
	return f.Get(key), nil
}
