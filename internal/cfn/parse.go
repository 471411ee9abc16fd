package cfn

import (
	"errors"
	"fmt"

	"github.com/nimbus-serverless/nimbus/internal/yamldoc"
)

// MaxTemplateBytes is the largest template Parse accepts: CloudFormation's
// size for a template read from S3.
const MaxTemplateBytes = yamldoc.DefaultMaxBytes

// formatError is CloudFormation's "Template format error".
type formatError struct{ msg string }

func (e formatError) Error() string { return "Template format error: " + e.msg }

// formatErrorf builds a "Template format error: ..." error.
func formatErrorf(format string, args ...any) error {
	return formatError{fmt.Sprintf(format, args...)}
}

// decode reads a template, JSON or YAML with the short forms, through
// the reader (and limits) every document of Nimbus's uses.
func decode(b []byte) (any, error) {
	v, err := yamldoc.Decode(b, yamldoc.Options{MaxBytes: MaxTemplateBytes, Tags: shortForms, Noun: "template"})
	var e *yamldoc.Error
	if errors.As(err, &e) {
		return nil, formatError{e.Msg}
	}
	return v, err
}

// shortForms maps a YAML tag (without "!") to the function it stands for.
var shortForms = map[string]string{
	"Ref":          "Ref",
	"Condition":    "Condition",
	"Base64":       "Fn::Base64",
	"Cidr":         "Fn::Cidr",
	"And":          "Fn::And",
	"Equals":       "Fn::Equals",
	"If":           "Fn::If",
	"Not":          "Fn::Not",
	"Or":           "Fn::Or",
	"FindInMap":    "Fn::FindInMap",
	"GetAtt":       "Fn::GetAtt",
	"GetAZs":       "Fn::GetAZs",
	"ImportValue":  "Fn::ImportValue",
	"Join":         "Fn::Join",
	"Select":       "Fn::Select",
	"Split":        "Fn::Split",
	"Sub":          "Fn::Sub",
	"Transform":    "Fn::Transform",
	"Length":       "Fn::Length",
	"ToJsonString": "Fn::ToJsonString",
}
