package resource

import (
	"encoding/json"
	"strings"
	"testing"

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
		} {
			_ = decode(m, dst)
		}
	})
}
