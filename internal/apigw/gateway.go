package apigw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Resolver finds the function version a Lambda integration names; the
// registry's Resolve has this shape.
type Resolver interface {
	Resolve(ctx context.Context, name, qualifier string) (*function.Config, error)
}

// Authenticator checks the SigV4 signature (service "execute-api") of a
// request to an AWS_IAM route or method, judges whether the caller may
// execute-api:Invoke on resource (the route's or method's ARN), and names
// the caller for the event. An error means the request is refused.
type Authenticator interface {
	Authenticate(r *http.Request, resource string) (*httpevent.IAMIdentity, error)
	// AuthorizeAnonymous judges a request to a method that is not
	// AWS_IAM of a REST API with a resource policy: the policy
	// (APIPolicy of r's context) must allow an anonymous caller
	// execute-api:Invoke on resource, and deny it nothing.
	AuthorizeAnonymous(r *http.Request, resource string) error
}

type apiPolicyKey struct{}

// WithAPIPolicy returns ctx carrying a REST API's resource policy for the
// Authenticator to judge with.
func WithAPIPolicy(ctx context.Context, doc string) context.Context {
	return context.WithValue(ctx, apiPolicyKey{}, doc)
}

// APIPolicy is the REST API resource policy ctx carries ("": none).
func APIPolicy(ctx context.Context) string {
	doc, _ := ctx.Value(apiPolicyKey{}).(string)
	return doc
}

// Options configures New.
type Options struct {
	Store    *store.Store
	Resolver Resolver
	Invoker  invoke.Invoker
	// Region and AccountID name the APIs' ARNs and execute-api hosts.
	Region    string
	AccountID string
	// Port is the listener's port, for the ApiEndpoint of HTTP APIs
	// (http://<id>.execute-api.<region>.localhost:<port>).
	Port string
	// HTTPS: the node serves HTTPS, so endpoints are https://.
	HTTPS bool
	// Auth verifies callers of AWS_IAM routes and methods; with none,
	// every request to one is refused (403).
	Auth Authenticator
	// AWS calls the node's own services for REST AWS integrations, as
	// their credentials role; with none, those integrations fail (500).
	AWS AWSCaller
	// HTTPHosts are the host names HTTP and HTTP_PROXY integrations may
	// call besides loopback addresses (the server's --apigw-http-hosts);
	// an integration naming another host is refused when it is created.
	HTTPHosts []string
	// ConnAuth authorizes calls of WebSocket APIs' @connections API; with
	// none, every call is refused (403).
	ConnAuth ConnectionsAuthorizer
	// WebSocket bounds WebSocket connections (API Gateway's limits when
	// zero).
	WebSocket WSOptions
	// Cluster shares throttling and usage-plan quotas with the other
	// nodes of a cluster (limits.go); nil on a single node.
	Cluster ClusterLimits
	Logger  *slog.Logger
	// Now is the clock of throttling, caches and timestamps; time.Now
	// when nil.
	Now func() time.Time
}

// Gateway serves the API Gateway management APIs and the APIs themselves.
type Gateway struct {
	docs     *docs
	res      Resolver
	inv      invoke.Invoker
	region   string
	account  string
	port     string
	https    bool
	auth     Authenticator
	aws      AWSCaller
	connAuth ConnectionsAuthorizer
	ws       *wsHub // WebSocket connections
	log      *slog.Logger

	httpHosts []string
	now       func() time.Time

	limits *limiters   // per-stage and per-route token buckets
	cache  *respCache  // REST stage caches
	authz  *authzCache // Lambda authorizer results
	jwks   *jwksCache  // JWT issuers' key sets
	quota  *quotas     // usage plan quota counts

	stats counters
}

// counters are the gateway's running totals (see Stats).
type counters struct {
	requests, throttled, cacheHits, cacheMisses, authzCacheHits, denied, integrationErrors atomic.Uint64
}

// Stats are the gateway's totals since the node started, for telemetry to
// read: requests served on execute-api hosts, requests refused by
// throttling, REST stage cache hits and misses, Lambda authorizer answers
// taken from the cache, requests refused by authorization (401/403), and
// integration failures (function errors, malformed answers, refused
// invokes, timeouts).
type Stats struct {
	Requests, Throttled, CacheHits, CacheMisses, AuthorizerCacheHits, Denied, IntegrationErrors uint64
}

// Stats returns the current totals.
func (g *Gateway) Stats() Stats {
	c := &g.stats
	return Stats{Requests: c.requests.Load(), Throttled: c.throttled.Load(), CacheHits: c.cacheHits.Load(),
		CacheMisses: c.cacheMisses.Load(), AuthorizerCacheHits: c.authzCacheHits.Load(), Denied: c.denied.Load(),
		IntegrationErrors: c.integrationErrors.Load()}
}

// New builds a Gateway; call Run to keep its copy of the APIs current.
func New(opts Options) *Gateway {
	g := &Gateway{
		res: opts.Resolver, inv: opts.Invoker, region: opts.Region, account: opts.AccountID,
		port: opts.Port, https: opts.HTTPS, auth: opts.Auth, aws: opts.AWS, connAuth: opts.ConnAuth, log: opts.Logger, now: opts.Now,
	}
	for _, h := range opts.HTTPHosts {
		g.httpHosts = append(g.httpHosts, strings.ToLower(strings.TrimSpace(h)))
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.docs = newDocs(opts.Store, g.log)
	g.limits = newLimiters()
	g.limits.cluster = opts.Cluster
	g.cache = newRespCache()
	g.authz = newAuthzCache()
	g.jwks = newJWKSCache()
	g.quota = &quotas{m: map[string]int{}}
	g.ws = newWSHub(g, opts.Store, opts.WebSocket)
	return g
}

// Run keeps the in-memory copy of the API definitions current from the
// backbone until ctx ends, and takes part in the cluster's registry of
// WebSocket connections (wshub.go). Call CloseConnections before ctx
// ends to close the node's WebSocket connections cleanly.
func (g *Gateway) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	wsDone := make(chan struct{})
	go func() {
		defer close(wsDone)
		if err := g.ws.runCluster(ctx); err != nil {
			g.log.Warn("websocket connections refused", "err", err)
		}
	}()
	err := g.docs.run(ctx)
	cancel()
	<-wsDone
	return err
}

// CloseConnections closes the node's WebSocket connections (1001, going
// away) and waits, within ctx, for their $disconnect integrations. The
// node refuses new connections from then on. Its hijacked connections
// are not the HTTP server's to close: call it beside http.Server.Shutdown.
func (g *Gateway) CloseConnections(ctx context.Context) { g.ws.closeAll(ctx) }

// IsManagement reports whether r is a call of the API Gateway management
// APIs: paths /v2/apis..., /v2/domainnames... (apigatewayv2) and
// /restapis..., /apikeys..., /usageplans..., /domainnames... (apigateway).
func IsManagement(r *http.Request) bool {
	p := r.URL.Path
	for _, prefix := range []string{"/v2/apis", "/restapis", "/apikeys", "/usageplans", "/domainnames", "/v2/domainnames"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// InvokeHost returns the API id of a Host of the form
// <api-id>.execute-api.<region>.localhost[:port] (any region; the
// ".localhost" suffix is optional so that real DNS names also work).
func InvokeHost(host string) (string, bool) {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	id, rest, ok := strings.Cut(h, ".")
	if !ok || !strings.HasPrefix(rest, "execute-api.") || !validID(id) {
		return "", false
	}
	return id, true
}

// endpoint is the URL an API is reached at.
func (g *Gateway) endpoint(id string) string {
	scheme, defaultPort := "http://", "80"
	if g.https {
		scheme, defaultPort = "https://", "443"
	}
	u := scheme + id + ".execute-api." + g.region + ".localhost"
	if g.port != "" && g.port != defaultPort {
		u += ":" + g.port
	}
	return u
}

// call is one management request.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	op     string
	params map[string]string
}

// mgmtRoute is one management operation.
type mgmtRoute struct {
	method string
	segs   []string
	op     string
	handle func(*Gateway, *call) error
}

func routeTable(rs []struct {
	method, pattern, op string
	handle              func(*Gateway, *call) error
}) []mgmtRoute {
	out := make([]mgmtRoute, len(rs))
	for i, r := range rs {
		out[i] = mgmtRoute{method: r.method, segs: strings.Split(strings.Trim(r.pattern, "/"), "/"), op: r.op, handle: r.handle}
	}
	return out
}

// ServeHTTP serves the management APIs.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewRequestID()
	w.Header().Set(awsapi.HeaderRequestID, reqID)
	raw := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			awsapi.WriteError(w, g.log, notFound("Invalid path"))
			return
		}
		segs[i] = u
	}
	for _, rt := range mgmtRoutes {
		if rt.method != r.Method || len(rt.segs) != len(segs) {
			continue
		}
		params, ok := map[string]string{}, true
		for i, want := range rt.segs {
			if strings.HasPrefix(want, "{") {
				params[want[1:len(want)-1]] = segs[i]
			} else if want != segs[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		c := &call{w: w, r: r, op: rt.op, params: params}
		if err := rt.handle(g, c); err != nil {
			awsapi.WriteError(w, g.log.With("op", rt.op, "request_id", reqID), err)
		}
		return
	}
	awsapi.WriteError(w, g.log, awsapi.UnknownOperation())
}

const maxMgmtBody = 1 << 20

// decode reads a JSON body into v; an empty body is an empty object.
func (c *call) decode(v any) error {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, maxMgmtBody+1))
	if err != nil {
		return badRequest("Could not read the request body.")
	}
	if len(b) > maxMgmtBody {
		return badRequest("Request body is larger than %d bytes.", maxMgmtBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badRequest("Invalid value for %s: expected %s.", te.Field, te.Type)
		}
		return badRequest("Could not parse request body into json: %s", err.Error())
	}
	return nil
}

func (c *call) json(status int, v any) error {
	awsapi.WriteJSON(c.w, status, v)
	return nil
}

func (c *call) noContent(status int) error {
	c.w.WriteHeader(status)
	return nil
}

// isoNow is an apigatewayv2 timestamp (ISO 8601, seconds).
func (g *Gateway) isoNow() string { return g.now().UTC().Format(time.RFC3339) }

// checkLen checks a string member's length constraint.
func checkLen(name, v string, lo, hi int) error {
	if n := len([]rune(v)); n < lo || n > hi {
		return badRequest("Invalid %s: length must be between %d and %d.", name, lo, hi)
	}
	return nil
}

var errNoInvoker = errors.New("no invoker configured")

func (g *Gateway) resolveFunction(ctx context.Context, uri string, stageVars map[string]string) (*function.Config, string, error) {
	ref, err := functionFromURI(substituteStageVariables(uri, stageVars))
	if err != nil {
		return nil, "", err
	}
	if g.res == nil || g.inv == nil {
		return nil, "", errNoInvoker
	}
	cfg, err := g.res.Resolve(ctx, ref.Name, ref.Qualifier)
	if err != nil {
		return nil, "", err
	}
	return cfg, awsapi.FunctionARN(g.region, g.account, ref.Name, ref.Qualifier), nil
}

// functionFromURI reads the function a Lambda integration or authorizer
// URI names: a function name or ARN (HTTP APIs), or
// arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations.
func functionFromURI(uri string) (awsapi.FunctionRef, error) {
	s := uri
	if strings.HasPrefix(s, "arn:") && strings.Contains(s, ":apigateway:") {
		_, after, ok := strings.Cut(s, ":lambda:path/2015-03-31/functions/")
		if !ok {
			return awsapi.FunctionRef{}, fmt.Errorf("integration uri %q is not a Lambda function", uri)
		}
		s = strings.TrimSuffix(after, "/invocations")
	}
	ref, err := awsapi.ParseFunctionRef(s)
	if err != nil {
		return awsapi.FunctionRef{}, fmt.Errorf("integration uri %q: %w", uri, err)
	}
	return ref, nil
}

// substituteStageVariables replaces ${stageVariables.<name>} in an
// integration or authorizer URI, as API Gateway does (a function name or
// alias chosen per stage).
func substituteStageVariables(s string, vars map[string]string) string {
	return replaceStageVariables(s, func(name string) string { return vars[name] })
}

func replaceStageVariables(s string, value func(name string) string) string {
	for {
		i := strings.Index(s, "${stageVariables.")
		if i < 0 {
			return s
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return s
		}
		s = s[:i] + value(s[i+len("${stageVariables."):i+j]) + s[i+j+1:]
	}
}

// checkFunctionURI checks at create time that uri names a Lambda function,
// with any ${stageVariables.<name>} standing for a function name.
func checkFunctionURI(uri string) (awsapi.FunctionRef, error) {
	return functionFromURI(replaceStageVariables(uri, func(string) string { return "stagevar" }))
}

// MetricsIdentity says how CloudWatch's AWS/ApiGateway metrics name the
// API id: REST APIs by their name (dimension ApiName, metrics 4XXError and
// 5XXError), HTTP APIs by their id (dimension ApiId, metrics 4xx and
// 5xx). ok is false for an id that names no API.
func (g *Gateway) MetricsIdentity(id string) (dim, value string, rest, ok bool) {
	if doc := g.docs.httpAPI(id); doc != nil {
		return "ApiId", id, false, true
	}
	if doc := g.docs.restAPI(id); doc != nil {
		return "ApiName", doc.API.Name, true, true
	}
	return "", "", false, false
}
