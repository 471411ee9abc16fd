package s3

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORS: a bucket's rules (PutBucketCors) answer browsers' preflight
// OPTIONS requests (Preflight, which the front door serves unsigned, as
// S3 does) and add the Access-Control-* headers to the answers of requests
// that carry an Origin. The rules are part of the bucket's record, so each
// bucket's rules apply to its own requests only.

// CORSConfiguration is S3's CORSConfiguration document.
type CORSConfiguration struct {
	XMLName xml.Name   `xml:"CORSConfiguration" json:"-"`
	Xmlns   string     `xml:"xmlns,attr,omitempty" json:"-"`
	Rules   []CORSRule `xml:"CORSRule" json:"rules"`
}

// CORSRule is one rule of a CORSConfiguration.
type CORSRule struct {
	ID             string   `xml:"ID,omitempty" json:"id,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader" json:"headers,omitempty"`
	AllowedMethods []string `xml:"AllowedMethod" json:"methods"`
	AllowedOrigins []string `xml:"AllowedOrigin" json:"origins"`
	ExposeHeaders  []string `xml:"ExposeHeader" json:"expose,omitempty"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds" json:"maxAge,omitempty"`
}

// maxCORSRules is S3's limit on the rules of one configuration.
const maxCORSRules = 100

// parseCORS decodes and checks a PutBucketCors body as S3 does.
func parseCORS(body []byte) (*CORSConfiguration, error) {
	var c CORSConfiguration
	if err := xml.Unmarshal(body, &c); err != nil { //nolint:gosec // G709: a fixed shape, bounded by maxXMLBody
		return nil, malformedXML()
	}
	if len(c.Rules) == 0 || len(c.Rules) > maxCORSRules {
		return nil, malformedXML()
	}
	for _, r := range c.Rules {
		if len(r.AllowedMethods) == 0 || len(r.AllowedOrigins) == 0 || len(r.ID) > 255 {
			return nil, malformedXML()
		}
		for _, m := range r.AllowedMethods {
			switch m {
			case http.MethodGet, http.MethodPut, http.MethodHead, http.MethodPost, http.MethodDelete:
			default:
				return nil, invalidRequest("Found unsupported HTTP method in CORS config. Unsupported method is %s", m)
			}
		}
		for _, o := range r.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return nil, invalidRequest("AllowedOrigin \"%s\" can not have more than one wildcard.", o)
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return nil, invalidRequest("AllowedHeader \"%s\" can not have more than one wildcard.", h)
			}
		}
		if r.MaxAgeSeconds != nil && *r.MaxAgeSeconds < 0 {
			return nil, malformedXML()
		}
	}
	c.Xmlns = ""
	return &c, nil
}

// wildcardMatch matches s against a pattern with at most one "*".
func wildcardMatch(pattern, s string) bool {
	before, after, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// match finds the first rule that allows origin, method and every one of
// headers (lower-cased).
func (c *CORSConfiguration) match(origin, method string, headers []string) *CORSRule {
	if c == nil {
		return nil
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		if !anyMatch(r.AllowedOrigins, origin, false) || !anyMatch(r.AllowedMethods, method, false) {
			continue
		}
		ok := true
		for _, h := range headers {
			if !anyMatch(r.AllowedHeaders, h, true) {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p = strings.ToLower(p)
		}
		if wildcardMatch(p, s) {
			return true
		}
	}
	return false
}

// setCORSHeaders writes a matched rule's Access-Control-* headers.
func setCORSHeaders(h http.Header, r *CORSRule, origin string) {
	if slices.Contains(r.AllowedOrigins, "*") {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(*r.MaxAgeSeconds))
	}
	h.Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

// requestHeaders splits Access-Control-Request-Headers into lower-cased
// names.
func requestHeaders(v string) []string {
	var out []string
	for _, h := range strings.Split(v, ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// IsPreflight recognises a browser's CORS preflight request (S3 serves no
// other OPTIONS request).
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions
}

// Preflight answers a CORS preflight (OPTIONS) request from the bucket's
// rules. It is unsigned, as browsers send it; it reveals only whether the
// rules allow the request.
func (s *Service) Preflight(w http.ResponseWriter, r *http.Request) {
	if err := s.preflight(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Service) preflight(w http.ResponseWriter, r *http.Request) error {
	t, err := parseTarget(r)
	if err != nil {
		return err
	}
	if t.bucket == "" {
		return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return errorf(http.StatusBadRequest, "BadRequest", "Insufficient information. Origin request header needed.")
	}
	method := r.Header.Get("Access-Control-Request-Method")
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodHead, http.MethodPost, http.MethodDelete:
	default:
		return errorf(http.StatusBadRequest, "BadRequest", "Invalid Access-Control-Request-Method: %s", method)
	}
	b, err := s.bucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	if b.CORS == nil {
		return errorf(http.StatusForbidden, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.").
			with("Method", method).with("ResourceType", "OBJECT")
	}
	headers := requestHeaders(r.Header.Get("Access-Control-Request-Headers"))
	rule := b.CORS.match(origin, method, headers)
	if rule == nil {
		return errorf(http.StatusForbidden, "AccessForbidden",
			"CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / "+
				"Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.").
			with("Method", method).with("ResourceType", "OBJECT")
	}
	h := w.Header()
	setCORSHeaders(h, rule, origin)
	if len(headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// corsHeaders adds the Access-Control-* headers to the answer of a request
// with an Origin that one of its bucket's rules allows.
func (s *Service) corsHeaders(w http.ResponseWriter, r *http.Request, bucket string) {
	origin := r.Header.Get("Origin")
	if origin == "" || bucket == "" {
		return
	}
	b, ok := s.buckets.get(bucket)
	if !ok || b.CORS == nil {
		return
	}
	if rule := b.CORS.match(origin, r.Method, nil); rule != nil {
		setCORSHeaders(w.Header(), rule, origin)
	}
}

func (s *Service) putCORS(w http.ResponseWriter, r *http.Request, name string) error {
	body, err := readSmallBody(r, maxXMLBody)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return errorf(http.StatusBadRequest, "MissingRequestBodyError", "Request Body is empty")
	}
	c, err := parseCORS(body)
	if err != nil {
		return err
	}
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.CORS = c; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getCORS(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	if b.CORS == nil {
		return errorf(http.StatusNotFound, "NoSuchCORSConfiguration", "The CORS configuration does not exist").with("BucketName", name)
	}
	out := *b.CORS
	out.Xmlns = xmlns
	return writeXML(w, http.StatusOK, out)
}

func (s *Service) deleteCORS(w http.ResponseWriter, r *http.Request, name string) error {
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.CORS = nil; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
