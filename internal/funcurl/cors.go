package funcurl

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// CORS as function URLs apply it: with a Cors configuration the platform
// answers preflight requests itself (the function is not invoked) and
// sets the Access-Control-* headers of every response from the
// configuration, replacing any the function returned. Without one,
// OPTIONS requests go to the function like any other and its headers pass
// through untouched.

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// allowedOrigin returns the Access-Control-Allow-Origin value for origin,
// or "" when the configuration does not allow it.
func allowedOrigin(c *function.Cors, origin string) string {
	if origin == "" {
		return ""
	}
	creds := c.AllowCredentials != nil && *c.AllowCredentials
	for _, o := range c.AllowOrigins {
		if o == "*" {
			if creds {
				return origin // browsers refuse "*" with credentials
			}
			return "*"
		}
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return origin
		}
	}
	return ""
}

func methodAllowed(c *function.Cors, method string) bool {
	for _, m := range c.AllowMethods {
		if m == "*" || strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

// writePreflight answers a preflight request from the configuration.
func writePreflight(w http.ResponseWriter, r *http.Request, c *function.Cors) {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := allowedOrigin(c, r.Header.Get("Origin"))
	if origin != "" && methodAllowed(c, r.Header.Get("Access-Control-Request-Method")) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
		if len(c.AllowHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
		}
		if c.AllowCredentials != nil && *c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if c.MaxAge != nil && *c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(*c.MaxAge))
		}
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// applyCORS replaces the Access-Control-* headers of a response to r with
// those the configuration gives (nothing when c is nil: the function's
// own headers stand).
func applyCORS(h http.Header, r *http.Request, c *function.Cors) {
	if c == nil {
		return
	}
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	h.Add("Vary", "Origin")
	origin := allowedOrigin(c, r.Header.Get("Origin"))
	if origin == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
	if c.AllowCredentials != nil && *c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}
