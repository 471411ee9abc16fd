package sam

import (
	"fmt"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

const typeApplication = "AWS::Serverless::Application"

var applicationProperties = []string{"Location", "Parameters", "NotificationARNs", "Tags", "TimeoutInMinutes"}

// application is SamApplication.to_cloudformation for a Location that is
// the URL of a template in a bucket: an AWS::CloudFormation::Stack (a
// nested stack) with that TemplateURL, the application's parameters and
// its tags after SAM's own. Fn::GetAtt <App>.Outputs.<Name> reads the
// nested stack's outputs. A Location naming a Serverless Application
// Repository application (ApplicationId, SemanticVersion) is refused by
// checkSupported; a local path is for `sam package` to upload first.
func (tr *translator) application(id string, r *cfn.Resource) ([]generated, error) {
	p := r.Properties
	loc, ok := p["Location"]
	if !ok || loc == nil {
		return nil, invalidf("Property 'Location' is required.")
	}
	url, ok := loc.(string)
	if !ok {
		if _, isMap := loc.(map[string]any); !isMap {
			// An intrinsic or another shape: CloudFormation resolves it.
			return nil, invalidf("Property 'Location' should be a string or a map.")
		}
		return nil, invalidf("Property 'Location' names a Serverless Application Repository application, which Nimbus does not have.")
	}
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, invalidf("Property 'Location' is the local template %q: package it first (sam package or aws cloudformation package "+
			"uploads it to a bucket and writes its URL).", url)
	}
	params, err := optMap(p, "Parameters")
	if err != nil {
		return nil, err
	}
	tags, err := optMap(p, "Tags")
	if err != nil {
		return nil, err
	}
	tagged, err := tr.samTags(id, tags)
	if err != nil {
		return nil, err
	}
	s := passthrough(r, "AWS::CloudFormation::Stack")
	s.Properties = map[string]any{"TemplateURL": url, "Tags": tagged}
	if len(params) > 0 {
		s.Properties["Parameters"] = params
	}
	for _, k := range []string{"NotificationARNs", "TimeoutInMinutes"} {
		if v, ok := p[k]; ok && v != nil {
			s.Properties[k] = v
		}
	}
	return []generated{{id, s}}, nil
}

// sarLocation reports whether r is an application from the Serverless
// Application Repository (a map Location).
func sarLocation(r *cfn.Resource) bool {
	if r.Type != typeApplication {
		return false
	}
	m, ok := r.Properties["Location"].(map[string]any)
	if !ok {
		return false
	}
	_, ok = m["ApplicationId"]
	return ok
}

func sarLine(id string) string {
	return fmt.Sprintf("Resources of type %s (resource %s) whose Location is an ApplicationId need the AWS Serverless Application "+
		"Repository, which Nimbus does not have yet; give the URL of the application's template in a bucket", typeApplication, id)
}
