package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfnapi"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/iam"
	"github.com/nimbus-serverless/nimbus/internal/policy"
	"github.com/nimbus-serverless/nimbus/internal/resource"
	"github.com/nimbus-serverless/nimbus/internal/sigv4"
	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// cfnService is the SigV4 service name of the CloudFormation API (and of
// the artifact endpoint, which `nimbus deploy` signs the same way).
const cfnService = "cloudformation"

// newStacks builds the stack engine, its resource providers (which call
// this node's own APIs in-process, see inProcessTransport) and the
// CloudFormation API in front of it.
func (d *Daemon) newStacks() error {
	arts := &stack.Artifacts{Code: d.st}
	objects := d.includeReader(arts) // AWS::Include snippets and TemplateURL, read as the caller
	var err error
	d.stacks, err = stack.New(stack.Options{
		Store:     d.st,
		Providers: d.stackProviders(arts),
		Artifacts: arts,
		Region:    d.cfg.Region,
		AccountID: d.cfg.AccountID,
		Logger:    d.log.With("component", "stack"),
		Secrets:   templateSecrets{d},
		Includes:  objects,
		Identity:  stackIdentity{d}, // operations act as their caller or service role (iam_stacks.go)
		CodeAccess: func(ctx context.Context, bucket, key string) error {
			if denied := d.mayRead(ctx, bucket, key); denied != "" {
				return errors.New(denied)
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("create stack engine: %w", err)
	}
	d.cfnAPI = cfnapi.New(cfnapi.Options{
		Stacks: d.stacks, Artifacts: arts, Logger: d.log.With("component", "cfnapi"),
		ReadObject: objects, // TemplateURL: read as the caller, as includes are
	})
	return nil
}

// stackProviders are the resource providers of every supported type.
// They call this node's APIs in-process, each call signed as the stack
// operation acts (stackCredentials: its caller or its service role).
func (d *Daemon) stackProviders(arts *stack.Artifacts) map[string]stack.Provider {
	hc, _ := d.providerClient()
	return resource.Providers(resource.Options{
		Endpoint:    functionEndpoint(d.ln.Addr()),
		HTTPClient:  hc,
		Credentials: stackCredentials{d},
		Region:      d.cfg.Region,
		AccountID:   d.cfg.AccountID,
		Artifacts:   arts,
		Logger:      d.log.With("component", "resource"),
	})
}

// includeReader reads the snippets templates include with AWS::Include
// from this node's S3, as the root (CloudFormation reads them with the
// caller's rights in AWS; here the caller already may deploy anything),
// and from the artifact bucket `nimbus deploy` uploads to.
func (d *Daemon) includeReader(arts *stack.Artifacts) stack.IncludeReader {
	hc, creds := d.providerClient()
	c := awss3.NewFromConfig(aws.Config{Region: d.cfg.Region, BaseEndpoint: aws.String(functionEndpoint(d.ln.Addr())),
		Credentials: creds, HTTPClient: hc}, func(o *awss3.Options) { o.UsePathStyle = true })
	return func(ctx context.Context, bucket, key string) ([]byte, error) {
		if denied := d.mayRead(ctx, bucket, key); denied != "" {
			return nil, errors.New("AccessDenied: " + denied)
		}
		if bucket == stack.ArtifactBucket {
			return arts.Get(ctx, key)
		}
		out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) {
				return nil, fmt.Errorf("%s: %s", ae.ErrorCode(), ae.ErrorMessage())
			}
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(io.LimitReader(out.Body, maxIncludeBytes+1))
	}
}

// mayRead judges whether the caller on ctx may s3:GetObject the object
// an AWS::Include names ("" if so, else AWS's denial). The reader itself
// signs as root, so this is the check that keeps a caller who may create
// stacks from reading, through an include, an object IAM or the bucket's
// policy keeps from them.
func (d *Daemon) mayRead(ctx context.Context, bucket, key string) string {
	id, ok := auth.FromContext(ctx)
	if !ok || id.Root || id.Insecure || d.iam == nil || d.cfg.IAMMode() == config.IAMOff {
		return ""
	}
	req := &policy.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::" + bucket + "/" + key}
	req.Set("s3:ExistingObjectTag", "") // no object tags are evaluated here
	return d.judgeAs(ctx, id, req)
}

// judgeAs decides req for id, with the resource's own policy and tags,
// for a read the node makes as root on id's behalf: "" if allowed (or
// only audited), else AWS's denial.
func (d *Daemon) judgeAs(ctx context.Context, id auth.Identity, req *policy.Request) string {
	action, resource := req.Action, req.Resource
	req.Set("aws:RequestedRegion", d.cfg.Region)
	req.Resolve = d.iam.TagResolver(ctx, iam.TagSource{Resource: resource})
	prefix, _, _ := strings.Cut(action, ":")
	res, err := d.iam.ResourcePolicy(ctx, prefix, resource)
	if err != nil {
		d.log.Warn("iam: read resource policy", "resource", resource, "err", err)
	}
	dec := d.iam.Authorize(callerOf(id), req, res)
	if dec.Allowed {
		return ""
	}
	msg := dec.Message(id.Principal, action, resource)
	if d.cfg.IAMMode() == config.IAMAudit {
		d.log.Warn("iam audit: would deny", "principal", id.Principal, "action", action, "resource", resource, "reason", msg)
		return ""
	}
	return msg
}

// maxIncludeBytes is what includeReader reads of one object: enough for
// the engine to refuse a snippet above its own limit (1 MiB).
const maxIncludeBytes = 1 << 20

// providerClient is the HTTP client resource providers reach the node's
// APIs with, and the credentials they sign with: the root credentials
// (any static pair with --insecure-no-auth, which checks none).
func (d *Daemon) providerClient() (*http.Client, aws.CredentialsProvider) {
	creds := credentials.NewStaticCredentialsProvider(d.root.AccessKeyID, d.root.SecretAccessKey, "")
	if d.cfg.InsecureNoAuth {
		creds = credentials.NewStaticCredentialsProvider("nimbus", "nimbus", "")
	}
	return &http.Client{Transport: inProcessTransport{d.serveFunctionCall}}, creds
}

// isCloudFormation reports whether a front-door request is for the
// CloudFormation API: the artifact endpoint, or a query request to "/"
// whose SigV4 credential scope names "cloudformation" (other query
// services may share "/" one day: the scope tells them apart) or, when
// unsigned, whose Action is a CloudFormation operation. An unsigned POST's
// body is peeked at (its first actionPeek bytes, where the SDKs and the AWS
// CLI put Action) to find its Action, and put back: routing an unsigned
// request, which is refused anyway unless signing is off, must not make
// the server hold megabytes per connection.
func isCloudFormation(r *http.Request) bool {
	if cfnapi.IsArtifactRequest(r) {
		return true
	}
	if r.URL.Path != "/" || (r.Method != http.MethodPost && r.Method != http.MethodGet) {
		return false
	}
	if svc, ok := scopeService(r); ok {
		return svc == cfnService
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	if a := q.Get("Action"); a != "" || r.Method == http.MethodGet {
		return cfnapi.IsAction(a)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" || r.Body == nil {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, actionPeek))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
	if err != nil {
		return false
	}
	if len(body) == actionPeek { // cut: keep whole parameters only
		body = body[:max(bytes.LastIndexByte(body, '&'), 0)]
	}
	form, err := url.ParseQuery(string(body))
	return err == nil && cfnapi.IsAction(form.Get("Action"))
}

// actionPeek bounds what isCloudFormation reads of an unsigned body.
const actionPeek = 16 << 10

// scopeService is the service of r's SigV4 credential scope (header or
// presigned form), if r carries a parsable one.
func scopeService(r *http.Request) (string, bool) {
	if h := r.Header.Get(sigv4.HeaderAuthorization); h != "" {
		if sig, err := sigv4.ParseAuthorization(h); err == nil {
			return sig.Scope.Service, true
		}
		return "", false
	}
	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
		if sig, err := sigv4.ParseQuery(q); err == nil && sig != nil {
			return sig.Scope.Service, true
		}
	}
	return "", false
}

// cloudFormationGuard verifies SigV4 for service "cloudformation" and
// answers refusals as the query protocol does (an XML ErrorResponse, 403
// SignatureDoesNotMatch and the like); bodies are bounded before the
// signature check reads them.
func (d *Daemon) cloudFormationGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(cfnapi.MaxRequestBytes)
		if cfnapi.IsArtifactRequest(r) {
			limit = cfnapi.MaxArtifactBytes
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		id, err := d.auth.Verify(r, cfnService)
		if err != nil {
			reqID := awsapi.NewRequestID()
			var mbe *http.MaxBytesError
			e := auth.ErrorFor(auth.Query, err)
			switch {
			case errors.As(err, &mbe):
				e = &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Type: "User",
					Message: fmt.Sprintf("Request must be smaller than %d bytes.", limit)}
			case e == nil:
				d.log.Error("verify request", "err", err)
				e = cfnapi.ErrorFor(err)
			default:
				d.log.Info("request refused", "service", cfnService, "method", r.Method, "path", r.URL.Path,
					"remote_addr", r.RemoteAddr, "status", e.Status)
			}
			cfnapi.WriteError(w, reqID, e)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

// inProcessTransport is an http.RoundTripper that serves each request with
// a handler in this process (the node's front door) instead of a socket,
// as functions' own API calls are served (pool.Options.APIHandler). The
// response is buffered: providers make control-plane calls with small
// answers.
type inProcessTransport struct {
	serve func(http.ResponseWriter, *http.Request)
}

func (t inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.Body != nil {
		defer req.Body.Close()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sr := req.Clone(ctx)
	sr.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	sr.RequestURI = req.URL.RequestURI()
	if sr.Host == "" {
		sr.Host = req.URL.Host
	}
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	sr.Proto, sr.ProtoMajor, sr.ProtoMinor = "HTTP/1.1", 1, 1
	sr.RemoteAddr = "127.0.0.1:0"
	rec := &responseBuffer{header: http.Header{}}
	t.serve(rec, sr)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rec.response(req), nil
}

// responseBuffer is the http.ResponseWriter of inProcessTransport.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *responseBuffer) response(req *http.Request) *http.Response {
	b.WriteHeader(http.StatusOK)
	h := b.header.Clone()
	h.Set("Content-Length", strconv.Itoa(b.body.Len()))
	return &http.Response{
		Status:        strconv.Itoa(b.status) + " " + http.StatusText(b.status),
		StatusCode:    b.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(b.body.Bytes())),
		ContentLength: int64(b.body.Len()),
		Request:       req,
	}
}
