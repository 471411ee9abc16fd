// Package console is the node's web console: a few static pages (embedded,
// no build step) served at http://console.localhost:<port>/ and at
// /_nimbus/console/ on the node's own port, and the small server side they
// need: sign-in (an access key pair, or a one-time link that `nimbus
// console` asks for), the session cookie, CSRF checks, and a proxy that
// signs each of the pages' AWS API calls with the session's credentials
// and serves it through the node's own front door in-process, so that
// SigV4 verification and IAM evaluation are exactly those of any other
// caller. docs/design/console.md explains the choices.
//
// Who may import it: the daemon (wiring). It imports auth for the
// identity the daemon's verifier returns, and nothing of the services.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-serverless/nimbus/internal/auth"
)

// Host is the host name the console answers on (any port): browsers
// resolve *.localhost to loopback themselves.
const Host = "console.localhost"

// PathPrefix is the console's path on the node's own address; no S3
// bucket name can start with "_", so path-style S3 never shadows it.
const PathPrefix = "/_nimbus/console"

// SessionTTL is how long a console session (its cookie and the
// credentials behind it) lives.
const SessionTTL = time.Hour

// LinkTTL is how long a one-time sign-in link stays usable.
const LinkTTL = 2 * time.Minute

// IsRequest recognises the console's requests: Host console.localhost
// (any port), or a path under PathPrefix.
func IsRequest(r *http.Request) bool {
	return IsHost(r.Host) || r.URL.Path == PathPrefix || strings.HasPrefix(r.URL.Path, PathPrefix+"/")
}

// IsHost reports whether host (with or without a port) is the console's.
func IsHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), Host)
}

// Options wires a console to its node.
type Options struct {
	// Front serves a request as the node's front door does (its route
	// table): the proxy sends each signed call there, in-process.
	Front http.Handler
	// Verify checks a request's SigV4 signature (for service "lambda") as
	// the front door does and says who signed it.
	Verify func(r *http.Request) (auth.Identity, error)
	// Credentials returns the credentials a session of id signs its
	// calls with, valid for about ttl: temporary ones for IAM users and
	// role sessions, root's own keys for root (they stay on the server:
	// its cookie holds only a session the console signed).
	Credentials func(id auth.Identity, ttl time.Duration) (creds aws.Credentials, root bool, err error)
	// Root returns root's credentials, to sign a root session's calls.
	Root func() aws.Credentials
	// Node describes the node for the overview page (protections, modes).
	Node func(ctx context.Context) any
	// Key is the secret the session cookies' MAC key is derived from: the
	// node's session key, which a cluster's nodes share through the
	// backbone, so a session signed in on one node is accepted by every
	// node (behind one load-balanced name, the browser sends its cookie
	// to any of them). Nil: a random key at each start.
	Key []byte
	// Region of the node (the proxy signs for it).
	Region string
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Console serves the console. Its zero value is not usable; use New.
type Console struct {
	opts Options
	key  []byte // MAC key of session cookies and CSRF tokens (derived from Options.Key)
	log  *slog.Logger

	mu    sync.Mutex
	links map[string]pendingLink // guarded by mu: one-time link tokens not used yet
}

// New returns a console. Its cookies' MAC key is derived from
// opts.Key (random when nil).
func New(opts Options) *Console {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if len(opts.Key) > 0 {
		m := hmac.New(sha256.New, opts.Key)
		m.Write([]byte("nimbus console session cookie v1"))
		key = m.Sum(nil)
	}
	return &Console{opts: opts, key: key, log: opts.Logger, links: map[string]pendingLink{}}
}

// ServeHTTP serves one console request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base, rel := "/", r.URL.Path
	if !IsHost(r.Host) {
		if r.URL.Path == PathPrefix {
			http.Redirect(w, r, PathPrefix+"/", http.StatusMovedPermanently)
			return
		}
		base, rel = PathPrefix+"/", strings.TrimPrefix(r.URL.Path, PathPrefix)
	}
	rel = strings.TrimPrefix(rel, "/")
	securityHeaders(w.Header())
	switch {
	case rel == "link":
		c.serveLink(w, r, base)
	case strings.HasPrefix(rel, "api/"):
		w.Header().Set("Cache-Control", "no-store")
		c.serveAPI(w, r, base, strings.TrimPrefix(rel, "api/"))
	default:
		serveStatic(w, r, rel)
	}
}

// securityHeaders: nothing but the node's own origin may be loaded, framed
// or posted to.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
