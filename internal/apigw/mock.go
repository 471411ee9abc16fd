package apigw

import (
	"errors"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// importIntegration is the integration of an imported operation
// (x-amazon-apigateway-integration), of any type: the SAM CORS preflight
// mocks, Lambda proxy and non-proxy, AWS service, HTTP and HTTP_PROXY
// integrations. Its responses are keyed by selection pattern ("default"
// for none). It goes through the checks PutIntegration makes.
func importIntegration(cacheNamespace string, o oaOp, m *restMethod) (*restIntegration, error) {
	x := o.op.Integration
	if x == nil {
		return nil, badRequest("Unable to put integration on '%s' for resource at path '%s': no x-amazon-apigateway-integration.", o.method, o.path)
	}
	typ := strings.ToUpper(x.Type)
	var timeout *int
	if x.TimeoutInMillis >= 50 && x.TimeoutInMillis <= 29000 {
		timeout = &x.TimeoutInMillis
	}
	in := restIntegrationInput{Type: &typ, HTTPMethod: x.HTTPMethod, URI: x.URI, Credentials: x.Credentials,
		RequestParameters: x.RequestParameters, RequestTemplates: x.RequestTemplates, PassthroughBehavior: x.PassthroughBehavior,
		CacheNamespace: cacheNamespace, CacheKeyParameters: x.CacheKeyParameters, ContentHandling: x.ContentHandling,
		TimeoutInMillis: timeout, ConnectionType: x.ConnectionType, ConnectionID: x.ConnectionID}
	if typ == "AWS_PROXY" && in.HTTPMethod == "" {
		in.HTTPMethod = "POST"
	}
	integ, err := newIntegration(in, m)
	if err != nil {
		return nil, badRequest("%s %s: %s", o.method, o.path, errorMessage(err))
	}
	for pattern, r := range x.Responses {
		code := strings.Trim(string(r.StatusCode), `"`)
		if code == "" {
			code = "200"
		}
		ir := &integrationResponse{StatusCode: code, ResponseParameters: r.ResponseParameters, ResponseTemplates: r.ResponseTemplates,
			ContentHandling: r.ContentHandling}
		if pattern != "default" {
			ir.SelectionPattern = pattern
		}
		if !validStatus(code) {
			return nil, badRequest("%s %s: Invalid status code specified: %s", o.method, o.path, code)
		}
		if err := checkIntegrationResponse(ir); err != nil {
			return nil, badRequest("%s %s: %s", o.method, o.path, errorMessage(err))
		}
		if integ.IntegrationResponses == nil {
			integ.IntegrationResponses = map[string]*integrationResponse{}
		}
		integ.IntegrationResponses[code] = ir
	}
	return integ, nil
}

// importMethodResponses are an operation's documented responses: the
// method responses integration responses map to, with their headers.
func importMethodResponses(o oaOp) map[string]*methodResponse {
	var out map[string]*methodResponse
	for code, r := range o.op.Responses {
		if !validStatus(code) {
			continue
		}
		mr := &methodResponse{StatusCode: code}
		for h := range r.Headers {
			if mr.ResponseParameters == nil {
				mr.ResponseParameters = map[string]bool{}
			}
			mr.ResponseParameters["method.response.header."+h] = false
		}
		if out == nil {
			out = map[string]*methodResponse{}
		}
		out[code] = mr
	}
	return out
}

// errorMessage is the client-facing message of a management error.
func errorMessage(err error) string {
	var ae *awsapi.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}
