// Package secretsext serves the protocol of the AWS Parameters and
// Secrets Lambda Extension inside a function's environment, so functions
// written for that extension work unchanged:
//
//	GET /secretsmanager/get?secretId=ID[&versionId=V][&versionStage=S]
//	GET /systemsmanager/parameters/get?name=N[&version=V][&label=L][&withDecryption=true]
//
// each with the header X-Aws-Parameters-Secrets-Token equal to the
// environment's AWS_SESSION_TOKEN (a request without it, or with another
// value, is refused with 401, so other processes that can reach the port
// cannot read through the function's credentials). The answer is the
// service's own JSON (GetSecretValue's, GetParameter's), fetched with the
// function's credentials and cached for a TTL (300 s by default, as the
// extension's SECRETS_MANAGER_TTL and SSM_PARAMETER_STORE_TTL), at most
// MaxEntries entries (PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE, 1000).
// Errors of the service keep its status code and carry its error body.
//
// The package owns the protocol only: the runtime's extension host starts
// Handler on 127.0.0.1:2773 (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT) in
// the environment, with a Fetcher (HTTPFetcher calls the node's API signed
// with the function's credentials). Nothing in Nimbus imports it yet
// besides its tests; docs/design/secrets.md says where it plugs in.
package secretsext

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// TokenHeader carries the environment's session token.
const TokenHeader = "X-Aws-Parameters-Secrets-Token"

// DefaultPort is the extension's port (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT).
const DefaultPort = 2773

// Fetcher reads a value from the services, returning the service's JSON
// answer; an error is a *ServiceError when the service refused.
type Fetcher interface {
	GetSecretValue(ctx context.Context, secretID, versionID, versionStage string) ([]byte, error)
	GetParameter(ctx context.Context, name string, withDecryption bool) ([]byte, error)
}

// ServiceError is a service's refusal: its HTTP status and error body.
type ServiceError struct {
	Status int
	Body   []byte
}

func (e *ServiceError) Error() string {
	return "service answered " + strconv.Itoa(e.Status) + ": " + string(e.Body)
}

// Options configure New.
type Options struct {
	// Token is the environment's AWS_SESSION_TOKEN; required.
	Token string
	Fetch Fetcher // required
	// SecretsTTL and ParametersTTL bound how long an answer is reused
	// (300 s when zero; negative: never cached).
	SecretsTTL, ParametersTTL time.Duration
	// MaxEntries bounds the cache (1000 when zero).
	MaxEntries int
	// Now is the cache's clock (time.Now when nil).
	Now func() time.Time
}

// Handler serves the extension's protocol.
type Handler struct {
	o Options

	mu    sync.Mutex
	cache map[string]entry // guarded by mu
}

type entry struct {
	body    []byte
	expires time.Time
}

// New returns the handler.
func New(o Options) (*Handler, error) {
	if o.Token == "" || o.Fetch == nil {
		return nil, errors.New("secretsext: Token and Fetch are required")
	}
	if o.SecretsTTL == 0 {
		o.SecretsTTL = 300 * time.Second
	}
	if o.ParametersTTL == 0 {
		o.ParametersTTL = 300 * time.Second
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{o: o, cache: map[string]entry{}}, nil
}

// request is a parsed request of the protocol.
type request struct {
	secret    bool
	id        string // secretId or name (with :version / :label for parameters)
	versionID string
	stage     string
	decrypt   bool
}

// maxID bounds an id: Secrets Manager's 2048, SSM's name with a selector.
const maxID = 2048

// parse reads a request's path and query (untrusted: anything in the
// environment may send it). The error is the 400 answer's text.
func parse(r *http.Request) (request, error) {
	q := r.URL.Query()
	one := func(k string) (string, error) {
		v := q[k]
		if len(v) > 1 {
			return "", errors.New("parameter " + k + " is given more than once")
		}
		if len(v) == 0 {
			return "", nil
		}
		if len(v[0]) > maxID {
			return "", errors.New("parameter " + k + " is too long")
		}
		return v[0], nil
	}
	var out request
	var err error
	switch r.URL.Path {
	case "/secretsmanager/get":
		out.secret = true
		if out.id, err = one("secretId"); err != nil {
			return out, err
		}
		if out.id == "" {
			return out, errors.New("secretId is required")
		}
		if out.versionID, err = one("versionId"); err != nil {
			return out, err
		}
		if out.stage, err = one("versionStage"); err != nil {
			return out, err
		}
	case "/systemsmanager/parameters/get":
		if out.id, err = one("name"); err != nil {
			return out, err
		}
		if out.id == "" {
			return out, errors.New("name is required")
		}
		version, err := one("version")
		if err != nil {
			return out, err
		}
		label, err := one("label")
		if err != nil {
			return out, err
		}
		switch {
		case version != "" && label != "":
			return out, errors.New("give version or label, not both")
		case version != "":
			if n, err := strconv.ParseUint(version, 10, 63); err != nil || n == 0 {
				return out, errors.New("version must be a positive whole number")
			}
			out.id += ":" + version
		case label != "":
			out.id += ":" + label
		}
		dec, err := one("withDecryption")
		if err != nil {
			return out, err
		}
		if dec != "" {
			if out.decrypt, err = strconv.ParseBool(dec); err != nil {
				return out, errors.New("withDecryption must be true or false")
			}
		}
	default:
		return out, errNotFound
	}
	return out, nil
}

var errNotFound = errors.New("not found")

func (r request) key() string {
	b, _ := json.Marshal([]any{r.secret, r.id, r.versionID, r.stage, r.decrypt})
	return string(b)
}

// ServeHTTP answers one request of the protocol.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(TokenHeader)), []byte(h.o.Token)) != 1 {
		http.Error(w, "Unauthorized: the "+TokenHeader+" header must be the environment's AWS_SESSION_TOKEN", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	req, err := parse(r)
	if errors.Is(err, errNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := h.get(r.Context(), req)
	var se *ServiceError
	switch {
	case errors.As(err, &se):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(se.Status)
		_, _ = w.Write(se.Body)
		return
	case err != nil:
		http.Error(w, "the value could not be fetched", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// get answers req from the cache or the services.
func (h *Handler) get(ctx context.Context, req request) ([]byte, error) {
	ttl := h.o.ParametersTTL
	if req.secret {
		ttl = h.o.SecretsTTL
	}
	k := req.key()
	now := h.o.Now()
	if ttl > 0 {
		h.mu.Lock()
		e, ok := h.cache[k]
		h.mu.Unlock()
		if ok && now.Before(e.expires) {
			return e.body, nil
		}
	}
	var body []byte
	var err error
	if req.secret {
		body, err = h.o.Fetch.GetSecretValue(ctx, req.id, req.versionID, req.stage)
	} else {
		body, err = h.o.Fetch.GetParameter(ctx, req.id, req.decrypt)
	}
	if err != nil || ttl <= 0 {
		return body, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.cache) >= h.o.MaxEntries {
		for ck, e := range h.cache { // drop the expired, else any one
			if !now.Before(e.expires) {
				delete(h.cache, ck)
			}
		}
		for ck := range h.cache {
			if len(h.cache) < h.o.MaxEntries {
				break
			}
			delete(h.cache, ck)
		}
	}
	h.cache[k] = entry{body: body, expires: now.Add(ttl)}
	return body, nil
}
