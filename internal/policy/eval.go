package policy

import (
	"strings"
)

// Request is one call to authorise.
type Request struct {
	Principal Principal
	// Action is "<service>:<Operation>" (matched case-insensitively).
	Action string
	// Resource is the ARN acted on, or "*".
	Resource string
	// Keys are the condition keys of the request, their names
	// lower-cased (use Set): aws:CurrentTime, aws:SourceIp,
	// aws:PrincipalArn, aws:username, aws:PrincipalTag/<key>, ...
	Keys map[string][]string
	// Resolve, when set, supplies a condition key that Keys lacks, the
	// first time a policy reads it: keys that cost a lookup (a
	// resource's tags, a request body's tags) are found only when some
	// statement tests them. It may set other keys of the same source at
	// once (r.Set); a key it leaves unset is absent, and not asked again.
	Resolve func(r *Request, key string)

	action string // lower-cased Action
}

// lookup is the values of condition key (lower-cased), resolving it on
// first use.
func (r *Request) lookup(key string) ([]string, bool) {
	if v, ok := r.Keys[key]; ok {
		return v, len(v) > 0
	}
	if r.Resolve == nil {
		return nil, false
	}
	r.Resolve(r, key)
	v, ok := r.Keys[key]
	if !ok {
		if r.Keys == nil {
			r.Keys = map[string][]string{}
		}
		r.Keys[key] = nil // absent: not asked again
	}
	return v, len(v) > 0
}

// Set sets condition key name (any case) to vals.
func (r *Request) Set(name string, vals ...string) {
	if r.Keys == nil {
		r.Keys = map[string][]string{}
	}
	r.Keys[strings.ToLower(name)] = vals
}

// Get is the first value of condition key name (any case).
func (r *Request) Get(name string) (string, bool) {
	v, ok := r.lookup(strings.ToLower(name))
	if !ok {
		return "", false
	}
	return v[0], true
}

// Type is a kind of policy, as AWS's AccessDenied messages name it.
type Type int

const (
	IdentityBased Type = iota
	ResourceBased
	PermissionsBoundary
	SessionPolicy
)

func (t Type) String() string {
	return [...]string{"identity-based policy", "resource-based policy", "permissions boundary", "session policy"}[t]
}

// Decision is the result of Evaluate.
type Decision struct {
	Allowed bool
	// ExplicitDeny: a Deny statement matched, in a policy of type Type.
	// Otherwise, when not Allowed, no policy of type Type allowed.
	ExplicitDeny bool
	Type         Type
}

// Message is AWS's AccessDenied message for a denied decision:
// "User: <principal> is not authorized to perform: <action> on resource:
// <resource> because no identity-based policy allows the <action> action".
func (d Decision) Message(principal, action, resource string) string {
	m := "User: " + principal + " is not authorized to perform: " + action
	if resource != "" {
		m += " on resource: " + resource
	}
	if d.ExplicitDeny {
		article := "a"
		if d.Type == IdentityBased {
			article = "an"
		}
		return m + " with an explicit deny in " + article + " " + d.Type.String()
	}
	return m + " because no " + d.Type.String() + " allows the " + action + " action"
}

// Policies are the policies that apply to one request.
type Policies struct {
	// Identity: the caller's identity policies (a user's own, its groups',
	// or a role's inline and attached managed policies).
	Identity []*Policy
	// Boundary, if set, is the caller's permissions boundary: identity
	// policies grant only what it allows too.
	Boundary *Policy
	// Resource: the resource's own policies (a function's permissions, a
	// queue policy, a role's trust policy for sts:AssumeRole).
	Resource []*Policy
	// ResourceAccount is the account owning the resource ("" for the
	// caller's).
	ResourceAccount string
}

// Evaluate decides r against ps as AWS documents its evaluation logic
// ("Policy evaluation logic", IAM User Guide):
//
//  1. An explicit Deny in any applicable policy denies.
//  2. Within one account, an Allow in an identity policy (and in the
//     boundary, if any) or in a resource policy allows. A resource policy
//     that names the caller itself (a user or role-session ARN, or "*")
//     is not limited by the boundary; one that names the role or the
//     account is. A resource policy naming the account delegates to the
//     identity policies: it allows only the root.
//  3. Across accounts, both the identity policies and the resource policy
//     must allow.
//  4. A service principal is judged by the resource policy alone.
//
// Otherwise the request is implicitly denied.
func Evaluate(ps *Policies, r *Request) Decision {
	r.action = strings.ToLower(r.Action)
	// Explicit denies first, in the order AWS reports them.
	for _, p := range ps.Identity {
		if p.denies(r) {
			return Decision{ExplicitDeny: true, Type: IdentityBased}
		}
	}
	for _, p := range ps.Resource {
		if p.denies(r) {
			return Decision{ExplicitDeny: true, Type: ResourceBased}
		}
	}
	if ps.Boundary != nil && ps.Boundary.denies(r) {
		return Decision{ExplicitDeny: true, Type: PermissionsBoundary}
	}

	res := noMatch
	for _, p := range ps.Resource {
		if m := p.allows(r); m > res {
			res = m
		}
	}
	if r.Principal.Service != "" {
		if res != noMatch {
			return Decision{Allowed: true}
		}
		return Decision{Type: ResourceBased}
	}
	idAllow := false
	for _, p := range ps.Identity {
		if p.allows(r) != noMatch {
			idAllow = true
			break
		}
	}
	boundaryOK := ps.Boundary == nil || ps.Boundary.allows(r) != noMatch

	cross := ps.ResourceAccount != "" && ps.ResourceAccount != r.Principal.Account
	if cross {
		switch {
		case !idAllow:
			return Decision{Type: IdentityBased}
		case !boundaryOK:
			return Decision{Type: PermissionsBoundary}
		case res == noMatch:
			return Decision{Type: ResourceBased}
		}
		return Decision{Allowed: true}
	}
	switch {
	case res == matchDirect:
		return Decision{Allowed: true}
	case res == matchRole && boundaryOK:
		return Decision{Allowed: true}
	case idAllow && boundaryOK:
		return Decision{Allowed: true}
	case idAllow || res == matchRole:
		return Decision{Type: PermissionsBoundary}
	}
	return Decision{Type: IdentityBased}
}

// denies reports whether a Deny statement of p applies to r.
func (p *Policy) denies(r *Request) bool {
	for _, s := range p.Statements {
		if !s.Allow && s.applies(r, p.vars) != noMatch {
			return true
		}
	}
	return false
}

// allows is the best principal match of an Allow statement of p that
// applies to r (for identity policies, matchDirect when one applies).
func (p *Policy) allows(r *Request) principalMatch {
	best := noMatch
	for _, s := range p.Statements {
		if s.Allow {
			if m := s.applies(r, p.vars); m > best {
				best = m
				if best == matchDirect {
					break
				}
			}
		}
	}
	return best
}

// applies reports how s applies to r: noMatch, or how its principal
// matched (matchDirect for statements without a principal element).
func (s *Statement) applies(r *Request, vars bool) principalMatch {
	if !s.matchAction(r.action) || !s.matchResource(r) {
		return noMatch
	}
	m := matchDirect
	switch {
	case s.principal != nil:
		m = s.principal.match(&r.Principal)
	case s.notPrincipal != nil:
		if s.notPrincipal.match(&r.Principal) != noMatch {
			m = noMatch
		}
	}
	if m == noMatch {
		return noMatch
	}
	for _, c := range s.conditions {
		if !c.eval(r) {
			return noMatch
		}
	}
	return m
}

func (s *Statement) matchAction(a string) bool {
	in := false
	for i := range s.actions {
		m := &s.actions[i]
		if m.pat == "*" || m.pat == a || m.glob && strings.HasPrefix(a, m.prefix) && glob(m.pat, a) {
			in = true
			break
		}
	}
	return in != s.notAction
}

func (s *Statement) matchResource(r *Request) bool {
	if s.noResource {
		return true
	}
	in := false
	for i := range s.resources {
		m := s.resources[i]
		if m.hasVar {
			x, ok := expand(m.pat, r, true)
			if !ok {
				// A variable with no value: this entry matches nothing
				// (nor, under NotResource, excludes anything).
				continue
			}
			m = compileMatcher(x, false)
		}
		if matchResource(m, r.Resource) {
			in = true
			break
		}
	}
	return in != s.notRes
}

// matchResource matches an ARN pattern against a resource as IAM does
// (and as ArnLike does): "*" matches everything; otherwise the six
// colon-separated parts are matched one by one, so a wildcard cannot
// spill from one part (say, the account) into the next.
func matchResource(m matcher, res string) bool {
	if m.pat == "*" {
		return true
	}
	if len(m.arn) < 6 {
		if !m.glob {
			return unescape(m.pat) == res
		}
		return glob(m.pat, res)
	}
	if !m.glob && !strings.Contains(m.pat, "\x00") {
		return m.pat == res
	}
	rest := res
	for i := 0; i < 5; i++ {
		part, tail, ok := strings.Cut(rest, ":")
		if !ok {
			return false
		}
		if !glob(m.arn[i], part) {
			return false
		}
		rest = tail
	}
	return glob(m.arn[5], rest)
}

// glob matches s against pattern p: '*' any run of bytes, '?' one byte,
// "\x00c" the literal byte c (policy variables' values and ${*}, ${?}).
func glob(p, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == '*':
				starP, starS = pi, si
				pi++
				continue
			case c == '?':
				pi++
				si++
				continue
			case c == 0 && pi+1 < len(p):
				if p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			case c == s[si]:
				pi++
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		si = starS
		pi = starP + 1
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func unescape(p string) string {
	if !strings.Contains(p, "\x00") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == 0 && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// expand substitutes the policy variables of s (${aws:username},
// ${aws:PrincipalTag/team}, ${s3:prefix, 'default'}, and the literal
// characters ${*}, ${?}, ${$}) from r's condition keys. With escape, the
// substituted text is escaped for glob so that it matches literally. ok is
// false when a variable has no value and no default.
func expand(s string, r *Request, escape bool) (string, bool) {
	var b strings.Builder
	lit := func(x string) {
		if !escape {
			b.WriteString(x)
			return
		}
		for i := 0; i < len(x); i++ {
			b.WriteByte(0)
			b.WriteByte(x[i])
		}
	}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		name := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		switch name {
		case "*", "?", "$":
			lit(name)
			continue
		}
		def, hasDef := "", false
		if k, d, ok := strings.Cut(name, ","); ok {
			d = strings.TrimSpace(d)
			if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
				name, def, hasDef = strings.TrimSpace(k), d[1:len(d)-1], true
			}
		}
		v, ok := r.lookup(strings.ToLower(name))
		switch {
		case ok && len(v) == 1:
			lit(v[0])
		case hasDef:
			lit(def)
		default:
			return "", false
		}
	}
}

// Grants reports whether p, as a resource policy, has an Allow that
// applies to r (its principal included, by any principal form) and no
// Deny that does: a role's trust policy must grant the caller itself,
// whatever the caller's own policies allow.
func (p *Policy) Grants(r *Request) bool {
	r.action = strings.ToLower(r.Action)
	return p.allows(r) != noMatch && !p.denies(r)
}
