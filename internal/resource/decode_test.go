package resource

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestDecodeIsLenientAsCloudFormation(t *testing.T) {
	var fp functionProps
	err := decode(map[string]any{
		"MemorySize":    "256",
		"Timeout":       float64(3),
		"Description":   float64(12),
		"Architectures": []any{"arm64"},
		"Cors":          nil,
		"LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": "g"},
		"KMSKeyArn":     "k", // keys match case-insensitively
		"Tags":          []any{map[string]any{"Key": "a", "Value": true}},
		"SnapStart":     map[string]any{"ApplyOn": "None"},
	}, &fp)
	if err == nil || !strings.Contains(err.Error(), "extraneous key [Cors]") {
		t.Fatalf("unknown key: %v", err)
	}
	fp = functionProps{}
	err = decode(map[string]any{
		"MemorySize": "256", "Timeout": float64(3), "Description": float64(12),
		"Architectures": []any{"arm64"}, "LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": "g"},
		"KMSKeyArn": "k", "Tags": []any{map[string]any{"Key": "a", "Value": true}},
	}, &fp)
	if err != nil {
		t.Fatal(err)
	}
	if *fp.MemorySize != 256 || *fp.Timeout != 3 || *fp.Description != "12" || *fp.KmsKeyArn != "k" ||
		fp.Architectures[0] != types.ArchitectureArm64 || fp.LoggingConfig.LogFormat != types.LogFormatJson ||
		*fp.LoggingConfig.LogGroup != "g" || fp.Tags[0].Value != "true" {
		t.Errorf("decoded %+v", fp)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct {
		props map[string]any
		want  string
	}{
		{map[string]any{"MemorySize": 1.5}, "#/MemorySize: expected type: Integer, found: 1.5"},
		{map[string]any{"MemorySize": 1e30}, "#/MemorySize: expected type: Integer"},
		{map[string]any{"MemorySize": true}, "#/MemorySize: expected type: Number, found: Boolean"},
		{map[string]any{"Layers": "x"}, "#/Layers: expected type: JSONArray, found: String"},
		{map[string]any{"Environment": []any{}}, "#/Environment: expected type: JSONObject, found: JSONArray"},
		{map[string]any{"Environment": map[string]any{"Variables": map[string]any{"A": []any{}}}}, "#/Environment/Variables/A: expected type: String"},
		{map[string]any{"Code": map[string]any{"ZipFile": "x", "Nope": 1.0}}, "#/Code: extraneous key [Nope] is not permitted"},
		{map[string]any{"SnapStart": map[string]any{"ApplyOn": map[string]any{}}}, "#/SnapStart/ApplyOn: expected type: String, found: JSONObject"},
	} {
		var fp functionProps
		err := decode(c.props, &fp)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("decode %v = %v, want %q", c.props, err, c.want)
		}
	}
}

// FuzzDecode feeds arbitrary JSON properties to the decoders of every
// resource type: they may refuse, never panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"MemorySize":"128","Code":{"ZipFile":"x"}}`,
		`{"RoutingConfig":{"AdditionalVersionWeights":[{"FunctionVersion":"1","FunctionWeight":"0.5"}]}}`,
		`{"Cors":{"AllowOrigins":["*"],"MaxAge":"10"},"AuthType":"NONE"}`,
		`{"Body":{"openapi":"3.0"},"Tags":[{"Key":"a","Value":1}]}`,
		`{"MethodSettings":[{"ResourcePath":"/*","HttpMethod":"*","ThrottlingBurstLimit":"5"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			return
		}
		for _, dst := range []any{
			&functionProps{}, &versionProps{}, &aliasProps{}, &permissionProps{}, &urlProps{},
			&eventInvokeConfigProps{}, &layerVersionProps{}, &roleProps{}, &logGroupProps{},
			&restAPIProps{}, &deploymentProps{}, &methodProps{}, &usagePlanProps{}, &apiKeyProps{},
			&httpAPIProps{}, &httpStageProps{}, &routeProps{}, &integrationV2Props{}, &httpAuthorizerProps{},
		} {
			_ = decode(m, dst)
		}
		_, _ = decodeStage("X", m)
		for _, ms := range []methodSetting{{}, {ResourcePath: aws.String("/a/{b}"), HttpMethod: aws.String("GET")}} {
			_ = ms.ops()
		}
	})
}

// resolvePlaceholders replaces intrinsic functions ({"Ref": ...},
// {"Fn::GetAtt": ...}) by a string, as the engine resolves them before a
// provider sees the properties.
func resolvePlaceholders(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k := range v {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return "1" // fits a string or a number property
				}
			}
		}
		out := map[string]any{}
		for k, e := range v {
			out[k] = resolvePlaceholders(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = resolvePlaceholders(e)
		}
		return out
	}
	return v
}

// TestSAMOutputDecodes decodes every resource the SAM transform makes in
// package sam's golden files with the properties of its provider: a
// property the transform emits that a provider does not know would fail
// every deploy of such a template.
func TestSAMOutputDecodes(t *testing.T) {
	decoders := map[string]func(map[string]any) error{
		"AWS::Lambda::Function":          func(p map[string]any) error { return decode(p, &functionProps{}) },
		"AWS::Lambda::Version":           func(p map[string]any) error { return decode(p, &versionProps{}) },
		"AWS::Lambda::Alias":             func(p map[string]any) error { return decode(p, &aliasProps{}) },
		"AWS::Lambda::Permission":        func(p map[string]any) error { return decode(p, &permissionProps{}) },
		"AWS::Lambda::Url":               func(p map[string]any) error { return decode(p, &urlProps{}) },
		"AWS::Lambda::EventInvokeConfig": func(p map[string]any) error { return decode(p, &eventInvokeConfigProps{}) },
		"AWS::Lambda::LayerVersion":      func(p map[string]any) error { return decode(p, &layerVersionProps{}) },
		"AWS::IAM::Role":                 func(p map[string]any) error { return decode(p, &roleProps{}) },
		"AWS::Logs::LogGroup":            func(p map[string]any) error { return decode(p, &logGroupProps{}) },
		"AWS::ApiGateway::RestApi":       func(p map[string]any) error { return decode(p, &restAPIProps{}) },
		"AWS::ApiGateway::Deployment":    func(p map[string]any) error { return decode(p, &deploymentProps{}) },
		"AWS::ApiGateway::Stage":         func(p map[string]any) error { _, err := decodeStage("X", p); return err },
		"AWS::ApiGateway::Authorizer":    func(p map[string]any) error { return decode(p, &authorizerProps{}) },
		"AWS::ApiGateway::Method":        func(p map[string]any) error { return decode(p, &methodProps{}) },
		"AWS::ApiGateway::Resource":      func(p map[string]any) error { return decode(p, &restResourceProps{}) },
		"AWS::ApiGateway::UsagePlan":     func(p map[string]any) error { return decode(p, &usagePlanProps{}) },
		"AWS::ApiGateway::UsagePlanKey":  func(p map[string]any) error { return decode(p, &usagePlanKeyProps{}) },
		"AWS::ApiGateway::ApiKey":        func(p map[string]any) error { return decode(p, &apiKeyProps{}) },
		"AWS::ApiGatewayV2::Api":         func(p map[string]any) error { return decode(p, &httpAPIProps{}) },
		"AWS::ApiGatewayV2::Stage":       func(p map[string]any) error { return decode(p, &httpStageProps{}) },
		"AWS::ApiGatewayV2::Authorizer":  func(p map[string]any) error { return decode(p, &httpAuthorizerProps{}) },
		"AWS::ApiGatewayV2::Route":       func(p map[string]any) error { return decode(p, &routeProps{}) },
		"AWS::ApiGatewayV2::Integration": func(p map[string]any) error { return decode(p, &integrationV2Props{}) },
	}
	// Package sam's golden output, and real samtranslator output in package cfn's test data.
	var files []string
	for _, pattern := range []string{"../sam/testdata/golden/*.json", "../cfn/testdata/*.template.json", "../cfn/testdata/*.golden.json"} {
		fs, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fs...)
	}
	if len(files) == 0 {
		t.Skip("no SAM golden files")
	}
	seen := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties map[string]any
			}
		}
		if err := json.Unmarshal(data, &tmpl); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for id, r := range tmpl.Resources {
			dec, ok := decoders[r.Type]
			if !ok {
				continue
			}
			seen[r.Type]++
			p, _ := resolvePlaceholders(r.Properties).(map[string]any)
			if err := dec(p); err != nil {
				t.Errorf("%s: %s (%s): %v", filepath.Base(f), id, r.Type, err)
			}
		}
	}
	if seen["AWS::Lambda::Function"] == 0 || seen["AWS::ApiGateway::RestApi"] == 0 || seen["AWS::ApiGatewayV2::Api"] == 0 {
		t.Errorf("the golden files hold too few resources: %v", seen)
	}
}
