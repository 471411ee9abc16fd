package daemon

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const layerARNPrefix = "arn:aws:lambda:us-east-1:000000000000:layer:"

// layerProbe is a Python function that imports a module only its layers
// provide and reports what it sees of /opt.
const layerProbe = `import os, greet, sitemod

def handler(event, context):
    try:
        open("/opt/scribble", "w").close()
        writable = True
    except OSError:
        writable = False
    return {
        "word": greet.WORD,
        "site": sitemod.__file__,
        "from": greet.__file__,
        "opt": sorted(os.listdir("/opt")),
        "tool": open("/opt/bin/tool").read().strip() if os.path.exists("/opt/bin/tool") else "",
        "path": os.environ.get("PATH", ""),
        "ld": os.environ.get("LD_LIBRARY_PATH", ""),
        "writable": writable,
    }
`

func publishLayer(t *testing.T, n *node, name string, files map[string]zipEntry, runtimes ...types.Runtime) *lambda.PublishLayerVersionOutput {
	t.Helper()
	out, err := n.client.PublishLayerVersion(context.Background(), &lambda.PublishLayerVersionInput{
		LayerName: aws.String(name), Content: &types.LayerVersionContentInput{ZipFile: zipFiles(t, files)},
		CompatibleRuntimes: runtimes,
	})
	if err != nil {
		t.Fatalf("PublishLayerVersion %s: %v", name, err)
	}
	return out
}

// TestLayersReachPythonFunctions: a layer's python/ directory is
// importable, later layers win, /opt is read-only, the function keeps a
// deleted layer version, and a function's layers change with
// UpdateFunctionConfiguration.
func TestLayersReachPythonFunctions(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	one := publishLayer(t, n, "greet", map[string]zipEntry{
		"python/greet.py": {data: []byte("WORD = 'one'\n")},
		"bin/tool":        {data: []byte("from layer one\n"), mode: 0o755},
		// Where pip --target puts packages for a layer.
		"python/lib/python3.12/site-packages/sitemod.py": {data: []byte("")},
	}, types.RuntimePython312)
	two := publishLayer(t, n, "greet-override", map[string]zipEntry{
		"python/greet.py": {data: []byte("WORD = 'two'\n")},
	})
	if aws.ToString(one.LayerVersionArn) != layerARNPrefix+"greet:1" {
		t.Fatalf("layer ARN %s", aws.ToString(one.LayerVersionArn))
	}
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("layered"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(layerProbe)}})},
		Layers: []string{aws.ToString(one.LayerVersionArn)},
	})
	probe := func(want string) map[string]any {
		t.Helper()
		out, m := invoke(t, n, "layered", "", map[string]any{})
		if out.FunctionError != nil {
			t.Fatalf("invoke: %s %s\n%s", aws.ToString(out.FunctionError), out.Payload, logTail(t, out))
		}
		if m["word"] != want {
			t.Errorf("greet.WORD = %v, want %q (payload %s)", m["word"], want, out.Payload)
		}
		return m
	}
	m := probe("one")
	if m["from"] != "/opt/python/greet.py" || m["site"] != "/opt/python/lib/python3.12/site-packages/sitemod.py" ||
		m["tool"] != "from layer one" || m["writable"] != false {
		t.Errorf("first probe: %v", m)
	}
	if !strings.Contains(m["path"].(string), "/opt/bin") || !strings.Contains(m["ld"].(string), "/opt/lib") {
		t.Errorf("PATH %v, LD_LIBRARY_PATH %v", m["path"], m["ld"])
	}

	// Two layers: the later one's greet.py replaces the earlier one's; the
	// earlier one's other files stay.
	if _, err := n.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("layered"), Layers: []string{aws.ToString(one.LayerVersionArn), aws.ToString(two.LayerVersionArn)},
	}); err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	waitUpdated(t, n, "layered")
	m = probe("two")
	if m["tool"] != "from layer one" || !slices.Equal(toStrings(m["opt"]), []string{"bin", "python"}) {
		t.Errorf("merged /opt: %v", m)
	}

	// Deleting a layer version in use: the function keeps it, also in a
	// new environment (a configuration change starts one).
	if _, err := n.client.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{
		LayerName: aws.String("greet-override"), VersionNumber: aws.Int64(1),
	}); err != nil {
		t.Fatalf("DeleteLayerVersion: %v", err)
	}
	if _, err := n.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("layered"), Timeout: aws.Int32(7),
	}); err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	waitUpdated(t, n, "layered")
	probe("two")
	cfg, err := n.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("layered")})
	if err != nil || len(cfg.Layers) != 2 || aws.ToString(cfg.Layers[1].Arn) != layerARNPrefix+"greet-override:1" {
		t.Errorf("configuration layers: %+v, %v", cfg, err)
	}

	// Without layers the module is gone.
	if _, err := n.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("layered"), Layers: []string{},
	}); err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	waitUpdated(t, n, "layered")
	out, _ := invoke(t, n, "layered", "", map[string]any{})
	if aws.ToString(out.FunctionError) == "" || !strings.Contains(string(out.Payload), "greet") {
		t.Errorf("without layers: %q %s", aws.ToString(out.FunctionError), out.Payload)
	}
}

// TestCustomRuntimeFromLayer: a provided.al2023 function without a
// bootstrap of its own runs the layer's /opt/bootstrap, as on Lambda.
func TestCustomRuntimeFromLayer(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	bootstrap := goZip(t, "./internal/daemon/testdata/fn")
	out, err := n.client.PublishLayerVersion(context.Background(), &lambda.PublishLayerVersionInput{
		LayerName: aws.String("runtime"), Content: &types.LayerVersionContentInput{ZipFile: bootstrap},
	})
	if err != nil {
		t.Fatal(err)
	}
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("fromlayer"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"README": {data: []byte("code only\n")}})},
		Layers: []string{aws.ToString(out.LayerVersionArn)},
	})
	res, m := invoke(t, n, "fromlayer", "", map[string]any{"action": "echo"})
	if res.FunctionError != nil || m["count"] != 1.0 {
		t.Errorf("invoke: %q %s", aws.ToString(res.FunctionError), res.Payload)
	}
}

func waitUpdated(t *testing.T, n *node, name string) {
	t.Helper()
	w := lambda.NewFunctionUpdatedV2Waiter(n.client)
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 30e9); err != nil {
		t.Fatalf("wait updated %s: %v", name, err)
	}
}

func toStrings(v any) []string {
	var out []string
	if vs, ok := v.([]any); ok {
		for _, x := range vs {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}
