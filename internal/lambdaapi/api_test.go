package lambdaapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/registry"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// fixture: function f with version 1 (alias live -> 1) and $LATEST
// changed since (MemorySize 256).
func fixture(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.create(t, "f", nil)
	if r := e.doJSON(t, "POST", "/2015-03-31/functions/f/versions", map[string]any{}); r.status != 201 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, "POST", "/2015-03-31/functions/f/aliases", map[string]any{"Name": "live", "FunctionVersion": "1"}); r.status != 201 {
		t.Fatalf("alias: %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, "PUT", "/2015-03-31/functions/f/configuration", map[string]any{"MemorySize": 256}); r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	return e
}

func TestErrors(t *testing.T) {
	e := fixture(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	create := func(mutate func(map[string]any)) []byte {
		b, _ := json.Marshal(createBody(t, "new", mutate))
		return b
	}
	bigEnv := map[string]string{}
	for i := range 100 {
		bigEnv["K"+strings.Repeat("x", 3)+string(rune('a'+i%26))+string(rune('a'+i/26))] = strings.Repeat("v", 40)
	}
	cases := []struct {
		name          string
		method, path  string
		body          []byte
		header        map[string]string
		status        int
		code, message string // message: exact, or prefix when it ends in "..."
	}{
		{"missing function", "GET", "/2015-03-31/functions/nope", nil, nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "nope"},
		{"missing version", "GET", "/2015-03-31/functions/f?Qualifier=9", nil, nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "f:9"},
		{"missing alias", "GET", "/2015-03-31/functions/f:ghost/configuration", nil, nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "f:ghost"},
		{"qualifier mismatch", "GET", "/2015-03-31/functions/f:1?Qualifier=2", nil, nil,
			400, "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."},
		{"bad qualifier", "GET", "/2015-03-31/functions/f?Qualifier=a.b", nil, nil,
			400, "ValidationException", "1 validation error detected: Value 'a.b' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"},
		{"bad name", "GET", "/2015-03-31/functions/bad%20name", nil, nil,
			400, "ValidationException", "1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ..."},
		{"other region", "GET", "/2015-03-31/functions/arn:aws:lambda:eu-west-1:000000000000:function:f", nil, nil,
			404, "ResourceNotFoundException", "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
		{"other account", "GET", "/2015-03-31/functions/111111111111:function:f", nil, nil,
			404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:111111111111:function:f"},
		{"unknown path", "GET", "/2015-03-31/nothing", nil, nil, 404, "UnknownOperationException", "Unknown operation"},
		{"wrong date prefix", "GET", "/2017-03-31/functions", nil, nil, 404, "UnknownOperationException", "Unknown operation"},
		{"wrong method", "PATCH", "/2015-03-31/functions", nil, nil, 404, "UnknownOperationException", "Unknown operation"},
		{"exists", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["FunctionName"] = "f" }), nil,
			409, "ResourceConflictException", "Function already exist: f"},
		{"memory too small", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["MemorySize"] = 0 }), nil,
			400, "ValidationException", "1 validation error detected: Value '0' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
		{"two violations", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["MemorySize"] = 0; m["Timeout"] = 0 }), nil,
			400, "ValidationException", "2 validation errors detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '0' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
		{"memory too large", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["MemorySize"] = 20000 }), nil,
			400, "InvalidParameterValueException", "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240"},
		{"timeout too long", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Timeout"] = 901 }), nil,
			400, "ValidationException", "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"},
		{"ephemeral storage", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["EphemeralStorage"] = map[string]any{"Size": 100} }), nil,
			400, "ValidationException", "1 validation error detected: Value '100' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value greater than or equal to 512"},
		{"description", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Description"] = strings.Repeat("d", 257) }), nil,
			400, "ValidationException", "1 validation error detected: Value '" + strings.Repeat("d", 257) + "' at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"no role", "POST", "/2015-03-31/functions", create(func(m map[string]any) { delete(m, "Role") }), nil,
			400, "ValidationException", "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"},
		{"bad role", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Role"] = "admin" }), nil,
			400, "ValidationException", "1 validation error detected: Value 'admin' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"},
		{"architectures", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Architectures"] = []string{"sparc"} }), nil,
			400, "ValidationException", "1 validation error detected: Value '[sparc]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"},
		{"s3 code", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Code"] = map[string]any{"S3Bucket": "b", "S3Key": "k.zip"} }), nil,
			400, "InvalidParameterValueException", "S3 code locations (S3Bucket, S3Key, S3ObjectVersion) are not served by this node. Upload the .zip inline instead (ZipFile)."},
		{"image", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["PackageType"] = "Image"; m["Code"] = map[string]any{"ImageUri": "x"} }), nil,
			400, "InvalidParameterValueException", "Container image functions (PackageType Image, ImageUri) are not supported by Nimbus..."},
		{"no handler", "POST", "/2015-03-31/functions", create(func(m map[string]any) { delete(m, "Handler") }), nil,
			400, "InvalidParameterValueException", "Runtime and Handler are mandatory parameters for functions created with deployment packages."},
		{"reserved env", "POST", "/2015-03-31/functions", create(func(m map[string]any) {
			m["Environment"] = map[string]any{"Variables": map[string]string{"AWS_REGION": "x", "AWS_ACCESS_KEY_ID": "y", "OK": "z"}}
		}), nil, 400, "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_ACCESS_KEY_ID, AWS_REGION"},
		{"env key pattern", "POST", "/2015-03-31/functions", create(func(m map[string]any) {
			m["Environment"] = map[string]any{"Variables": map[string]string{"1BAD": "x"}}
		}), nil, 400, "ValidationException", "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"},
		{"env too large", "POST", "/2015-03-31/functions", create(func(m map[string]any) {
			m["Environment"] = map[string]any{"Variables": bigEnv}
		}), nil, 400, "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {..."},
		{"runtime", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Runtime"] = "cobol85" }), nil,
			400, "InvalidParameterValueException", "Value 'cobol85' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, provided.al2023, python3.12]"},
		{"not a zip", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Code"] = map[string]any{"ZipFile": []byte("nope")} }), nil,
			400, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again."},
		{"layers", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Layers"] = []string{"arn:aws:lambda:us-east-1:000000000000:layer:l:1"} }), nil,
			400, "InvalidParameterValueException", "Layer version arn:aws:lambda:us-east-1:000000000000:layer:l:1 does not exist."},
		{"malformed json", "POST", "/2015-03-31/functions", []byte(`{"FunctionName": nope}`), nil,
			400, "InvalidRequestContentException", "Could not parse request body into json: Unrecognized token 'nope': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 22]"},
		{"wrong type", "POST", "/2015-03-31/functions", []byte(`{"MemorySize": "big"}`), nil,
			400, "InvalidRequestContentException", "Could not parse request body into json: Cannot deserialize value of type number at 'MemorySize' from string"},
		{"stale revision", "PUT", "/2015-03-31/functions/f/configuration", []byte(`{"RevisionId":"old","Timeout":5}`), nil,
			412, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"},
		{"update qualified", "PUT", "/2015-03-31/functions/f:1/configuration", []byte(`{"Timeout":5}`), nil,
			400, "InvalidParameterValueException", "Current operation does not support versions other than $LATEST. Please set the version to $LATEST or do not set a version in your request."},
		{"update missing", "PUT", "/2015-03-31/functions/nope/configuration", []byte(`{"Timeout":5}`), nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "nope"},
		{"code update s3", "PUT", "/2015-03-31/functions/f/code", []byte(`{"S3Bucket":"b","S3Key":"k"}`), nil,
			400, "InvalidParameterValueException", "S3 code locations..."},
		{"delete aliased version", "DELETE", "/2015-03-31/functions/f?Qualifier=1", nil, nil,
			409, "ResourceConflictException", "Unable to delete version because the following aliases reference it: [live]"},
		{"delete $LATEST", "DELETE", "/2015-03-31/functions/f:$LATEST", nil, nil,
			400, "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function."},
		{"alias name digits", "POST", "/2015-03-31/functions/f/aliases", []byte(`{"Name":"123","FunctionVersion":"1"}`), nil,
			400, "ValidationException", "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"},
		{"alias weight", "POST", "/2015-03-31/functions/f/aliases", []byte(`{"Name":"a","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":1.5}}}`), nil,
			400, "ValidationException", "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"},
		{"alias routing to primary", "POST", "/2015-03-31/functions/f/aliases", []byte(`{"Name":"a","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"1":0.5}}}`), nil,
			400, "InvalidParameterValueException", "Invalid function version 1. Function version 1 is already included in routing configuration."},
		{"alias to missing version", "POST", "/2015-03-31/functions/f/aliases", []byte(`{"Name":"a","FunctionVersion":"7"}`), nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "f:7"},
		{"alias exists", "POST", "/2015-03-31/functions/f/aliases", []byte(`{"Name":"live","FunctionVersion":"1"}`), nil,
			409, "ResourceConflictException", "Alias already exists: " + arnPrefix + "f:live"},
		{"alias no version", "POST", "/2015-03-31/functions/f/aliases", []byte(`{"Name":"a"}`), nil,
			400, "ValidationException", "1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null"},
		{"get missing alias", "GET", "/2015-03-31/functions/f/aliases/ghost", nil, nil,
			404, "ResourceNotFoundException", "Cannot find alias arn: " + arnPrefix + "f:ghost"},
		{"publish code sha", "POST", "/2015-03-31/functions/f/versions", []byte(`{"CodeSha256":"x"}`), nil,
			400, "InvalidParameterValueException", "CodeSHA256 (x) is different from current CodeSHA256 in $LATEST (..."},
		{"invoke event too large", "POST", "/2015-03-31/functions/f/invocations", []byte(`"` + strings.Repeat("x", 1<<20) + `"`), map[string]string{"X-Amz-Invocation-Type": "Event"},
			413, "RequestTooLargeException", "1048578 byte payload is too large for the Event invocation type (limit 1048576 bytes)"},
		{"invoke event missing", "POST", "/2015-03-31/functions/ghost/invocations", []byte(`{}`), map[string]string{"X-Amz-Invocation-Type": "Event"},
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "ghost"},
		{"event invoke config empty", "PUT", "/2019-09-25/functions/f/event-invoke-config", []byte(`{}`), nil,
			400, "InvalidParameterValueException", "You must specify at least one of error handling or destination setting."},
		{"event invoke config range", "PUT", "/2019-09-25/functions/f/event-invoke-config", []byte(`{"MaximumRetryAttempts":3,"MaximumEventAgeInSeconds":59}`), nil,
			400, "ValidationException", "2 validation errors detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2; Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"},
		{"event invoke config self", "PUT", "/2019-09-25/functions/f/event-invoke-config", []byte(`{"DestinationConfig":{"OnSuccess":{"Destination":"` + arnPrefix + `f"}}}`), nil,
			400, "InvalidParameterValueException", "You can't specify the function as a destination for itself."},
		{"event invoke config missing destination", "PUT", "/2019-09-25/functions/f/event-invoke-config", []byte(`{"DestinationConfig":{"OnFailure":{"Destination":"` + arnPrefix + `ghost"}}}`), nil,
			400, "InvalidParameterValueException", "The destination ARN " + arnPrefix + "ghost is invalid."},
		{"event invoke config event bus", "PUT", "/2019-09-25/functions/f/event-invoke-config", []byte(`{"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:events:us-east-1:000000000000:event-bus/default"}}}`), nil,
			400, "InvalidParameterValueException", "The destination ARN arn:aws:events:us-east-1:000000000000:event-bus/default is invalid: Nimbus has no events destinations yet..."},
		{"event invoke config sqs path", "PUT", "/2019-09-25/functions/f/event-invoke-config", []byte(`{"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q/x"}}}`), nil,
			400, "InvalidParameterValueException", "The destination ARN arn:aws:sqs:us-east-1:000000000000:q/x is invalid."},
		{"event invoke config unknown service", "PUT", "/2019-09-25/functions/f/event-invoke-config", []byte(`{"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:iam::000000000000:role/x"}}}`), nil,
			400, "InvalidParameterValueException", "The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination=arn:aws:iam::000000000000:role/x)) is invalid."},
		{"event invoke config bad arn", "PUT", "/2019-09-25/functions/f/event-invoke-config", []byte(`{"DestinationConfig":{"OnFailure":{"Destination":"nope"}}}`), nil,
			400, "ValidationException", "1 validation error detected: Value 'nope' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: ..."},
		{"event invoke config get none", "GET", "/2019-09-25/functions/f/event-invoke-config", nil, nil,
			404, "ResourceNotFoundException", "The function " + arnPrefix + "f:$LATEST doesn't have an EventInvokeConfig"},
		{"event invoke config update none", "POST", "/2019-09-25/functions/f/event-invoke-config", []byte(`{"MaximumRetryAttempts":1}`), nil,
			404, "ResourceNotFoundException", "The function " + arnPrefix + "f:$LATEST doesn't have an EventInvokeConfig"},
		{"event invoke config delete none", "DELETE", "/2019-09-25/functions/f/event-invoke-config?Qualifier=1", nil, nil,
			404, "ResourceNotFoundException", "The function " + arnPrefix + "f:1 doesn't have an EventInvokeConfig"},
		{"event invoke config missing alias", "PUT", "/2019-09-25/functions/f/event-invoke-config?Qualifier=ghost", []byte(`{"MaximumRetryAttempts":1}`), nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "f:ghost"},
		{"event invoke config list bound", "GET", "/2019-09-25/functions/f/event-invoke-config/list?MaxItems=51", nil, nil,
			400, "ValidationException", "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"invoke async missing", "POST", "/2014-11-13/functions/ghost/invoke-async", []byte(`{}`), nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "ghost"},
		{"invoke type", "POST", "/2015-03-31/functions/f/invocations", []byte(`{}`), map[string]string{"X-Amz-Invocation-Type": "Later"},
			400, "ValidationException", "1 validation error detected: Value 'Later' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"},
		{"invoke log type", "POST", "/2015-03-31/functions/f/invocations", []byte(`{}`), map[string]string{"X-Amz-Log-Type": "All"},
			400, "ValidationException", "1 validation error detected: Value 'All' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"},
		{"invoke bad json", "POST", "/2015-03-31/functions/f/invocations", []byte(`nope`), nil,
			400, "InvalidRequestContentException", "Could not parse request body into json: Could not parse payload into json: Unrecognized token 'nope': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')..."},
		{"invoke bad json char", "POST", "/2015-03-31/functions/f/invocations", []byte(`{"a":1,}`), nil,
			400, "InvalidRequestContentException", "Could not parse request body into json: Could not parse payload into json: Unexpected character ('}' (code 125))..."},
		{"invoke truncated json", "POST", "/2015-03-31/functions/f/invocations", []byte(`{"a":`), nil,
			400, "InvalidRequestContentException", "Could not parse request body into json: Could not parse payload into json: Unexpected end-of-input..."},
		{"invoke client context", "POST", "/2015-03-31/functions/f/invocations", []byte(`{}`), map[string]string{"X-Amz-Client-Context": "not base64!"},
			400, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object."},
		{"invoke client context not object", "POST", "/2015-03-31/functions/f/invocations", []byte(`{}`), map[string]string{"X-Amz-Client-Context": b64(`[1]`)},
			400, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object."},
		{"invoke client context too big", "POST", "/2015-03-31/functions/f/invocations", []byte(`{}`), map[string]string{"X-Amz-Client-Context": b64(`{"a":"` + strings.Repeat("x", 3000) + `"}`)},
			400, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object of at most 3583 bytes..."},
		{"invoke missing", "POST", "/2015-03-31/functions/nope/invocations", []byte(`{}`), nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "nope"},
		{"invoke missing alias", "POST", "/2015-03-31/functions/f/invocations?Qualifier=ghost", []byte(`{}`), nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "f:ghost"},
		{"tag qualified", "POST", "/2017-03-31/tags/" + url.PathEscape(arnPrefix+"f:1"), []byte(`{"Tags":{"a":"b"}}`), nil,
			400, "InvalidParameterValueException", "Tags on function aliases and versions are not supported. Please specify a function ARN."},
		{"tag by name", "GET", "/2017-03-31/tags/f", nil, nil,
			400, "ValidationException", "1 validation error detected: Value 'f' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: ..."},
		{"tag missing function", "GET", "/2017-03-31/tags/" + url.PathEscape(arnPrefix+"nope"), nil, nil,
			404, "ResourceNotFoundException", "Function not found: " + arnPrefix + "nope"},
		{"untag no keys", "DELETE", "/2017-03-31/tags/" + url.PathEscape(arnPrefix+"f"), nil, nil,
			400, "ValidationException", "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"},
		{"tag aws prefix", "POST", "/2017-03-31/tags/" + url.PathEscape(arnPrefix+"f"), []byte(`{"Tags":{"aws:x":"b"}}`), nil,
			400, "InvalidParameterValueException", "Tag keys beginning with 'aws:' are reserved for AWS use..."},
		{"list version enum", "GET", "/2015-03-31/functions?FunctionVersion=SOME", nil, nil,
			400, "ValidationException", "1 validation error detected: Value 'SOME' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"},
		{"list max items", "GET", "/2015-03-31/functions?MaxItems=0", nil, nil,
			400, "ValidationException", "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"list marker", "GET", "/2015-03-31/functions?Marker=%21%21", nil, nil,
			400, "InvalidParameterValueException", "Invalid marker: !!"},
		{"code link forged", "GET", "/_nimbus/code/" + strings.Repeat("a", 64) + "?X-Nimbus-Expires=9999999999&X-Nimbus-Signature=00", nil, nil,
			403, "AccessDeniedException", "The request signature we calculated does not match the signature you provided."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, c.method, c.path, c.body, c.header)
			r.wantError(t, c.status, c.code, c.message)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if n := e.inv.count(); n != 0 {
		t.Errorf("refused invocations reached the invoker %d times", n)
	}
}

func TestRequestSizeLimits(t *testing.T) {
	e := newEnv(t)
	e.create(t, "f", nil)
	// A declared length over the limit is refused before reading.
	for _, c := range []struct {
		method, path string
		length       int64
		code, msg    string
	}{
		{"POST", "/2015-03-31/functions", maxCodeRequest + 1, "RequestEntityTooLargeException", "Request must be smaller than 70167211 bytes for the CreateFunction operation"},
		{"PUT", "/2015-03-31/functions/f/code", maxCodeRequest + 1, "RequestEntityTooLargeException", "Request must be smaller than 70167211 bytes for the UpdateFunctionCode operation"},
		{"POST", "/2015-03-31/functions/f/invocations", 7_000_000, "RequestTooLargeException", "7000000 byte payload is too large for the RequestResponse invocation type (limit 6291456 bytes)"},
	} {
		req := httptest.NewRequestWithContext(context.Background(), c.method, c.path, strings.NewReader("{}"))
		req.ContentLength = c.length
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != 413 || w.Header().Get("X-Amzn-ErrorType") != c.code || !strings.Contains(w.Body.String(), c.msg) {
			t.Errorf("%s %s: %d %s %s", c.method, c.path, w.Code, w.Header().Get("X-Amzn-ErrorType"), w.Body)
		}
	}
	// An undeclared (chunked) length is counted.
	big := `"` + strings.Repeat("a", function.MaxSyncPayload) + `"`
	req := httptest.NewRequestWithContext(context.Background(), "POST", "/2015-03-31/functions/f/invocations", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Code != 413 || !strings.Contains(w.Body.String(), "6291458 byte payload is too large") {
		t.Errorf("chunked oversize payload: %d %s", w.Code, w.Body)
	}
	// Exactly the limit is fine.
	ok := `"` + strings.Repeat("a", function.MaxSyncPayload-2) + `"`
	if r := e.do(t, "POST", "/2015-03-31/functions/f/invocations", []byte(ok), nil); r.status != 200 {
		t.Errorf("payload of exactly 6 MB: %d %.200s", r.status, r.body)
	}
}

func TestInvoke(t *testing.T) {
	e := fixture(t)
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"}}`))
	r := e.do(t, "POST", "/2015-03-31/functions/f/invocations?Qualifier=live", []byte(`{"x":1}`), map[string]string{
		"X-Amz-Log-Type": "Tail", "X-Amz-Client-Context": cc, "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
	})
	if r.status != 200 {
		t.Fatalf("invoke: %d %s", r.status, r.body)
	}
	last := e.inv.last(t)
	if last.cfg.Version != "1" || last.cfg.MemorySize != 128 {
		t.Errorf("alias live ran version %q memory %d, want version 1 as published", last.cfg.Version, last.cfg.MemorySize)
	}
	if last.req.InvokedFunctionArn != arnPrefix+"f:live" {
		t.Errorf("InvokedFunctionArn %q", last.req.InvokedFunctionArn)
	}
	if last.req.RequestID != r.header.Get("X-Amzn-RequestId") {
		t.Errorf("invocation id %q, response X-Amzn-RequestId %q", last.req.RequestID, r.header.Get("X-Amzn-RequestId"))
	}
	if string(last.req.ClientContext) != `{"custom":{"k":"v"}}` || !last.req.LogTail ||
		!strings.HasPrefix(last.req.TraceID, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=") || !strings.HasSuffix(last.req.TraceID, ";Sampled=1") {
		t.Errorf("request %+v", last.req)
	}
	if r.header.Get("X-Amzn-Trace-Id") != last.req.TraceID {
		t.Errorf("response X-Amzn-Trace-Id %q, function got %q", r.header.Get("X-Amzn-Trace-Id"), last.req.TraceID)
	}
	if r.header.Get("X-Amz-Executed-Version") != "1" || r.header.Get("X-Amz-Function-Error") != "" {
		t.Errorf("headers %v", r.header)
	}
	tail, err := base64.StdEncoding.DecodeString(r.header.Get("X-Amz-Log-Result"))
	if err != nil || len(tail) != 4096 || !strings.HasSuffix(string(tail), "END RequestId: "+last.req.RequestID+"\n") {
		t.Errorf("log tail (%d bytes, err %v) is not the last 4 KB", len(tail), err)
	}
	if string(r.body) != `{"event":{"x":1},"version":"1"}` {
		t.Errorf("body %s", r.body)
	}

	// $LATEST by ARN, an empty payload, a function error, a generated trace id.
	r = e.do(t, "POST", "/2015-03-31/functions/"+url.PathEscape(arnPrefix+"f")+"/invocations", nil, nil)
	last = e.inv.last(t)
	if r.status != 200 || string(last.req.Payload) != "{}" || last.cfg.Version != "$LATEST" || last.req.InvokedFunctionArn != arnPrefix+"f" {
		t.Errorf("empty payload: %d %s %+v", r.status, r.body, last.req)
	}
	if !strings.HasPrefix(last.req.TraceID, "Root=1-") || r.header.Get("X-Amz-Log-Result") != "" {
		t.Errorf("trace %q log %q", last.req.TraceID, r.header.Get("X-Amz-Log-Result"))
	}
	r = e.do(t, "POST", "/2015-03-31/functions/f:1/invocations", []byte(`"fail"`), nil)
	if r.status != 200 || r.header.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(string(r.body), "failed on purpose") {
		t.Errorf("function error: %d %v %s", r.status, r.header, r.body)
	}

	// DryRun checks and runs nothing.
	n := e.inv.count()
	r = e.do(t, "POST", "/2015-03-31/functions/f/invocations", nil, map[string]string{"X-Amz-Invocation-Type": "DryRun"})
	if r.status != 204 || e.inv.count() != n {
		t.Errorf("DryRun: %d, invoker calls %d -> %d", r.status, n, e.inv.count())
	}

	// Platform errors from the invoker are passed through.
	e.inv.mu.Lock()
	e.inv.err = errdefs.Throttled("ConcurrentInvocationLimitExceeded", 1, "Rate Exceeded.")
	e.inv.mu.Unlock()
	r = e.do(t, "POST", "/2015-03-31/functions/f/invocations", nil, nil)
	if r.status != 429 || r.header.Get("X-Amzn-ErrorType") != "TooManyRequestsException" || r.header.Get("Retry-After") != "1" {
		t.Errorf("throttle: %d %v %s", r.status, r.header, r.body)
	}
}

func TestFunctionNameForms(t *testing.T) {
	e := fixture(t)
	for path, wantVersion := range map[string]string{
		"/2015-03-31/functions/f":                                                           "$LATEST",
		"/2015-03-31/functions/f/":                                                          "$LATEST",
		"/2015-03-31/functions/" + url.PathEscape(arnPrefix+"f"):                            "$LATEST",
		"/2015-03-31/functions/" + url.PathEscape(arnPrefix+"f:1"):                          "1",
		"/2015-03-31/functions/000000000000:function:f":                                     "$LATEST",
		"/2015-03-31/functions/000000000000%3Afunction%3Af%3Alive":                          "1",
		"/2015-03-31/functions/f:live?Qualifier=live":                                       "1",
		"/2015-03-31/functions/f?Qualifier=%24LATEST":                                       "$LATEST",
		"/2015-03-31/functions/f/configuration/":                                            "$LATEST",
		"/2015-03-31/functions/" + url.PathEscape(arnPrefix+"f:$LATEST") + "/configuration": "$LATEST",
	} {
		r := e.do(t, "GET", path, nil, nil)
		if r.status != 200 {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
			continue
		}
		var out struct {
			Configuration *function.Config
			Version       string
		}
		mustJSON(t, r.body, &out)
		got := out.Version
		if out.Configuration != nil {
			got = out.Configuration.Version
		}
		if got != wantVersion {
			t.Errorf("GET %s: version %q, want %q", path, got, wantVersion)
		}
	}
	// An alias qualifier answers the alias's ARN with the version it points at.
	r := e.do(t, "GET", "/2015-03-31/functions/f/configuration?Qualifier=live", nil, nil)
	var cfg function.Config
	mustJSON(t, r.body, &cfg)
	if cfg.FunctionArn != arnPrefix+"f:live" || cfg.Version != "1" {
		t.Errorf("alias view: %q %q", cfg.FunctionArn, cfg.Version)
	}
}

func TestGetFunctionAndCodeLink(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	e := newEnv(t, func(_ *registry.Options, o *Options) { o.Now = func() time.Time { return now } })
	z := zipOf(t, map[string]string{"app.py": "code"})
	e.create(t, "f", func(m map[string]any) {
		m["Code"] = map[string]any{"ZipFile": z}
		m["Tags"] = map[string]string{"team": "core"}
	})
	r := e.do(t, "GET", "/2015-03-31/functions/f", nil, nil)
	var out struct {
		Configuration function.Config
		Code          struct{ RepositoryType, Location string }
		Tags          map[string]string
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Code.RepositoryType != "S3" || out.Tags["team"] != "core" || out.Configuration.State != "Active" {
		t.Errorf("GetFunction: %s", r.body)
	}
	u, err := url.Parse(out.Code.Location)
	if err != nil || u.Host != strings.TrimPrefix(e.srv.URL, "http://") {
		t.Fatalf("Location %q not on the host the client used", out.Code.Location)
	}
	get := func(loc string) (int, []byte) {
		req, err := http.NewRequestWithContext(context.Background(), "GET", loc, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if status, body := get(out.Code.Location); status != 200 || !bytes.Equal(body, z) {
		t.Errorf("download: %d, %d bytes", status, len(body))
	}
	q := u.Query()
	q.Set("X-Nimbus-Expires", "1700009999")
	u.RawQuery = q.Encode()
	if status, _ := get(u.String()); status != 403 {
		t.Errorf("tampered expiry: %d, want 403", status)
	}
	now = now.Add(11 * time.Minute)
	if status, _ := get(out.Code.Location); status != 403 {
		t.Errorf("expired link: %d, want 403", status)
	}
}

func TestListPagination(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"e", "a", "d", "b", "c"} {
		e.create(t, n, nil)
	}
	e.doJSON(t, "POST", "/2015-03-31/functions/c/versions", nil)
	var names []string
	marker := ""
	pages := 0
	for {
		path := "/2015-03-31/functions/?MaxItems=2"
		if marker != "" {
			path += "&Marker=" + url.QueryEscape(marker)
		}
		r := e.do(t, "GET", path, nil, nil)
		var out struct {
			Functions  []map[string]any
			NextMarker string
		}
		mustJSON(t, r.body, &out)
		for _, f := range out.Functions {
			names = append(names, f["FunctionName"].(string))
			if _, ok := f["State"]; ok {
				t.Errorf("ListFunctions returns State, which AWS leaves to GetFunction: %v", f)
			}
		}
		pages++
		if out.NextMarker == "" {
			break
		}
		marker = out.NextMarker
	}
	if strings.Join(names, ",") != "a,b,c,d,e" || pages != 3 {
		t.Errorf("pages %d names %v", pages, names)
	}
	r := e.do(t, "GET", "/2015-03-31/functions?FunctionVersion=ALL", nil, nil)
	var all struct{ Functions []function.Config }
	mustJSON(t, r.body, &all)
	var arns []string
	for _, f := range all.Functions {
		arns = append(arns, strings.TrimPrefix(f.FunctionArn, arnPrefix))
	}
	if strings.Join(arns, ",") != "a:$LATEST,b:$LATEST,c:$LATEST,c:1,d:$LATEST,e:$LATEST" {
		t.Errorf("ALL: %v", arns)
	}
	r = e.do(t, "GET", "/2015-03-31/functions", nil, nil)
	if !strings.Contains(string(r.body), `"Functions":[`) {
		t.Errorf("list body %s", r.body)
	}
	empty := newEnv(t)
	if r := empty.do(t, "GET", "/2015-03-31/functions", nil, nil); strings.TrimSpace(string(r.body)) != `{"Functions":[]}` {
		t.Errorf("empty list: %s", r.body)
	}
}

func TestTagsAndAccountSettings(t *testing.T) {
	e := newEnv(t)
	e.create(t, "f", nil)
	tagPath := "/2017-03-31/tags/" + url.PathEscape(arnPrefix+"f")
	if r := e.do(t, "POST", tagPath, []byte(`{"Tags":{"a":"1","b":"2"}}`), nil); r.status != 204 {
		t.Fatalf("TagResource: %d %s", r.status, r.body)
	}
	if r := e.do(t, "DELETE", tagPath+"?tagKeys=a&tagKeys=zz", nil, nil); r.status != 204 {
		t.Fatalf("UntagResource: %d %s", r.status, r.body)
	}
	r := e.do(t, "GET", tagPath, nil, nil)
	if strings.TrimSpace(string(r.body)) != `{"Tags":{"b":"2"}}` {
		t.Errorf("ListTags: %s", r.body)
	}
	r = e.do(t, "GET", "/2016-08-19/account-settings/", nil, nil)
	var s accountSettings
	mustJSON(t, r.body, &s)
	if r.status != 200 || s.AccountUsage.FunctionCount != 1 || s.AccountUsage.TotalCodeSize == 0 ||
		s.AccountLimit.ConcurrentExecutions != 1000 || s.AccountLimit.CodeSizeZipped != 52428800 {
		t.Errorf("GetAccountSettings: %d %s", r.status, r.body)
	}
}

func TestUpdateSemantics(t *testing.T) {
	e := newEnv(t)
	created := e.create(t, "f", func(m map[string]any) {
		m["Environment"] = map[string]any{"Variables": map[string]string{"AA": "1"}}
		m["LoggingConfig"] = map[string]any{"LogFormat": "JSON"}
	})
	// AWS's CreateFunction answer has a State but no LastUpdateStatus.
	if _, has := created["LastUpdateStatus"]; created["State"] != "Active" || has {
		t.Errorf("create state: %v %v", created["State"], created["LastUpdateStatus"])
	}
	lc := created["LoggingConfig"].(map[string]any)
	if lc["LogGroup"] != "/aws/lambda/f" || lc["ApplicationLogLevel"] != "INFO" {
		t.Errorf("LoggingConfig defaults: %v", lc)
	}
	r := e.doJSON(t, "PUT", "/2015-03-31/functions/f/configuration", map[string]any{
		"RevisionId": created["RevisionId"], "Timeout": 30, "Environment": map[string]any{"Variables": map[string]string{}},
	})
	var cfg function.Config
	mustJSON(t, r.body, &cfg)
	// Emptied variables stay an Environment with none, as in AWS.
	if r.status != 200 || cfg.Timeout != 30 || cfg.Environment == nil || len(cfg.Environment.Variables) != 0 ||
		!strings.Contains(string(r.body), `"Environment":{"Variables":{}}`) || cfg.MemorySize != 128 || cfg.RevisionId == created["RevisionId"] {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	// New code, published in the same call.
	z := zipOf(t, map[string]string{"app.py": "v2"})
	r = e.doJSON(t, "PUT", "/2015-03-31/functions/f/code", map[string]any{"ZipFile": z, "Publish": true})
	mustJSON(t, r.body, &cfg)
	if r.status != 200 || cfg.Version != "1" || cfg.FunctionArn != arnPrefix+"f:1" || cfg.CodeSha256 != function.CodeSha256(z) {
		t.Fatalf("code+publish: %d %s", r.status, r.body)
	}
	// Publishing again without a change returns that version.
	r = e.doJSON(t, "POST", "/2015-03-31/functions/f/versions", map[string]any{"Description": "again"})
	var v function.Config
	mustJSON(t, r.body, &v)
	if r.status != 201 || v.Version != "1" {
		t.Errorf("republish: %d %s", r.status, r.body)
	}
	// DryRun changes nothing.
	before := e.do(t, "GET", "/2015-03-31/functions/f/configuration", nil, nil)
	r = e.doJSON(t, "PUT", "/2015-03-31/functions/f/code", map[string]any{"ZipFile": zipOf(t, map[string]string{"x": "y"}), "DryRun": true})
	after := e.do(t, "GET", "/2015-03-31/functions/f/configuration", nil, nil)
	if r.status != 200 || !bytes.Equal(before.body, after.body) {
		t.Errorf("DryRun changed the function: %d", r.status)
	}
	// Delete an unreferenced version, then the function.
	if r := e.do(t, "DELETE", "/2015-03-31/functions/f?Qualifier=1", nil, nil); r.status != 204 {
		t.Errorf("delete version: %d %s", r.status, r.body)
	}
	if r := e.do(t, "DELETE", "/2015-03-31/functions/f?Qualifier=1", nil, nil); r.status != 204 {
		t.Errorf("delete absent version: %d %s", r.status, r.body)
	}
	if r := e.do(t, "DELETE", "/2015-03-31/functions/f", nil, nil); r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/2015-03-31/functions/f", nil, nil); r.status != 404 {
		t.Errorf("after delete: %d", r.status)
	}
	if r := e.do(t, "DELETE", "/2015-03-31/functions/f/aliases/live", nil, nil); r.status != 204 {
		t.Errorf("DeleteAlias of a deleted function: %d %s", r.status, r.body)
	}
}

func TestWithoutRuntimesChecker(t *testing.T) {
	e := newEnv(t, func(_ *registry.Options, o *Options) { o.Runtimes = nil })
	e.create(t, "old", func(m map[string]any) { m["Runtime"] = "java21" })
	r := e.doJSON(t, "POST", "/2015-03-31/functions", createBody(t, "bad", func(m map[string]any) { m["Runtime"] = "cobol" }))
	if r.status != 400 || !strings.HasPrefix(r.message(t), "Value cobol at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs, ") {
		t.Errorf("unknown runtime: %d %s", r.status, r.body)
	}
}

func TestRegistryNotReady(t *testing.T) {
	reg, err := registry.New(registry.Options{Store: storetest.Open(t), Region: testRegion, AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Registry: reg})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/2015-03-31/functions/f", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 500 || w.Header().Get("X-Amzn-ErrorType") != "ServiceException" || strings.Contains(w.Body.String(), "registry") {
		t.Errorf("not ready: %d %s", w.Code, w.Body)
	}
}

// BenchmarkInvokeEdge measures the Invoke edge (routing, header and
// payload checks, resolve, response) around an invoker that returns at
// once.
func BenchmarkInvokeEdge(b *testing.B) {
	e := newEnv(b)
	e.create(b, "f", nil)
	payload := []byte(`{"key":"value","n":[1,2,3]}`)
	for b.Loop() {
		req := httptest.NewRequestWithContext(context.Background(), "POST", "/2015-03-31/functions/f/invocations", bytes.NewReader(payload))
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
