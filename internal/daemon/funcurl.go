package daemon

import (
	"net/http"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/funcurl"
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
	id, err := u.a.Verify(r, u.service)
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

// withFunctionURLs sends requests whose Host names a function URL
// (<url-id>.lambda-url.<region>.localhost[:port]) to urls, outside the
// SigV4 wrapper (an AWS_IAM URL verifies its callers itself), and every
// other request to next.
func withFunctionURLs(urls *funcurl.Handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if funcurl.IsURLHost(r.Host) {
			urls.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
