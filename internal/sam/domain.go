package sam

import (
	"regexp"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// The Domain property of AWS::Serverless::Api and AWS::Serverless::HttpApi
// (samtranslator's ApiGenerator._construct_api_domain and
// ApiV2Generator._construct_api_domain): a custom domain name and one
// mapping per base path to the API's stage, as the domain resources
// Nimbus serves (docs/design/api-gateway.md, "Custom domain names").
//
// What Nimbus lacks is refused by name: Route53 (SAM's
// AWS::Route53::RecordSetGroup; Nimbus has no Route 53, and AWS fails the
// same stack without the hosted zone), and a REST API's PRIVATE domain
// (AWS::ApiGateway::DomainNameV2). EDGE endpoints and mutual TLS are
// translated as SAM does and refused by the domain's provider.

func route53Refusal(id string) error {
	return invalidf("Resource with id [%s] is invalid. Domain.Route53 is not supported by Nimbus: it has no Route 53 hosted zones "+
		"to write the domain's alias records into (AWS fails the same way without the hosted zone). Remove Route53 from Domain "+
		"and point the domain name's DNS at the Nimbus node.", id)
}

// domainMap checks Domain's common members and returns it with its
// domain name and certificate.
func (tr *translator) domainMap(id string, v any) (map[string]any, error) {
	// samtranslator resolves the template's parameters and pseudo
	// parameters in Domain before it hashes the domain name.
	v, err := tr.res.resolve(v)
	if err != nil {
		return nil, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf("Resource with id [%s] is invalid. Property 'Domain' should be a map.", id)
	}
	if d["Route53"] != nil {
		return nil, route53Refusal(id)
	}
	if m, ok := d["MutualTlsAuthentication"]; ok && truthy(m) {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil, invalidf("Resource with id [%s] is invalid. Property 'Domain.MutualTlsAuthentication' should be a map.", id)
		}
		for k := range mm {
			if k != "TruststoreUri" && k != "TruststoreVersion" {
				return nil, invalidf("Resource with id [%s] is invalid. Available Domain.MutualTlsAuthentication fields are ['TruststoreUri', 'TruststoreVersion'].", id)
			}
		}
	}
	return d, nil
}

// mutualTLS is Domain.MutualTlsAuthentication with its empty members left out.
func mutualTLS(d map[string]any) map[string]any {
	m, _ := d["MutualTlsAuthentication"].(map[string]any)
	if !truthy(m) {
		return nil
	}
	out := map[string]any{}
	for _, k := range []string{"TruststoreUri", "TruststoreVersion"} {
		if truthy(m[k]) {
			out[k] = m[k]
		}
	}
	return out
}

// basePaths is Domain.BasePath as a list (a string is a list of one), or
// nil when it is absent or empty.
func basePaths(id string, d map[string]any) ([]string, error) {
	v := d["BasePath"]
	if !truthy(v) {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, invalidf("Resource with id [%s] is invalid. Property 'Domain.BasePath' should be a list.", id)
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, invalidf("Resource with id [%s] is invalid. Property 'Domain.BasePath' should be a list of strings.", id)
		}
		out = append(out, s)
	}
	return out, nil
}

// alnumOnly keeps the letters and digits of s.
func alnumOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// restDomain is the Domain of an AWS::Serverless::Api whose stage is stageID.
func (tr *translator) restDomain(id string, r *cfn.Resource, v any, stageID string) ([]generated, error) {
	d, err := tr.domainMap(id, v)
	if err != nil {
		return nil, err
	}
	name, cert := d["DomainName"], d["CertificateArn"]
	if name == nil {
		return nil, invalidf("Resource with id [%s] is invalid. Property 'Domain.DomainName' is required.", id)
	}
	if cert == nil {
		return nil, invalidf("Resource with id [%s] is invalid. Property 'Domain.CertificateArn' is required.", id)
	}
	endpoint := d["EndpointConfiguration"]
	if endpoint == nil {
		endpoint = "REGIONAL"
	}
	switch endpoint {
	case "REGIONAL", "EDGE":
	case "PRIVATE":
		return nil, invalidf("Resource with id [%s] is invalid. Domain.EndpointConfiguration PRIVATE (an AWS::ApiGateway::DomainNameV2) is not supported by Nimbus: its domains are REGIONAL.", id)
	default:
		return nil, invalidf("Resource with id [%s] is invalid. EndpointConfiguration for Custom Domains must be one of ['EDGE', 'REGIONAL', 'PRIVATE'].", id)
	}
	domainID := logicalID("ApiGatewayDomainName", name)
	dom := passthrough(r, "AWS::ApiGateway::DomainName")
	dp := dom.Properties
	dp["DomainName"] = name
	if endpoint == "REGIONAL" {
		dp["RegionalCertificateArn"] = cert
	} else {
		dp["CertificateArn"] = cert
	}
	ec := map[string]any{"Types": []any{endpoint}}
	if t := d["IpAddressType"]; truthy(t) {
		ec["IpAddressType"] = t
	}
	dp["EndpointConfiguration"] = ec
	if m := mutualTLS(d); m != nil {
		dp["MutualTlsAuthentication"] = m
	}
	for _, k := range []string{"SecurityPolicy", "EndpointAccessMode", "Policy", "OwnershipVerificationCertificateArn"} {
		if truthy(d[k]) {
			dp[k] = d[k]
		}
	}
	out := []generated{{domainID, dom}}
	paths, err := basePaths(id, d)
	if err != nil {
		return nil, err
	}
	mapping := func(logical string) *cfn.Resource {
		m := passthrough(r, "AWS::ApiGateway::BasePathMapping")
		m.Properties["DomainName"] = ref(domainID)
		m.Properties["RestApiId"] = ref(id)
		m.Properties["Stage"] = ref(stageID)
		out = append(out, generated{logical, m})
		return m
	}
	if paths == nil {
		mapping(id + "BasePathMapping")
		return out, nil
	}
	normalize := true
	if v, ok := d["NormalizeBasePath"]; ok {
		normalize = truthy(v)
	}
	for _, bp := range paths {
		path := alnumOnly(bp)
		m := mapping(id + path + "BasePathMapping")
		if normalize {
			m.Properties["BasePath"] = path
		} else {
			m.Properties["BasePath"] = bp
		}
	}
	return out, nil
}

var (
	badHTTPBasePath = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^0-9a-zA-Z/\-_]+`) })
	basePathPunct   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[\-_/]+`) })
)

// httpDomain is the Domain of an AWS::Serverless::HttpApi whose stage is
// stageID.
func (tr *translator) httpDomain(id string, r *cfn.Resource, v any, stageID string) ([]generated, error) {
	d, err := tr.domainMap(id, v)
	if err != nil {
		return nil, err
	}
	name, cert := d["DomainName"], d["CertificateArn"]
	if name == nil || cert == nil {
		return nil, invalidf("Resource with id [%s] is invalid. Custom Domains only works if both DomainName and CertificateArn are provided.", id)
	}
	endpoint := d["EndpointConfiguration"]
	if endpoint == nil {
		endpoint = "REGIONAL"
	}
	if endpoint != "REGIONAL" {
		return nil, invalidf("Resource with id [%s] is invalid. EndpointConfiguration for Custom Domains must be one of ['REGIONAL'].", id)
	}
	conf := map[string]any{"CertificateArn": cert, "EndpointType": endpoint}
	for _, k := range []string{"OwnershipVerificationCertificateArn", "SecurityPolicy"} {
		if truthy(d[k]) {
			conf[k] = d[k]
		}
	}
	domainID := logicalID("ApiGatewayDomainNameV2", name)
	dom := passthrough(r, "AWS::ApiGatewayV2::DomainName")
	dp := dom.Properties
	dp["DomainName"] = name
	dp["Tags"] = map[string]any{"httpapi:createdBy": "SAM"}
	dp["DomainNameConfigurations"] = []any{conf}
	if m := mutualTLS(d); m != nil {
		dp["MutualTlsAuthentication"] = m
	}
	out := []generated{{domainID, dom}}
	paths, err := basePaths(id, d)
	if err != nil {
		return nil, err
	}
	mapping := func(logical string) *cfn.Resource {
		m := passthrough(r, "AWS::ApiGatewayV2::ApiMapping")
		m.Properties["DomainName"] = ref(domainID)
		m.Properties["ApiId"] = ref(id)
		m.Properties["Stage"] = ref(stageID)
		out = append(out, generated{logical, m})
		return m
	}
	if paths == nil {
		mapping(id + "ApiMapping")
		return out, nil
	}
	for _, bp := range paths {
		if badHTTPBasePath().MatchString(bp) {
			return nil, invalidf("Resource with id [%s] is invalid. Invalid Basepath name provided.", id)
		}
		m := mapping(id + basePathPunct().ReplaceAllString(bp, "") + "ApiMapping")
		m.Properties["ApiMappingKey"] = strings.Trim(bp, "/")
	}
	return out, nil
}
