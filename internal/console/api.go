package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The console's own endpoints, under <base>api/:
//
//	GET  session   who is signed in ("" if nobody), and the session's CSRF token
//	POST signin    {accessKeyId, secretAccessKey, sessionToken?}: verified like a
//	               signed request, answered with a session cookie
//	POST signout   ends the session (CSRF)
//	POST link      SigV4-signed (nimbus console): a one-time sign-in token
//	GET  node      the node's description (session)
//	POST aws       one AWS API call, signed with the session's credentials and
//	               served by the front door in-process (session, CSRF)
//
// and <base>link?t=<token>, the one-time sign-in link itself.

// maxCall bounds a proxied call's request and answer (Lambda's invoke
// payloads are at most 6 MB).
const maxCall = 8 << 20

// apiError answers a console endpoint's failure as JSON.
func apiError(w http.ResponseWriter, code int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": kind, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request, base, op string) {
	post := r.Method == http.MethodPost
	switch {
	case op == "signin" && post:
		c.signIn(w, r, base)
		return
	case op == "link" && post:
		c.serveMintLink(w, r)
		return
	case op == "session" || op == "node" || op == "signout" || op == "aws":
	default:
		apiError(w, http.StatusNotFound, "NotFound", "No such console endpoint.")
		return
	}
	s, err := c.sessionOf(r)
	if err != nil && op == "session" && r.Method == http.MethodGet {
		// Not an error for the page: it shows the sign-in form.
		writeJSON(w, map[string]any{"principal": ""})
		return
	}
	if err != nil {
		apiError(w, http.StatusUnauthorized, "SignInRequired", "Sign in to use the console.")
		return
	}
	switch {
	case op == "session" && r.Method == http.MethodGet:
		writeJSON(w, map[string]any{"principal": s.Principal, "csrf": c.csrf(s), "expires": s.Expires})
	case op == "node" && r.Method == http.MethodGet:
		var v any
		if c.opts.Node != nil {
			v = c.opts.Node(r.Context())
		}
		writeJSON(w, v)
	case !post:
		apiError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Use POST.")
	case !c.checkCSRF(r, s):
		apiError(w, http.StatusForbidden, "CSRFRefused", "This request did not come from the console's own page.")
	case op == "signout":
		clearCookie(w, base)
		writeJSON(w, map[string]any{})
	case op == "aws":
		c.proxy(w, r, s)
	}
}

// signIn verifies an access key pair exactly as the front door verifies a
// signature (a request signed with it goes through Verify) and starts a
// session for its owner. Only the console's own page may post it: a
// JSON body (another site's form cannot send one) from this origin.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request, base string) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !sameOrigin(r) || ct != "application/json" {
		apiError(w, http.StatusForbidden, "CSRFRefused", "Sign in from the console's own page.")
		return
	}
	var in struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		SessionToken    string `json:"sessionToken"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil || in.AccessKeyID == "" || in.SecretAccessKey == "" {
		apiError(w, http.StatusBadRequest, "ValidationException", "Give an access key id and its secret access key.")
		return
	}
	creds := aws.Credentials{AccessKeyID: strings.TrimSpace(in.AccessKeyID), SecretAccessKey: strings.TrimSpace(in.SecretAccessKey),
		SessionToken: strings.TrimSpace(in.SessionToken)}
	probe, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "http://"+frontHost(r)+PathPrefix+"/api/link", http.NoBody)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "InternalFailure", "Cannot build the sign-in check.")
		return
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, probe, hex.EncodeToString(empty[:]), "lambda", c.opts.Region, c.opts.Now()); err != nil {
		apiError(w, http.StatusBadRequest, "ValidationException", "These credentials cannot sign a request.")
		return
	}
	id, err := c.opts.Verify(probe)
	if err != nil {
		c.log.Info("console sign-in refused", "remote_addr", r.RemoteAddr)
		apiError(w, http.StatusForbidden, "SignInRefused", "The access key id or the secret access key is not valid.")
		return
	}
	s, err := c.newSession(id)
	if err != nil {
		apiError(w, http.StatusForbidden, "SignInRefused", "No console session can be issued for these credentials: "+err.Error())
		return
	}
	c.setCookie(w, r, base, s)
	writeJSON(w, map[string]any{"principal": s.Principal, "csrf": c.csrf(s), "expires": s.Expires})
}

// serveMintLink answers `nimbus console`'s signed request with a one-time
// sign-in token for the signer.
func (c *Console) serveMintLink(w http.ResponseWriter, r *http.Request) {
	id, err := c.opts.Verify(r)
	if err != nil {
		apiError(w, http.StatusForbidden, "AccessDenied", "A one-time link is issued to a signed request only.")
		return
	}
	tok, exp := c.mintLink(id)
	writeJSON(w, map[string]any{"token": tok, "path": "link?t=" + url.QueryEscape(tok), "expires": exp.Unix()})
}

// serveLink signs in with a one-time link: it works once, before it
// expires; the session cookie is set and the browser goes to the console.
func (c *Console) serveLink(w http.ResponseWriter, r *http.Request, base string) {
	id, ok := c.useLink(r.URL.Query().Get("t"))
	var s session
	var err error
	if ok {
		s, err = c.newSession(id)
	}
	if !ok || err != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		msg := "This sign-in link was used already or has expired. Run <code>nimbus console</code> for a new one, or sign in with an access key."
		if err != nil {
			msg = html.EscapeString(err.Error())
		}
		_, _ = fmt.Fprintf(w, "<!doctype html><title>Nimbus console</title><link rel=icon href=data:,><link rel=stylesheet href=\"%sapp.css\"><main class=signin><h1>Sign-in link refused</h1><p role=alert>%s</p><p><a href=\"%s\">Sign in</a></p></main>",
			base, msg, base)
		return
	}
	c.setCookie(w, r, base, s)
	http.Redirect(w, r, base, http.StatusSeeOther)
}

// call is one AWS API call the page asks the proxy to make.
type call struct {
	Service     string `json:"service"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	Query       string `json:"query"`
	Target      string `json:"target"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
	// Headers are the few request headers an operation takes beside its
	// body (passHeaders), such as Lambda's X-Amz-Log-Type.
	Headers map[string]string `json:"headers"`
}

// unsignedPaths are the node's probes, which take no signature.
var unsignedPaths = map[string]bool{"/healthz": true, "/readyz": true}

// passHeaders are the request headers a call may set.
var passHeaders = map[string]bool{"X-Amz-Log-Type": true, "X-Amz-Invocation-Type": true, "X-Amz-Client-Context": true}

var errBadCall = errors.New("bad call")

func (k call) validate() error {
	if k.Service == "" || len(k.Service) > 32 || strings.Trim(k.Service, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("%w: service %q", errBadCall, k.Service)
	}
	switch k.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodPatch:
	default:
		return fmt.Errorf("%w: method %q", errBadCall, k.Method)
	}
	if !strings.HasPrefix(k.Path, "/") || strings.HasPrefix(k.Path, "//") || strings.ContainsAny(k.Path, "?#\r\n") {
		return fmt.Errorf("%w: path %q", errBadCall, k.Path)
	}
	// The console does not call itself.
	if p := strings.ToLower(k.Path); p == PathPrefix || strings.HasPrefix(p, PathPrefix+"/") || strings.HasPrefix(p, "/%5f") {
		return fmt.Errorf("%w: path %q", errBadCall, k.Path)
	}
	if strings.ContainsAny(k.Target+k.ContentType+k.Query, "\r\n#") {
		return fmt.Errorf("%w: header or query", errBadCall)
	}
	for h, v := range k.Headers {
		if !passHeaders[http.CanonicalHeaderKey(h)] || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%w: header %q", errBadCall, h)
		}
	}
	return nil
}

// frontHost is the Host the proxy's calls carry: the node's own address
// (never console.localhost, which would route back here).
func frontHost(r *http.Request) string {
	port := "80"
	if i := strings.LastIndexByte(r.Host, ':'); i >= 0 && !strings.Contains(r.Host[i:], "]") {
		port = r.Host[i+1:]
	}
	return "127.0.0.1:" + port
}

// answered are the headers of a front-door answer the page sees.
var answered = []string{"Content-Type", "X-Amzn-Errortype", "X-Amz-Function-Error", "X-Amz-Log-Result", "X-Amz-Executed-Version",
	"X-Amzn-Requestid", "X-Amz-Request-Id"}

// proxy makes one call as the session's caller: signed with its
// credentials, served by the node's front door in-process, so that the
// signature check and IAM's evaluation are those of any other request.
func (c *Console) proxy(w http.ResponseWriter, r *http.Request, s session) {
	var k call
	if err := json.NewDecoder(io.LimitReader(r.Body, maxCall)).Decode(&k); err != nil {
		apiError(w, http.StatusBadRequest, "ValidationException", "The call is not valid JSON.")
		return
	}
	if err := k.validate(); err != nil {
		apiError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	// A call lasts at most as long as the session (an invoke is bounded
	// by its function's timeout; a live tail streams until then).
	ctx, cancel := context.WithDeadline(r.Context(), time.Unix(s.Expires, 0))
	defer cancel()
	u := "http://" + frontHost(r) + k.Path
	if k.Query != "" {
		u += "?" + k.Query
	}
	req, err := http.NewRequestWithContext(ctx, k.Method, u, strings.NewReader(k.Body))
	if err != nil {
		apiError(w, http.StatusBadRequest, "ValidationException", "The call's URL is not valid.")
		return
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = r.RemoteAddr
	if k.Target != "" {
		req.Header.Set("X-Amz-Target", k.Target)
	}
	if k.ContentType != "" {
		req.Header.Set("Content-Type", k.ContentType)
	}
	for h, v := range k.Headers {
		req.Header.Set(h, v)
	}
	sum := sha256.Sum256([]byte(k.Body))
	hash := hex.EncodeToString(sum[:])
	signer := v4.NewSigner()
	if k.Service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", hash)
		signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	}
	// Probes are read as a prober reads them, unsigned: a signature
	// would route them to its service.
	if !unsignedPaths[k.Path] {
		if err := signer.SignHTTP(ctx, c.credentials(s), req, hash, k.Service, c.opts.Region, c.opts.Now()); err != nil {
			apiError(w, http.StatusInternalServerError, "InternalFailure", "Cannot sign the call.")
			return
		}
	}
	bw := &bufWriter{h: http.Header{}, limit: maxCall, out: w}
	c.opts.Front.ServeHTTP(bw, req)
	if bw.streaming {
		return
	}
	copyAnswered(w, bw.h)
	if bw.over {
		apiError(w, http.StatusBadGateway, "ResponseTooLarge", "The answer is larger than the console shows.")
		return
	}
	if bw.code == 0 {
		bw.code = http.StatusOK
	}
	w.WriteHeader(bw.code)
	_, _ = w.Write(bw.buf)
}

func copyAnswered(w http.ResponseWriter, from http.Header) {
	for _, h := range answered {
		if v := from.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
}

// eventStreamType is the content type of an AWS event stream answer
// (StartLiveTail, InvokeWithResponseStream): the proxy passes it on to
// the page as it comes, each flush at once, instead of holding it.
const eventStreamType = "application/vnd.amazon.eventstream"

// bufWriter holds a front-door answer in memory, up to limit bytes; an
// event stream answer goes straight on to out as it is written.
type bufWriter struct {
	h     http.Header
	code  int
	buf   []byte
	limit int
	over  bool

	out       http.ResponseWriter
	streaming bool
}

func (b *bufWriter) Header() http.Header { return b.h }

func (b *bufWriter) WriteHeader(code int) {
	if b.code != 0 {
		return
	}
	b.code = code
	if code == http.StatusOK && b.out != nil && strings.HasPrefix(b.h.Get("Content-Type"), eventStreamType) {
		b.streaming = true
		copyAnswered(b.out, b.h)
		b.out.WriteHeader(code)
		_ = http.NewResponseController(b.out).Flush()
	}
}

func (b *bufWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.WriteHeader(http.StatusOK)
	}
	if b.streaming {
		return b.out.Write(p)
	}
	if len(b.buf)+len(p) > b.limit {
		b.over = true
		return 0, errors.New("answer too large")
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush passes a streaming answer's flush on; a held answer waits.
func (b *bufWriter) Flush() {
	if b.streaming {
		_ = http.NewResponseController(b.out).Flush()
	}
}
