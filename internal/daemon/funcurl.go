package daemon

import (
	"errors"
	"net/http"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
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
