package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-serverless/nimbus/internal/auth"
)

// cookieName is the session cookie's name.
const cookieName = "nimbus_console"

// csrfHeader carries a session's CSRF token on every state-changing call.
const csrfHeader = "X-Nimbus-Csrf"

// session is what a console cookie holds, MAC-protected with the
// console's key: the caller's ARN, its temporary credentials (or, for
// root, only the fact: root's keys never leave the server), an expiry and
// a nonce the CSRF token is derived from.
type session struct {
	Principal string `json:"p"`
	Root      bool   `json:"r,omitempty"`
	AccessKey string `json:"a,omitempty"`
	Secret    string `json:"s,omitempty"`
	Token     string `json:"t,omitempty"`
	Expires   int64  `json:"e"`
	Nonce     string `json:"n"`
}

var errNoSession = errors.New("no console session")

func (c *Console) mac(purpose, data string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(purpose + "\n" + data))
	return m.Sum(nil)
}

// encode is the cookie value of s: payload "." MAC, both base64url.
func (c *Console) encode(s session) string {
	b, _ := json.Marshal(s) //nolint:gosec // G117: the cookie carries the session's credentials on purpose (MAC'd, HttpOnly)
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + base64.RawURLEncoding.EncodeToString(c.mac("session", p))
}

// decode checks a cookie value's MAC and expiry.
func (c *Console) decode(v string) (session, error) {
	p, m, ok := strings.Cut(v, ".")
	if !ok {
		return session{}, errNoSession
	}
	got, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || !hmac.Equal(got, c.mac("session", p)) {
		return session{}, errNoSession
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return session{}, errNoSession
	}
	var s session
	if json.Unmarshal(b, &s) != nil || c.opts.Now().Unix() >= s.Expires || s.Nonce == "" {
		return session{}, errNoSession
	}
	return s, nil
}

// csrf is the CSRF token of s: the page reads it from api/session (it
// cannot read the cookie) and sends it back in csrfHeader.
func (c *Console) csrf(s session) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("csrf", s.Nonce))
}

// sessionOf returns the request's valid session.
func (c *Console) sessionOf(r *http.Request) (session, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, errNoSession
	}
	return c.decode(ck.Value)
}

// checkCSRF refuses a state-changing request that another site could
// have sent: its Sec-Fetch-Site or Origin must be this origin's, and its
// CSRF header must be s's token.
func (c *Console) checkCSRF(r *http.Request, s session) bool {
	if !sameOrigin(r) {
		return false
	}
	return hmac.Equal([]byte(r.Header.Get(csrfHeader)), []byte(c.csrf(s)))
}

// sameOrigin: a browser says where a request comes from (Sec-Fetch-Site,
// Origin); neither may name another site. Requests without both (non-
// browser clients) pass on to the token check.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return false
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	if o := r.Header.Get("Origin"); o != "" && o != scheme+r.Host {
		return false
	}
	return true
}

// newSession makes the session of a verified identity.
func (c *Console) newSession(id auth.Identity) (session, error) {
	creds, root, err := c.opts.Credentials(id, SessionTTL)
	if err != nil {
		return session{}, err
	}
	exp := c.opts.Now().Add(SessionTTL)
	if !root && creds.CanExpire && creds.Expires.Before(exp) {
		exp = creds.Expires
	}
	s := session{Principal: id.Principal, Root: root, Expires: exp.Unix(), Nonce: randomToken(16)}
	if !root {
		s.AccessKey, s.Secret, s.Token = creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken
	}
	return s, nil
}

// credentials are the credentials s signs its calls with.
func (c *Console) credentials(s session) aws.Credentials {
	if s.Root {
		return c.opts.Root()
	}
	return aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.Secret, SessionToken: s.Token}
}

// setCookie gives the browser s: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), scoped to the
// console's path, gone when the session ends.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, base string, s session) {
	//nolint:gosec // G124: Secure on HTTPS only (a plain-HTTP loopback listener could not set it); HttpOnly and SameSite=Strict always
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: c.encode(s), Path: base, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.Expires - c.opts.Now().Unix())})
}

func clearCookie(w http.ResponseWriter, base string) {
	//nolint:gosec // G124: as setCookie
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: base, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pendingLink is a one-time sign-in link not used yet.
type pendingLink struct {
	id      auth.Identity
	expires time.Time
}

// mintLink records a one-time link token for id.
func (c *Console) mintLink(id auth.Identity) (string, time.Time) {
	tok := randomToken(32)
	now := c.opts.Now()
	exp := now.Add(LinkTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, l := range c.links {
		if !now.Before(l.expires) {
			delete(c.links, t)
		}
	}
	c.links[tok] = pendingLink{id: id, expires: exp}
	return tok, exp
}

// useLink consumes a link token: it works once, before it expires.
func (c *Console) useLink(tok string) (auth.Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.links[tok]
	if !ok {
		return auth.Identity{}, false
	}
	delete(c.links, tok)
	return l.id, c.opts.Now().Before(l.expires)
}
