package apigw

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// issuer is an OpenID provider for tests: discovery, a key set, and
// tokens signed with its key.
type issuer struct {
	srv  *httptest.Server
	key  *ecdsa.PrivateKey
	kid  string
	hits int
}

func newIssuer(t *testing.T) *issuer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key, kid: "k1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		is.hits++
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: "ES256", Use: "sig"}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: is.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", is.kid))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHTTPAPIJWTAuthorizer(t *testing.T) {
	h := newHarness(t)
	is := newIssuer(t)
	h.fns.fns["f"] = answer("ok")
	id := h.quickAPI("f")
	var a httpAuthorizer
	h.mgmt("POST", "/v2/apis/"+id+"/authorizers", map[string]any{"name": "jwt", "authorizerType": "JWT",
		"identitySource": []string{"$request.header.Authorization"}, "jwtConfiguration": map[string]any{"issuer": is.srv.URL, "audience": []string{"app"}}}, 201, &a)
	var routes struct{ Items []httpRoute }
	h.mgmt("GET", "/v2/apis/"+id+"/routes", nil, 200, &routes)
	h.mgmt("PATCH", "/v2/apis/"+id+"/routes/"+routes.Items[0].RouteID, map[string]any{"authorizationType": "JWT", "authorizerId": a.AuthorizerID,
		"authorizationScopes": []string{"read"}}, 200, nil)

	now := h.clock()
	good := map[string]any{"iss": is.srv.URL, "aud": "app", "sub": "user-1", "scope": "read write", "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		c[k] = v
		if v == nil {
			delete(c, k)
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		token string
		code  int
	}{
		{"none", "", 401},
		{"garbage", "Bearer not.a.jwt", 401},
		{"valid", "Bearer " + is.token(t, good), 200},
		{"valid without Bearer", is.token(t, good), 200},
		{"expired", "Bearer " + is.token(t, with("exp", now.Add(-time.Minute).Unix())), 401},
		{"other issuer", "Bearer " + is.token(t, with("iss", "https://evil.example")), 401},
		{"other audience", "Bearer " + is.token(t, with("aud", "other")), 401},
		{"no audience", "Bearer " + is.token(t, with("aud", nil)), 401},
		{"missing scope", "Bearer " + is.token(t, with("scope", "write")), 403},
	} {
		hdr := map[string]string{}
		if tc.token != "" {
			hdr["Authorization"] = tc.token
		}
		if w := h.call(id, "GET", "/", hdr); w.Code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.code)
		}
	}
	c := with("aud", nil)
	c["client_id"] = "app"
	if w := h.call(id, "GET", "/", map[string]string{"Authorization": "Bearer " + is.token(t, c)}); w.Code != 200 {
		t.Errorf("access token with client_id app: %d", w.Code)
	}
	ev := h.fns.lastEvent(t, "f")
	jwtCtx := ev["requestContext"].(map[string]any)["authorizer"].(map[string]any)["jwt"].(map[string]any)
	if jwtCtx["claims"].(map[string]any)["sub"] != "user-1" || len(jwtCtx["scopes"].([]any)) != 2 {
		t.Errorf("authorizer.jwt in the event = %v", jwtCtx)
	}
	if is.hits != 1 {
		t.Errorf("key set fetched %d times, want once (cached)", is.hits)
	}
	var out struct {
		Message string `json:"message"`
	}
	h.mgmt("POST", "/v2/apis/"+id+"/authorizers", map[string]any{"name": "j2", "authorizerType": "JWT"}, 400, &out)
}
