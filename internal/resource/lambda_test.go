package resource_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

const pySource = `import os
def handler(event, context):
    return {"v": "%s", "greeting": os.environ.get("GREETING", "")}
`

func pyFunction(version string, extra map[string]any) map[string]any {
	p := map[string]any{
		"Runtime": "python3.12", "Handler": "index.handler", "Role": testRole,
		"Code": map[string]any{"ZipFile": strings.Replace(pySource, "%s", version, 1)},
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// TestFunction creates a real Python function from inline source, invokes
// it, changes its code and configuration in place, replaces it under a new
// name, and deletes it.
func TestFunction(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const typ = "AWS::Lambda::Function"

	fn := e.create(t, "Fn", typ, pyFunction("1", map[string]any{
		"MemorySize":  "256", // CloudFormation takes numbers as strings
		"Timeout":     float64(10),
		"Environment": map[string]any{"Variables": map[string]any{"GREETING": "hello"}},
		"Tags": []any{map[string]any{"Key": "team", "Value": "a"}, map[string]any{"Key": "old", "Value": "x"},
			map[string]any{"Key": "lambda:createdBy", "Value": "SAM"}}, // as SAM tags its functions
		"ReservedConcurrentExecutions": float64(5),
		"Description":                  "first",
	}))
	name := fn.PhysicalID
	if !strings.HasPrefix(name, stackName+"-Fn-") || len(name) != len(stackName+"-Fn-")+13 {
		t.Errorf("generated name %q, want %s-Fn-<13 characters>", name, stackName)
	}
	if want := "arn:aws:lambda:us-east-1:000000000000:function:" + name; fn.Attrs["Arn"] != want {
		t.Errorf("Arn = %v, want %s", fn.Attrs["Arn"], want)
	}
	got, err := e.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if err != nil {
		t.Fatal(err)
	}
	c := got.Configuration
	if aws.ToInt32(c.MemorySize) != 256 || aws.ToInt32(c.Timeout) != 10 || aws.ToString(c.Description) != "first" {
		t.Errorf("configuration = memory %d timeout %d description %q", aws.ToInt32(c.MemorySize), aws.ToInt32(c.Timeout), aws.ToString(c.Description))
	}
	if got.Tags["team"] != "a" || got.Tags["old"] != "x" || got.Tags["lambda:createdBy"] != "SAM" {
		t.Errorf("tags = %v", got.Tags)
	}
	if got.Concurrency == nil || aws.ToInt32(got.Concurrency.ReservedConcurrentExecutions) != 5 {
		t.Errorf("reserved concurrency = %+v, want 5", got.Concurrency)
	}
	if out := e.invoke(t, name); out != `{"v": "1", "greeting": "hello"}` {
		t.Errorf("invoke = %s", out)
	}

	// In place: new code, memory, tags; reserved concurrency and the
	// description removed.
	fn = e.update(t, fn, pyFunction("2", map[string]any{
		"MemorySize":  float64(512),
		"Timeout":     float64(10),
		"Environment": map[string]any{"Variables": map[string]any{"GREETING": "hi"}},
		"Tags":        []any{map[string]any{"Key": "team", "Value": "b"}},
	}))
	if fn.PhysicalID != name {
		t.Fatalf("in-place update changed the name to %s", fn.PhysicalID)
	}
	got, err = e.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if err != nil {
		t.Fatal(err)
	}
	c = got.Configuration
	if aws.ToInt32(c.MemorySize) != 512 || aws.ToString(c.Description) != "" {
		t.Errorf("after update: memory %d description %q", aws.ToInt32(c.MemorySize), aws.ToString(c.Description))
	}
	if len(got.Tags) != 1 || got.Tags["team"] != "b" {
		t.Errorf("tags after update = %v, want only team=b", got.Tags)
	}
	if got.Concurrency != nil && got.Concurrency.ReservedConcurrentExecutions != nil {
		t.Errorf("reserved concurrency after removal = %d", *got.Concurrency.ReservedConcurrentExecutions)
	}
	if out := e.invoke(t, name); out != `{"v": "2", "greeting": "hi"}` {
		t.Errorf("invoke after update = %s", out)
	}

	// Code uploaded by nimbus deploy.
	code := e.upload(t, zipOf(t, map[string]string{"app.py": "def handler(event, context):\n    return 'from artifact'\n"}))
	props := pyFunction("", map[string]any{"Handler": "app.handler", "Code": code})
	fn = e.update(t, fn, props)
	if out := e.invoke(t, name); out != `"from artifact"` {
		t.Errorf("invoke artifact code = %s", out)
	}

	// A new name replaces the function.
	props = pyFunction("3", map[string]any{"FunctionName": "named-fn"})
	fn = e.replace(t, fn, props)
	if fn.PhysicalID != "named-fn" {
		t.Errorf("replacement name = %s", fn.PhysicalID)
	}
	if _, err := e.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name}); err == nil {
		t.Errorf("replaced function %s still exists", name)
	}
	if out := e.invoke(t, "named-fn"); !strings.Contains(out, `"v": "3"`) {
		t.Errorf("invoke replacement = %s", out)
	}
	e.delete(t, fn)
	_, err = e.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("named-fn")})
	wantErr(t, err, "ResourceNotFoundException")
}

// TestFunctionErrors checks that refusals carry a clear message: schema
// violations as CloudFormation words them, the API's own message, and
// code Nimbus cannot fetch.
func TestFunctionErrors(t *testing.T) {
	e := newEnv(t)
	p := e.ps["AWS::Lambda::Function"]
	ctx := t.Context()

	noRole := pyFunction("1", nil)
	delete(noRole, "Role")
	_, err := p.Create(ctx, request("Fn", "AWS::Lambda::Function", noRole))
	wantErr(t, err, "Properties validation failed for resource Fn with message: #: required key [Role] not found")

	_, err = p.Create(ctx, request("Fn", "AWS::Lambda::Function", pyFunction("1", map[string]any{"Bogus": "x"})))
	wantErr(t, err, "extraneous key [Bogus] is not permitted")

	// A feature Nimbus lacks is refused by name, not as a schema error.
	_, err = p.Create(ctx, request("Fn", "AWS::Lambda::Function", pyFunction("1", map[string]any{"DurableConfig": map[string]any{"ExecutionTimeout": 900.0}})))
	wantErr(t, err, "Fn: property DurableConfig needs Lambda durable functions, which Nimbus does not have yet")

	_, err = p.Create(ctx, request("Fn", "AWS::Lambda::Function", pyFunction("1", map[string]any{"MemorySize": "lots"})))
	wantErr(t, err, "#/MemorySize: expected type: Number, found: String")

	_, err = p.Create(ctx, request("Fn", "AWS::Lambda::Function", pyFunction("1", map[string]any{"MemorySize": float64(1)})))
	wantErr(t, err, "Resource handler returned message:", "memorySize", "(Service: Lambda, Status Code: 400", "HandlerErrorCode: InvalidRequest")

	_, err = p.Create(ctx, request("Fn", "AWS::Lambda::Function", pyFunction("1", map[string]any{
		"Code": map[string]any{"S3Bucket": "my-bucket", "S3Key": "code.zip"},
	})))
	wantErr(t, err, "Error occurred while GetObject. S3 Error Code: NoSuchBucket")

	_, err = p.Create(ctx, request("Fn", "AWS::Lambda::Function", pyFunction("1", map[string]any{
		"Code": map[string]any{"S3Bucket": "nimbus-artifacts", "S3Key": strings.Repeat("a", 64)},
	})))
	wantErr(t, err, "artifact s3://nimbus-artifacts/"+strings.Repeat("a", 64), "not found")

	// Nothing was left behind by the failed creates.
	out, err := e.lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Functions) != 0 {
		t.Errorf("failed creates left %d functions", len(out.Functions))
	}

	// Updating a function that is gone reports the API's not-found.
	fn := e.create(t, "Fn", "AWS::Lambda::Function", pyFunction("1", nil))
	if _, err := e.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: &fn.PhysicalID}); err != nil {
		t.Fatal(err)
	}
	_, err = p.Update(ctx, request("Fn", "AWS::Lambda::Function", pyFunction("2", nil)), fn)
	wantErr(t, err, "Resource handler returned message:", "Function not found", "Status Code: 404", "HandlerErrorCode: NotFound")
}

// TestInlineNodeFunction runs inline Node.js source, which CloudFormation
// writes to index.js (a CommonJS module).
func TestInlineNodeFunction(t *testing.T) {
	e := newEnv(t)
	fn := e.create(t, "NodeFn", "AWS::Lambda::Function", map[string]any{
		"Runtime": "nodejs20.x", "Handler": "index.handler", "Role": testRole,
		"Code": map[string]any{"ZipFile": "exports.handler = async (event) => ({ from: 'inline node' });\n"},
	})
	if out := e.invoke(t, fn.PhysicalID); out != `{"from":"inline node"}` {
		t.Errorf("invoke = %s", out)
	}
	e.delete(t, fn)
}
