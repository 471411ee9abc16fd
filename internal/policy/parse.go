// Package policy is Nimbus's IAM policy engine: it parses and compiles
// AWS policy documents (identity policies, resource policies, trust
// policies, permissions boundaries) once, when they change, and evaluates
// a request against them on every call, following AWS's documented
// evaluation logic (docs/design/access-control.md).
//
// A Policy is immutable and safe for concurrent use. Evaluate takes the
// policies that apply to one request (the caller's identity policies, an
// optional permissions boundary, the resource's policy) and a Request (the
// principal, action, resource and condition keys) and returns a Decision
// that says whether the call is allowed and, if not, which policy type
// denied it, for AWS's AccessDenied message.
//
// It imports nothing of Nimbus; the front door (internal/daemon) and the
// IAM API (internal/iam) use it.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Kind is what a document is used as; it decides which elements it must
// and must not have (IAM's MalformedPolicyDocument rules).
type Kind int

const (
	// Identity: attached to a user, group or role, or a permissions
	// boundary. No Principal.
	Identity Kind = iota
	// Resource: attached to a resource (a function's permissions, a
	// queue policy, ...). Principal or NotPrincipal required.
	Resource
	// Trust: a role's assume-role policy. Principal required, no Resource.
	Trust
)

// MaxSize is the largest document accepted by Parse, in bytes, after
// whitespace is removed: the largest of AWS's limits (6,144 for managed
// policies, 10,240 for a role's inline policies, 20,480 for an SQS queue
// policy). Callers apply their own smaller limits (LimitExceeded).
const MaxSize = 20480

// Error is a malformed policy document: IAM answers it
// MalformedPolicyDocument with Message.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func malformed(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Policy is a compiled policy document.
type Policy struct {
	// Version of the language: "2012-10-17" substitutes policy variables,
	// "2008-10-17" (or none) treats them as literal text.
	Version    string
	ID         string
	Statements []*Statement
	vars       bool // Version 2012-10-17: policy variables are substituted
	raw        []byte
}

// Raw is the document as it was parsed.
func (p *Policy) Raw() []byte { return p.raw }

// Statement is one compiled statement.
type Statement struct {
	Sid   string
	Allow bool

	// Principal / NotPrincipal (resource and trust policies); at most one
	// of them is set.
	principal    *principals
	notPrincipal *principals

	actions    []matcher // lower-cased
	notAction  bool
	resources  []matcher
	notRes     bool
	noResource bool // trust policies have no Resource element
	conditions []*condition
}

// matcher is a glob ("*" any run, "?" one character) in a compiled form.
type matcher struct {
	pat    string
	prefix string // the literal text before the first wildcard
	glob   bool   // has * or ?
	hasVar bool   // has ${...} (resource patterns of 2012-10-17 policies)
	arn    []string
}

// Parse compiles a policy document of the given kind. Errors are *Error
// with IAM's messages.
func Parse(doc []byte, kind Kind) (*Policy, error) {
	if len(compact(doc)) > MaxSize {
		return nil, malformed("Cannot exceed quota for PolicySize: %d", MaxSize)
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil || top == nil || dec.More() {
		return nil, malformed("Syntax errors in policy.")
	}
	p := &Policy{raw: append([]byte(nil), doc...)}
	for k, v := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil {
				return nil, malformed("Syntax errors in policy.")
			}
		case "Id":
			if err := json.Unmarshal(v, &p.ID); err != nil {
				return nil, malformed("Syntax errors in policy.")
			}
		case "Statement":
		default:
			return nil, malformed("Syntax errors in policy.")
		}
	}
	switch p.Version {
	case "2012-10-17":
		p.vars = true
	case "2008-10-17", "":
	default:
		return nil, malformed("The policy failed legacy parsing")
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, malformed("Syntax errors in policy.")
	}
	var list []json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, malformed("Syntax errors in policy.")
		}
	} else {
		list = []json.RawMessage{raw}
	}
	if len(list) == 0 {
		return nil, malformed("Syntax errors in policy.")
	}
	sids := map[string]bool{}
	for _, r := range list {
		s, err := parseStatement(r, kind, p.vars)
		if err != nil {
			return nil, err
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, malformed("Statement IDs (SID) in a single policy must be unique.")
			}
			sids[s.Sid] = true
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

// compact is doc without insignificant whitespace (AWS counts policy size
// so); doc itself when it is not valid JSON.
func compact(doc []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, doc) != nil {
		return doc
	}
	return b.Bytes()
}

func parseStatement(raw json.RawMessage, kind Kind, vars bool) (*Statement, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, malformed("Syntax errors in policy.")
	}
	s := &Statement{}
	for k := range m {
		switch k {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			return nil, malformed("Syntax errors in policy.")
		}
	}
	if v, ok := m["Sid"]; ok {
		if err := json.Unmarshal(v, &s.Sid); err != nil {
			return nil, malformed("Syntax errors in policy.")
		}
	}
	var effect string
	if v, ok := m["Effect"]; !ok {
		return nil, malformed("Missing required field Effect")
	} else if err := json.Unmarshal(v, &effect); err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	switch effect {
	case "Allow":
		s.Allow = true
	case "Deny":
	default:
		return nil, malformed("Invalid effect: %s", effect)
	}

	// Principal.
	_, hasP := m["Principal"]
	_, hasNP := m["NotPrincipal"]
	switch {
	case hasP && hasNP:
		return nil, malformed("Syntax errors in policy.")
	case (hasP || hasNP) && kind == Identity:
		return nil, malformed("Policy document should not specify a principal.")
	case !hasP && !hasNP && kind != Identity:
		return nil, malformed("Missing required field Principal")
	case hasNP && (kind == Trust || s.Allow):
		// AWS allows NotPrincipal with Deny only in resource policies
		// (and discourages it); NotPrincipal with Allow is refused.
		return nil, malformed("Invalid principal in policy")
	}
	if hasP {
		ps, err := parsePrincipals(m["Principal"])
		if err != nil {
			return nil, err
		}
		s.principal = ps
	}
	if hasNP {
		ps, err := parsePrincipals(m["NotPrincipal"])
		if err != nil {
			return nil, err
		}
		s.notPrincipal = ps
	}

	// Action.
	a, hasA := m["Action"]
	na, hasNA := m["NotAction"]
	switch {
	case hasA && hasNA:
		return nil, malformed("Syntax errors in policy.")
	case !hasA && !hasNA:
		return nil, malformed("Policy statement must contain actions.")
	}
	if hasNA {
		a, s.notAction = na, true
	}
	acts, err := stringList(a)
	if err != nil {
		return nil, err
	}
	if len(acts) == 0 {
		return nil, malformed("Policy statement must contain actions.")
	}
	for _, x := range acts {
		if x != "*" && !validAction(x) {
			return nil, malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
		}
		s.actions = append(s.actions, compileMatcher(strings.ToLower(x), false))
	}

	// Resource.
	r, hasR := m["Resource"]
	nr, hasNR := m["NotResource"]
	switch {
	case hasR && hasNR:
		return nil, malformed("Syntax errors in policy.")
	case !hasR && !hasNR && kind == Trust:
		s.noResource = true
	case !hasR && !hasNR && kind == Identity:
		return nil, malformed("Policy statement must contain resources.")
	case !hasR && !hasNR:
		// Resource policies name their resource implicitly (Lambda's and
		// SQS's are generated with it; S3 requires it). Accept and match
		// the resource the policy is attached to.
		s.noResource = true
	}
	if hasR || hasNR {
		if hasNR {
			r, s.notRes = nr, true
		}
		res, err := stringList(r)
		if err != nil {
			return nil, err
		}
		if len(res) == 0 {
			return nil, malformed("Policy statement must contain resources.")
		}
		for _, x := range res {
			if x != "*" && !strings.HasPrefix(x, "arn:") {
				return nil, malformed("Resource %s must be in ARN format or \"*\".", x)
			}
			s.resources = append(s.resources, compileMatcher(x, vars))
		}
	}

	if c, ok := m["Condition"]; ok {
		conds, err := parseConditions(c, vars)
		if err != nil {
			return nil, err
		}
		s.conditions = conds
	}
	return s, nil
}

// validAction is "<vendor>:<name>" with a vendor of letters, digits and
// '-', and a name of letters, digits and wildcards.
func validAction(a string) bool {
	vendor, name, ok := strings.Cut(a, ":")
	if !ok || vendor == "" || name == "" {
		return false
	}
	for i := 0; i < len(vendor); i++ {
		c := vendor[i]
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '*' && c != '?' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// stringList reads a string or a list of strings.
func stringList(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	return list, nil
}

// valueList reads a condition value: a string, number or boolean, or a
// list of them, as strings.
func valueList(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	scalar := func(x any) (string, bool) {
		switch t := x.(type) {
		case string:
			return t, true
		case json.Number:
			return t.String(), true
		case bool:
			return strconv.FormatBool(t), true
		}
		return "", false
	}
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, x := range l {
			s, ok := scalar(x)
			if !ok {
				return nil, malformed("Syntax errors in policy.")
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalar(v)
	if !ok {
		return nil, malformed("Syntax errors in policy.")
	}
	return []string{s}, nil
}

func compileMatcher(p string, vars bool) matcher {
	m := matcher{pat: p, glob: strings.ContainsAny(p, "*?"), hasVar: vars && strings.Contains(p, "${")}
	m.prefix = p
	if i := strings.IndexAny(p, "*?\x00"); i >= 0 {
		m.prefix = p[:i]
	}
	if strings.HasPrefix(p, "arn:") {
		m.arn = strings.SplitN(p, ":", 6)
	}
	return m
}
