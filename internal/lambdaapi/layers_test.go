package lambdaapi

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/registry"
)

const layerPrefix = "arn:aws:lambda:us-east-1:000000000000:layer:"

// TestLayersSDK drives the layer operations with aws-sdk-go-v2: publish,
// get (by name, by ARN), list with filters and pages, permissions,
// delete, and functions that use layers.
func TestLayersSDK(t *testing.T) {
	e := newEnv(t)
	c := sdkClient(e)
	ctx := context.Background()
	zipA := zipOf(t, map[string]string{"python/mod.py": "X = 1\n"})
	zipB := zipOf(t, map[string]string{"python/mod.py": "X = 2\n", "bin/tool": "#!/bin/sh\n"})

	p1, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
		LayerName:          aws.String("shared"),
		Content:            &types.LayerVersionContentInput{ZipFile: zipA},
		CompatibleRuntimes: []types.Runtime{types.RuntimePython312},
		Description:        aws.String("first"),
		LicenseInfo:        aws.String("MIT"),
	})
	if err != nil {
		t.Fatalf("PublishLayerVersion: %v", err)
	}
	if p1.Version != 1 || aws.ToString(p1.LayerVersionArn) != layerPrefix+"shared:1" || aws.ToString(p1.LayerArn) != layerPrefix+"shared" ||
		aws.ToString(p1.Content.CodeSha256) != function.CodeSha256(zipA) || p1.Content.CodeSize != int64(len(zipA)) ||
		aws.ToString(p1.Description) != "first" || aws.ToString(p1.LicenseInfo) != "MIT" || aws.ToString(p1.CreatedDate) == "" {
		t.Errorf("PublishLayerVersion output: %+v %+v", p1, p1.Content)
	}
	// The content link downloads the package without credentials.
	resp, err := http.Get(aws.ToString(p1.Content.Location)) //nolint:gosec,noctx // the test server's link
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != string(zipA) {
		t.Errorf("Content.Location: %d, %d bytes", resp.StatusCode, len(got))
	}

	p2, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
		LayerName:               aws.String(layerPrefix + "shared"), // by ARN
		Content:                 &types.LayerVersionContentInput{ZipFile: zipB},
		CompatibleArchitectures: []types.Architecture{types.ArchitectureArm64},
	})
	if err != nil {
		t.Fatalf("PublishLayerVersion 2: %v", err)
	}
	if p2.Version != 2 {
		t.Errorf("second version = %d", p2.Version)
	}
	if _, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
		LayerName: aws.String("other"), Content: &types.LayerVersionContentInput{ZipFile: zipA},
		CompatibleRuntimes: []types.Runtime{types.RuntimeNodejs20x},
	}); err != nil {
		t.Fatal(err)
	}

	g, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(g.Description) != "first" || len(g.CompatibleRuntimes) != 1 {
		t.Errorf("GetLayerVersion: %+v, %v", g, err)
	}
	ga, err := c.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(layerPrefix + "shared:2")})
	if err != nil || ga.Version != 2 || aws.ToString(ga.Content.CodeSha256) != function.CodeSha256(zipB) {
		t.Errorf("GetLayerVersionByArn: %+v, %v", ga, err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(9)}); !errors.As(err, &nf) {
		t.Errorf("missing version: %v", err)
	}

	lv, err := c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("shared")})
	if err != nil || len(lv.LayerVersions) != 2 || lv.LayerVersions[0].Version != 2 || lv.LayerVersions[1].Version != 1 {
		t.Errorf("ListLayerVersions: %+v, %v", lv, err)
	}
	lv, err = c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("shared"), CompatibleRuntime: types.RuntimePython312})
	if err != nil || len(lv.LayerVersions) != 1 || lv.LayerVersions[0].Version != 1 {
		t.Errorf("ListLayerVersions python3.12: %+v, %v", lv, err)
	}
	// Pages of one, newest first.
	var versions []int64
	pg := lambda.NewListLayerVersionsPaginator(c, &lambda.ListLayerVersionsInput{LayerName: aws.String("shared"), MaxItems: aws.Int32(1)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.LayerVersions {
			versions = append(versions, v.Version)
		}
	}
	if len(versions) != 2 || versions[0] != 2 || versions[1] != 1 {
		t.Errorf("paged versions %v", versions)
	}
	ll, err := c.ListLayers(ctx, &lambda.ListLayersInput{})
	if err != nil || len(ll.Layers) != 2 || aws.ToString(ll.Layers[0].LayerName) != "other" ||
		aws.ToString(ll.Layers[1].LayerName) != "shared" || ll.Layers[1].LatestMatchingVersion.Version != 2 {
		t.Errorf("ListLayers: %+v, %v", ll, err)
	}
	ll, err = c.ListLayers(ctx, &lambda.ListLayersInput{CompatibleRuntime: types.RuntimePython312})
	if err != nil || len(ll.Layers) != 1 || ll.Layers[0].LatestMatchingVersion.Version != 1 {
		t.Errorf("ListLayers python3.12: %+v, %v", ll, err)
	}

	// Permissions are recorded and returned.
	ap, err := c.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{
		LayerName: aws.String("shared"), VersionNumber: aws.Int64(1), StatementId: aws.String("all"),
		Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*"), OrganizationId: aws.String("o-abcdefghij"),
	})
	if err != nil || !strings.Contains(aws.ToString(ap.Statement), `"aws:PrincipalOrgID":"o-abcdefghij"`) || aws.ToString(ap.RevisionId) == "" {
		t.Fatalf("AddLayerVersionPermission: %+v, %v", ap, err)
	}
	var conflict *types.ResourceConflictException
	if _, err := c.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{
		LayerName: aws.String("shared"), VersionNumber: aws.Int64(1), StatementId: aws.String("all"),
		Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("123456789012"),
	}); !errors.As(err, &conflict) {
		t.Errorf("duplicate statement: %v", err)
	}
	gp, err := c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	if err != nil || !strings.Contains(aws.ToString(gp.Policy), `"Resource":"`+layerPrefix+`shared:1"`) || aws.ToString(gp.RevisionId) != aws.ToString(ap.RevisionId) {
		t.Errorf("GetLayerVersionPolicy: %+v, %v", gp, err)
	}
	if _, err := c.RemoveLayerVersionPermission(ctx, &lambda.RemoveLayerVersionPermissionInput{
		LayerName: aws.String("shared"), VersionNumber: aws.Int64(1), StatementId: aws.String("all"),
	}); err != nil {
		t.Errorf("RemoveLayerVersionPermission: %v", err)
	}
	if _, err := c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)}); !errors.As(err, &nf) {
		t.Errorf("policy after removal: %v", err)
	}

	// A function uses both layers; the configuration lists them in order.
	cr, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("uses"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": "x"})},
		Layers: []string{layerPrefix + "other:1", layerPrefix + "shared:1"},
	})
	if err != nil {
		t.Fatalf("CreateFunction with layers: %v", err)
	}
	if len(cr.Layers) != 2 || aws.ToString(cr.Layers[0].Arn) != layerPrefix+"other:1" || cr.Layers[1].CodeSize != int64(len(zipA)) {
		t.Errorf("CreateFunction layers: %+v", cr.Layers)
	}
	pv, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("uses")})
	if err != nil || len(pv.Layers) != 2 {
		t.Fatalf("PublishVersion: %+v, %v", pv, err)
	}
	up, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("uses"), Layers: []string{layerPrefix + "shared:2"},
	})
	if err != nil || len(up.Layers) != 1 || aws.ToString(up.Layers[0].Arn) != layerPrefix+"shared:2" {
		t.Fatalf("UpdateFunctionConfiguration: %+v, %v", up, err)
	}
	// The version keeps the layers it was published with.
	v1, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("uses"), Qualifier: aws.String("1")})
	if err != nil || len(v1.Layers) != 2 {
		t.Errorf("version 1 layers: %+v, %v", v1, err)
	}

	// Deleting a version in use: gone for the API, kept for the function
	// (its package too), and its number is not used again.
	if _, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(2)}); err != nil {
		t.Fatalf("DeleteLayerVersion: %v", err)
	}
	if _, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(2)}); err != nil {
		t.Errorf("DeleteLayerVersion again: %v", err)
	}
	if _, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(2)}); !errors.As(err, &nf) {
		t.Errorf("deleted version: %v", err)
	}
	resolved, err := e.reg.Resolve(ctx, "uses", "")
	if err != nil || len(resolved.Layers) != 1 || resolved.Layers[0].CodeSha256 != function.CodeSha256(zipB) {
		t.Fatalf("Resolve after delete: %+v, %v", resolved, err)
	}
	if _, err := e.reg.Code(ctx, function.CodeSha256(zipB)); err != nil {
		t.Errorf("package of a deleted layer version in use: %v", err)
	}
	// The function may keep the deleted version in a later update; a new
	// function may not use it.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("uses"), Layers: []string{layerPrefix + "shared:2"}, Timeout: aws.Int32(9),
	}); err != nil {
		t.Errorf("keeping a deleted layer version: %v", err)
	}
	var inv *types.InvalidParameterValueException
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("late"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": "x"})},
		Layers: []string{layerPrefix + "shared:2"},
	}); !errors.As(err, &inv) || inv.ErrorMessage() != "Layer version "+layerPrefix+"shared:2 does not exist." {
		t.Errorf("deleted layer version for a new function: %v", err)
	}
	p3, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
		LayerName: aws.String("shared"), Content: &types.LayerVersionContentInput{ZipFile: zipA},
	})
	if err != nil || p3.Version != 3 {
		t.Errorf("version after a deletion: %+v, %v", p3, err)
	}
	// Once no function uses it, the deleted version's package goes.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("uses"), Layers: []string{},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Code(ctx, function.CodeSha256(zipB)); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("package of an unused deleted layer version: %v", err)
	}
	cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("uses")})
	if err != nil || len(cfg.Layers) != 0 {
		t.Errorf("layers after removing all: %+v, %v", cfg.Layers, err)
	}
}

func TestLayerErrors(t *testing.T) {
	e := newEnv(t)
	zip := zipOf(t, map[string]string{"python/m.py": "x"})
	publish := func(name string, body map[string]any) response {
		return e.doJSON(t, "POST", "/2018-10-31/layers/"+name+"/versions", body)
	}
	if r := publish("l", map[string]any{"Content": map[string]any{"ZipFile": zip}}); r.status != 201 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	for i := range 5 {
		if r := publish("m"+string(rune('a'+i)), map[string]any{"Content": map[string]any{"ZipFile": zip}}); r.status != 201 {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
	}
	create := func(layers ...string) []byte {
		b, _ := json.Marshal(createBody(t, "fn", func(m map[string]any) { m["Layers"] = layers }))
		return b
	}
	cases := []struct {
		name          string
		method, path  string
		body          []byte
		status        int
		code, message string
	}{
		{"no content", "POST", "/2018-10-31/layers/x/versions", []byte(`{}`),
			400, "ValidationException", "1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null"},
		{"s3 content", "POST", "/2018-10-31/layers/x/versions", []byte(`{"Content":{"S3Bucket":"b","S3Key":"k"}}`),
			400, "InvalidParameterValueException", "S3 code locations (S3Bucket, S3Key, S3ObjectVersion) are not served by this node. Upload the .zip inline instead (ZipFile)."},
		{"not a zip", "POST", "/2018-10-31/layers/x/versions", []byte(`{"Content":{"ZipFile":"bm9wZQ=="}}`),
			400, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again."},
		{"bad runtime", "POST", "/2018-10-31/layers/x/versions", []byte(`{"Content":{"ZipFile":"bm9wZQ=="},"CompatibleRuntimes":["cobol"]}`),
			400, "ValidationException", "1 validation error detected: Value '[cobol]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [..."},
		{"bad name", "POST", "/2018-10-31/layers/a.b/versions", []byte(`{"Content":{"ZipFile":"bm9wZQ=="}}`),
			400, "ValidationException", "1 validation error detected: Value 'a.b' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"},
		{"foreign account", "POST", "/2018-10-31/layers/arn:aws:lambda:us-east-1:111111111111:layer:x/versions", []byte(`{"Content":{"ZipFile":"bm9wZQ=="}}`),
			400, "InvalidParameterValueException", "Layer arn:aws:lambda:us-east-1:111111111111:layer:x belongs to account 111111111111: this Nimbus node serves account 000000000000 only..."},
		{"missing layer", "GET", "/2018-10-31/layers/nope/versions/1", nil,
			404, "ResourceNotFoundException", "The resource you requested does not exist."},
		{"version zero", "GET", "/2018-10-31/layers/l/versions/0", nil,
			400, "InvalidParameterValueException", "Layer Version Cannot be less than 1"},
		{"by bad arn", "GET", "/2018-10-31/layers?find=LayerVersion&Arn=arn:aws:lambda:us-east-1:000000000000:layer:l", nil,
			400, "ValidationException", "1 validation error detected: Value 'arn:aws:lambda:us-east-1:000000000000:layer:l' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"},
		{"max items", "GET", "/2018-10-31/layers?MaxItems=51", nil,
			400, "ValidationException", "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"policy of missing version", "GET", "/2018-10-31/layers/l/versions/7/policy", nil,
			404, "ResourceNotFoundException", "Layer version " + layerPrefix + "l:7 does not exist."},
		{"no policy", "GET", "/2018-10-31/layers/l/versions/1/policy", nil,
			404, "ResourceNotFoundException", "No policy is associated with the given resource."},
		{"bad action", "POST", "/2018-10-31/layers/l/versions/1/policy", []byte(`{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"*"}`),
			400, "ValidationException", "1 validation error detected: Value 'lambda:InvokeFunction' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion"},
		{"missing statement", "DELETE", "/2018-10-31/layers/l/versions/1/policy/nope", nil,
			404, "ResourceNotFoundException", "Statement nope is not found in resource policy."},
		{"six layers", "POST", "/2015-03-31/functions", create(layerPrefix+"l:1", layerPrefix+"ma:1", layerPrefix+"mb:1", layerPrefix+"mc:1", layerPrefix+"md:1", layerPrefix+"me:1"),
			400, "InvalidParameterValueException", "Cannot reference more than 5 layers."},
		{"two versions", "POST", "/2015-03-31/functions", create(layerPrefix+"l:1", layerPrefix+"l:2"),
			400, "InvalidParameterValueException", "Two different versions of the same layer are not allowed to be referenced in the same function. " + layerPrefix + "l:1 and " + layerPrefix + "l:2 are versions of the same layer."},
		{"other account", "POST", "/2015-03-31/functions", create("arn:aws:lambda:us-east-1:111111111111:layer:x:1"),
			400, "InvalidParameterValueException", "Layer arn:aws:lambda:us-east-1:111111111111:layer:x:1 belongs to account 111111111111: this Nimbus node serves account 000000000000 only and cannot use other accounts' layers. Publish the layer here (aws lambda publish-layer-version) and use that ARN."},
		{"other region", "POST", "/2015-03-31/functions", create("arn:aws:lambda:eu-west-1:000000000000:layer:l:1"),
			400, "InvalidParameterValueException", "Layers are not in the same region as the function. Layers are expected to be in region us-east-1."},
		{"not an arn", "POST", "/2015-03-31/functions", create("l:1"),
			400, "ValidationException", "1 validation error detected: Value '[l:1]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, ..."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, tc.method, tc.path, tc.body, nil).wantError(t, tc.status, tc.code, tc.message)
		})
	}
	// Deleting what does not exist succeeds, as in AWS.
	if r := e.do(t, "DELETE", "/2018-10-31/layers/nope/versions/3", nil, nil); r.status != 204 {
		t.Errorf("delete missing: %d %s", r.status, r.body)
	}
	// A layer that does not exist has no versions.
	if r := e.do(t, "GET", "/2018-10-31/layers/nope/versions", nil, nil); r.status != 200 || strings.TrimSpace(string(r.body)) != `{"LayerVersions":[]}` {
		t.Errorf("list missing: %d %s", r.status, r.body)
	}
}

// TestLayerSizeLimit: a function's code and its layers may take 250 MB
// unzipped together.
func TestLayerSizeLimit(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("a", 130<<20) // compresses to almost nothing
	z := zipDeflated(t, map[string]string{"big": big})
	if r := e.doJSON(t, "POST", "/2018-10-31/layers/big/versions", map[string]any{"Content": map[string]any{"ZipFile": z}}); r.status != 201 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, "POST", "/2018-10-31/layers/big2/versions", map[string]any{"Content": map[string]any{"ZipFile": z}}); r.status != 201 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	e.create(t, "fn", func(m map[string]any) { m["Layers"] = []string{layerPrefix + "big:1"} })
	r := e.doJSON(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"Layers": []string{layerPrefix + "big:1", layerPrefix + "big2:1"}})
	if r.status != 400 || !strings.HasPrefix(r.message(t), "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is ") {
		t.Errorf("two big layers: %d %s", r.status, r.body)
	}
	// Uploaded code that does not fit beside the layers: AWS names the
	// room the layers leave (262144000 - 136314880).
	const want = "Unzipped size must be smaller than 125829120 bytes"
	bigCode := zipDeflated(t, map[string]string{"app.py": "def handler(e, c): return e\n", "big": big})
	r = e.doJSON(t, "POST", "/2015-03-31/functions", createBody(t, "fn2", func(m map[string]any) {
		m["Layers"] = []string{layerPrefix + "big:1"}
		m["Code"] = map[string]any{"ZipFile": bigCode}
	}))
	r.wantError(t, 400, "InvalidParameterValueException", want)
	r = e.doJSON(t, "PUT", "/2015-03-31/functions/fn/code", map[string]any{"ZipFile": bigCode})
	r.wantError(t, 400, "InvalidParameterValueException", want)
}

// TestLayerGolden pins the wire shapes of PublishLayerVersion,
// ListLayers and a configuration with layers.
func TestLayerGolden(t *testing.T) {
	fixed := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	e := newEnv(t, func(ro *registry.Options, o *Options) {
		ro.Now = func() time.Time { return fixed }
		o.Now = func() time.Time { return fixed }
		o.CodeURLKey = []byte("golden")
	})
	host := func(r response) response {
		r.body = []byte(strings.ReplaceAll(string(r.body), e.srv.URL, "http://HOST"))
		return r
	}
	r := e.doJSON(t, "POST", "/2018-10-31/layers/golden/versions", map[string]any{
		"Content":            map[string]any{"ZipFile": zipOf(t, map[string]string{"python/golden.py": "X = 1\n"})},
		"CompatibleRuntimes": []string{"python3.12", "python3.13"}, "Description": "wire shape", "LicenseInfo": "MIT",
		"CompatibleArchitectures": []string{"x86_64"},
	})
	golden(t, "publish_layer_version.golden", wire(host(r)))
	golden(t, "list_layers.golden", wire(e.do(t, "GET", "/2018-10-31/layers", nil, nil)))
	golden(t, "list_layer_versions.golden", wire(e.do(t, "GET", "/2018-10-31/layers/golden/versions", nil, nil)))
	e.create(t, "withlayer", func(m map[string]any) { m["Layers"] = []string{layerPrefix + "golden:1"} })
	golden(t, "function_with_layers.golden", wire(e.do(t, "GET", "/2015-03-31/functions/withlayer/configuration", nil, nil)))
}

// zipDeflated is zipOf with compressed entries.
func zipDeflated(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzLayerBodies feeds arbitrary PublishLayerVersion and
// AddLayerVersionPermission bodies to their handlers. Nothing may answer
// 5xx; what is accepted must be within the model's bounds.
func FuzzLayerBodies(f *testing.F) {
	zip := zipOf(f, map[string]string{"python/m.py": "x"})
	content, _ := json.Marshal(map[string]any{"ZipFile": zip})
	for _, s := range []string{
		`{"Content":` + string(content) + `}`,
		`{"Content":` + string(content) + `,"CompatibleRuntimes":["python3.12"],"CompatibleArchitectures":["arm64","x86_64"],"LicenseInfo":"MIT"}`,
		`{"Content":{"S3Bucket":"b","S3Key":"k"}}`, `{"Content":{}}`, `{"Content":null}`, `{"CompatibleRuntimes":"x"}`, `[]`, `{`,
		`{"StatementId":"s","Action":"lambda:GetLayerVersion","Principal":"*","OrganizationId":"o-abcdefghij"}`,
		`{"StatementId":"a b","Action":"lambda:GetLayerVersion","Principal":"123456789012"}`,
	} {
		f.Add("/2018-10-31/layers/l/versions", s)
		f.Add("/2018-10-31/layers/l/versions/1/policy", s)
	}
	e := newEnv(f)
	if r := e.doJSON(f, "POST", "/2018-10-31/layers/l/versions", map[string]any{"Content": map[string]any{"ZipFile": zip}}); r.status != 201 {
		f.Fatalf("publish: %d %s", r.status, r.body)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		switch path {
		case "/2018-10-31/layers/l/versions", "/2018-10-31/layers/l/versions/1/policy":
		default:
			return
		}
		r := e.do(t, "POST", path, []byte(body), nil)
		switch {
		case r.status >= 500:
			t.Fatalf("%s %q: %d %s", path, body, r.status, r.body)
		case r.status >= 400:
			return
		}
		if strings.HasSuffix(path, "/policy") {
			_ = e.do(t, "DELETE", path+"/"+statementSidOf(r.body), nil, nil)
			return
		}
		var lv function.LayerVersion
		mustJSON(t, r.body, &lv)
		if lv.Version < 2 || len(lv.CompatibleRuntimes) > function.MaxCompatibleRuntimes ||
			len(lv.CompatibleArchitectures) > function.MaxCompatibleArchitectures || len(lv.LicenseInfo) > function.MaxLicenseInfo ||
			lv.Content == nil || lv.Content.CodeSize == 0 {
			t.Fatalf("accepted %q as %s", body, r.body)
		}
	})
}

// TestAWSParamsSecretsLayer: AWS's Parameters and Secrets extension layer,
// named by AWS's own ARN, is accepted as it is (Nimbus serves the
// extension itself); in another region it is refused as AWS refuses it,
// and another layer of AWS's account stays refused.
func TestAWSParamsSecretsLayer(t *testing.T) {
	e := newEnv(t)
	const awsARN = "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12"
	e.create(t, "fn", func(m map[string]any) { m["Layers"] = []string{awsARN} })
	r := e.do(t, "GET", "/2015-03-31/functions/fn/configuration", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), awsARN) {
		t.Fatalf("configuration: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ arn, msg string }{
		{"arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12",
			"Layers are not in the same region as the function. Layers are expected to be in region us-east-1."},
		{"arn:aws:lambda:us-east-1:177933569100:layer:Another-Layer:1", "Layer arn:aws:lambda:us-east-1:177933569100:layer:Another-Layer:1 belongs to account 177933569100"},
	} {
		r := e.doJSON(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"Layers": []string{tc.arn}})
		if r.status != 400 || !strings.HasPrefix(r.message(t), tc.msg) {
			t.Errorf("%s: %d %s", tc.arn, r.status, r.body)
		}
	}
}
