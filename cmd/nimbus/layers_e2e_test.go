package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLayersWithAWSCLI publishes a Node.js layer with the AWS CLI
// (publish-layer-version --zip-file), lists and finds it, and runs a
// nodejs function that requires the layer's module from
// /opt/nodejs/node_modules.
func TestLayersWithAWSCLI(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	for version, aws := range clis {
		t.Run(version, func(t *testing.T) {
			work := t.TempDir()
			write := func(rel, s string) {
				t.Helper()
				p := filepath.Join(work, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write("nodejs/node_modules/greeter/index.js", "exports.greet = (n) => `Hello from a layer, ${n}!`;\n")
			write("index.js", "const { greet } = require('greeter');\nexports.handler = async (e) => ({ message: greet(e.name) });\n")
			layerZip, fnZip := filepath.Join(work, "layer.zip"), filepath.Join(work, "fn.zip")
			writeZip(t, layerZip, work, []string{"nodejs/node_modules/greeter/index.js"})
			writeZip(t, fnZip, work, []string{"index.js"})
			cli := func(args ...string) map[string]any {
				t.Helper()
				out, errOut, err := run(t, env, work, aws, append([]string{"--endpoint-url", endpoint, "--output", "json"}, args...)...)
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
			layer := "greeter-" + version
			pub := cli("lambda", "publish-layer-version", "--layer-name", layer, "--zip-file", "fileb://"+layerZip,
				"--compatible-runtimes", "nodejs20.x", "--description", "greeting module")
			arn, _ := pub["LayerVersionArn"].(string)
			if pub["Version"] != 1.0 || arn != "arn:aws:lambda:us-east-1:000000000000:layer:"+layer+":1" {
				t.Fatalf("publish-layer-version: %v", pub)
			}
			found := false
			for _, l := range cli("lambda", "list-layers", "--compatible-runtime", "nodejs20.x")["Layers"].([]any) {
				if l.(map[string]any)["LayerName"] == layer {
					found = true
				}
			}
			if !found {
				t.Errorf("list-layers lacks %s", layer)
			}
			if vs := cli("lambda", "list-layer-versions", "--layer-name", layer)["LayerVersions"].([]any); len(vs) != 1 {
				t.Errorf("list-layer-versions: %v", vs)
			}
			if g := cli("lambda", "get-layer-version-by-arn", "--arn", arn); g["Description"] != "greeting module" {
				t.Errorf("get-layer-version-by-arn: %v", g)
			}

			fn := "layered-" + version
			cli("lambda", "create-function", "--function-name", fn, "--runtime", "nodejs20.x", "--handler", "index.handler",
				"--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+fnZip, "--layers", arn)
			cli("lambda", "wait", "function-active-v2", "--function-name", fn)
			outFile := filepath.Join(work, "out.json")
			args := []string{"lambda", "invoke", "--function-name", fn, "--payload", `{"name":"cli"}`, outFile}
			if version == "v2" {
				args = append(args, "--cli-binary-format", "raw-in-base64-out")
			}
			res := cli(args...)
			body, err := os.ReadFile(outFile) //nolint:gosec // the test's own file
			if err != nil {
				t.Fatal(err)
			}
			if res["FunctionError"] != nil || strings.TrimSpace(string(body)) != `{"message":"Hello from a layer, cli!"}` {
				t.Errorf("invoke: %v %s", res, body)
			}
			cli("lambda", "delete-layer-version", "--layer-name", layer, "--version-number", "1")
			if vs := cli("lambda", "list-layer-versions", "--layer-name", layer)["LayerVersions"].([]any); len(vs) != 0 {
				t.Errorf("list-layer-versions after delete: %v", vs)
			}
		})
	}
}
