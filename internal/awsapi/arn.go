package awsapi

import (
	"fmt"
	"regexp"
	"strings"
)

// Partition is the ARN partition Nimbus uses.
const Partition = "aws"

// FunctionARN is the ARN of a function, or of one of its versions or aliases
// when qualifier is not empty.
func FunctionARN(region, account, name, qualifier string) string {
	arn := fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", Partition, region, account, name)
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

// FunctionRef is what a {FunctionName} path parameter names: a function and
// optionally a qualifier, with the region and account if an ARN was given.
type FunctionRef struct {
	Name      string
	Qualifier string // "" when none was given
	Region    string // "" unless a full ARN was given
	Account   string // "" unless an ARN or partial ARN was given
}

var (
	functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,64}$`)
	qualifierRE    = regexp.MustCompile(`^(\$LATEST|[a-zA-Z0-9-_]{1,128})$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}$`)
	accountRE      = regexp.MustCompile(`^\d{12}$`)
)

// ValidFunctionName reports whether s is a plain function name AWS accepts.
func ValidFunctionName(s string) bool { return functionNameRE.MatchString(s) }

// ParseFunctionRef parses a name, a partial ARN (123456789012:function:name)
// or a full ARN, each optionally followed by :qualifier, as Lambda's
// FunctionName parameter accepts them. Errors are ValidationException-style
// *Error values naming the parameter.
func ParseFunctionRef(s string) (FunctionRef, error) {
	bad := func() (FunctionRef, error) {
		return FunctionRef{}, Validation("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", s)
	}
	if s == "" || len(s) > 170 {
		return bad()
	}
	parts := strings.Split(s, ":")
	var ref FunctionRef
	switch {
	case parts[0] == "arn":
		// arn:aws:lambda:region:account:function:name[:qualifier]
		if len(parts) < 7 || len(parts) > 8 || !strings.HasPrefix(parts[1], "aws") || parts[2] != "lambda" || parts[5] != "function" {
			return bad()
		}
		if !regionRE.MatchString(parts[3]) || !accountRE.MatchString(parts[4]) {
			return bad()
		}
		ref.Region, ref.Account, ref.Name = parts[3], parts[4], parts[6]
		if len(parts) == 8 {
			ref.Qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function":
		// account:function:name[:qualifier]
		if len(parts) > 4 || !accountRE.MatchString(parts[0]) {
			return bad()
		}
		ref.Account, ref.Name = parts[0], parts[2]
		if len(parts) == 4 {
			ref.Qualifier = parts[3]
		}
	case len(parts) <= 2:
		ref.Name = parts[0]
		if len(parts) == 2 {
			ref.Qualifier = parts[1]
		}
	default:
		return bad()
	}
	if !functionNameRE.MatchString(ref.Name) {
		return bad()
	}
	if ref.Qualifier != "" && !qualifierRE.MatchString(ref.Qualifier) {
		return bad()
	}
	if len(parts) == 2 && ref.Qualifier == "" || strings.HasSuffix(s, ":") {
		return bad()
	}
	return ref, nil
}
