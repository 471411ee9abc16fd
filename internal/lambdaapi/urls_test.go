package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/registry"
)

var functionURLRE = regexp.MustCompile(`^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:4566/$`)

// TestFunctionURLConfigSDK drives the function URL configuration API with
// aws-sdk-go-v2: create, conflict, get, update, list, aliases, delete,
// and the URL's life ending with its alias and its function.
func TestFunctionURLConfigSDK(t *testing.T) {
	e := newEnv(t, func(_ *registry.Options, o *Options) { o.URLPort = "4566" })
	c := sdkClient(e)
	ctx := context.Background()
	e.create(t, "web", nil)

	cr, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("web"),
		AuthType:     types.FunctionUrlAuthTypeNone,
		Cors:         &types.Cors{AllowOrigins: []string{"https://example.com"}, MaxAge: aws.Int32(60)},
	})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig: %v", err)
	}
	m := functionURLRE.FindStringSubmatch(aws.ToString(cr.FunctionUrl))
	if m == nil || aws.ToString(cr.FunctionArn) != arnPrefix+"web" || cr.AuthType != types.FunctionUrlAuthTypeNone ||
		cr.InvokeMode != types.InvokeModeBuffered || aws.ToString(cr.CreationTime) == "" ||
		cr.Cors == nil || aws.ToInt32(cr.Cors.MaxAge) != 60 {
		t.Fatalf("create output: %+v", cr)
	}
	id := m[1]

	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeNone})
	var conflict *types.ResourceConflictException
	if !errors.As(err, &conflict) || !strings.Contains(aws.ToString(conflict.Message), "FunctionUrlConfig exists for this Lambda function") {
		t.Errorf("second create: %v", err)
	}

	up, err := c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{
		FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeAwsIam, InvokeMode: types.InvokeModeResponseStream,
	})
	if err != nil {
		t.Fatalf("UpdateFunctionUrlConfig: %v", err)
	}
	if aws.ToString(up.FunctionUrl) != aws.ToString(cr.FunctionUrl) || up.AuthType != types.FunctionUrlAuthTypeAwsIam ||
		up.InvokeMode != types.InvokeModeResponseStream || up.Cors == nil || aws.ToString(up.CreationTime) != aws.ToString(cr.CreationTime) ||
		aws.ToString(up.LastModifiedTime) == "" {
		t.Errorf("update output: %+v", up)
	}
	got, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String(arnPrefix + "web")})
	if err != nil || got.AuthType != types.FunctionUrlAuthTypeAwsIam || aws.ToString(got.FunctionUrl) != aws.ToString(cr.FunctionUrl) {
		t.Fatalf("GetFunctionUrlConfig: %v %+v", err, got)
	}

	// The front door finds it by id.
	name, u, err := e.reg.ResolveURL(ctx, id)
	if err != nil || name != "web" || u.Qualifier != "$LATEST" || u.AuthType != "AWS_IAM" {
		t.Errorf("ResolveURL: %q %+v %v", name, u, err)
	}

	// An alias gets its own URL.
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("web"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	ar, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("web"), Qualifier: aws.String("live"), AuthType: types.FunctionUrlAuthTypeNone,
	})
	if err != nil || aws.ToString(ar.FunctionArn) != arnPrefix+"web:live" || aws.ToString(ar.FunctionUrl) == aws.ToString(cr.FunctionUrl) {
		t.Fatalf("alias URL: %v %+v", err, ar)
	}
	list, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("web")})
	if err != nil || len(list.FunctionUrlConfigs) != 2 || aws.ToString(list.FunctionUrlConfigs[0].FunctionArn) != arnPrefix+"web" ||
		aws.ToString(list.FunctionUrlConfigs[1].FunctionArn) != arnPrefix+"web:live" {
		t.Fatalf("ListFunctionUrlConfigs: %v %+v", err, list)
	}
	page, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("web"), MaxItems: aws.Int32(1)})
	if err != nil || len(page.FunctionUrlConfigs) != 1 || page.NextMarker == nil {
		t.Fatalf("first page: %v %+v", err, page)
	}
	page, err = c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("web"), Marker: page.NextMarker})
	if err != nil || len(page.FunctionUrlConfigs) != 1 || page.NextMarker != nil || aws.ToString(page.FunctionUrlConfigs[0].FunctionArn) != arnPrefix+"web:live" {
		t.Fatalf("second page: %v %+v", err, page)
	}

	// Deleting the alias deletes its URL.
	aliasID := functionURLRE.FindStringSubmatch(aws.ToString(ar.FunctionUrl))[1]
	if _, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("web"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.reg.ResolveURL(ctx, aliasID); err == nil {
		t.Error("the alias's URL outlived the alias")
	}

	// GetFunction does not show URLs (nor does AWS).
	r := e.do(t, "GET", "/2015-03-31/functions/web", nil, nil)
	if strings.Contains(string(r.body), "lambda-url") {
		t.Errorf("GetFunction shows the URL: %s", r.body)
	}

	if _, err := c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("web")}); err != nil {
		t.Fatalf("DeleteFunctionUrlConfig: %v", err)
	}
	_, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("web")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.Message) != "The resource you requested does not exist." {
		t.Errorf("get after delete: %v", err)
	}
	_, err = c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("web")})
	if !errors.As(err, &nf) {
		t.Errorf("second delete: %v", err)
	}

	// A URL goes with its function.
	cr2, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cr2.FunctionUrl) == aws.ToString(cr.FunctionUrl) {
		t.Error("a recreated URL reused the old id")
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.reg.ResolveURL(ctx, functionURLRE.FindStringSubmatch(aws.ToString(cr2.FunctionUrl))[1]); err == nil {
		t.Error("the URL outlived its function")
	}
}

// TestFunctionURLConfigSurvivesRestart: a URL is on the backbone; a new
// registry on the same store serves it by id.
func TestFunctionURLConfigSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.create(t, "keep", nil)
	r := e.doJSON(t, "POST", "/2021-10-31/functions/keep/url", map[string]any{"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var out struct {
		FunctionURL string `json:"FunctionUrl"`
	}
	mustJSON(t, r.body, &out)
	id := regexp.MustCompile(`//([a-z0-9]{32})\.`).FindStringSubmatch(out.FunctionURL)[1]

	reg, err := registry.New(registry.Options{Store: e.st, Region: testRegion, AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	defer func() { cancel(); <-done }()
	name, u, err := reg.ResolveURL(ctx, id)
	if err != nil || name != "keep" || u.Mode() != "RESPONSE_STREAM" {
		t.Errorf("after restart: %q %+v %v", name, u, err)
	}
}

// TestFunctionURLConfigErrors checks the refusals, in AWS's words.
func TestFunctionURLConfigErrors(t *testing.T) {
	e := newEnv(t)
	e.create(t, "f", nil)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code, msg          string
	}{
		{"no auth type", "POST", "/2021-10-31/functions/f/url", map[string]any{}, 400, "ValidationException",
			"1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null"},
		{"bad enums", "POST", "/2021-10-31/functions/f/url", map[string]any{"AuthType": "OPEN", "InvokeMode": "FAST"}, 400, "ValidationException",
			"2 validation errors detected: Value 'OPEN' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]; Value 'FAST' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"},
		{"max age", "POST", "/2021-10-31/functions/f/url", map[string]any{"AuthType": "NONE", "Cors": map[string]any{"MaxAge": 86401}}, 400, "ValidationException",
			"1 validation error detected: Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400"},
		{"latest qualifier", "POST", "/2021-10-31/functions/f/url?Qualifier=%24LATEST", map[string]any{"AuthType": "NONE"}, 400, "ValidationException",
			"1 validation error detected: Value '$LATEST' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"},
		{"version qualifier", "GET", "/2021-10-31/functions/f:1/url", nil, 400, "ValidationException",
			"1 validation error detected: Value '1' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (^\\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))"},
		{"missing function", "POST", "/2021-10-31/functions/nope/url", map[string]any{"AuthType": "NONE"}, 404, "ResourceNotFoundException", "Function does not exist"},
		{"missing alias", "POST", "/2021-10-31/functions/f/url?Qualifier=live", map[string]any{"AuthType": "NONE"}, 404, "ResourceNotFoundException", "Function does not exist"},
		{"missing url", "GET", "/2021-10-31/functions/f/url", nil, 404, "ResourceNotFoundException", "The resource you requested does not exist."},
		{"update missing url", "PUT", "/2021-10-31/functions/f/url", map[string]any{"AuthType": "NONE"}, 404, "ResourceNotFoundException", "The resource you requested does not exist."},
		{"list missing function", "GET", "/2021-10-31/functions/nope/urls", nil, 404, "ResourceNotFoundException", "Function does not exist"},
		{"list page over 50", "GET", "/2021-10-31/functions/f/urls?MaxItems=51", nil, 400, "ValidationException",
			"1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"list page far over 50", "GET", "/2021-10-31/functions/f/urls?MaxItems=20000", nil, 400, "ValidationException",
			"1 validation error detected: Value '20000' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"delete missing function", "DELETE", "/2021-10-31/functions/nope/url", nil, 404, "ResourceNotFoundException", "The resource you requested does not exist."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doJSON(t, tc.method, tc.path, tc.body)
			var body struct {
				Message  string `json:"message"`
				MessageU string `json:"Message"`
			}
			mustJSON(t, r.body, &body)
			msg := body.Message + body.MessageU
			if r.status != tc.status || r.header.Get("X-Amzn-ErrorType") != tc.code || msg != tc.msg {
				t.Errorf("got %d %s %q, want %d %s %q", r.status, r.header.Get("X-Amzn-ErrorType"), msg, tc.status, tc.code, tc.msg)
			}
		})
	}
}

// TestPermissionsSDK: AddPermission, GetPolicy and RemovePermission with
// aws-sdk-go-v2, as SAM uses them for function URLs and API Gateway.
func TestPermissionsSDK(t *testing.T) {
	e := newEnv(t)
	c := sdkClient(e)
	ctx := context.Background()
	e.create(t, "p", nil)

	add, err := c.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: aws.String("p"), StatementId: aws.String("FunctionURLAllowPublicAccess"),
		Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"),
		FunctionUrlAuthType: types.FunctionUrlAuthTypeNone,
	})
	if err != nil {
		t.Fatalf("AddPermission: %v", err)
	}
	want := `{"Sid":"FunctionURLAllowPublicAccess","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"` + arnPrefix +
		`p","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}`
	if aws.ToString(add.Statement) != want {
		t.Errorf("statement:\n got %s\nwant %s", aws.ToString(add.Statement), want)
	}
	if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: aws.String("p"), StatementId: aws.String("apigw"), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("apigateway.amazonaws.com"), SourceArn: aws.String("arn:aws:execute-api:us-east-1:000000000000:abc/*"),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: aws.String("p"), StatementId: aws.String("apigw"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"),
	})
	var conflict *types.ResourceConflictException
	if !errors.As(err, &conflict) {
		t.Errorf("duplicate sid: %v", err)
	}
	pol, err := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) != 2 ||
		doc.Statement[1]["Principal"].(map[string]any)["Service"] != "apigateway.amazonaws.com" || aws.ToString(pol.RevisionId) == "" {
		t.Errorf("policy: %v %s", err, aws.ToString(pol.Policy))
	}
	if _, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("p"), StatementId: aws.String("apigw"),
		RevisionId: aws.String("stale")}); err == nil {
		t.Error("RemovePermission with a stale RevisionId succeeded")
	}
	for _, sid := range []string{"apigw", "FunctionURLAllowPublicAccess"} {
		if _, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("p"), StatementId: aws.String(sid)}); err != nil {
			t.Fatalf("RemovePermission %s: %v", sid, err)
		}
	}
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("p")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetPolicy with no statements: %v", err)
	}
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("p"), Qualifier: aws.String("$LATEST"),
		StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
	var inv *types.InvalidParameterValueException
	if !errors.As(err, &inv) {
		t.Errorf("policy on $LATEST: %v", err)
	}
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("p"), Qualifier: aws.String("nope"),
		StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
	if !errors.As(err, &nf) {
		t.Errorf("policy on a missing alias: %v", err)
	}
}

// TestInvokeWithResponseStreamSDK reads InvokeWithResponseStream's event
// stream with aws-sdk-go-v2: the payload chunks as the function streamed
// them, then InvokeComplete with the error and the log tail.
func TestInvokeWithResponseStreamSDK(t *testing.T) {
	e := newEnv(t)
	c := sdkClient(e)
	ctx := context.Background()
	e.create(t, "s", nil)

	read := func(payload string, tail bool) (chunks []string, done *types.InvokeWithResponseStreamCompleteEvent, out *lambda.InvokeWithResponseStreamOutput) {
		t.Helper()
		in := &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("s"), Payload: []byte(payload)}
		if tail {
			in.LogType = types.LogTypeTail
		}
		out, err := c.InvokeWithResponseStream(ctx, in)
		if err != nil {
			t.Fatalf("InvokeWithResponseStream: %v", err)
		}
		st := out.GetStream()
		defer st.Close()
		for ev := range st.Events() {
			switch v := ev.(type) {
			case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
				chunks = append(chunks, string(v.Value.Payload))
			case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
				done = &v.Value
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("event stream: %v", err)
		}
		return chunks, done, out
	}

	chunks, done, out := read(`{"n":1}`, true)
	if len(chunks) != 2 || strings.Join(chunks, "") != `{"event":{"n":1},"version":"$LATEST"}` || done == nil ||
		done.ErrorCode != nil || aws.ToString(done.LogResult) == "" || aws.ToString(out.ExecutedVersion) != "$LATEST" || out.StatusCode != 200 {
		t.Errorf("chunks %q complete %+v out %+v", chunks, done, out)
	}
	chunks, done, _ = read(`"fail"`, false)
	if len(chunks) != 0 || done == nil || aws.ToString(done.ErrorCode) != "Error" || aws.ToString(done.ErrorDetails) != "failed on purpose" {
		t.Errorf("function error: chunks %q complete %+v", chunks, done)
	}
	_, err := c.InvokeWithResponseStream(ctx, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("missing function: %v", err)
	}
}

// FuzzURLConfigRequest sends arbitrary bodies to the function URL and
// permission operations: nothing may panic, refusals are 4xx AWS errors,
// and whatever is accepted reads back as a configuration the model allows.
func FuzzURLConfigRequest(f *testing.F) {
	for _, s := range []string{
		`{"AuthType":"NONE"}`, `{"AuthType":"AWS_IAM","InvokeMode":"RESPONSE_STREAM","Cors":{"AllowOrigins":["*"],"MaxAge":86400}}`,
		`{"AuthType":"NONE","Cors":{"AllowMethods":["GETTING"]}}`, `{"AuthType":null}`, `{"Cors":[]}`, `[]`, `{`,
		`{"StatementId":"s","Action":"lambda:InvokeFunctionUrl","Principal":"*","FunctionUrlAuthType":"NONE"}`,
		`{"StatementId":"a b","Action":"x","Principal":"123456789012"}`,
	} {
		f.Add("POST", "/2021-10-31/functions/f/url", s)
		f.Add("PUT", "/2021-10-31/functions/f/url", s)
		f.Add("POST", "/2015-03-31/functions/f/policy", s)
	}
	e := newEnv(f)
	e.create(f, "f", nil)
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch path {
		case "/2021-10-31/functions/f/url", "/2015-03-31/functions/f/policy":
		default:
			return
		}
		if method != "POST" && method != "PUT" {
			return
		}
		r := e.do(t, method, path, []byte(body), nil)
		switch {
		case r.status >= 500:
			t.Fatalf("%s %s %q: %d %s", method, path, body, r.status, r.body)
		case r.status >= 400:
			return
		}
		if path == "/2015-03-31/functions/f/policy" {
			_ = e.do(t, "DELETE", "/2015-03-31/functions/f/policy/"+url.PathEscape(statementSidOf(r.body)), nil, nil)
			return
		}
		var u struct{ AuthType, InvokeMode string }
		mustJSON(t, r.body, &u)
		if (u.AuthType != "NONE" && u.AuthType != "AWS_IAM") || (u.InvokeMode != "BUFFERED" && u.InvokeMode != "RESPONSE_STREAM") {
			t.Fatalf("accepted %q as %s", body, r.body)
		}
		_ = e.do(t, "DELETE", "/2021-10-31/functions/f/url", nil, nil)
	})
}

func statementSidOf(b []byte) string {
	var out struct{ Statement string }
	_ = json.Unmarshal(b, &out)
	var st struct{ Sid string }
	_ = json.Unmarshal([]byte(out.Statement), &st)
	return st.Sid
}
