package policy

import (
	"encoding/json"
	"strings"
)

// Principal is who makes a request.
type Principal struct {
	// ARN of the caller: arn:aws:iam::<account>:root,
	// arn:aws:iam::<account>:user/<path><name>, or
	// arn:aws:sts::<account>:assumed-role/<role>/<session>.
	ARN string
	// Account is the caller's account id.
	Account string
	// RoleARN is the role behind an assumed-role session
	// (arn:aws:iam::<account>:role/<path><name>).
	RoleARN string
	// Service is set when a service acts on its own behalf
	// ("s3.amazonaws.com" invoking a function): only resource policies
	// apply.
	Service string
}

// principals is a compiled Principal or NotPrincipal element.
type principals struct {
	any      bool     // "*" or {"AWS": "*"}
	accounts []string // account ids (12 digits, from "123…" or arn:aws:iam::123…:root)
	arns     []string // users, roles and role sessions
	services []string // lower-cased service principals
	other    []string // Federated and CanonicalUser principals (matched by ARN)
}

func parsePrincipals(raw json.RawMessage) (*principals, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, malformed("Invalid principal in policy")
		}
		return &principals{any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return nil, malformed("Invalid principal in policy")
	}
	ps := &principals{}
	for k, v := range m {
		vals, err := stringList(v)
		if err != nil {
			return nil, malformed("Invalid principal in policy")
		}
		for _, x := range vals {
			switch k {
			case "AWS":
				if err := ps.addAWS(x); err != nil {
					return nil, err
				}
			case "Service":
				if x == "" || strings.ContainsAny(x, "*?") {
					return nil, malformed("Invalid principal in policy")
				}
				ps.services = append(ps.services, strings.ToLower(x))
			case "Federated", "CanonicalUser":
				if x == "" || strings.ContainsAny(x, "*?") {
					return nil, malformed("Invalid principal in policy")
				}
				ps.other = append(ps.other, x)
			default:
				return nil, malformed("Invalid principal in policy")
			}
		}
	}
	return ps, nil
}

// addAWS adds one value of an "AWS" principal. A wildcard is accepted only
// as the whole value ("*"): AWS refuses "arn:aws:iam::*:root" and partial
// wildcards as invalid principals, so a policy cannot name "every account"
// or "every role" by pattern.
func (ps *principals) addAWS(x string) error {
	switch {
	case x == "*":
		ps.any = true
		return nil
	case strings.ContainsAny(x, "*?"):
		return malformed("Invalid principal in policy")
	case isAccountID(x):
		ps.accounts = append(ps.accounts, x)
		return nil
	}
	parts := strings.SplitN(x, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || !isAccountID(parts[4]) {
		return malformed("Invalid principal in policy")
	}
	switch {
	case parts[2] == "iam" && parts[5] == "root":
		ps.accounts = append(ps.accounts, parts[4])
	case parts[2] == "iam" && (strings.HasPrefix(parts[5], "role/") || strings.HasPrefix(parts[5], "user/")),
		parts[2] == "sts" && strings.HasPrefix(parts[5], "assumed-role/"):
		ps.arns = append(ps.arns, x)
	default:
		return malformed("Invalid principal in policy")
	}
	return nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// principalMatch is how a principal element matched a caller.
type principalMatch int

const (
	noMatch principalMatch = iota
	// matchAccount: the element names the caller's account: the
	// account delegates to its identity policies, which must allow too,
	// unless the caller is the account's root.
	matchAccount
	// matchRole: the element names the role behind the caller's session.
	matchRole
	// matchDirect: the element names the caller itself (a user or a role
	// session ARN), a service acting on its own behalf, or everyone ("*").
	matchDirect
)

func (ps *principals) match(p *Principal) principalMatch {
	if p.Service != "" {
		for _, s := range ps.services {
			if s == strings.ToLower(p.Service) {
				return matchDirect
			}
		}
		if ps.any {
			return matchDirect
		}
		return noMatch
	}
	best := noMatch
	for _, a := range ps.arns {
		switch {
		case a == p.ARN:
			return matchDirect
		case p.RoleARN != "" && a == p.RoleARN:
			best = matchRole
		}
	}
	if best != noMatch {
		return best
	}
	for _, o := range ps.other {
		if o == p.ARN {
			return matchDirect
		}
	}
	if ps.any {
		return matchDirect // public: anyone, as S3's public buckets
	}
	for _, a := range ps.accounts {
		if a == p.Account {
			if p.ARN == "arn:aws:iam::"+a+":root" {
				return matchDirect
			}
			return matchAccount
		}
	}
	return noMatch
}
