package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/nimbus-serverless/nimbus/internal/apigw"
	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// apigwAWS is what REST API AWS integrations call: the node's own service
// APIs, through the same in-process route table resource providers use,
// with a request signed by temporary credentials of the integration's
// credentials role — an STS session the node issues for
// "apigateway.amazonaws.com", as API Gateway assumes the role on AWS. The
// front door then authenticates and authorizes the request as it does any
// client's: the role's policies decide (--iam enforce), and a denial is
// the service's own AccessDenied answer, which the integration response
// selection sees (docs/design/api-gateway.md).
type apigwAWS struct{ d *Daemon }

// apigwSessionTTL is how long an integration call's credentials live: one
// call, well past the 29 s integration timeout.
const apigwSessionTTL = 15 * time.Minute

func (a apigwAWS) CallAWS(ctx context.Context, service, roleArn string, r *http.Request) (*http.Response, error) {
	d := a.d
	var creds aws.Credentials
	switch {
	case d.cfg.InsecureNoAuth || d.issuer == nil:
		creds = aws.Credentials{AccessKeyID: "nimbus", SecretAccessKey: "nimbus"}
	default:
		if err := d.apigwMayAssume(roleArn); err != nil {
			return nil, err
		}
		c, err := d.issuer.IssueSession(auth.Grant{RoleArn: roleArn, SessionName: "apigateway"}, apigwSessionTTL)
		if err != nil {
			return nil, fmt.Errorf("issue integration credentials: %w", err)
		}
		creds = aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(functionEndpoint(d.ln.Addr()))
	if err != nil {
		return nil, err
	}
	u := *r.URL
	u.Scheme, u.Host = base.Scheme, base.Host
	// The request is served in-process, never dialed.
	req := r.Clone(ctx)
	req.URL, req.Host = &u, u.Host
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, d.cfg.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign integration request: %w", err)
	}
	return inProcessTransport{d.serveFunctionCall}.RoundTrip(req)
}

// apigwMayAssume checks that API Gateway may act as the role: it exists
// and its trust policy lets apigateway.amazonaws.com assume it. Without
// IAM evaluation (--iam off) any role is accepted.
func (d *Daemon) apigwMayAssume(roleArn string) error {
	if d.iam == nil || d.cfg.IAMMode() == config.IAMOff {
		return nil
	}
	trust := d.iam.Trust(roleArn)
	ok := d.iam.Role(roleArn) != nil && trust != nil &&
		trust.Grants(&policy.Request{Principal: policy.Principal{Service: "apigateway.amazonaws.com"}, Action: "sts:AssumeRole", Resource: roleArn})
	if ok {
		return nil
	}
	if d.cfg.IAMMode() == config.IAMAudit {
		d.log.Warn("iam audit: would deny", "principal", "apigateway.amazonaws.com", "action", "sts:AssumeRole", "resource", roleArn)
		return nil
	}
	return fmt.Errorf("role %s: %w", roleArn, apigw.ErrAssumeRole)
}
