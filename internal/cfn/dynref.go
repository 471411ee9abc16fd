package cfn

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// DynamicRef is a parsed dynamic reference, as CloudFormation writes them
// inside strings:
//
//	{{resolve:ssm:name[:version]}}
//	{{resolve:ssm-secure:name[:version]}}
//	{{resolve:secretsmanager:secret-id[:SecretString[:json-key[:version-stage[:version-id]]]]}}
//
// secret-id may be a secret's ARN (which has colons of its own).
type DynamicRef struct {
	Service string // "ssm", "ssm-secure" or "secretsmanager"
	// Name is the parameter name or the secret id.
	Name string
	// Version is ssm's version ("" for the latest).
	Version string
	// JSONKey, VersionStage and VersionID are secretsmanager's.
	JSONKey, VersionStage, VersionID string
	// Text is the reference as written, braces included.
	Text string
}

// maxDynamicRefs bounds the references one value may hold.
const maxDynamicRefs = 100

// ParseDynamicRef parses one reference: the text between "{{resolve:"
// and "}}" (exclusive).
func ParseDynamicRef(body string) (DynamicRef, error) {
	text := "{{resolve:" + body + "}}"
	bad := func(why string) (DynamicRef, error) {
		return DynamicRef{}, fmt.Errorf("Template format error: dynamic reference %s is not valid: %s", clip(text), why) //nolint:staticcheck // CloudFormation-style message
	}
	svc, rest, ok := strings.Cut(body, ":")
	if !ok || rest == "" {
		return bad("it names no service and key")
	}
	r := DynamicRef{Service: svc, Text: text}
	switch svc {
	case "ssm", "ssm-secure":
		r.Name = rest
		if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasPrefix(rest, "arn:") {
			r.Name, r.Version = rest[:i], rest[i+1:]
			if r.Version == "" || strings.Trim(r.Version, "0123456789") != "" {
				return bad("the parameter version must be a number")
			}
		}
		if r.Name == "" || len(r.Name) > 2048 {
			return bad("the parameter name is empty or too long")
		}
	case "secretsmanager":
		parts := strings.Split(rest, ":")
		n := 1
		if strings.HasPrefix(rest, "arn:") {
			n = 7 // arn:partition:secretsmanager:region:account:secret:name
			if len(parts) < n {
				return bad("the secret ARN is incomplete")
			}
		}
		r.Name, parts = strings.Join(parts[:n], ":"), parts[n:]
		if r.Name == "" || len(r.Name) > 2048 {
			return bad("the secret id is empty or too long")
		}
		if len(parts) > 4 {
			return bad("it has more than secret-id:SecretString:json-key:version-stage:version-id")
		}
		if len(parts) > 0 && parts[0] != "SecretString" && parts[0] != "" {
			return bad("the secret's value is named SecretString")
		}
		get := func(i int) string {
			if i < len(parts) {
				return parts[i]
			}
			return ""
		}
		r.JSONKey, r.VersionStage, r.VersionID = get(1), get(2), get(3)
		if r.VersionStage != "" && r.VersionID != "" {
			return bad("give a version stage or a version id, not both")
		}
	default:
		return bad("the service must be ssm, ssm-secure or secretsmanager")
	}
	return r, nil
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// DynamicResolver answers a dynamic reference with its value.
type DynamicResolver func(DynamicRef) (string, error)

// resolveDynamic replaces every dynamic reference in the strings of v.
func resolveDynamic(v any, f DynamicResolver, depth int, count *int) (any, error) {
	if depth > maxEvalDepth {
		return v, nil
	}
	switch v := v.(type) {
	case string:
		return resolveString(v, f, count)
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			r, err := resolveDynamic(v[k], f, depth+1, count)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			r, err := resolveDynamic(x, f, depth+1, count)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

var errTooManyRefs = errors.New("Template format error: a value holds more than 100 dynamic references") //nolint:staticcheck // CloudFormation-style message

// resolveString replaces the references in s, left to right.
func resolveString(s string, f DynamicResolver, count *int) (string, error) {
	if !strings.Contains(s, "{{resolve:") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{resolve:")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("Template format error: dynamic reference %s has no closing }}", clip(s[i:])) //nolint:staticcheck // CloudFormation-style message
		}
		*count++
		if *count > maxDynamicRefs {
			return "", errTooManyRefs
		}
		ref, err := ParseDynamicRef(s[i+len("{{resolve:") : i+j])
		if err != nil {
			return "", err
		}
		val, err := f(ref)
		if err != nil {
			return "", err
		}
		b.WriteString(s[:i])
		b.WriteString(val)
		s = s[i+j+2:]
	}
}
