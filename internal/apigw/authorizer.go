package apigw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// authzResult is what a Lambda authorizer decided, as cached.
type authzResult struct {
	// simple is set for an HTTP API simple response; allow is its answer.
	simple bool
	allow  bool
	// principalID and policy come from an IAM policy response; the policy
	// is evaluated against each request's method ARN, also on cache hits.
	principalID string
	policy      *policyDocument
	context     map[string]any
}

// v1Context is the authorizer context as payload 1.0 shows it: the
// context's members with principalId beside them.
func (a *authzResult) v1Context() map[string]any {
	out := map[string]any{}
	for k, v := range a.context {
		out[k] = v
	}
	if a.principalID != "" {
		out["principalId"] = a.principalID
	}
	return out
}

type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Action   stringOrList `json:"Action"`
	Effect   string       `json:"Effect"`
	Resource stringOrList `json:"Resource"`
}

// stringOrList is an IAM policy member that may be a string or a list.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("not a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

// decision evaluates the policy for methodArn: an explicit Deny wins,
// then an Allow; no matching statement is a deny.
func (p *policyDocument) decision(methodArn string) (allow, explicitDeny bool) {
	if p == nil {
		return false, false
	}
	for _, st := range p.Statement {
		if !matchAny(st.Action, "execute-api:Invoke") || !matchAny(st.Resource, methodArn) {
			continue
		}
		switch strings.ToLower(st.Effect) {
		case "deny":
			return false, true
		case "allow":
			allow = true
		}
	}
	return allow, false
}

// matchAny matches s against IAM patterns with * and ? wildcards.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == "*" || wildcard(p, s) {
			return true
		}
	}
	return false
}

func wildcard(p, s string) bool {
	// path.Match treats "/" specially; IAM wildcards do not, so match the
	// two with "/" replaced by a byte neither contains.
	const sep = "\x00"
	ok, err := path.Match(strings.ReplaceAll(escapeMatch(p), "/", sep), strings.ReplaceAll(s, "/", sep))
	if err != nil {
		return false
	}
	if ok {
		return true
	}
	return strings.EqualFold(p, s)
}

// escapeMatch escapes the path.Match syntax IAM does not have ([, \).
func escapeMatch(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`)
	return r.Replace(p)
}

// authorizerResponse is a Lambda authorizer's answer (both kinds).
type authorizerResponse struct {
	IsAuthorized   *bool           `json:"isAuthorized"`
	PrincipalID    json.RawMessage `json:"principalId"`
	PolicyDocument *policyDocument `json:"policyDocument"`
	Context        map[string]any  `json:"context"`
}

var errBadAuthorizer = errors.New("malformed authorizer response")

func parseAuthorizerResponse(b []byte, simple bool) (*authzResult, error) {
	var resp authorizerResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadAuthorizer, err)
	}
	res := &authzResult{context: resp.Context}
	if simple && resp.IsAuthorized != nil {
		res.simple, res.allow = true, *resp.IsAuthorized
		return res, nil
	}
	if resp.PolicyDocument == nil {
		return nil, fmt.Errorf("%w: no policyDocument", errBadAuthorizer)
	}
	res.policy = resp.PolicyDocument
	if len(resp.PrincipalID) > 0 {
		var s string
		if err := json.Unmarshal(resp.PrincipalID, &s); err != nil {
			s = string(bytes.Trim(resp.PrincipalID, `"`))
		}
		res.principalID = s
	}
	// Context values are strings, numbers or booleans; objects are refused
	// as API Gateway refuses them.
	for k, v := range res.context {
		switch v.(type) {
		case string, float64, bool:
		default:
			return nil, fmt.Errorf("%w: context %s is not a string, number or boolean", errBadAuthorizer, k)
		}
	}
	return res, nil
}

// identitySource is one parsed identity source of an HTTP API authorizer.
type identitySource struct {
	where string // header, querystring, context, stageVariables
	name  string
	route bool // a WebSocket API's route.request.header/querystring form
}

// parseIdentitySource reads "$request.header.Auth", "$request.querystring.q",
// "$context.x", "$stageVariables.y" (HTTP APIs) and "method.request.header.Auth",
// "method.request.querystring.q", "context.x", "stageVariables.y" (REST),
// "route.request.header.Auth", "route.request.querystring.q" (WebSocket).
func parseIdentitySource(s string) (identitySource, bool) {
	s = strings.TrimSpace(s)
	for _, p := range []struct{ prefix, where string }{{"route.request.header.", "header"}, {"route.request.querystring.", "querystring"}} {
		if name, ok := strings.CutPrefix(s, p.prefix); ok && name != "" {
			return identitySource{p.where, name, true}, true
		}
	}
	for _, p := range []struct{ prefix, where string }{
		{"$request.header.", "header"}, {"$request.querystring.", "querystring"}, {"$context.", "context"}, {"$stageVariables.", "stageVariables"},
		{"method.request.header.", "header"}, {"method.request.querystring.", "querystring"}, {"context.", "context"}, {"stageVariables.", "stageVariables"},
	} {
		if name, ok := strings.CutPrefix(s, p.prefix); ok && name != "" {
			return identitySource{where: p.where, name: name}, true
		}
	}
	return identitySource{}, false
}

// value reads an identity source from a request.
func (s identitySource) value(r *http.Request, stageVars map[string]string, ctx map[string]string) string {
	switch s.where {
	case "header":
		return strings.Join(r.Header.Values(s.name), ",")
	case "querystring":
		return strings.Join(r.URL.Query()[s.name], ",")
	case "stageVariables":
		return stageVars[s.name]
	case "context":
		return ctx[s.name]
	}
	return ""
}

// identityValues reads every identity source; ok is false if one is
// missing or empty (API Gateway then answers 401 without calling the
// authorizer).
func identityValues(sources []string, r *http.Request, stageVars, ctx map[string]string) ([]string, bool) {
	out := make([]string, 0, len(sources))
	for _, s := range sources {
		src, ok := parseIdentitySource(s)
		if !ok {
			return nil, false
		}
		v := src.value(r, stageVars, ctx)
		if v == "" {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// executeAPIArn is a route's or method's ARN for authorizers:
// arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>.
func (g *Gateway) executeAPIArn(apiID, stage, method, p string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s/%s", g.region, g.account, apiID, stage, method, strings.TrimPrefix(p, "/"))
}

// authorizeHTTP runs an HTTP API's Lambda authorizer (with its cache);
// a non-nil response is the refusal to send.
func (g *Gateway) authorizeHTTP(r *http.Request, doc *httpDoc, a *httpAuthorizer, stage string, route *httpRoute,
	opts httpevent.Options, now time.Time,
) (*authzResult, *httpevent.Response) {
	ctxVals := map[string]string{"requestId": opts.RequestID, "stage": stage, "routeKey": route.RouteKey, "apiId": doc.API.APIID}
	ids, ok := identityValues(a.IdentitySource, r, opts.StageVariables, ctxVals)
	if !ok && len(a.IdentitySource) > 0 {
		return nil, httpUnauthorized()
	}
	routeArn := g.executeAPIArn(doc.API.APIID, stage, r.Method, opts.Path)
	cacheKey := doc.API.APIID + "|" + a.AuthorizerID + "|" + strings.Join(ids, "\x00")
	res, hit := (*authzResult)(nil), false
	if a.AuthorizerResultTTLInSeconds > 0 {
		res, hit = g.authz.get(cacheKey, now)
		if hit {
			g.stats.authzCacheHits.Add(1)
		}
	}
	if !hit {
		var ev map[string]any
		if a.AuthorizerPayloadFormatVersion == "1.0" {
			ev = toMap(buildV1(r, nil, opts))
			ev["type"] = "REQUEST"
			ev["methodArn"] = routeArn
			ev["identitySource"] = strings.Join(ids, ",")
			ev["authorizationToken"] = strings.Join(ids, ",")
		} else {
			ev = toMap(buildV2(r, nil, opts))
			ev["type"] = "REQUEST"
			ev["routeArn"] = routeArn
			ev["identitySource"] = ids
		}
		delete(ev, "body")
		delete(ev, "isBase64Encoded")
		payload, err := httpevent.Marshal(ev)
		if err != nil {
			return nil, httpInternal()
		}
		out, err := g.invokeFunction(r.Context(), r, a.AuthorizerURI, opts.StageVariables, payload, now)
		if err != nil {
			g.log.Debug("authorizer failed", "api_id", doc.API.APIID, "authorizer_id", a.AuthorizerID, "err", err)
			return nil, httpInternal()
		}
		res, err = parseAuthorizerResponse(out, a.EnableSimpleResponses)
		if err != nil {
			g.log.Debug("authorizer answer refused", "api_id", doc.API.APIID, "err", err)
			return nil, httpInternal()
		}
		if a.AuthorizerResultTTLInSeconds > 0 {
			g.authz.put(cacheKey, res, now.Add(time.Duration(a.AuthorizerResultTTLInSeconds)*time.Second), now)
		}
	}
	allow := res.allow
	if !res.simple {
		allow, _ = res.policy.decision(routeArn)
	}
	if !allow {
		return nil, httpForbidden()
	}
	return res, nil
}

// toMap turns an event into a map to add authorizer members to.
func toMap(v any) map[string]any {
	b, _ := httpevent.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}

// restAuthorizerRegexp compiles a TOKEN authorizer's validation expression.
func restAuthorizerRegexp(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}
