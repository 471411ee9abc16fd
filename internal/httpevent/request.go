package httpevent

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the front door a request came through; AWS builds the same
// payload format slightly differently for each.
type Kind int

const (
	// HTTPAPI is an API Gateway HTTP API (apigatewayv2): header names
	// lower-cased, the path URL-decoded, bodies base64-encoded unless their
	// content type is text.
	HTTPAPI Kind = iota
	// REST is an API Gateway REST API (apigateway): header names as sent,
	// the path as sent, bodies base64-encoded only when their content type
	// is one of the API's binary media types.
	REST
	// FunctionURL is a Lambda function URL: as HTTPAPI, but the path as
	// sent, routeKey and stage "$default" and no path parameters or stage
	// variables.
	FunctionURL
)

// Options is what the front door knows about a request beyond the request
// itself: its API, stage, matched route, and the ids it was given.
type Options struct {
	Kind Kind
	// RequestID is requestContext.requestId; ExtendedRequestID the REST
	// extendedRequestId (defaults to a random id).
	RequestID         string
	ExtendedRequestID string
	// Time is when the request arrived (requestContext.time); zero means now.
	Time time.Time
	// AccountID is the API owner's account, APIID the API or URL id.
	AccountID string
	APIID     string
	// DomainName is the host the client called (default: the request's
	// Host without its port); DomainPrefix defaults to its first label.
	DomainName   string
	DomainPrefix string
	// Stage is the stage name ("$default" for the default stage).
	Stage string
	// RouteKey is the matched route ("GET /items/{id}", "$default").
	RouteKey string
	// Path is the request path below the stage prefix, as routed (for a
	// named stage, without "/<stage>"); empty means the request's path.
	Path string
	// Resource and ResourceID are the matched REST resource ("/items/{id}")
	// and its id; for HTTP APIs with payload 1.0 Resource is the route's
	// path.
	Resource   string
	ResourceID string
	// PathParameters and StageVariables go to the event as given (nil for
	// none).
	PathParameters map[string]string
	StageVariables map[string]string
	// BinaryMediaTypes are a REST API's binary media types ("image/png",
	// "image/*", "*/*"): a body of a matching Content-Type goes base64.
	BinaryMediaTypes []string
	// Authorizer is the context a Lambda authorizer returned (with
	// principalId for REST), IAM the SigV4 caller of an AWS_IAM route.
	Authorizer map[string]any
	IAM        *IAMIdentity
	// JWT is what a JWT authorizer validated (HTTP APIs).
	JWT *JWTClaims
	// SourceIP overrides the client address taken from RemoteAddr.
	SourceIP string
}

// timeLayout is requestContext.time / requestTime: 12/Mar/2020:19:03:58 +0000.
const timeLayout = "02/Jan/2006:15:04:05 -0700"

func (o *Options) defaults(r *http.Request) {
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	o.Time = o.Time.UTC()
	if o.DomainName == "" {
		o.DomainName = hostOnly(r.Host)
	}
	if o.DomainPrefix == "" {
		o.DomainPrefix, _, _ = strings.Cut(o.DomainName, ".")
	}
	if o.Stage == "" {
		o.Stage = "$default"
	}
	if o.RouteKey == "" {
		o.RouteKey = "$default"
	}
	if o.SourceIP == "" {
		o.SourceIP = hostOnly(r.RemoteAddr)
	}
	if o.ExtendedRequestID == "" {
		o.ExtendedRequestID = randomID()
	}
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]) + "="
}

// TraceID returns a fresh X-Amzn-Trace-Id value (Root=1-<time>-<random>),
// which API Gateway adds to requests that come without one.
func TraceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "Root=1-" + strconv.FormatInt(now.Unix(), 16) + "-" + hex.EncodeToString(b[:])
}

// headerList is the request's header fields in a stable order, with the
// ones Go's server moves out of Header (Host, Content-Length) put back and
// the X-Forwarded-* and X-Amzn-Trace-Id fields API Gateway adds.
func headerList(r *http.Request, body []byte, o *Options) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	add := func(k, v string) {
		out = append(out, [2]string{k, v})
		seen[strings.ToLower(k)] = true
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if r.Host != "" {
		add("Host", r.Host)
	}
	for _, k := range keys {
		if strings.EqualFold(k, "Host") {
			continue
		}
		for _, v := range r.Header[k] {
			add(k, v)
		}
	}
	if !seen["content-length"] && len(body) > 0 {
		add("Content-Length", strconv.Itoa(len(body)))
	}
	if !seen["x-amzn-trace-id"] {
		add("X-Amzn-Trace-Id", TraceID(o.Time))
	}
	if !seen["x-forwarded-for"] {
		add("X-Forwarded-For", o.SourceIP)
	} else {
		for i := range out {
			if strings.EqualFold(out[i][0], "X-Forwarded-For") {
				out[i][1] += ", " + o.SourceIP
			}
		}
	}
	if !seen["x-forwarded-proto"] {
		proto := "http"
		if r.TLS != nil {
			proto = "https"
		}
		add("X-Forwarded-Proto", proto)
	}
	if !seen["x-forwarded-port"] {
		port := "80"
		if _, p, err := net.SplitHostPort(r.Host); err == nil {
			port = p
		} else if r.TLS != nil {
			port = "443"
		}
		add("X-Forwarded-Port", port)
	}
	return out
}

// queryPair is one name=value of a query string, decoded.
type queryPair struct{ name, value string }

// parseQuery splits a raw query string as API Gateway does: on "&", then
// at the first "="; names and values are URL-decoded when they decode.
// Empty names are dropped.
func parseQuery(raw string) []queryPair {
	var out []queryPair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		if k == "" {
			continue
		}
		out = append(out, queryPair{k, v})
	}
	return out
}

func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// textTypes are the content types whose bodies HTTP APIs and function
// URLs pass as text; any other body (including one without a
// Content-Type) is base64-encoded.
func isTextType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	major, minor, _ := strings.Cut(mt, "/")
	switch {
	case major == "text":
		return true
	case minor == "json", minor == "xml", minor == "javascript", minor == "ecmascript",
		strings.HasSuffix(minor, "+json"), strings.HasSuffix(minor, "+xml"):
		return true
	case major == "application" && (minor == "yaml" || minor == "x-yaml" || minor == "graphql"):
		return true
	}
	return false
}

// matchesMediaType reports whether contentType is one of types, which may
// use "*" wildcards ("image/*", "*/*") as REST binaryMediaTypes do.
func matchesMediaType(contentType string, types []string) bool {
	if len(types) == 0 {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	for _, t := range types {
		// API Gateway stores "/" in binary media types as "~1" on the
		// wire of UpdateRestApi patches; callers pass the decoded form.
		if ok, _ := path.Match(strings.ToLower(t), mt); ok {
			return true
		}
	}
	return false
}

// encodeBody decides isBase64Encoded and the body text.
func encodeBody(r *http.Request, body []byte, o *Options) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	ct := r.Header.Get("Content-Type")
	var binary bool
	if o.Kind == REST {
		binary = matchesMediaType(ct, o.BinaryMediaTypes)
	} else {
		binary = !isTextType(ct)
	}
	if binary {
		return base64.StdEncoding.EncodeToString(body), true
	}
	return string(body), false
}

// decodedPath is the request path URL-decoded (HTTP APIs decode it).
func decodedPath(r *http.Request) string {
	if p, err := url.PathUnescape(r.URL.EscapedPath()); err == nil {
		return p
	}
	return r.URL.Path
}

// eventPath is the path as the front door puts it in events: decoded for
// HTTP APIs, as sent for REST APIs and function URLs.
func eventPath(r *http.Request, k Kind) string {
	if k == HTTPAPI {
		return decodedPath(r)
	}
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	return p
}

// BuildV2 builds the payload format 2.0 event of r with body (already
// read, within the caller's limit).
func BuildV2(r *http.Request, body []byte, o Options) *V2Request {
	o.defaults(r)
	ev := &V2Request{
		Version:        "2.0",
		RouteKey:       o.RouteKey,
		RawPath:        eventPath(r, o.Kind),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		PathParameters: o.PathParameters,
		StageVariables: o.StageVariables,
		RequestContext: V2Context{
			AccountID:    o.AccountID,
			APIID:        o.APIID,
			DomainName:   o.DomainName,
			DomainPrefix: o.DomainPrefix,
			HTTP: V2HTTP{
				Method:    r.Method,
				Protocol:  r.Proto,
				SourceIP:  o.SourceIP,
				UserAgent: r.UserAgent(),
			},
			RequestID: o.RequestID,
			RouteKey:  o.RouteKey,
			Stage:     o.Stage,
			Time:      o.Time.Format(timeLayout),
			TimeEpoch: o.Time.UnixMilli(),
		},
	}
	ev.RequestContext.HTTP.Path = ev.RawPath
	if o.Kind == FunctionURL {
		ev.PathParameters, ev.StageVariables = nil, nil
		ev.RouteKey, ev.RequestContext.RouteKey, ev.RequestContext.Stage = "$default", "$default", "$default"
	}
	if len(ev.PathParameters) == 0 {
		ev.PathParameters = nil
	}
	if len(ev.StageVariables) == 0 {
		ev.StageVariables = nil
	}
	if o.Authorizer != nil || o.IAM != nil || o.JWT != nil {
		ev.RequestContext.Authorizer = &V2Authorizer{JWT: o.JWT, Lambda: o.Authorizer, IAM: o.IAM}
	}
	for _, kv := range headerList(r, body, &o) {
		name := strings.ToLower(kv[0])
		if name == "cookie" {
			for c := range strings.SplitSeq(kv[1], ";") {
				if c = strings.TrimSpace(c); c != "" {
					ev.Cookies = append(ev.Cookies, c)
				}
			}
			continue
		}
		if prev, ok := ev.Headers[name]; ok {
			ev.Headers[name] = prev + "," + kv[1]
		} else {
			ev.Headers[name] = kv[1]
		}
	}
	if q := parseQuery(r.URL.RawQuery); len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for _, p := range q {
			if prev, ok := ev.QueryStringParameters[p.name]; ok {
				ev.QueryStringParameters[p.name] = prev + "," + p.value
			} else {
				ev.QueryStringParameters[p.name] = p.value
			}
		}
	}
	ev.Body, ev.IsBase64Encoded = encodeBody(r, body, &o)
	return ev
}

// BuildURL builds a function URL's event: payload format 2.0 with the
// function-URL differences (see FunctionURL). o.Kind is ignored.
func BuildURL(r *http.Request, body []byte, o Options) *V2Request {
	o.Kind = FunctionURL
	return BuildV2(r, body, o)
}

// BuildV1 builds the payload format 1.0 event of r with body.
func BuildV1(r *http.Request, body []byte, o Options) *V1Request {
	o.defaults(r)
	full := eventPath(r, o.Kind)
	p := o.Path
	if p == "" {
		p = full
	}
	ev := &V1Request{
		Resource:       o.Resource,
		Path:           p,
		HTTPMethod:     r.Method,
		PathParameters: o.PathParameters,
		StageVariables: o.StageVariables,
		RequestContext: V1Context{
			AccountID:         o.AccountID,
			APIID:             o.APIID,
			Authorizer:        o.Authorizer,
			DomainName:        o.DomainName,
			DomainPrefix:      o.DomainPrefix,
			ExtendedRequestID: o.ExtendedRequestID,
			HTTPMethod:        r.Method,
			Identity:          V1Identity{SourceIP: o.SourceIP, UserAgent: r.UserAgent()},
			Path:              full,
			Protocol:          r.Proto,
			RequestID:         o.RequestID,
			RequestTime:       o.Time.Format(timeLayout),
			RequestTimeEpoch:  o.Time.UnixMilli(),
			ResourcePath:      o.Resource,
			Stage:             o.Stage,
		},
	}
	if o.Kind == REST {
		ev.RequestContext.ResourceID = &o.ResourceID
	} else {
		// HTTP APIs have no resources, and always show an authorizer.
		ev.Version = "1.0"
		ev.Path = full
		if ev.RequestContext.Authorizer == nil {
			ev.RequestContext.Authorizer = map[string]any{"claims": nil, "scopes": nil}
		}
	}
	if len(ev.PathParameters) == 0 {
		ev.PathParameters = nil
	}
	if len(ev.StageVariables) == 0 {
		ev.StageVariables = nil
	}
	if o.IAM != nil {
		id := &ev.RequestContext.Identity
		id.AccessKey, id.AccountID, id.Caller = &o.IAM.AccessKey, &o.IAM.AccountID, &o.IAM.CallerID
		id.User, id.UserARN = &o.IAM.UserID, &o.IAM.UserARN
	}
	hl := headerList(r, body, &o)
	ev.Headers = make(map[string]string, len(hl))
	ev.MultiValueHeaders = make(map[string][]string, len(hl))
	for _, kv := range hl {
		name := kv[0]
		if o.Kind != REST {
			name = strings.ToLower(name)
		}
		ev.Headers[name] = kv[1] // the last value wins
		ev.MultiValueHeaders[name] = append(ev.MultiValueHeaders[name], kv[1])
	}
	if q := parseQuery(r.URL.RawQuery); len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		ev.MultiValueQueryStringParameters = map[string][]string{}
		for _, p := range q {
			ev.QueryStringParameters[p.name] = p.value
			ev.MultiValueQueryStringParameters[p.name] = append(ev.MultiValueQueryStringParameters[p.name], p.value)
		}
	}
	if b, enc := encodeBody(r, body, &o); len(body) > 0 {
		ev.Body, ev.IsBase64Encoded = &b, enc
	}
	return ev
}

// Marshal encodes an event as the front doors send it: JSON without
// HTML escaping of "<", ">" and "&" (AWS sends them as they are).
func Marshal(ev any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("marshal event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
