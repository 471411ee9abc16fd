package daemon

import (
	"net"
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// connectionsAuth authorizes calls of WebSocket APIs' @connections API
// (PostToConnection, GetConnection, DeleteConnection): a SigV4 signature
// for "execute-api", then IAM's execute-api:ManageConnections on the
// connection's ARN, as API Gateway does.
type connectionsAuth struct{ d *Daemon }

func (a connectionsAuth) AuthorizeConnections(r *http.Request, resource string) error {
	d := a.d
	var id auth.Identity
	var err error
	withOriginalTarget(r, func() { id, err = d.auth.Verify(r, "execute-api") })
	if err != nil {
		d.log.Info("request refused", "service", "execute-api", "method", r.Method, "path", r.URL.Path, "remote_addr", r.RemoteAddr)
		if e := auth.ErrorFor(auth.RESTJSON, err); e != nil {
			return e
		}
		return err
	}
	if id.Root || id.Insecure || d.iam == nil || d.cfg.IAMMode() == config.IAMOff {
		return nil
	}
	const action = "execute-api:ManageConnections"
	req := &policy.Request{Action: action, Resource: resource}
	req.Set("aws:RequestedRegion", d.cfg.Region)
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Set("aws:SourceIp", host)
	}
	if id.FunctionArn != "" {
		req.Set("lambda:SourceFunctionArn", id.FunctionArn)
	}
	dec := d.iam.Authorize(callerOf(id), req)
	if dec.Allowed {
		return nil
	}
	msg := dec.Message(id.Principal, action, resource)
	if d.cfg.IAMMode() == config.IAMAudit {
		d.log.Warn("iam audit: would deny", "principal", id.Principal, "action", action, "resource", resource, "reason", msg)
		return nil
	}
	d.log.Info("iam: denied", "principal", id.Principal, "action", action, "resource", resource)
	return &awsapi.Error{Status: http.StatusForbidden, Code: "AccessDeniedException", Type: "User", Message: msg}
}
