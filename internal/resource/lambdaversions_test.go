package resource_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// getURL fetches a function URL through the node's listener.
func (e *env) getURL(t *testing.T, raw string) (int, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return e.hostRequest(t, u.Host, "GET", "/")
}

// TestVersionsAliasesAndURLs publishes versions, points an alias with
// provisioned concurrency and weighted routing at them, puts a function
// URL on the alias and an event invoke config on the function, updates
// and replaces each, and deletes them.
func TestVersionsAliasesAndURLs(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	fn := e.create(t, "Fn", "AWS::Lambda::Function", pyFunction("1", nil))
	name := fn.PhysicalID

	ver1 := e.create(t, "Ver", "AWS::Lambda::Version", map[string]any{"FunctionName": name, "Description": "one"})
	if want := fn.Attrs["Arn"].(string) + ":1"; ver1.PhysicalID != want || ver1.Attrs["Version"] != "1" || ver1.Attrs["FunctionArn"] != want {
		t.Errorf("version 1 = %s %v, want %s", ver1.PhysicalID, ver1.Attrs, want)
	}
	_, err := e.ps["AWS::Lambda::Version"].Create(ctx, request("Bad", "AWS::Lambda::Version", map[string]any{"FunctionName": name, "CodeSha256": "nope"}))
	wantErr(t, err, "Resource handler returned message:", "CodeSHA256 (nope) is different from current CodeSHA256", "(Service: Lambda, Status Code: 400")

	// New code, then a new version replaces the old one.
	fn = e.update(t, fn, pyFunction("2", nil))
	ver2 := e.replace(t, ver1, map[string]any{"FunctionName": name, "Description": "two"})
	if ver2.Attrs["Version"] != "2" {
		t.Errorf("second version = %v", ver2.Attrs)
	}
	_, err = e.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name, Qualifier: aws.String("1")})
	wantErr(t, err, "ResourceNotFoundException")

	alias := e.create(t, "Alias", "AWS::Lambda::Alias", map[string]any{
		"FunctionName": name, "FunctionVersion": ver2.Attrs["Version"], "Name": "live",
		"ProvisionedConcurrencyConfig": map[string]any{"ProvisionedConcurrentExecutions": float64(1)},
	})
	if want := fn.Attrs["Arn"].(string) + ":live"; alias.PhysicalID != want || alias.Attrs["AliasArn"] != want {
		t.Errorf("alias = %s %v, want %s", alias.PhysicalID, alias.Attrs, want)
	}
	pc, err := e.lambda.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: &name, Qualifier: aws.String("live")})
	if err != nil || pc.Status != types.ProvisionedConcurrencyStatusEnumReady {
		t.Errorf("provisioned concurrency = %+v, %v; want READY when the alias is made", pc, err)
	}
	if out := e.invoke(t, name+":live"); !strings.Contains(out, `"v": "2"`) {
		t.Errorf("invoke alias = %s", out)
	}

	// In place: the alias moves to version 3, sends half to version 2,
	// and loses its provisioned concurrency.
	fn = e.update(t, fn, pyFunction("3", nil))
	ver3 := e.create(t, "Ver3", "AWS::Lambda::Version", map[string]any{"FunctionName": name})
	alias = e.update(t, alias, map[string]any{
		"FunctionName": name, "FunctionVersion": ver3.Attrs["Version"], "Name": "live",
		"RoutingConfig": map[string]any{"AdditionalVersionWeights": []any{map[string]any{"FunctionVersion": "2", "FunctionWeight": "0.5"}}},
	})
	a, err := e.lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: &name, Name: aws.String("live")})
	if err != nil || aws.ToString(a.FunctionVersion) != "3" || a.RoutingConfig == nil || a.RoutingConfig.AdditionalVersionWeights["2"] != 0.5 {
		t.Errorf("alias after update = %+v, %v", a, err)
	}
	_, err = e.lambda.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: &name, Qualifier: aws.String("live")})
	wantErr(t, err, "ProvisionedConcurrencyConfigNotFoundException")

	// A function URL on the alias (TargetFunctionArn is the alias's ARN).
	u := e.create(t, "Url", "AWS::Lambda::Url", map[string]any{
		"TargetFunctionArn": alias.PhysicalID, "AuthType": "NONE",
		"Cors": map[string]any{"AllowOrigins": []any{"https://example.com"}, "MaxAge": "60"},
	})
	fnURL, _ := u.Attrs["FunctionUrl"].(string)
	if u.PhysicalID != alias.PhysicalID || u.Attrs["FunctionArn"] != alias.PhysicalID || !strings.Contains(fnURL, ".lambda-url.") {
		t.Errorf("URL = %s %v", u.PhysicalID, u.Attrs)
	}
	if status, body := e.getURL(t, fnURL); status != 200 || !strings.Contains(body, `"v"`) {
		t.Errorf("GET %s = %d %q", fnURL, status, body)
	}
	u = e.update(t, u, map[string]any{"TargetFunctionArn": alias.PhysicalID, "AuthType": "AWS_IAM"})
	uc, err := e.lambda.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: &name, Qualifier: aws.String("live")})
	if err != nil || uc.AuthType != types.FunctionUrlAuthTypeAwsIam || (uc.Cors != nil && len(uc.Cors.AllowOrigins) > 0) {
		t.Errorf("URL config after update = %+v, %v", uc, err)
	}
	if status, _ := e.getURL(t, fnURL); status != 403 {
		t.Errorf("unsigned GET of an AWS_IAM URL = %d, want 403", status)
	}

	// Asynchronous invocation settings: in place, then replaced by a new
	// qualifier.
	eic := e.create(t, "Eic", "AWS::Lambda::EventInvokeConfig", map[string]any{
		"FunctionName": name, "Qualifier": "$LATEST", "MaximumRetryAttempts": float64(0),
	})
	eic = e.update(t, eic, map[string]any{"FunctionName": name, "Qualifier": "$LATEST", "MaximumEventAgeInSeconds": float64(120)})
	ec, err := e.lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: &name, Qualifier: aws.String("$LATEST")})
	if err != nil || aws.ToInt32(ec.MaximumEventAgeInSeconds) != 120 || (ec.MaximumRetryAttempts != nil && *ec.MaximumRetryAttempts == 0) {
		t.Errorf("event invoke config after update = %+v, %v", ec, err)
	}
	eic = e.replace(t, eic, map[string]any{"FunctionName": name, "Qualifier": "live", "MaximumRetryAttempts": float64(1)})
	_, err = e.lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: &name, Qualifier: aws.String("$LATEST")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = e.ps["AWS::Lambda::EventInvokeConfig"].Create(ctx, request("Eic2", "AWS::Lambda::EventInvokeConfig", map[string]any{"FunctionName": name}))
	wantErr(t, err, "required key [Qualifier] not found")

	// Replacements: a new alias name, a permission with another
	// principal, a URL on $LATEST instead of the alias.
	alias2 := e.replace(t, alias, map[string]any{"FunctionName": name, "FunctionVersion": ver3.Attrs["Version"], "Name": "stable"})
	_, err = e.lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: &name, Name: aws.String("live")})
	wantErr(t, err, "ResourceNotFoundException")
	if alias2.PhysicalID != fn.Attrs["Arn"].(string)+":stable" {
		t.Errorf("replacement alias = %s", alias2.PhysicalID)
	}
	perm := e.create(t, "Perm", "AWS::Lambda::Permission", map[string]any{
		"Action": "lambda:InvokeFunction", "FunctionName": fn.Attrs["Arn"], "Principal": "s3.amazonaws.com",
	})
	perm2 := e.replace(t, perm, map[string]any{
		"Action": "lambda:InvokeFunction", "FunctionName": fn.Attrs["Arn"], "Principal": "sns.amazonaws.com",
	})
	pol, err := e.lambda.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &name})
	if err != nil || strings.Contains(aws.ToString(pol.Policy), perm.PhysicalID) || !strings.Contains(aws.ToString(pol.Policy), perm2.PhysicalID) {
		t.Errorf("policy after replacing the permission = %v, %v", pol, err)
	}
	u2 := e.replace(t, u, map[string]any{"TargetFunctionArn": name, "AuthType": "NONE"})
	if u2.PhysicalID != fn.Attrs["Arn"] {
		t.Errorf("URL of $LATEST = %s %v", u2.PhysicalID, u2.Attrs)
	}
	if status, _ := e.getURL(t, u2.Attrs["FunctionUrl"].(string)); status != 200 {
		t.Errorf("GET the $LATEST URL = %d", status)
	}
	u, alias = u2, alias2
	e.delete(t, perm2)

	for _, r := range []*stack.Resource{eic, u, alias, ver3, ver2} {
		e.delete(t, r)
	}
	_, err = e.lambda.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: &name})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = e.lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: &name, Name: aws.String("stable")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = e.lambda.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &name})
	wantErr(t, err, "ResourceNotFoundException")
	vs, err := e.lambda.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: &name})
	if err != nil || len(vs.Versions) != 1 { // $LATEST
		t.Errorf("versions after deletion = %d, %v", len(vs.Versions), err)
	}
	e.delete(t, fn)
}

// TestLayerVersion publishes a layer from an uploaded artifact, shares
// it, uses it from a function, replaces it with a new version, and
// deletes it.
func TestLayerVersion(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	content := e.upload(t, zipOf(t, map[string]string{"python/greet.py": "def greet():\n    return 'from layer'\n"}))
	layer := e.create(t, "Layer", "AWS::Lambda::LayerVersion", map[string]any{
		"Content": content, "CompatibleRuntimes": []any{"python3.12"}, "Description": "one",
	})
	arn := layer.PhysicalID
	if !strings.Contains(arn, ":layer:"+stackName+"-Layer-") || !strings.HasSuffix(arn, ":1") || layer.Attrs["LayerVersionArn"] != arn {
		t.Errorf("layer version = %s %v", arn, layer.Attrs)
	}
	lv, err := e.lambda.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: &arn})
	if err != nil || aws.ToString(lv.Description) != "one" {
		t.Fatalf("GetLayerVersionByArn = %+v, %v", lv, err)
	}
	perm := e.create(t, "LayerPerm", "AWS::Lambda::LayerVersionPermission", map[string]any{
		"Action": "lambda:GetLayerVersion", "LayerVersionArn": arn, "Principal": "*",
	})
	_, sid, _ := strings.Cut(perm.PhysicalID, "#")
	layerName, _, _ := strings.Cut(strings.SplitAfter(arn, ":layer:")[1], ":")
	pol, err := e.lambda.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: &layerName, VersionNumber: aws.Int64(1)})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), sid) {
		t.Errorf("layer policy = %+v, %v; want statement %s", pol, err, sid)
	}

	fn := e.create(t, "Fn", "AWS::Lambda::Function", map[string]any{
		"Runtime": "python3.12", "Handler": "index.handler", "Role": testRole, "Layers": []any{arn},
		"Code": map[string]any{"ZipFile": "import greet\ndef handler(event, context):\n    return greet.greet()\n"},
	})
	if out := e.invoke(t, fn.PhysicalID); out != `"from layer"` {
		t.Errorf("invoke with the layer = %s", out)
	}

	e.delete(t, perm)
	_, err = e.lambda.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: &layerName, VersionNumber: aws.Int64(1)})
	wantErr(t, err, "ResourceNotFoundException")
	e.delete(t, fn)
	layer2 := e.replace(t, layer, map[string]any{"Content": content, "LayerName": layerName, "Description": "two"})
	if !strings.HasSuffix(layer2.PhysicalID, ":2") {
		t.Errorf("replacement layer version = %s", layer2.PhysicalID)
	}
	_, err = e.lambda.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: &arn})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = e.ps["AWS::Lambda::LayerVersion"].Create(ctx, request("L", "AWS::Lambda::LayerVersion", map[string]any{
		"Content": map[string]any{"S3Bucket": "elsewhere", "S3Key": "layer.zip"},
	}))
	wantErr(t, err, "Error occurred while GetObject. S3 Error Code: NoSuchBucket")
	e.delete(t, layer2)
	vs, err := e.lambda.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: &layerName})
	if err != nil || len(vs.LayerVersions) != 0 {
		t.Errorf("layer versions after deletion = %+v, %v", vs, err)
	}
}
