package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/apigw"
	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/iam"
	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// iamAuth verifies callers of AWS_IAM function URLs (service "lambda")
// and API Gateway routes (service "execute-api") with the node's
// authenticator, judges their permission to the URL's or route's action
// (lambda:InvokeFunctionUrl, execute-api:Invoke) as any other call is
// judged, and names them as AWS does in the event's requestContext
// (authorizer.iam, identity).
type iamAuth struct {
	d       *Daemon
	service string
	action  string
}

func (u iamAuth) Authenticate(r *http.Request, resource string) (*httpevent.IAMIdentity, error) {
	var id auth.Identity
	var err error
	withOriginalTarget(r, func() { id, err = u.d.auth.Verify(r, u.service) })
	if err != nil {
		return nil, err
	}
	d := u.d
	if !id.Root && !id.Insecure && d.iam != nil && d.cfg.IAMMode() != config.IAMOff {
		req := &policy.Request{Action: u.action, Resource: resource}
		if u.action == "lambda:InvokeFunctionUrl" {
			// Function URL permissions are granted under this condition
			// (add-permission --function-url-auth-type AWS_IAM).
			req.Set("lambda:FunctionUrlAuthType", "AWS_IAM")
		}
		if msg := d.judgeAs(r.Context(), id, req); msg != "" {
			return nil, errors.New(msg)
		}
	}
	account := d.cfg.AccountID
	userID := account
	if !id.Root {
		// An assumed role's user id is <role id>:<session name>.
		userID = id.Principal[strings.Index(id.Principal, "assumed-role/")+len("assumed-role/"):]
		userID = strings.Replace(userID, "/", ":", 1)
	}
	return &httpevent.IAMIdentity{AccessKey: id.AccessKeyID, AccountID: account, CallerID: userID,
		UserARN: id.Principal, UserID: userID}, nil
}

// AuthorizeAnonymous judges a call of a REST API method that is not
// AWS_IAM against the API's resource policy (apigw.APIPolicy of the
// request's context) for an anonymous caller, as API Gateway does: the
// policy must allow execute-api:Invoke on resource and deny it nothing.
// Under --iam off everything is allowed; under audit a refusal is logged.
func (u iamAuth) AuthorizeAnonymous(r *http.Request, resource string) error {
	d := u.d
	if d.iam == nil || d.cfg.IAMMode() == config.IAMOff {
		return nil
	}
	ctx := r.Context()
	p, err := d.iam.ResourcePolicy(ctx, "execute-api", resource)
	if err != nil || p == nil {
		return errors.New("User: anonymous is not authorized to perform: " + u.action + " on resource: " + resource)
	}
	req := &policy.Request{Action: u.action, Resource: resource, Principal: policy.Principal{ARN: "anonymous"}}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Set("aws:SourceIp", host)
	}
	req.Set("aws:SecureTransport", strconv.FormatBool(r.TLS != nil))
	dec := policy.Evaluate(&policy.Policies{Resource: []*policy.Policy{p}}, req)
	if dec.Allowed {
		return nil
	}
	msg := "User: anonymous is not authorized to perform: " + u.action + " on resource: " + resource
	if dec.ExplicitDeny {
		msg += " with an explicit deny"
	}
	if d.cfg.IAMMode() == config.IAMAudit {
		d.log.Warn("iam audit: would deny", "principal", "anonymous", "action", u.action, "resource", resource)
		return nil
	}
	return errors.New(msg)
}

// apiPolicies serves REST APIs' resource policies to IAM: the policy the
// gateway put on the request's context (apigw.WithAPIPolicy), with API
// Gateway's shorthand resources ("execute-api:/stage/METHOD/path")
// expanded to the API's ARNs.
func (d *Daemon) apiPolicies() iam.ResourcePolicyFunc {
	return func(ctx context.Context, arn string) (string, error) {
		doc := apigw.APIPolicy(ctx)
		if doc == "" {
			return "", nil
		}
		rest, ok := strings.CutPrefix(arn, "arn:aws:execute-api:"+d.cfg.Region+":"+d.cfg.AccountID+":")
		api, _, _ := strings.Cut(rest, "/")
		if !ok || api == "" {
			return "", nil
		}
		return strings.ReplaceAll(doc, `"execute-api:/`, `"arn:aws:execute-api:`+d.cfg.Region+":"+d.cfg.AccountID+":"+api+"/"), nil
	}
}
