package daemon

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/console"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// consoleHandler is the web console (docs/design/console.md). Its calls
// are signed with the session's credentials and served by front, the
// node's route table, once New has built it: the console's callers go
// through the same signature check and IAM evaluation as any other.
func (d *Daemon) consoleHandler(front *http.Handler) http.Handler {
	return console.New(console.Options{
		Front: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*front).ServeHTTP(w, r) }),
		Verify: func(r *http.Request) (auth.Identity, error) {
			return d.auth.Verify(r, "lambda")
		},
		Credentials: d.consoleCredentials,
		Root: func() aws.Credentials {
			if d.cfg.InsecureNoAuth {
				return aws.Credentials{AccessKeyID: "insecure", SecretAccessKey: "insecure"}
			}
			return aws.Credentials{AccessKeyID: d.root.AccessKeyID, SecretAccessKey: d.root.SecretAccessKey}
		},
		Node:   d.consoleNode,
		Key:    d.sessionKey,
		Region: d.cfg.Region,
		Logger: d.log.With("component", "console"),
	})
}

// consoleCredentials are the credentials a console session of id signs
// with: root keeps root's keys (on the server); an IAM user, and a role
// session, get temporary credentials of their own, as STS's
// GetSessionToken and AssumeRole would give them.
func (d *Daemon) consoleCredentials(id auth.Identity, ttl time.Duration) (aws.Credentials, bool, error) {
	if id.Root || id.Insecure {
		return aws.Credentials{}, true, nil
	}
	g := auth.Grant{UserName: id.UserName}
	if id.UserName == "" {
		g = auth.Grant{RoleArn: id.RoleArn, FunctionArn: id.FunctionArn, SessionName: id.SessionName, Policy: id.SessionPolicy}
	}
	if !id.Expiration.IsZero() {
		ttl = min(ttl, time.Until(id.Expiration))
	}
	c, err := d.issuer.IssueSession(g, ttl)
	if err != nil {
		return aws.Credentials{}, false, err
	}
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		CanExpire: true, Expires: c.Expiration}, false, nil
}

// consoleNode describes the node for the console's overview.
func (d *Daemon) consoleNode(context.Context) any {
	type prot struct {
		Name   string `json:"name"`
		Active bool   `json:"active"`
		Detail string `json:"detail"`
	}
	var ps []prot
	for _, p := range sandbox.Protections() {
		ps = append(ps, prot{p.Name, p.Active, p.Detail})
	}
	return map[string]any{
		"auth": d.authMode(), "iam": string(d.cfg.IAMMode()), "sandbox": sandbox.Mode(), "metrics": d.metricsMode(),
		"region": d.cfg.Region, "account": d.cfg.AccountID, "protections": ps,
		"cluster": strings.TrimSpace(d.cfg.Cluster.Name),
	}
}
