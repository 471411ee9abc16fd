package eventpattern

import "fmt"

// Dialect selects the flavour of the language a pattern is written in: which
// operators it may use, which limits apply and which AWS error reports a
// problem.
type Dialect int

const (
	// EventBridge is an EventBridge rule's (or archive's) EventPattern, also
	// used by TestEventPattern. Errors are InvalidEventPatternException.
	EventBridge Dialect = iota
	// SNSAttributes is an SNS FilterPolicy with FilterPolicyScope
	// MessageAttributes (the default): flat, matched against message
	// attributes of type String, String.Array and Number. Errors are
	// InvalidParameter.
	SNSAttributes
	// SNSBody is an SNS FilterPolicy with FilterPolicyScope MessageBody:
	// nested, matched against the JSON message body. Errors are
	// InvalidParameter.
	SNSBody
	// Lambda is one Filter Pattern of an event source mapping's
	// FilterCriteria. Errors are InvalidParameterValueException.
	Lambda
)

// Limits of the dialects, from the AWS service models and documentation.
const (
	// MaxEventPatternLength is the longest EventPattern EventBridge accepts
	// (the events service model: EventPattern max 4096).
	MaxEventPatternLength = 4096
	// MaxFilterPatternLength is the longest Lambda Filter Pattern (the
	// lambda service model: Pattern max 4096).
	MaxFilterPatternLength = 4096
	// MaxFilterPolicyLength is the largest SNS filter policy (256 KB, SNS
	// filter policy constraints).
	MaxFilterPolicyLength = 256 * 1024
	// MaxFilterPolicyKeys is the most keys an SNS filter policy may have.
	MaxFilterPolicyKeys = 5
	// MaxFilterPolicyCombinations is the most value combinations an SNS
	// filter policy may have.
	MaxFilterPolicyCombinations = 150
	// MaxFiltersPerMapping is the default quota of filters in one event
	// source mapping's FilterCriteria.
	MaxFiltersPerMapping = 5
	// MaxWildcardComplexity bounds a rule's wildcards on one field: the
	// most wildcard-pattern prefixes (event-ruler's measure) that one input
	// string may match at once. Above it EventBridge reports the rule as too
	// complex.
	MaxWildcardComplexity = 10
)

// AWS error codes the dialects report.
const (
	CodeInvalidEventPattern   = "InvalidEventPatternException"
	CodeInvalidParameter      = "InvalidParameter"
	CodeInvalidParameterValue = "InvalidParameterValueException"
	CodeValidation            = "ValidationException"
)

// Error is a pattern AWS would refuse: Code is the AWS error code (the
// X-Amzn-ErrorType or Query error code), Message the message AWS returns and
// Reason the dialect-independent cause, for callers that word the message
// themselves (SNS Subscribe prefixes it with "Attributes Reason: ").
type Error struct {
	Code    string
	Message string
	Reason  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

type spec struct {
	name     string
	code     string
	maxLen   int
	nested   bool // objects below the top level
	wildcard bool
	cidr     bool
	suffix   bool
	// ignoreCaseIn lets prefix and suffix take {"equals-ignore-case": s}.
	ignoreCaseIn bool
	equalsIgnore bool
	// anythingBut lists the operators anything-but may wrap.
	anythingBut map[string]bool
	maxKeys     int // 0: no limit
	maxCombos   int // 0: no limit
}

var specs = [...]spec{
	EventBridge: {
		name: "EventBridge", code: CodeInvalidEventPattern, maxLen: MaxEventPatternLength,
		nested: true, wildcard: true, cidr: true, suffix: true, ignoreCaseIn: true, equalsIgnore: true,
		anythingBut: map[string]bool{"prefix": true, "suffix": true, "equals-ignore-case": true, "wildcard": true},
	},
	SNSAttributes: {
		name: "SNS MessageAttributes", code: CodeInvalidParameter, maxLen: MaxFilterPolicyLength,
		cidr: true, suffix: true, equalsIgnore: true,
		anythingBut: map[string]bool{"prefix": true},
		maxKeys:     MaxFilterPolicyKeys, maxCombos: MaxFilterPolicyCombinations,
	},
	SNSBody: {
		name: "SNS MessageBody", code: CodeInvalidParameter, maxLen: MaxFilterPolicyLength,
		nested: true, cidr: true, suffix: true, equalsIgnore: true,
		anythingBut: map[string]bool{"prefix": true},
		maxKeys:     MaxFilterPolicyKeys, maxCombos: MaxFilterPolicyCombinations,
	},
	Lambda: {
		name: "Lambda FilterCriteria", code: CodeInvalidParameterValue, maxLen: MaxFilterPatternLength,
		nested: true, suffix: true, equalsIgnore: true,
		anythingBut: map[string]bool{"prefix": true},
	},
}

func (d Dialect) spec() *spec {
	if d < 0 || int(d) >= len(specs) {
		return &specs[EventBridge]
	}
	return &specs[d]
}

// String names the dialect.
func (d Dialect) String() string { return d.spec().name }

// invalid builds the dialect's error for a reason worded as event-ruler and
// AWS word it.
func (d Dialect) invalid(format string, args ...any) *Error {
	reason := fmt.Sprintf(format, args...)
	s := d.spec()
	e := &Error{Code: s.code, Reason: reason}
	switch d {
	case SNSAttributes, SNSBody:
		e.Message = "Invalid parameter: FilterPolicy: " + reason
	case Lambda:
		e.Message = "Invalid filter pattern definition."
	default:
		e.Message = "Event pattern is not valid. Reason: " + reason
	}
	return e
}

func (d Dialect) tooLong(n int) *Error {
	s := d.spec()
	switch d {
	case SNSAttributes, SNSBody:
		return &Error{Code: CodeInvalidParameter, Reason: "Filter policy is too large",
			Message: "Invalid parameter: FilterPolicy: Filter policy is too large"}
	case Lambda:
		return &Error{Code: CodeValidation, Reason: "too long",
			Message: fmt.Sprintf("1 validation error detected: Value at 'filterCriteria.filters.member.pattern' failed to satisfy constraint: Member must have length less than or equal to %d", s.maxLen)}
	default:
		return &Error{Code: CodeValidation, Reason: "too long",
			Message: fmt.Sprintf("1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: Member must have length less than or equal to %d", s.maxLen)}
	}
}
