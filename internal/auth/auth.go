// Package auth is access control at the front door: it owns the node's
// root credentials (given or generated into the data directory), the
// temporary credentials each function gets (session tokens bound to the
// function's role), and the HTTP wrapper that verifies AWS Signature
// Version 4 (package sigv4) on every AWS-compatible API call before it
// reaches a handler, answering failures with the exception names and
// messages of the request's protocol. Handlers read who called from the
// request context (FromContext); policy evaluation is a later issue, so an
// authenticated caller may do everything, but the identity (root, or the
// function's role) is there for it.
//
// Who may import it: the daemon (wiring), the cli (nimbus env, client
// credentials), and front doors that verify SigV4 themselves (function URLs
// with AuthType AWS_IAM). It imports sigv4 and awsapi.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

// Identity is who made a verified request.
type Identity struct {
	// AccessKeyID of the signature ("" in insecure mode).
	AccessKeyID string
	// Root is set for the node's root credentials (and in insecure mode).
	Root bool
	// RoleArn and FunctionArn are set for a function's credentials;
	// RoleArn and SessionName for an AssumeRole session.
	RoleArn     string
	FunctionArn string
	SessionName string
	// UserName is set for an IAM user's access key (and its
	// GetSessionToken sessions).
	UserName string
	// SessionPolicy is an AssumeRole session policy (JSON), if any.
	SessionPolicy string
	// Expiration of temporary credentials (zero for long-term keys).
	Expiration time.Time
	// Principal is the caller's ARN: arn:aws:iam::<account>:root, or
	// arn:aws:sts::<account>:assumed-role/<role name>/<function name>.
	Principal string
	// Service and Region are the credential scope's.
	Service, Region string
	// Insecure is set when the node runs with --insecure-no-auth.
	Insecure bool
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity the front door put on a request.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Options configures an Authenticator.
type Options struct {
	// Root are the root credentials (required unless Insecure).
	Root Credentials
	// Issuer checks function credentials; nil accepts root only.
	Issuer *Issuer
	// Users, if set, resolves an IAM user's long-term access key id to
	// the user's name and ARN (its secret is Issuer.UserSecret(id)).
	Users func(accessKeyID string) (name, arn string, ok bool)
	// UserArn, if set, is the ARN of an IAM user (for GetSessionToken
	// sessions).
	UserArn   func(name string) (string, bool)
	Region    string
	AccountID string
	// Insecure disables verification: every request is treated as root.
	Insecure bool
	// MaxSkew of request times (sigv4.DefaultMaxSkew when zero).
	MaxSkew time.Duration
	// SpoolDir, MaxSpooled and SpoolWait bound the bodies held while
	// their hash is checked (see sigv4.Options): large ones go to unlinked
	// files in SpoolDir, at most MaxSpooled at once, and a body that waits
	// longer than SpoolWait for a slot is refused with 503.
	SpoolDir   string
	MaxSpooled int
	SpoolWait  time.Duration
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Authenticator verifies requests against the root and function
// credentials of a node.
type Authenticator struct {
	opts Options
	v    *sigv4.Verifier
	log  *slog.Logger
	root string // the root's ARN
}

// New returns an Authenticator.
func New(opts Options) (*Authenticator, error) {
	if !opts.Insecure && (opts.Root.AccessKeyID == "" || opts.Root.SecretAccessKey == "") {
		return nil, errors.New("root credentials are required unless verification is disabled")
	}
	a := &Authenticator{opts: opts, log: opts.Logger, root: "arn:aws:iam::" + opts.AccountID + ":root"}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.v = sigv4.New(sigv4.Options{Keys: keyStore{a}, Region: opts.Region, MaxSkew: opts.MaxSkew, Now: opts.Now,
		SpoolDir: opts.SpoolDir, MaxSpooled: opts.MaxSpooled, SpoolWait: opts.SpoolWait})
	return a, nil
}

// Insecure reports whether verification is disabled.
func (a *Authenticator) Insecure() bool { return a.opts.Insecure }

type principal struct {
	root    bool
	grant   Grant
	user    string
	userArn string
}

// keyStore is the sigv4.Keys of an Authenticator.
type keyStore struct{ a *Authenticator }

func (k keyStore) Lookup(_ context.Context, akid, token string) (sigv4.Key, error) {
	root := k.a.opts.Root
	if token == "" {
		if root.AccessKeyID != "" && akid == root.AccessKeyID {
			return sigv4.Key{Secret: root.SecretAccessKey, Principal: principal{root: true}}, nil
		}
		if u := k.a.opts.Users; u != nil && k.a.opts.Issuer != nil {
			if name, arn, ok := u(akid); ok {
				return sigv4.Key{Secret: k.a.opts.Issuer.UserSecret(akid), Principal: principal{user: name, userArn: arn}}, nil
			}
		}
		return sigv4.Key{}, fmt.Errorf("access key %s: %w", akid, sigv4.ErrUnknownKey)
	}
	if k.a.opts.Issuer == nil {
		return sigv4.Key{}, fmt.Errorf("session token of %s: %w", akid, sigv4.ErrUnknownKey)
	}
	g, secret, err := k.a.opts.Issuer.Check(akid, token)
	if err != nil {
		return sigv4.Key{}, err
	}
	return sigv4.Key{Secret: secret, Principal: principal{grant: g}}, nil
}

// Verify checks r's signature for one of services (a credential scope
// naming another service fails). On success the body of r has been read
// and checked, and is replaced by a copy (see sigv4.Verifier.Verify: a
// large body is spooled to disk, and nothing is read before the checks that
// need no body have passed). The error is a *sigv4.Error for a refused
// signature; WriteError answers it and every other error Verify returns.
//
// Front doors that verify SigV4 themselves (function URLs with AuthType
// AWS_IAM: service "lambda") call this.
func (a *Authenticator) Verify(r *http.Request, services ...string) (Identity, error) {
	if a.opts.Insecure {
		return Identity{Root: true, Insecure: true, Principal: a.rootArn(), Region: a.opts.Region,
			Service: firstOr(services, "")}, nil
	}
	res, err := a.v.Verify(r, services...)
	if err != nil {
		return Identity{}, err
	}
	return a.identity(res), nil
}

// identity is the Identity of a verified signature.
func (a *Authenticator) identity(res *sigv4.Result) Identity {
	id := Identity{AccessKeyID: res.AccessKeyID, Service: res.Scope.Service, Region: res.Scope.Region}
	p, _ := res.Principal.(principal)
	switch {
	case p.root:
		id.Root, id.Principal = true, a.rootArn()
	case p.user != "":
		id.UserName, id.Principal = p.user, p.userArn
	case p.grant.UserName != "":
		// A GetSessionToken session acts as its user.
		id.UserName, id.Expiration = p.grant.UserName, p.grant.Expiration
		id.Principal = "arn:aws:iam::" + a.opts.AccountID + ":user/" + p.grant.UserName
		if u := a.opts.UserArn; u != nil {
			if arn, ok := u(p.grant.UserName); ok {
				id.Principal = arn
			}
		}
	default:
		id.RoleArn, id.FunctionArn = p.grant.RoleArn, p.grant.FunctionArn
		id.SessionName, id.SessionPolicy, id.Expiration = p.grant.SessionName, p.grant.Policy, p.grant.Expiration
		session := p.grant.FunctionArn
		if p.grant.SessionName != "" {
			session = p.grant.SessionName
		}
		id.Principal = assumedRoleArn(a.opts.AccountID, p.grant.RoleArn, session)
	}
	return id
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func (a *Authenticator) rootArn() string { return a.root }

// assumedRoleArn is the ARN AWS gives a Lambda function's session:
// arn:aws:sts::<account>:assumed-role/<role name>/<function name>.
func assumedRoleArn(account, roleArn, functionArn string) string {
	role := roleArn[strings.LastIndexByte(roleArn, '/')+1:]
	fn := functionArn
	if parts := strings.Split(functionArn, ":"); len(parts) >= 7 {
		fn = parts[6]
	}
	return "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + fn
}

// Wrap returns next behind signature verification: a request that fails
// is answered with the protocol's error (403) and never reaches next; one
// that passes reaches next with its Identity in the context. The service
// a request must be signed for is ServiceOf(r).
func (a *Authenticator) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := a.Verify(r, ServiceOf(r))
		if err != nil {
			a.logFailure(r, err)
			WriteError(w, r, a.log, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

func (a *Authenticator) logFailure(r *http.Request, err error) {
	var se *sigv4.Error
	if errors.As(err, &se) {
		a.log.Info("request refused", "kind", se.Kind.String(), "method", r.Method, "path", r.URL.Path,
			"remote_addr", r.RemoteAddr)
	}
}

// ServiceOf is the service a front-door request must be signed for, by the
// front door's dispatch rules: X-Amz-Target Logs_20140328.* is "logs",
// /v2/..., /restapis..., /apikeys... and /usageplans... (API Gateway
// management) are "apigateway",
// everything else "lambda".
func ServiceOf(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); strings.HasPrefix(t, "Logs_") {
		return "logs"
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/v2/") || p == "/v2" || strings.HasPrefix(p, "/restapis") ||
		strings.HasPrefix(p, "/apikeys") || strings.HasPrefix(p, "/usageplans") {
		return "apigateway"
	}
	return "lambda"
}

// VerifyS3 checks the signature of an S3 request without reading its body
// (sigv4.Verifier.VerifyS3) and returns its identity and how its body must
// be checked as it is stored. A Signature Version 2 presigned URL (what
// botocore presigns by default) is checked too; vhostBucket is the bucket
// its Host names ("" for path-style). With verification disabled every
// request is root's and its chunks are decoded but not checked.
func (a *Authenticator) VerifyS3(r *http.Request, vhostBucket string) (Identity, *sigv4.S3Payload, error) {
	if a.opts.Insecure {
		mode := r.Header.Get(sigv4.HeaderContentSHA256)
		if mode == "" {
			mode = sigv4.UnsignedPayload
		}
		if err := sigv4.ValidS3PayloadMode(mode, true); err != nil {
			return Identity{}, nil, err
		}
		return Identity{Root: true, Insecure: true, Principal: a.rootArn(), Region: a.opts.Region, Service: "s3"},
			&sigv4.S3Payload{Mode: mode}, nil
	}
	if sigv4.IsS3V2Presigned(r) && r.URL.Query().Get(sigv4.QueryAlgorithm) == "" {
		res, err := a.v.VerifyS3V2Presigned(r, vhostBucket)
		if err != nil {
			return Identity{}, nil, err
		}
		return a.identity(res), &sigv4.S3Payload{Mode: sigv4.UnsignedPayload}, nil
	}
	res, p, err := a.v.VerifyS3(r)
	if err != nil {
		return Identity{}, nil, err
	}
	return a.identity(res), p, nil
}
