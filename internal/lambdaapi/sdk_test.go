package lambdaapi

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

func sdkClient(e *env) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(e.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   e.srv.Client(),
	})
}

// TestSDKRoundTrip drives the API with aws-sdk-go-v2, as a user would:
// every answer must decode, waiters must finish, errors must be the typed
// exceptions.
func TestSDKRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := sdkClient(e)
	ctx := context.Background()
	zip := zipOf(t, map[string]string{"app.py": "def handler(e, c): return e\n"})

	cr, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("sdk"),
		Runtime:      types.RuntimePython312,
		Handler:      aws.String("app.handler"),
		Role:         aws.String(testRole),
		Code:         &types.FunctionCode{ZipFile: zip},
		Tags:         map[string]string{"team": "core"},
		Environment:  &types.Environment{Variables: map[string]string{"GREETING": "hi"}},
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if aws.ToString(cr.FunctionArn) != arnPrefix+"sdk" || aws.ToString(cr.Version) != "$LATEST" ||
		aws.ToInt32(cr.MemorySize) != 128 || aws.ToInt32(cr.Timeout) != 3 || cr.PackageType != types.PackageTypeZip {
		t.Errorf("CreateFunction output: %+v", cr)
	}
	if err := lambda.NewFunctionActiveV2Waiter(c, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	}).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk")}, 10*time.Second); err != nil {
		t.Fatalf("FunctionActiveV2 waiter: %v", err)
	}

	inv, err := c.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:  aws.String("sdk"),
		Payload:       []byte(`{"hello":"world"}`),
		LogType:       types.LogTypeTail,
		ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(`{"client":{"app_title":"t"}}`))),
	})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if inv.StatusCode != 200 || aws.ToString(inv.ExecutedVersion) != "$LATEST" || inv.FunctionError != nil ||
		string(inv.Payload) != `{"event":{"hello":"world"},"version":"$LATEST"}` || inv.LogResult == nil {
		t.Errorf("Invoke output: status %d version %q error %v payload %s", inv.StatusCode, aws.ToString(inv.ExecutedVersion), inv.FunctionError, inv.Payload)
	}
	if string(e.inv.last(t).req.ClientContext) != `{"client":{"app_title":"t"}}` {
		t.Errorf("client context %q", e.inv.last(t).req.ClientContext)
	}
	inv, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), Payload: []byte(`"fail"`)})
	if err != nil || aws.ToString(inv.FunctionError) != "Unhandled" {
		t.Errorf("function error: %v %v", err, inv)
	}
	dry, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || dry.StatusCode != 204 {
		t.Errorf("DryRun: %v %v", err, dry)
	}

	v1, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("sdk"), Description: aws.String("first")})
	if err != nil || aws.ToString(v1.Version) != "1" || aws.ToString(v1.FunctionArn) != arnPrefix+"sdk:1" || aws.ToString(v1.Description) != "first" {
		t.Fatalf("PublishVersion: %v %+v", err, v1)
	}
	zip2 := zipOf(t, map[string]string{"app.py": "def handler(e, c): return 2\n"})
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("sdk"), ZipFile: zip2, RevisionId: v1.RevisionId})
	var pf *types.PreconditionFailedException
	if !errors.As(err, &pf) {
		t.Errorf("UpdateFunctionCode with a version's RevisionId: %v, want PreconditionFailedException", err)
	}
	latest, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("sdk")})
	if err != nil {
		t.Fatal(err)
	}
	uc, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("sdk"), ZipFile: zip2, RevisionId: latest.RevisionId})
	if err != nil || aws.ToString(uc.CodeSha256) == aws.ToString(v1.CodeSha256) {
		t.Fatalf("UpdateFunctionCode: %v", err)
	}
	v2, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("sdk"), CodeSha256: uc.CodeSha256})
	if err != nil || aws.ToString(v2.Version) != "2" {
		t.Fatalf("PublishVersion 2: %v %v", err, v2)
	}

	al, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String("sdk"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.25}},
	})
	if err != nil || aws.ToString(al.AliasArn) != arnPrefix+"sdk:live" || al.RoutingConfig.AdditionalVersionWeights["2"] != 0.25 {
		t.Fatalf("CreateAlias: %v %+v", err, al)
	}
	ga, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("sdk"), Name: aws.String("live")})
	if err != nil || aws.ToString(ga.RevisionId) != aws.ToString(al.RevisionId) {
		t.Fatalf("GetAlias: %v", err)
	}
	ua, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{
		FunctionName: aws.String("sdk"), Name: aws.String("live"), RevisionId: ga.RevisionId,
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}},
	})
	if err != nil || ua.RoutingConfig != nil || aws.ToString(ua.FunctionVersion) != "1" {
		t.Fatalf("UpdateAlias: %v %+v", err, ua)
	}
	inv, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), Qualifier: aws.String("live")})
	if err != nil || aws.ToString(inv.ExecutedVersion) != "1" {
		t.Errorf("Invoke alias: %v %v", err, inv)
	}
	al2, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("sdk"), FunctionVersion: aws.String("1")})
	if err != nil || len(al2.Aliases) != 1 {
		t.Errorf("ListAliases: %v %v", err, al2)
	}

	upd, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("sdk"), Timeout: aws.Int32(60), MemorySize: aws.Int32(512),
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "hello"}},
	})
	if err != nil || aws.ToInt32(upd.Timeout) != 60 || upd.Environment.Variables["GREETING"] != "hello" {
		t.Fatalf("UpdateFunctionConfiguration: %v %+v", err, upd)
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	}).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk")}, 10*time.Second); err != nil {
		t.Fatalf("FunctionUpdatedV2 waiter: %v", err)
	}
	if err := lambda.NewPublishedVersionActiveWaiter(c, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	}).Wait(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("sdk"), Qualifier: aws.String("2")}, 10*time.Second); err != nil {
		t.Fatalf("PublishedVersionActive waiter: %v", err)
	}
	gf, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk")})
	if err != nil || gf.Tags["team"] != "core" || aws.ToString(gf.Code.RepositoryType) != "S3" || !strings.HasPrefix(aws.ToString(gf.Code.Location), e.srv.URL+"/_nimbus/code/") {
		t.Errorf("GetFunction: %v %+v", err, gf)
	}

	for _, n := range []string{"p1", "p2", "p3", "p4"} {
		if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(n), Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler"),
			Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip},
		}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	pages := 0
	p := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListFunctions: %v", err)
		}
		pages++
		for _, f := range page.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
	}
	if !slices.Equal(names, []string{"p1", "p2", "p3", "p4", "sdk"}) || pages != 3 {
		t.Errorf("ListFunctions pages %d: %v", pages, names)
	}
	vp := lambda.NewListVersionsByFunctionPaginator(c, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("sdk"), MaxItems: aws.Int32(1)})
	var versions []string
	for vp.HasMorePages() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			versions = append(versions, aws.ToString(v.Version))
		}
	}
	if !slices.Equal(versions, []string{"$LATEST", "1", "2"}) {
		t.Errorf("ListVersionsByFunction: %v", versions)
	}

	arn := aws.String(arnPrefix + "sdk")
	if _, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: arn, Tags: map[string]string{"env": "test"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: arn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTags(ctx, &lambda.ListTagsInput{Resource: arn})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["env"] != "test" {
		t.Errorf("ListTags: %v %v", err, tags)
	}
	acct, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || acct.AccountUsage.FunctionCount != 5 {
		t.Errorf("GetAccountSettings: %v %+v", err, acct)
	}

	// Errors arrive as the SDK's typed exceptions.
	var (
		nf  *types.ResourceNotFoundException
		rc  *types.ResourceConflictException
		irc *types.InvalidRequestContentException
		rtl *types.RequestTooLargeException
		ipv *types.InvalidParameterValueException
		api smithy.APIError
	)
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("sdk"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip},
	})
	if !errors.As(err, &rc) || aws.ToString(rc.Message) != "Function already exist: sdk" || aws.ToString(rc.Type) != "User" {
		t.Errorf("duplicate create: %v", err)
	}
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("small"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip}, MemorySize: aws.Int32(64),
	})
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" || !strings.Contains(api.ErrorMessage(), "at 'memorySize'") {
		t.Errorf("MemorySize 64: %v", err)
	}
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("s3"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &types.FunctionCode{S3Bucket: aws.String("b"), S3Key: aws.String("k.zip")},
	})
	if !errors.As(err, &ipv) {
		t.Errorf("S3 code: %v", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), Payload: []byte("{nope")})
	if !errors.As(err, &irc) {
		t.Errorf("bad payload: %v", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), Payload: []byte(`"` + strings.Repeat("a", 6*1024*1024) + `"`)})
	if !errors.As(err, &rtl) {
		t.Errorf("large payload: %v", err)
	}
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("sdk"), Qualifier: aws.String("1")})
	if !errors.As(err, &rc) || !strings.Contains(aws.ToString(rc.Message), "[live]") {
		t.Errorf("delete aliased version: %v", err)
	}
	if _, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("sdk"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("sdk"), Qualifier: aws.String("1")}); err != nil {
		t.Errorf("delete version: %v", err)
	}

	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(arnPrefix + "sdk")}); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk")})
	if !errors.As(err, &nf) || aws.ToString(nf.Message) != "Function not found: "+arnPrefix+"sdk" {
		t.Errorf("GetFunction after delete: %v", err)
	}
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) || re.ServiceRequestID() == "" {
		t.Errorf("error without a request id: %v", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk")})
	if !errors.As(err, &nf) {
		t.Errorf("Invoke after delete: %v", err)
	}
}
