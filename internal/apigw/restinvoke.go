package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// REST API answers.
var (
	restMissingToken = func() *httpevent.Response {
		return httpevent.Message(http.StatusForbidden, "Missing Authentication Token")
	}
	restTooMany      = func() *httpevent.Response { return httpevent.Message(http.StatusTooManyRequests, "Too Many Requests") }
	restUnauthorized = func() *httpevent.Response { return httpevent.Message(http.StatusUnauthorized, "Unauthorized") }
	restTimeout      = func() *httpevent.Response {
		return httpevent.Message(http.StatusGatewayTimeout, "Endpoint request timed out")
	}
	restTooLarge = func() *httpevent.Response {
		return httpevent.Message(http.StatusRequestEntityTooLarge, "Request Too Long")
	}
)

// restDenied is the 403 of an authorizer policy that does not allow.
func restDenied(explicit bool) *httpevent.Response {
	msg := "User is not authorized to access this resource"
	if explicit {
		msg += " with an explicit deny"
	}
	r := httpevent.Message(http.StatusForbidden, msg)
	r.Body = []byte(`{"Message":"` + msg + `"}`)
	return r
}

// restAuthorizerError is API Gateway's 500 for an authorizer that failed.
func restAuthorizerError() *httpevent.Response {
	r := httpevent.Message(http.StatusInternalServerError, "")
	r.Body = []byte(`{"message":null}`)
	r.Header.Set("X-Amzn-ErrorType", "AuthorizerConfigurationException")
	return r
}

func (g *Gateway) serveREST(w http.ResponseWriter, r *http.Request, doc *restDoc) {
	reqID := awsapi.NewRequestID()
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Header().Set("X-Amz-Apigw-Id", httpRequestID())
	resp := g.restResponse(r, doc, reqID)
	var stageVars map[string]string
	if raw, ok := splitPath(r.URL.EscapedPath()); ok && len(raw) > 0 {
		if st := doc.stage(raw[0]); st != nil {
			stageVars = st.Variables
		}
	}
	doc.customize(resp, r, stageVars, reqID).Write(w)
}

// restResponse is a REST API's answer to r: the integration's response,
// a cached one, or API Gateway's own refusal. Every way a request can
// fail returns here, and serveREST writes the one answer.
func (g *Gateway) restResponse(r *http.Request, doc *restDoc, reqID string) *httpevent.Response {
	now := g.now()
	raw, ok := splitPath(r.URL.EscapedPath())
	if !ok || len(raw) == 0 {
		return restMissingToken()
	}
	stage := doc.stage(raw[0])
	if stage == nil {
		return restMissingToken()
	}
	dep := doc.deployed[stage.DeploymentID]
	if dep == nil {
		return restMissingToken()
	}
	rest := raw[1:]
	// The most specific resource whose path matches, with a method for
	// the request (or ANY).
	best := -1
	var bestScore []segKind
	var params map[string]string
	for i, p := range dep.patterns {
		ms := dep.resources[i].ResourceMethods
		if ms[r.Method] == nil && ms["ANY"] == nil {
			continue
		}
		pp, score, ok := p.match(rest, false)
		if !ok {
			continue
		}
		if best < 0 || moreSpecific(score, bestScore) {
			best, bestScore, params = i, score, pp
		}
	}
	if best < 0 {
		return restMissingToken()
	}
	res := dep.resources[best]
	m := res.ResourceMethods[r.Method]
	if m == nil {
		m = res.ResourceMethods["ANY"]
	}
	setting := stage.methodSetting(res.Path, r.Method)
	if setting != nil {
		rl, bl := setting.ThrottlingRateLimit, setting.ThrottlingBurstLimit
		if !g.limits.allow(doc.API.ID+"/"+stage.StageName+"/"+settingKey(res.Path, r.Method, stage), &rl, &bl, now) {
			g.stats.throttled.Add(1)
			return restTooMany()
		}
	}
	if m.APIKeyRequired {
		if deny := g.checkAPIKey(r, doc.API.ID, stage.StageName, res.Path, r.Method, now); deny != nil {
			if deny.StatusCode == http.StatusForbidden {
				g.stats.denied.Add(1)
			}
			return deny
		}
	}
	body, ok := readBody(r)
	if !ok {
		return restTooLarge()
	}
	opts := httpevent.Options{
		Kind: httpevent.REST, RequestID: reqID, Time: now, AccountID: g.account, APIID: doc.API.ID,
		Stage: stage.StageName, Path: "/" + strings.Join(rest, "/"), Resource: res.Path, ResourceID: res.ID,
		PathParameters: params, StageVariables: stage.Variables, BinaryMediaTypes: doc.API.BinaryMediaTypes,
	}
	methodArn := g.executeAPIArn(doc.API.ID, stage.StageName, r.Method, opts.Path)
	if doc.API.Policy != "" {
		// The API's resource policy is judged for every method: with the
		// caller's own policies for AWS_IAM, for an anonymous caller
		// otherwise.
		r = r.WithContext(WithAPIPolicy(r.Context(), doc.API.Policy))
		if m.AuthorizationType != "AWS_IAM" {
			if g.auth == nil {
				return restDenied(false)
			}
			if err := g.auth.AuthorizeAnonymous(r, methodArn); err != nil {
				g.stats.denied.Add(1)
				r := httpevent.Message(http.StatusForbidden, err.Error())
				r.Body, _ = json.Marshal(map[string]string{"Message": err.Error()})
				return r
			}
		}
	}
	if m.AuthorizationType == "AWS_IAM" {
		id, deny := g.authenticate(r, methodArn)
		if deny {
			g.stats.denied.Add(1)
			return restMissingToken()
		}
		opts.IAM = id
	}
	if m.AuthorizationType == "CUSTOM" {
		a := doc.authorizer(m.AuthorizerID)
		if a == nil {
			return restAuthorizerError()
		}
		res, deny := g.authorizeREST(r, doc, a, stage, methodArn, opts, now)
		if deny != nil {
			g.countRefusal(deny)
			return deny
		}
		opts.Authorizer = res.v1Context()
	}
	if msg := validateRequest(doc, m, r, body, params); msg != "" {
		resp := httpevent.Message(http.StatusBadRequest, msg)
		resp.Header.Set("X-Amzn-ErrorType", "BadRequestException")
		return resp
	}
	integ := m.MethodIntegration
	if integ == nil {
		return restMissingToken()
	}
	if integ.Type != "AWS_PROXY" {
		return g.restNonProxy(r, &methodRequest{r: r, body: body, path: params, doc: doc, stage: stage, res: res, method: m,
			opts: opts, now: now, stageVar: stage.Variables})
	}
	cacheKey, cacheTTL := "", 0
	// The stage-wide */* setting caches GET only; a method's own setting
	// caches that method.
	specific := settingKey(res.Path, r.Method, stage) != "*/*"
	if stage.CacheClusterEnabled && setting != nil && setting.CachingEnabled && setting.CacheTTLInSeconds > 0 &&
		(r.Method == http.MethodGet || specific) {
		cacheKey, cacheTTL = restCacheKey(doc.API.ID, stage.StageName, r, res, integ.CacheKeyParameters, params), setting.CacheTTLInSeconds
		if hit, ok := g.cache.get(cacheKey, now); ok {
			g.stats.cacheHits.Add(1)
			return hit
		}
		g.stats.cacheMisses.Add(1)
	}
	payload, err := httpevent.Marshal(buildV1(r, body, opts))
	if err != nil || len(payload) > maxEvent {
		return restTooLarge()
	}
	timeout := time.Duration(integ.TimeoutInMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 29 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	out, err := g.invokeFunction(ctx, r, integ.URI, stage.Variables, payload, now)
	switch {
	case errors.Is(err, errFunction):
		g.stats.integrationErrors.Add(1)
		return httpevent.BadGateway()
	case err != nil && ctx.Err() != nil && r.Context().Err() == nil:
		g.stats.integrationErrors.Add(1)
		return restTimeout()
	case err != nil:
		g.log.Debug("invoke refused", "api_id", doc.API.ID, "err", err)
		g.stats.integrationErrors.Add(1)
		return httpevent.InvokeFailed()
	}
	resp, err := httpevent.MapV1(out, httpevent.V1Options{REST: true, BinaryMediaTypes: doc.API.BinaryMediaTypes, Accept: r.Header.Get("Accept")})
	if err != nil {
		g.log.Debug("malformed proxy response", "api_id", doc.API.ID, "err", err)
		g.stats.integrationErrors.Add(1)
		return httpevent.BadGateway()
	}
	if cacheKey != "" && resp.StatusCode < 300 {
		g.cache.put(cacheKey, resp, now.Add(time.Duration(cacheTTL)*time.Second), now)
	}
	return resp
}

// settingKey is the methodSettings key of a resource path and method:
// "~1items~1{id}/GET".
func settingKey(resourcePath, method string, st *restStage) string {
	k := strings.ReplaceAll(strings.TrimPrefix(resourcePath, "/"), "/", "~1")
	k = "~1" + k
	if resourcePath == "/" {
		k = "~1"
	}
	if st.MethodSettings[k+"/"+method] != nil {
		return k + "/" + method
	}
	return "*/*"
}

// methodSetting is the settings of a method on a stage: its own, else the
// stage-wide */*, else API Gateway's defaults (caching on for GET when
// the stage cache is enabled). nil means no throttling or caching apply.
func (s *restStage) methodSetting(resourcePath, method string) *methodSetting {
	if ms := s.MethodSettings[settingKey(resourcePath, method, s)]; ms != nil {
		return ms
	}
	if s.CacheClusterEnabled && method == http.MethodGet {
		ms := newMethodSetting()
		ms.CachingEnabled = true
		return ms
	}
	return nil
}

// restCacheKey keys the stage cache: method, resource, the request path
// and the values of the integration's cache key parameters.
func restCacheKey(apiID, stage string, r *http.Request, res *restResource, keyParams []string, pathParams map[string]string) string {
	var b strings.Builder
	b.WriteString(apiID + "|" + stage + "|" + r.Method + "|" + res.ID + "|" + r.URL.EscapedPath())
	ps := slices.Clone(keyParams)
	slices.Sort(ps)
	for _, p := range ps {
		where, name, _ := strings.Cut(strings.TrimPrefix(p, "method.request."), ".")
		var v string
		switch where {
		case "querystring", "multivaluequerystring":
			v = strings.Join(r.URL.Query()[name], ",")
		case "header", "multivalueheader":
			v = strings.Join(r.Header.Values(name), ",")
		case "path":
			v = pathParams[name]
		}
		b.WriteString("|" + p + "=" + v)
	}
	return b.String()
}

// authorizeREST runs a REST API's Lambda authorizer (TOKEN or REQUEST)
// with its result cache.
func (g *Gateway) authorizeREST(r *http.Request, doc *restDoc, a *restAuthorizer, stage *restStage, methodArn string,
	opts httpevent.Options, now time.Time,
) (*authzResult, *httpevent.Response) {
	ttl := 300
	if a.AuthorizerResultTTLInSeconds != nil {
		ttl = *a.AuthorizerResultTTLInSeconds
	}
	var ids []string
	var payload []byte
	var err error
	if a.Type == "TOKEN" {
		src, _ := parseIdentitySource(a.IdentitySource)
		token := r.Header.Get(src.name)
		if token == "" {
			return nil, restUnauthorized()
		}
		if a.IdentityValidationExpression != "" {
			re, err := restAuthorizerRegexp(a.IdentityValidationExpression)
			if err != nil || !re.MatchString(token) {
				return nil, restUnauthorized()
			}
		}
		ids = []string{token}
		payload, err = httpevent.Marshal(map[string]string{"type": "TOKEN", "authorizationToken": token, "methodArn": methodArn})
	} else {
		var sources []string
		for s := range strings.SplitSeq(a.IdentitySource, ",") {
			if s = strings.TrimSpace(s); s != "" {
				sources = append(sources, s)
			}
		}
		ctxVals := map[string]string{"requestId": opts.RequestID, "stage": stage.StageName, "apiId": doc.API.ID, "resourceId": opts.ResourceID}
		var ok bool
		ids, ok = identityValues(sources, r, stage.Variables, ctxVals)
		if !ok && ttl > 0 {
			return nil, restUnauthorized()
		}
		ev := toMap(buildV1(r, nil, opts))
		delete(ev, "body")
		delete(ev, "isBase64Encoded")
		ev["type"] = "REQUEST"
		ev["methodArn"] = methodArn
		payload, err = httpevent.Marshal(ev)
	}
	if err != nil {
		return nil, restAuthorizerError()
	}
	cacheKey := doc.API.ID + "|" + a.ID + "|" + strings.Join(ids, "\x00")
	res, hit := (*authzResult)(nil), false
	if ttl > 0 {
		res, hit = g.authz.get(cacheKey, now)
		if hit {
			g.stats.authzCacheHits.Add(1)
		}
	}
	if !hit {
		out, err := g.invokeFunction(r.Context(), r, a.AuthorizerURI, stage.Variables, payload, now)
		if errors.Is(err, errFunction) && isUnauthorizedError(out) {
			return nil, restUnauthorized()
		}
		if err != nil {
			g.log.Debug("authorizer failed", "api_id", doc.API.ID, "authorizer_id", a.ID, "err", err)
			return nil, restAuthorizerError()
		}
		res, err = parseAuthorizerResponse(out, false)
		if err != nil {
			g.log.Debug("authorizer answer refused", "api_id", doc.API.ID, "err", err)
			return nil, restAuthorizerError()
		}
		if ttl > 0 {
			g.authz.put(cacheKey, res, now.Add(time.Duration(ttl)*time.Second), now)
		}
	}
	allow, explicit := res.policy.decision(methodArn)
	if !allow {
		return nil, restDenied(explicit)
	}
	return res, nil
}

// isUnauthorizedError reports whether a function error is the
// "Unauthorized" an authorizer raises to answer 401.
func isUnauthorizedError(payload []byte) bool {
	return strings.Contains(string(payload), `"errorMessage":"Unauthorized"`) ||
		strings.Contains(string(payload), `"errorMessage": "Unauthorized"`)
}

// restNonProxy runs a non-proxy integration; its execution log goes to
// the node's log at debug level.
func (g *Gateway) restNonProxy(r *http.Request, mr *methodRequest) *httpevent.Response {
	var lg *execLog
	if g.log.Enabled(r.Context(), slog.LevelDebug) {
		lg = &execLog{now: g.now}
	}
	resp := g.runIntegration(r.Context(), mr, lg)
	if lg != nil {
		g.log.Debug("execution log", "api_id", mr.doc.API.ID, "request_id", mr.opts.RequestID, "log", lg.b.String())
	}
	return resp
}
