package cfn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/netip"
	"slices"
	"strings"
)

const subError = "Template error: One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string"

const subNameError = "Template error: variable names in Fn::Sub syntax must contain only alphanumeric characters, underscores, periods, and colons"

func (e *evaluator) sub(arg any, depth int) (any, error) {
	var tmpl string
	var vars map[string]string
	switch a := arg.(type) {
	case string:
		tmpl = a
	case []any:
		if len(a) != 2 {
			return nil, errors.New(subError)
		}
		s, ok := a[0].(string)
		if !ok {
			return nil, errors.New(subError)
		}
		tmpl = s
		m, ok := a[1].(map[string]any)
		if !ok {
			return nil, errors.New(subError)
		}
		vars = make(map[string]string, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v, err := e.eval(m[k], depth+1)
			if err != nil {
				return nil, err
			}
			s, ok := scalarOK(v)
			if !ok {
				return nil, fmt.Errorf("Template error: the value of variable %s in Fn::Sub must be a string", k) //nolint:staticcheck // CloudFormation-style message
			}
			vars[k] = s
		}
	default:
		return nil, errors.New(subError)
	}
	var b strings.Builder
	err := subVariables(tmpl, func(lit string, name string, isVar bool) error {
		if !isVar {
			b.WriteString(lit)
			return e.spend(len(lit))
		}
		v, err := e.subVar(name, vars)
		if err != nil {
			return err
		}
		b.WriteString(v)
		return e.spend(len(v))
	})
	if err != nil {
		return nil, err
	}
	return b.String(), nil
}

// subVariables walks a Fn::Sub template: literal text (with ${!X} turned
// into ${X}) and variable names. A "${" without a closing "}" is text.
func subVariables(s string, f func(lit, name string, isVar bool) error) error {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return f(s, "", false)
		}
		rest := s[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return f(s, "", false)
		}
		if err := f(s[:i], "", false); err != nil {
			return err
		}
		name := rest[:j]
		s = rest[j+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			if err := f("${"+lit+"}", "", false); err != nil {
				return err
			}
			continue
		}
		if err := f("", strings.TrimSpace(name), true); err != nil {
			return err
		}
	}
}

func validSubName(name string) bool {
	if name == "" {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != ':' {
			return false
		}
	}
	return true
}

func (e *evaluator) subVar(name string, vars map[string]string) (string, error) {
	if v, ok := vars[name]; ok {
		return v, nil
	}
	if !validSubName(name) {
		return "", errors.New(subNameError)
	}
	var v any
	var err error
	if res, attr, ok := strings.Cut(name, "."); ok {
		if res == "" || attr == "" {
			return "", errors.New(subNameError)
		}
		v, err = e.getAttr(res, attr)
	} else {
		v, err = e.lookup(name)
	}
	if err != nil {
		return "", err
	}
	s, ok := scalarOK(v)
	if !ok {
		return "", fmt.Errorf("Template error: variable %s in Fn::Sub does not resolve to a string", name) //nolint:staticcheck // CloudFormation-style message
	}
	return s, nil
}

// subReferences lists the names a Fn::Sub template refers to, other than
// those in its variable map: "Res" for ${Res} and ${Res.Attr}.
func subReferences(tmpl string, vars map[string]any, add func(string)) {
	_ = subVariables(tmpl, func(_, name string, isVar bool) error {
		if !isVar {
			return nil
		}
		if _, ok := vars[name]; ok {
			return nil
		}
		res, _, _ := strings.Cut(name, ".")
		if res != "" {
			add(res)
		}
		return nil
	})
}

const cidrError = "Template error: Fn::Cidr requires three parameters: an address block in CIDR notation, the number of subnets (1 to 256) and the number of subnet bits"

func (e *evaluator) cidr(arg any, depth int) (any, error) {
	a, err := args(arg, 3, 3, cidrError)
	if err != nil {
		return nil, err
	}
	s, err := e.evalStrings(a, depth, cidrError)
	if err != nil {
		return nil, err
	}
	prefix, err := netip.ParsePrefix(strings.TrimSpace(s[0]))
	if err != nil {
		return nil, fmt.Errorf("Template error: Fn::Cidr: %q is not an address block in CIDR notation", s[0]) //nolint:staticcheck // CloudFormation-style message
	}
	prefix = prefix.Masked()
	count, ok := toNumber(s[1])
	if !ok || count != float64(int(count)) || count < 1 || count > 256 {
		return nil, errors.New(cidrError)
	}
	bitsF, ok := toNumber(s[2])
	total := prefix.Addr().BitLen()
	if !ok || bitsF != float64(int(bitsF)) || bitsF < 1 || int(bitsF) > total {
		return nil, errors.New(cidrError)
	}
	hostBits := int(bitsF)
	newLen := total - hostBits
	if newLen < prefix.Bits() {
		return nil, fmt.Errorf("Template error: Fn::Cidr: subnets of /%d do not fit in %s", newLen, prefix) //nolint:staticcheck // CloudFormation-style message
	}
	avail := new(big.Int).Lsh(big.NewInt(1), uint(newLen-prefix.Bits()))
	if avail.Cmp(big.NewInt(int64(count))) < 0 {
		return nil, fmt.Errorf("Template error: Fn::Cidr: %s holds fewer than %d subnets of /%d", prefix, int(count), newLen) //nolint:staticcheck // CloudFormation-style message
	}
	base := new(big.Int).SetBytes(prefix.Addr().AsSlice())
	step := new(big.Int).Lsh(big.NewInt(1), uint(hostBits))
	out := make([]any, 0, int(count))
	for i := range int(count) {
		n := new(big.Int).Add(base, new(big.Int).Mul(step, big.NewInt(int64(i))))
		buf := make([]byte, total/8)
		n.FillBytes(buf)
		addr, _ := netip.AddrFromSlice(buf)
		out = append(out, netip.PrefixFrom(addr, newLen).String())
	}
	return out, nil
}

// marshalCompact writes v as compact JSON without HTML escaping.
func marshalCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("Template error: Fn::ToJsonString: %w", err) //nolint:staticcheck // CloudFormation-style message
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
