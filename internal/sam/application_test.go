package sam

import (
	"errors"
	"strings"
	"testing"
)

// TestApplicationIsANestedStack: an application whose Location is a
// template's URL becomes an AWS::CloudFormation::Stack with its
// parameters and tags (SAM's first); a Serverless Application Repository
// location is refused by name, a local path with the way to package it.
func TestApplicationIsANestedStack(t *testing.T) {
	b := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"App": {"Type": "AWS::Serverless::Application",
	  "Properties": {"Location": "https://tmpl.s3.localhost/child.yaml", "Parameters": {"Size": "3"}, "Tags": {"team": "x"},
	  "TimeoutInMinutes": 5}}},
	  "Outputs": {"O": {"Value": {"Fn::GetAtt": ["App", "Outputs.Name"]}}}}`)
	out, err := Transform(loadTemplate(t, b), nil, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	r := out.Resources["App"]
	if r == nil || r.Type != "AWS::CloudFormation::Stack" || r.Properties["TemplateURL"] != "https://tmpl.s3.localhost/child.yaml" ||
		r.Properties["TimeoutInMinutes"] == nil {
		t.Fatalf("App = %+v", r)
	}
	if p, _ := r.Properties["Parameters"].(map[string]any); p["Size"] != "3" {
		t.Errorf("Parameters = %v", r.Properties["Parameters"])
	}
	tags, _ := r.Properties["Tags"].([]any)
	if len(tags) != 2 || tags[0].(map[string]any)["Key"] != "lambda:createdBy" || tags[1].(map[string]any)["Key"] != "team" {
		t.Errorf("Tags = %v", tags)
	}

	sar := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"App": {"Type": "AWS::Serverless::Application",
	  "Properties": {"Location": {"ApplicationId": "arn:aws:serverlessrepo:us-east-1:1:applications/x", "SemanticVersion": "1.0.0"}}}}}`)
	var ue *UnsupportedError
	if _, err := Transform(loadTemplate(t, sar), nil, testOpts); !errors.As(err, &ue) || !strings.Contains(err.Error(), "Serverless Application Repository") {
		t.Errorf("SAR location: %v", err)
	}
	local := []byte(`{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"App": {"Type": "AWS::Serverless::Application",
	  "Properties": {"Location": "./child.yaml"}}}}`)
	var se *Error
	if _, err := Transform(loadTemplate(t, local), nil, testOpts); !errors.As(err, &se) || !strings.Contains(err.Error(), "package it first") {
		t.Errorf("local location: %v", err)
	}
}
