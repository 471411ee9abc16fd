package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// installSDKs runs `nimbus runtimes install` into dataDir. Outside CI a
// machine that cannot reach the npm registry skips; in CI (.ci/run) it
// must work.
func installSDKs(t *testing.T, dataDir string) {
	t.Helper()
	out, errOut, err := run(t, os.Environ(), dataDir, nimbusBin, "runtimes", "install", "--data-dir", dataDir)
	if err != nil {
		if os.Getenv("CI") == "" && strings.Contains(errOut, "package registry unreachable") {
			t.Skipf("npm registry unreachable: %s", errOut)
		}
		t.Fatalf("nimbus runtimes install: %v\n%s%s", err, out, errOut)
	}
}

// TestRuntimeSDKsUnbundled runs functions that do not bundle the AWS SDK
// inside the sandbox, as most Lambda functions do: a Node.js ES module
// importing @aws-sdk/client-lambda, client-dynamodb and lib-dynamodb, a
// CommonJS one requiring them, and a Python one importing boto3. Each
// calls Nimbus through AWS_ENDPOINT_URL with the function's own
// credentials. A function's bundled copy wins over the runtime's.
func TestRuntimeSDKsUnbundled(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	installSDKs(t, dataDir)
	runSDKsUnbundled(t, startServerAt(t, dataDir))
}

// TestRuntimeSDKsUnbundledRootless is the same with the server run as
// nobody: environments in user namespaces, with no network but the node's
// API (the default network is none without root).
func TestRuntimeSDKsUnbundledRootless(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("not root: TestRuntimeSDKsUnbundled already runs rootless")
	}
	const nobody = 65534
	// nobody reaches the binary and its data directory, nothing else here.
	if err := os.Chmod(filepath.Dir(nimbusBin), 0o711); err != nil {
		t.Fatal(err)
	}
	dataDir, err := os.MkdirTemp(filepath.Dir(nimbusBin), "rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dataDir) })
	installSDKs(t, dataDir)
	err = filepath.WalkDir(dataDir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServerAs(t, &syscall.Credential{Uid: nobody, Gid: nobody}, dataDir, nil)
	prot := srv.waitLine("msg=protections")
	if !strings.Contains(prot, "rootless") {
		t.Skipf("the server as nobody is not rootless here (user namespaces forbidden?): %s", prot)
	}
	if !strings.Contains(prot, "function_network=none") {
		t.Errorf("a rootless server's default network is not none: %s", prot)
	}
	runSDKsUnbundled(t, srv)
}

func runSDKsUnbundled(t *testing.T, srv *server) {
	clis := awsCLIs(t)
	aws := clis["v2"]
	if aws == "" {
		aws = clis["v1"]
	}
	env := awsEnv(srv.endpoint)
	work := t.TempDir()
	cli := func(args ...string) map[string]any {
		t.Helper()
		out, errOut, err := run(t, env, work, aws, append([]string{"--endpoint-url", srv.endpoint, "--output", "json"}, args...)...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args[:2], " "), err, errOut)
		}
		var v map[string]any
		if strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("aws %s: output is not JSON: %v\n%s", args[1], err, out)
			}
		}
		return v
	}
	// The functions' role may make the calls they make (IAM is enforced).
	cli("iam", "create-role", "--role-name", "sdk", "--assume-role-policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	cli("iam", "put-role-policy", "--role-name", "sdk", "--policy-name", "sdk", "--policy-document", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["lambda:ListFunctions","dynamodb:ListTables"],"Resource":"*"},
	 {"Effect":"Allow","Action":"lambda:GetFunction","Resource":"arn:aws:lambda:*:*:function:sdk-*"},
	 {"Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:GetItem","dynamodb:DescribeTable"],"Resource":"arn:aws:dynamodb:*:*:table/sdk-table"}]}`)
	cli("dynamodb", "create-table", "--table-name", "sdk-table",
		"--attribute-definitions", "AttributeName=id,AttributeType=S",
		"--key-schema", "AttributeName=id,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")

	fns := []struct {
		name, runtime, handler string
		files                  map[string]string
		want                   []string
	}{
		{"sdk-esm", "nodejs20.x", "index.handler", map[string]string{"index.mjs": `
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { createRequire } from 'node:module';
export const handler = async () => {
  const fns = await new LambdaClient({}).send(new ListFunctionsCommand({}));
  const ddb = new DynamoDBClient({});
  const tables = await ddb.send(new ListTablesCommand({}));
  const doc = DynamoDBDocumentClient.from(ddb);
  await doc.send(new PutCommand({ TableName: 'sdk-table', Item: { id: 'esm', n: 1 } }));
  const item = await doc.send(new GetCommand({ TableName: 'sdk-table', Key: { id: 'esm' } }));
  const from = createRequire(import.meta.url).resolve('@aws-sdk/client-lambda');
  return { fns: fns.Functions.map((f) => f.FunctionName), tables: tables.TableNames, item: item.Item, from };
};
`}, []string{`"sdk-esm"`, `"tables":["sdk-table"]`, `"item":{"id":"esm","n":1}`, `"from":"/var/runtime/`, `/node_modules/@aws-sdk/client-lambda/`}},
		{"sdk-cjs", "nodejs22.x", "index.handler", map[string]string{"index.js": `
const { LambdaClient, GetFunctionCommand } = require('@aws-sdk/client-lambda');
const { DynamoDBClient, DescribeTableCommand } = require('@aws-sdk/client-dynamodb');
exports.handler = async () => {
  const fn = await new LambdaClient({}).send(new GetFunctionCommand({ FunctionName: 'sdk-cjs' }));
  const t = await new DynamoDBClient({}).send(new DescribeTableCommand({ TableName: 'sdk-table' }));
  return { runtime: fn.Configuration.Runtime, table: t.Table.TableStatus, from: require.resolve('@aws-sdk/client-dynamodb') };
};
`}, []string{`"runtime":"nodejs22.x"`, `"table":"ACTIVE"`, `"from":"/var/runtime/`, `/node_modules/@aws-sdk/client-dynamodb/`}},
		{"sdk-python", "python3.12", "app.handler", map[string]string{"app.py": `
import boto3
def handler(event, context):
    fns = boto3.client("lambda").list_functions()["Functions"]
    table = boto3.resource("dynamodb").Table("sdk-table")
    table.put_item(Item={"id": "py", "n": 2})
    return {"fns": sorted(f["FunctionName"] for f in fns), "item": table.get_item(Key={"id": "py"})["Item"]["id"],
            "from": boto3.__file__}
`}, []string{`"sdk-python"`, `"item": "py"`, `"from": "/var/runtime/sdk/python/boto3/__init__.py"`}},
		// The function's own copy wins, as on Lambda.
		{"sdk-own-node", "nodejs20.x", "index.handler", map[string]string{
			"index.js": "exports.handler = async () => require('@aws-sdk/client-lambda').marker;\n",
			"node_modules/@aws-sdk/client-lambda/package.json": `{"name":"@aws-sdk/client-lambda","version":"0.0.1","main":"index.js"}`,
			"node_modules/@aws-sdk/client-lambda/index.js":     "exports.marker = 'bundled';\n",
		}, []string{`"bundled"`}},
		{"sdk-own-python", "python3.12", "app.handler", map[string]string{
			"app.py":            "import boto3\ndef handler(event, context):\n    return boto3.marker\n",
			"boto3/__init__.py": "marker = 'bundled'\n",
		}, []string{`"bundled"`}},
	}
	for _, fn := range fns {
		dir := filepath.Join(work, fn.name)
		var names []string
		for name, content := range fn.files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		zip := filepath.Join(work, fn.name+".zip")
		writeZip(t, zip, dir, names)
		cli("lambda", "create-function", "--function-name", fn.name, "--runtime", fn.runtime, "--handler", fn.handler,
			"--role", "arn:aws:iam::000000000000:role/sdk", "--timeout", "30", "--memory-size", "512", "--zip-file", "fileb://"+zip)
	}
	for _, fn := range fns {
		t.Run(fn.name, func(t *testing.T) {
			out := filepath.Join(work, fn.name+".out")
			res := cli("lambda", "invoke", "--function-name", fn.name, out)
			body, _ := os.ReadFile(out)
			if res["FunctionError"] != nil {
				t.Fatalf("%s failed: %s", fn.name, body)
			}
			for _, w := range fn.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("%s returned %s; want it to contain %s", fn.name, body, w)
				}
			}
		})
	}
}
