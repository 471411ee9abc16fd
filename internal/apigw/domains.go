package apigw

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// Custom domain names: a host name whose requests reach an API's stage
// by the path's first segments (the mapping key, REST's base path). The
// two APIs see the same domains, as on AWS: apigateway's DomainName and
// BasePathMapping (REST APIs, one-segment base paths) and apigatewayv2's
// DomainName and ApiMapping (HTTP and REST APIs, keys of several
// segments). One document per domain (apigw.domain.<name>) holds the
// domain and its mappings. The node serves every domain with its own TLS
// certificate (the --tls flags): certificate ARNs are accepted and
// recorded, never used. The request's Host decides (see DomainRequest).

const domainKeyPrefix = keyPrefix + "domain."

// domainDoc is a custom domain name and its API mappings.
type domainDoc struct {
	Name           string            `json:"name"`
	CertificateArn string            `json:"certificateArn,omitempty"`
	CertificateNm  string            `json:"certificateName,omitempty"`
	EndpointType   string            `json:"endpointType"`
	SecurityPolicy string            `json:"securityPolicy"`
	Tags           map[string]string `json:"tags,omitempty"`
	Created        string            `json:"created"`
	Mappings       []*apiMapping     `json:"mappings,omitempty"`
}

type apiMapping struct {
	APIID        string `json:"apiId"`
	APIMappingID string `json:"apiMappingId"`
	Key          string `json:"apiMappingKey"`
	Stage        string `json:"stage"`
}

func domainKey(name string) string { return domainKeyPrefix + name }

func domainNotFound(name string) error {
	return notFound("Invalid domain name identifier specified")
}

// validDomainName checks a custom domain name: a lower-case DNS name
// with at least two labels that the node does not already answer for
// (execute-api, function URL, S3 and console hosts, IP addresses,
// localhost), so that a domain can never shadow the node's own API.
func validDomainName(n string) error {
	if strings.HasPrefix(n, "*.") {
		return badRequest("Nimbus does not serve wildcard custom domain names (%s); name each host.", n)
	}
	if len(n) < 3 || len(n) > 253 || !strings.Contains(n, ".") || net.ParseIP(n) != nil {
		return badRequest("Invalid domain name %s: a fully qualified host name such as api.example.com.", n)
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return badRequest("Invalid domain name %s.", n)
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return badRequest("Invalid domain name %s: lower-case letters, digits and hyphens.", n)
			}
		}
	}
	if _, ok := InvokeHost(n); ok || strings.Contains(n, ".lambda-url.") || strings.Contains(n, ".execute-api.") ||
		strings.HasPrefix(n, "s3.") || strings.Contains(n, ".s3.") || strings.HasPrefix(n, "console.") {
		return badRequest("Invalid domain name %s: the node already answers for that host.", n)
	}
	return nil
}

// validMappingKey checks an API mapping key (v2: segments separated by
// "/"; REST base paths: one segment).
func validMappingKey(k string, multi bool) bool {
	if k == "" {
		return true
	}
	if len(k) > 1024 || strings.HasPrefix(k, "/") || strings.HasSuffix(k, "/") {
		return false
	}
	segs := strings.Split(k, "/")
	if !multi && len(segs) > 1 {
		return false
	}
	for _, s := range segs {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' && c != '$' {
				return false
			}
		}
	}
	return true
}

// checkMapping checks that the mapping's API and stage exist and its key
// is free on the domain.
func (g *Gateway) checkMapping(ctx context.Context, d *domainDoc, m *apiMapping) error {
	if !validID(m.APIID) {
		return notFound("Invalid API identifier specified %s", m.APIID)
	}
	switch {
	case g.docs.httpAPI(m.APIID) != nil:
		var doc httpDoc
		if _, err := g.docs.get(ctx, httpKey(m.APIID), &doc); err != nil {
			return mapNotFound(err, apiNotFound(m.APIID))
		}
		if doc.API.ProtocolType == protocolWebSocket {
			return badRequest("Nimbus serves WebSocket APIs on their execute-api host only; API %s cannot be mapped to a custom domain name.", m.APIID)
		}
		if doc.stage(m.Stage) == nil {
			return notFound("Invalid stage identifier specified")
		}
	case g.docs.restAPI(m.APIID) != nil:
		var doc restDoc
		if _, err := g.docs.get(ctx, restKeyPrefix+m.APIID, &doc); err != nil {
			return mapNotFound(err, notFound("Invalid API identifier specified %s", m.APIID))
		}
		if doc.stage(m.Stage) == nil {
			return badRequest("Invalid stage identifier specified")
		}
	default:
		return notFound("Invalid API identifier specified %s", m.APIID)
	}
	for _, o := range d.Mappings {
		if o != m && o.Key == m.Key {
			return conflict("Base path already exists for this domain name")
		}
	}
	return nil
}

// --- apigatewayv2 ----------------------------------------------------

type domainConfV2 struct {
	APIGatewayDomainName string `json:"apiGatewayDomainName,omitempty"`
	CertificateArn       string `json:"certificateArn,omitempty"`
	CertificateName      string `json:"certificateName,omitempty"`
	DomainNameStatus     string `json:"domainNameStatus,omitempty"`
	EndpointType         string `json:"endpointType,omitempty"`
	HostedZoneID         string `json:"hostedZoneId,omitempty"`
	SecurityPolicy       string `json:"securityPolicy,omitempty"`
	IPAddressType        string `json:"ipAddressType,omitempty"`
}

func (g *Gateway) wireDomainV2(d *domainDoc) map[string]any {
	return map[string]any{
		"apiMappingSelectionExpression": "$request.basepath", "domainName": d.Name,
		"domainNameArn": "arn:aws:apigateway:" + g.region + "::/domainnames/" + d.Name,
		"domainNameConfigurations": []domainConfV2{{APIGatewayDomainName: d.Name, CertificateArn: d.CertificateArn,
			CertificateName: d.CertificateNm, DomainNameStatus: "AVAILABLE", EndpointType: d.EndpointType,
			SecurityPolicy: d.SecurityPolicy, IPAddressType: "ipv4"}},
		"tags": nonNilMap(d.Tags), "routingMode": "API_MAPPING_ONLY",
	}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

type mtlsInput struct {
	TruststoreURI string `json:"truststoreUri"`
}

func refuseMTLS(m *mtlsInput) error {
	if m != nil && m.TruststoreURI != "" {
		return badRequest("Nimbus does not support mutual TLS authentication on custom domain names.")
	}
	return nil
}

func (g *Gateway) createDomainV2(c *call) error {
	var in struct {
		DomainName               string            `json:"domainName"`
		DomainNameConfigurations []domainConfV2    `json:"domainNameConfigurations"`
		MutualTLS                *mtlsInput        `json:"mutualTlsAuthentication"`
		Tags                     map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	d := g.newDomain(in.DomainName, in.Tags)
	if len(in.DomainNameConfigurations) > 1 {
		return badRequest("Only one domain name configuration is supported.")
	}
	if len(in.DomainNameConfigurations) == 1 {
		dc := in.DomainNameConfigurations[0]
		if dc.EndpointType == "EDGE" {
			return badRequest("Nimbus serves REGIONAL custom domain names only (the node is the endpoint); got EDGE.")
		}
		d.CertificateArn, d.CertificateNm = dc.CertificateArn, dc.CertificateName
		if dc.SecurityPolicy != "" {
			d.SecurityPolicy = dc.SecurityPolicy
		}
	}
	if err := g.storeNewDomain(c, d, in.MutualTLS); err != nil {
		return err
	}
	return c.json(http.StatusCreated, g.wireDomainV2(d))
}

// The steps both views of a domain (apigateway's DomainName and
// BasePathMapping in domainsrest.go, apigatewayv2's DomainName and
// ApiMapping here) share.

// newDomain is a new domain document with the defaults both views give.
func (g *Gateway) newDomain(name string, tags map[string]string) *domainDoc {
	return &domainDoc{Name: name, EndpointType: "REGIONAL", SecurityPolicy: "TLS_1_2", Tags: tags, Created: g.isoNow()}
}

// storeNewDomain checks and stores a new domain document.
func (g *Gateway) storeNewDomain(c *call, d *domainDoc, mtls *mtlsInput) error {
	if err := validDomainName(d.Name); err != nil {
		return err
	}
	if err := refuseMTLS(mtls); err != nil {
		return err
	}
	if err := g.docs.create(c.r.Context(), domainKey(d.Name), d); err != nil {
		if isExists(err) {
			return conflict("The domain name you provided already exists.")
		}
		return err
	}
	return nil
}

// changeDomain changes the domain the request's param names.
func (g *Gateway) changeDomain(c *call, param string, change func(d *domainDoc) error) (*domainDoc, error) {
	name := strings.ToLower(c.params[param])
	if validDomainName(name) != nil {
		return nil, domainNotFound(name)
	}
	return update(c.r.Context(), g.docs, domainKey(name), domainNotFound(name), change)
}

// addMapping adds m to the domain the request's param names.
func (g *Gateway) addMapping(c *call, param string, m *apiMapping) error {
	_, err := g.changeDomain(c, param, func(d *domainDoc) error {
		if err := g.checkMapping(c.r.Context(), d, m); err != nil {
			return err
		}
		d.Mappings = append(d.Mappings, m)
		return nil
	})
	return err
}

// mappingOp changes the mapping find picks in the domain the request's
// param names; change returns the mapping's new form, nil to delete it.
func (g *Gateway) mappingOp(c *call, param string, find func(d *domainDoc) (int, error), change func(m *apiMapping) (*apiMapping, error)) (*apiMapping, error) {
	var out *apiMapping
	_, err := g.changeDomain(c, param, func(d *domainDoc) error {
		i, err := find(d)
		if err != nil {
			return err
		}
		m, err := change(d.Mappings[i])
		if err != nil {
			return err
		}
		if m == nil {
			d.Mappings = slices.Delete(d.Mappings, i, i+1)
			return nil
		}
		cp := *m
		out = &cp
		return g.checkMapping(c.r.Context(), d, m)
	})
	return out, err
}

func (g *Gateway) domainOf(c *call, param string) (*domainDoc, error) {
	name := strings.ToLower(c.params[param])
	if validDomainName(name) != nil {
		return nil, domainNotFound(name)
	}
	var d domainDoc
	if _, err := g.docs.get(c.r.Context(), domainKey(name), &d); err != nil {
		return nil, mapNotFound(err, domainNotFound(name))
	}
	return &d, nil
}

func (g *Gateway) getDomainV2(c *call) error {
	d, err := g.domainOf(c, "domainName")
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, g.wireDomainV2(d))
}

func (g *Gateway) getDomainsV2(c *call) error {
	all, err := list[domainDoc](c.r.Context(), g.docs, domainKeyPrefix)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(all))
	for _, d := range all {
		items = append(items, g.wireDomainV2(d))
	}
	return c.json(http.StatusOK, map[string]any{"items": items})
}

func (g *Gateway) updateDomainV2(c *call) error {
	var in struct {
		DomainNameConfigurations []domainConfV2 `json:"domainNameConfigurations"`
		MutualTLS                *mtlsInput     `json:"mutualTlsAuthentication"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if err := refuseMTLS(in.MutualTLS); err != nil {
		return err
	}
	d, err := g.changeDomain(c, "domainName", func(d *domainDoc) error {
		if len(in.DomainNameConfigurations) == 1 {
			dc := in.DomainNameConfigurations[0]
			d.CertificateArn, d.CertificateNm = dc.CertificateArn, dc.CertificateName
			if dc.SecurityPolicy != "" {
				d.SecurityPolicy = dc.SecurityPolicy
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, g.wireDomainV2(d))
}

func (g *Gateway) deleteDomain(c *call, param string, status int) error {
	name := strings.ToLower(c.params[param])
	if validDomainName(name) != nil {
		return domainNotFound(name)
	}
	if err := g.docs.remove(c.r.Context(), domainKey(name), domainNotFound(name)); err != nil {
		return err
	}
	return c.noContent(status)
}

func (g *Gateway) deleteDomainV2(c *call) error {
	return g.deleteDomain(c, "domainName", http.StatusNoContent)
}

type mappingInput struct {
	APIID         *string `json:"apiId"`
	APIMappingKey *string `json:"apiMappingKey"`
	Stage         *string `json:"stage"`
}

func (g *Gateway) createAPIMapping(c *call) error {
	var in mappingInput
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.APIID == nil || in.Stage == nil {
		return badRequest("Invalid input: apiId and stage are required.")
	}
	m := &apiMapping{APIID: *in.APIID, Stage: *in.Stage, APIMappingID: newID(6)}
	if in.APIMappingKey != nil {
		m.Key = *in.APIMappingKey
	}
	if !validMappingKey(m.Key, true) {
		return badRequest("Invalid apiMappingKey %s: path segments of letters, digits, -, _ and . separated by /.", m.Key)
	}
	if err := g.addMapping(c, "domainName", m); err != nil {
		return err
	}
	return c.json(http.StatusCreated, m)
}

func (g *Gateway) getAPIMappings(c *call) error {
	d, err := g.domainOf(c, "domainName")
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"items": nonNil(d.Mappings)})
}

func mappingByID(d *domainDoc, id string) (int, error) {
	i := slices.IndexFunc(d.Mappings, func(m *apiMapping) bool { return m.APIMappingID == id })
	if i < 0 {
		return -1, notFound("Invalid API mapping identifier specified %s", id)
	}
	return i, nil
}

func (g *Gateway) getAPIMapping(c *call) error {
	d, err := g.domainOf(c, "domainName")
	if err != nil {
		return err
	}
	i, err := mappingByID(d, c.params["apiMappingId"])
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, d.Mappings[i])
}

func (g *Gateway) updateAPIMapping(c *call) error {
	var in mappingInput
	if err := c.decode(&in); err != nil {
		return err
	}
	out, err := g.mappingOp(c, "domainName", mappingByIDParam(c), func(m *apiMapping) (*apiMapping, error) {
		if in.APIID != nil {
			m.APIID = *in.APIID
		}
		if in.Stage != nil {
			m.Stage = *in.Stage
		}
		if in.APIMappingKey != nil {
			if !validMappingKey(*in.APIMappingKey, true) {
				return nil, badRequest("Invalid apiMappingKey %s.", *in.APIMappingKey)
			}
			m.Key = *in.APIMappingKey
		}
		return m, nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, out)
}

func (g *Gateway) deleteAPIMapping(c *call) error {
	if _, err := g.mappingOp(c, "domainName", mappingByIDParam(c), func(*apiMapping) (*apiMapping, error) { return nil, nil }); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// mappingByIDParam finds the mapping the request's apiMappingId names.
func mappingByIDParam(c *call) func(d *domainDoc) (int, error) {
	return func(d *domainDoc) (int, error) { return mappingByID(d, c.params["apiMappingId"]) }
}

// --- invoke path -------------------------------------------------------

// hostName is a Host header without its port, lower-cased.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// IsDomainHost reports whether host names one of the custom domain names.
func (g *Gateway) IsDomainHost(host string) bool {
	if g == nil {
		return false
	}
	return g.docs.domain(hostName(host)) != nil
}

type mappedStageKey struct{}

// DomainRequest resolves a request to a custom domain name: the API its
// path's mapping names, and the request as that API's stage sees it (the
// mapping key taken off the path). ok is false when no mapping matches;
// the caller then answers DomainForbidden, as API Gateway does.
func (g *Gateway) DomainRequest(r *http.Request) (apiID string, out *http.Request, ok bool) {
	d := g.docs.domain(hostName(r.Host))
	if d == nil {
		return "", nil, false
	}
	raw, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		return "", nil, false
	}
	var best *apiMapping
	bestLen := -1
	for _, m := range d.Mappings {
		var segs []string
		if m.Key != "" {
			segs = strings.Split(m.Key, "/")
		}
		if len(segs) > len(raw) || len(segs) <= bestLen {
			continue
		}
		match := true
		for i, s := range segs {
			if u, err := url.PathUnescape(raw[i]); err != nil || u != s {
				match = false
				break
			}
		}
		if match {
			best, bestLen = m, len(segs)
		}
	}
	if best == nil {
		return "", nil, false
	}
	rest := raw[bestLen:]
	ctx := context.WithValue(r.Context(), mappedStageKey{}, best.Stage)
	u := *r.URL
	if g.docs.restAPI(best.APIID) != nil {
		rest = append([]string{url.PathEscape(best.Stage)}, rest...)
	}
	escaped := "/" + strings.Join(rest, "/")
	if strings.HasSuffix(r.URL.EscapedPath(), "/") && len(rest) > 0 && escaped != "/" {
		escaped += "/"
	}
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return "", nil, false
	}
	u.Path, u.RawPath = p, escaped
	out = r.Clone(context.WithValue(ctx, domainPathKey{}, domainPath{client: r.URL.EscapedPath(), routed: u.EscapedPath()}))
	out.URL = &u
	return best.APIID, out, true
}

type domainPathKey struct{}

// domainPath is the path a client sent to a custom domain name and the
// path DomainRequest routed it as (both escaped).
type domainPath struct{ client, routed string }

// clientPath is the path the client sent when r came through a custom
// domain name and no parameter mapping has rewritten it since. API
// Gateway's events carry that path, base path or mapping key included
// (REST path and requestContext.path, HTTP API rawPath and
// requestContext.http.path), while routes match the path below it.
func clientPath(r *http.Request, kind httpevent.Kind) (string, bool) {
	d, ok := r.Context().Value(domainPathKey{}).(domainPath)
	if !ok || r.URL.EscapedPath() != d.routed {
		return "", false
	}
	if kind == httpevent.HTTPAPI { // HTTP APIs decode the path
		if p, err := url.PathUnescape(d.client); err == nil {
			return p, true
		}
	}
	return d.client, true
}

// buildV1 is httpevent.BuildV1 with the client's path through a custom
// domain name.
func buildV1(r *http.Request, body []byte, o httpevent.Options) *httpevent.V1Request {
	ev := httpevent.BuildV1(r, body, o)
	if p, ok := clientPath(r, o.Kind); ok {
		ev.Path, ev.RequestContext.Path = p, p
	}
	return ev
}

// buildV2 is httpevent.BuildV2 with the client's path through a custom
// domain name.
func buildV2(r *http.Request, body []byte, o httpevent.Options) *httpevent.V2Request {
	ev := httpevent.BuildV2(r, body, o)
	if p, ok := clientPath(r, o.Kind); ok {
		ev.RawPath, ev.RequestContext.HTTP.Path = p, p
	}
	return ev
}

// mappedStage is the stage a custom domain's mapping chose for r.
func mappedStage(r *http.Request) (string, bool) {
	s, ok := r.Context().Value(mappedStageKey{}).(string)
	return s, ok
}

// DomainForbidden is API Gateway's answer to a custom domain request no
// mapping matches.
func DomainForbidden(w http.ResponseWriter) {
	w.Header().Set("X-Amzn-ErrorType", "ForbiddenException")
	httpevent.Message(http.StatusForbidden, "Forbidden").Write(w)
}
