package apigw

import (
	"net/http"
	"strconv"
	"strings"
)

// CORS on HTTP APIs, as API Gateway applies a corsConfiguration: it
// answers preflight requests itself (204, the function is not invoked,
// whatever the routes) and replaces the Access-Control-* headers of every
// answer with the configuration's; the function's own are ignored. It
// differs from function URLs' in the preflight status (204) and in
// refusing "*" origins with credentials at configuration time.

// checkCORS refuses what API Gateway refuses in a corsConfiguration.
func checkCORS(c *cors) error {
	if c == nil {
		return nil
	}
	if c.AllowCredentials {
		for _, o := range c.AllowOrigins {
			if o == "*" {
				return badRequest("allow-credentials is not supported with a wildcard (*) in allow-origins.")
			}
		}
	}
	if c.MaxAge != nil && (*c.MaxAge < -1 || *c.MaxAge > 86400) {
		return badRequest("Invalid maxAge %d: must be between -1 and 86400.", *c.MaxAge)
	}
	return nil
}

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

func (c *cors) origin(origin string) string {
	if origin == "" {
		return ""
	}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			return "*"
		}
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return origin
		}
	}
	return ""
}

func listAllows(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// preflight answers a preflight request.
func (c *cors) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := c.origin(r.Header.Get("Origin"))
	if origin != "" && listAllows(c.AllowMethods, r.Header.Get("Access-Control-Request-Method")) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
		if len(c.AllowHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if c.MaxAge != nil && *c.MaxAge >= 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(*c.MaxAge))
		}
	}
	h.Add("Vary", "Origin")
	w.WriteHeader(http.StatusNoContent)
}

// apply replaces the Access-Control-* headers of an answer to r.
func (c *cors) apply(h http.Header, r *http.Request) {
	for k := range h {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "Access-Control-") {
			delete(h, k)
		}
	}
	h.Add("Vary", "Origin")
	origin := c.origin(r.Header.Get("Origin"))
	if origin == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}
