package apigw

import (
	"net/http"
	"slices"
)

// apigateway's view of custom domain names (domains.go): DomainName and
// BasePathMapping, for REST APIs.

func (g *Gateway) wireDomainV1(d *domainDoc) map[string]any {
	out := map[string]any{
		"domainName": d.Name, "domainNameStatus": "AVAILABLE", "securityPolicy": d.SecurityPolicy,
		"endpointConfiguration": map[string]any{"types": []string{d.EndpointType}, "ipAddressType": "ipv4"},
		"regionalDomainName":    d.Name, "domainNameArn": "arn:aws:apigateway:" + g.region + "::/domainnames/" + d.Name,
		"tags": nonNilMap(d.Tags),
	}
	if d.CertificateArn != "" {
		out["regionalCertificateArn"] = d.CertificateArn
	}
	if d.CertificateNm != "" {
		out["regionalCertificateName"] = d.CertificateNm
	}
	return out
}

func (g *Gateway) createDomainV1(c *call) error {
	var in struct {
		DomainName             string `json:"domainName"`
		CertificateArn         string `json:"certificateArn"`
		CertificateName        string `json:"certificateName"`
		RegionalCertificateArn string `json:"regionalCertificateArn"`
		RegionalCertName       string `json:"regionalCertificateName"`
		EndpointConfiguration  *struct {
			Types []string `json:"types"`
		} `json:"endpointConfiguration"`
		SecurityPolicy string            `json:"securityPolicy"`
		MutualTLS      *mtlsInput        `json:"mutualTlsAuthentication"`
		Tags           map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if err := validDomainName(in.DomainName); err != nil {
		return err
	}
	if err := refuseMTLS(in.MutualTLS); err != nil {
		return err
	}
	if in.EndpointConfiguration == nil || !slices.Contains(in.EndpointConfiguration.Types, "REGIONAL") {
		return badRequest("Nimbus serves REGIONAL custom domain names only (the node is the endpoint): set endpointConfiguration types [REGIONAL].")
	}
	d := g.newDomain(in.DomainName, in.Tags)
	d.CertificateArn, d.CertificateNm = in.RegionalCertificateArn, in.RegionalCertName
	if d.CertificateArn == "" {
		d.CertificateArn, d.CertificateNm = in.CertificateArn, in.CertificateName
	}
	if in.SecurityPolicy != "" {
		d.SecurityPolicy = in.SecurityPolicy
	}
	if err := g.storeNewDomain(c, d, in.MutualTLS); err != nil {
		return err
	}
	return c.json(http.StatusCreated, g.wireDomainV1(d))
}

func (g *Gateway) getDomainV1(c *call) error {
	d, err := g.domainOf(c, "domain_name")
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, g.wireDomainV1(d))
}

func (g *Gateway) getDomainsV1(c *call) error {
	all, err := list[domainDoc](c.r.Context(), g.docs, domainKeyPrefix)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(all))
	for _, d := range all {
		items = append(items, g.wireDomainV1(d))
	}
	return c.json(http.StatusOK, map[string]any{"item": items})
}

func (g *Gateway) updateDomainV1(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	d, err := g.changeDomain(c, "domain_name", func(d *domainDoc) error {
		for _, p := range in.PatchOperations {
			switch {
			case p.Op == "replace" && (p.Path == "/regionalCertificateArn" || p.Path == "/certificateArn"):
				d.CertificateArn = p.Value
			case p.Op == "replace" && (p.Path == "/regionalCertificateName" || p.Path == "/certificateName"):
				d.CertificateNm = p.Value
			case p.Op == "replace" && p.Path == "/securityPolicy":
				d.SecurityPolicy = p.Value
			default:
				return badRequest("Invalid patch path %s", p.Path)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, g.wireDomainV1(d))
}

func (g *Gateway) deleteDomainV1(c *call) error {
	return g.deleteDomain(c, "domain_name", http.StatusAccepted)
}

// basePathMapping is a mapping as apigateway shows it: "(none)" for the
// empty key.
type basePathMapping struct {
	BasePath  string `json:"basePath"`
	RestAPIID string `json:"restApiId"`
	Stage     string `json:"stage,omitempty"`
}

func wireBasePath(m *apiMapping) basePathMapping {
	bp := m.Key
	if bp == "" {
		bp = "(none)"
	}
	return basePathMapping{BasePath: bp, RestAPIID: m.APIID, Stage: m.Stage}
}

func basePathParam(c *call) string {
	if bp := c.params["base_path"]; bp != "(none)" {
		return bp
	}
	return ""
}

func (g *Gateway) createBasePathMapping(c *call) error {
	var in struct {
		BasePath  string `json:"basePath"`
		RestAPIID string `json:"restApiId"`
		Stage     string `json:"stage"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.BasePath == "(none)" {
		in.BasePath = ""
	}
	if !validMappingKey(in.BasePath, false) {
		return badRequest("Invalid base path %s: one path segment of letters, digits, -, _ and .", in.BasePath)
	}
	if g.docs.restAPI(in.RestAPIID) == nil {
		return notFound("Invalid REST API identifier specified")
	}
	if in.Stage == "" {
		return badRequest("Nimbus needs the stage of a base path mapping (a mapping to every stage by the path is not served).")
	}
	m := &apiMapping{APIID: in.RestAPIID, Key: in.BasePath, Stage: in.Stage, APIMappingID: newID(6)}
	if err := g.addMapping(c, "domain_name", m); err != nil {
		return err
	}
	return c.json(http.StatusCreated, wireBasePath(m))
}

func mappingByKey(d *domainDoc, key string) (int, error) {
	i := slices.IndexFunc(d.Mappings, func(m *apiMapping) bool { return m.Key == key })
	if i < 0 {
		return -1, notFound("Invalid base path mapping identifier specified")
	}
	return i, nil
}

func (g *Gateway) getBasePathMappings(c *call) error {
	d, err := g.domainOf(c, "domain_name")
	if err != nil {
		return err
	}
	items := make([]basePathMapping, 0, len(d.Mappings))
	for _, m := range d.Mappings {
		items = append(items, wireBasePath(m))
	}
	return c.json(http.StatusOK, map[string]any{"item": items})
}

func (g *Gateway) getBasePathMapping(c *call) error {
	d, err := g.domainOf(c, "domain_name")
	if err != nil {
		return err
	}
	i, err := mappingByKey(d, basePathParam(c))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, wireBasePath(d.Mappings[i]))
}

func (g *Gateway) updateBasePathMapping(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	out, err := g.mappingOp(c, "domain_name", mappingByKeyParam(c), func(m *apiMapping) (*apiMapping, error) {
		for _, p := range in.PatchOperations {
			switch {
			case p.Op == "replace" && p.Path == "/stage":
				m.Stage = p.Value
			case p.Op == "replace" && p.Path == "/restapiId":
				m.APIID = p.Value
			case p.Op == "replace" && p.Path == "/basePath":
				v := p.Value
				if v == "(none)" {
					v = ""
				}
				if !validMappingKey(v, false) {
					return nil, badRequest("Invalid base path %s.", p.Value)
				}
				m.Key = v
			default:
				return nil, badRequest("Invalid patch path %s", p.Path)
			}
		}
		return m, nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, wireBasePath(out))
}

func (g *Gateway) deleteBasePathMapping(c *call) error {
	if _, err := g.mappingOp(c, "domain_name", mappingByKeyParam(c), func(*apiMapping) (*apiMapping, error) { return nil, nil }); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}

// mappingByKeyParam finds the mapping the request's base_path names.
func mappingByKeyParam(c *call) func(d *domainDoc) (int, error) {
	return func(d *domainDoc) (int, error) { return mappingByKey(d, basePathParam(c)) }
}
