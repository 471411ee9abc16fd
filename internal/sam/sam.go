// Package sam is the AWS::Serverless-2016-10-31 transform: it expands
// AWS::Serverless::* resources, Globals and the implicit APIs into the plain
// CloudFormation resources aws-sam-translator produces, with the same
// logical IDs, so Outputs and references written against SAM's generated
// names (HelloFunctionRole, ServerlessRestApi, ServerlessHttpApi, ...)
// resolve. Event sources whose services Nimbus does not have yet fail the
// transform with an error naming each of them.
//
// It imports cfn only; the stack engine calls Transform.
package sam

import (
	"errors"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// Options are the values the transform needs that are not in the template.
type Options struct {
	Region, AccountID, StackName, Partition string
}

// ErrNotImplemented marks the skeleton; it goes away with the package.
var ErrNotImplemented = errors.New("sam: not implemented")

// Transform returns a new template in which every AWS::Serverless::*
// resource is replaced by plain CloudFormation resources. params are the
// resolved parameter values (cfn.Template.ResolveParameters), needed where
// SAM resolves a property at transform time (AutoPublishAlias, say). A
// template without the SAM transform is returned unchanged.
func Transform(t *cfn.Template, params map[string]any, opts Options) (*cfn.Template, error) {
	return nil, ErrNotImplemented
}
