package daemon

import (
	"net/http"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// iamAuth verifies callers of AWS_IAM function URLs (service "lambda")
// and API Gateway routes (service "execute-api") with the node's
// authenticator, and names them as AWS does in the event's
// requestContext (authorizer.iam, identity).
type iamAuth struct {
	a       *auth.Authenticator
	account string
	service string
}

func (u iamAuth) Authenticate(r *http.Request) (*httpevent.IAMIdentity, error) {
	var id auth.Identity
	var err error
	withOriginalTarget(r, func() { id, err = u.a.Verify(r, u.service) })
	if err != nil {
		return nil, err
	}
	userID := u.account
	if !id.Root {
		// An assumed role's user id is <role id>:<session name>.
		userID = id.Principal[strings.Index(id.Principal, "assumed-role/")+len("assumed-role/"):]
		userID = strings.Replace(userID, "/", ":", 1)
	}
	return &httpevent.IAMIdentity{AccessKey: id.AccessKeyID, AccountID: u.account, CallerID: userID,
		UserARN: id.Principal, UserID: userID}, nil
}
