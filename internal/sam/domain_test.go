package sam

import (
	"strings"
	"testing"
)

// TestDomainRefusals: what Nimbus lacks in SAM's Domain is refused by
// name (samtranslator accepts these; see domain.go).
func TestDomainRefusals(t *testing.T) {
	for name, c := range map[string]struct{ api, domain, want string }{
		"route53 rest": {"AWS::Serverless::Api", `"Route53": {"HostedZoneId": "Z1"}`, "Domain.Route53 is not supported by Nimbus"},
		"route53 http": {"AWS::Serverless::HttpApi", `"Route53": {"HostedZoneName": "example.com."}`, "Domain.Route53 is not supported by Nimbus"},
		"private rest": {"AWS::Serverless::Api", `"EndpointConfiguration": "PRIVATE"`, "PRIVATE (an AWS::ApiGateway::DomainNameV2) is not supported"},
	} {
		t.Run(name, func(t *testing.T) {
			b := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"A": {"Type": "` + c.api + `", "Properties": {
			  "StageName": "p", "DefinitionBody": {"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {}},
			  "Domain": {"DomainName": "a.example.com", "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c", ` + c.domain + `}}}}}`)
			_, err := Transform(loadTemplate(t, b), nil, testOpts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Transform = %v, want an error containing %q", err, c.want)
			}
		})
	}
}
