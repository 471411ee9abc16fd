package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// JWT authorizers (HTTP APIs): the token from the identity source
// (Authorization, with or without "Bearer "), its signature checked with
// the issuer's keys (OpenID discovery: <issuer>/.well-known/openid-configuration
// then jwks_uri, cached an hour and fetched again for an unknown key id),
// iss, exp and nbf checked, aud (or an access token's client_id) one of
// the configured audiences, and, when the route lists authorization
// scopes, one of them in the token's scope claim. A bad or missing token
// is 401, a missing scope 403, as API Gateway answers.

const (
	jwksTTL        = time.Hour
	jwksRefetchGap = time.Minute
	maxJWKSBody    = 1 << 20
)

var jwtAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

func newJWTAuthorizer(name string, conf *jwtConf, sources []string) (*httpAuthorizer, error) {
	if conf == nil || conf.Issuer == "" || len(conf.Audience) == 0 {
		return nil, badRequest("JWT authorizers need jwtConfiguration with an issuer and at least one audience.")
	}
	if u, err := url.Parse(conf.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, badRequest("Invalid issuer %s: it must be an http(s) URL.", conf.Issuer)
	}
	if len(sources) == 0 {
		sources = []string{"$request.header.Authorization"}
	}
	if len(sources) != 1 {
		return nil, badRequest("A JWT authorizer takes exactly one identitySource.")
	}
	if src, ok := parseIdentitySource(sources[0]); !ok || src.where != "header" && src.where != "querystring" {
		return nil, badRequest("Invalid identitySource %s for a JWT authorizer.", sources[0])
	}
	return &httpAuthorizer{AuthorizerID: newID(6), Name: name, AuthorizerType: "JWT", IdentitySource: sources, JwtConfiguration: conf}, nil
}

// jwksCache keeps issuers' key sets.
type jwksCache struct {
	client *http.Client
	mu     sync.Mutex
	m      map[string]*jwksEntry // guarded by mu; by issuer
}

type jwksEntry struct {
	keys    jose.JSONWebKeySet
	fetched time.Time
}

func newJWKSCache() *jwksCache {
	return &jwksCache{client: &http.Client{Timeout: 5 * time.Second}, m: map[string]*jwksEntry{}}
}

// key returns the issuer's key with id kid, fetching the set when it is
// stale or (at most once a minute) when kid is unknown.
func (c *jwksCache) key(ctx context.Context, issuer, kid string, now time.Time) (*jose.JSONWebKey, error) {
	c.mu.Lock()
	e := c.m[issuer]
	c.mu.Unlock()
	if e != nil && now.Sub(e.fetched) < jwksTTL {
		if k := e.keys.Key(kid); len(k) > 0 {
			return &k[0], nil
		}
		if now.Sub(e.fetched) < jwksRefetchGap {
			return nil, fmt.Errorf("no key %q in the key set of %s", kid, issuer)
		}
	}
	keys, err := c.fetch(ctx, issuer)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[issuer] = &jwksEntry{keys: *keys, fetched: now}
	c.mu.Unlock()
	if k := keys.Key(kid); len(k) > 0 {
		return &k[0], nil
	}
	return nil, fmt.Errorf("no key %q in the key set of %s", kid, issuer)
}

func (c *jwksCache) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("get %s: %w", u, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody))
	if err != nil {
		return fmt.Errorf("read %s: %w", u, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", u, err)
	}
	return nil
}

func (c *jwksCache) fetch(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := c.get(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, err
	}
	if disc.JWKSURI == "" {
		return nil, fmt.Errorf("discovery document of %s has no jwks_uri", issuer)
	}
	var keys jose.JSONWebKeySet
	if err := c.get(ctx, disc.JWKSURI, &keys); err != nil {
		return nil, err
	}
	return &keys, nil
}

var errBadToken = errors.New("invalid token")

// jwtUnauthorized is the 401 of a missing or invalid token.
func jwtUnauthorized() *httpevent.Response {
	r := httpUnauthorized()
	r.Header.Set("Www-Authenticate", `Bearer error="invalid_token"`)
	return r
}

// authorizeJWT validates the request's token for a route.
func (g *Gateway) authorizeJWT(r *http.Request, a *httpAuthorizer, route *httpRoute, now time.Time) (*httpevent.JWTClaims, *httpevent.Response) {
	src, _ := parseIdentitySource(a.IdentitySource[0])
	token := strings.TrimSpace(src.value(r, nil, nil))
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" || a.JwtConfiguration == nil {
		return nil, jwtUnauthorized()
	}
	claims, err := g.verifyJWT(r.Context(), token, a.JwtConfiguration, now)
	if err != nil {
		g.log.Debug("jwt refused", "authorizer_id", a.AuthorizerID, "err", err)
		return nil, jwtUnauthorized()
	}
	if len(route.AuthorizationScopes) > 0 && !slices.ContainsFunc(claims.Scopes, func(s string) bool {
		return slices.Contains(route.AuthorizationScopes, s)
	}) {
		return nil, httpForbidden()
	}
	return claims, nil
}

func (g *Gateway) verifyJWT(ctx context.Context, token string, conf *jwtConf, now time.Time) (*httpevent.JWTClaims, error) {
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadToken, err)
	}
	if len(tok.Headers) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", errBadToken, len(tok.Headers))
	}
	key, err := g.jwks.key(ctx, conf.Issuer, tok.Headers[0].KeyID, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadToken, err)
	}
	var std jwt.Claims
	all := map[string]any{}
	if err := tok.Claims(key.Key, &std, &all); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadToken, err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: conf.Issuer, Time: now}, 0); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadToken, err)
	}
	clientID, _ := all["client_id"].(string)
	if !slices.ContainsFunc(conf.Audience, func(a string) bool { return std.Audience.Contains(a) || a == clientID }) {
		return nil, fmt.Errorf("%w: audience %v not allowed", errBadToken, std.Audience)
	}
	out := &httpevent.JWTClaims{Claims: map[string]string{}}
	for k, v := range all {
		if s, ok := v.(string); ok {
			out.Claims[k] = s
			continue
		}
		b, _ := json.Marshal(v)
		out.Claims[k] = string(b)
	}
	if s, ok := all["scope"].(string); ok {
		out.Scopes = strings.Fields(s)
	} else if l, ok := all["scp"].([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out.Scopes = append(out.Scopes, s)
			}
		}
	}
	return out, nil
}
