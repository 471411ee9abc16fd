package pool

import (
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/runtimes"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// TestManagedRuntimes runs the Python and Node.js runtime clients of
// package runtimes inside real environments, where the host has the
// interpreters.
func TestManagedRuntimes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		runtime, handler, file, source, missing string
	}{
		{"python3.12", "app.handler", "app.py", `
import os
count = 0
print("loading app")
def handler(event, context):
    global count
    count += 1
    print("greeting", event["name"])
    return {"count": count, "task_root": os.environ["LAMBDA_TASK_ROOT"], "cwd": os.getcwd(),
            "exec_env": os.environ.get("AWS_EXECUTION_ENV"), "request_id": context.aws_request_id}
`, "nomodule.handler"},
		{"nodejs20.x", "app.handler", "app.js", `
let count = 0;
console.log("loading app");
exports.handler = async (event, context) => {
  count++;
  console.log("greeting", event.name);
  return {count, task_root: process.env.LAMBDA_TASK_ROOT, cwd: process.cwd(),
          exec_env: process.env.AWS_EXECUTION_ENV, request_id: context.awsRequestId};
};
`, "nomodule.handler"},
	}
	for _, c := range cases {
		t.Run(c.runtime, func(t *testing.T) {
			t.Parallel()
			if _, err := runtimes.Lookup(c.runtime); err != nil {
				t.Skipf("host cannot run %s: %v", c.runtime, err)
			}
			h := newHarness(t)
			z, err := makeZip(map[string][]byte{c.file: []byte(c.source)}, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			fn := h.fn("managed-"+strings.ReplaceAll(c.runtime, ".", "-"), nil)
			fn.Runtime, fn.Handler, fn.CodeSha256 = c.runtime, c.handler, h.code.put(z)
			for i := 1; i <= 2; i++ {
				res, m := h.call(t, fn, map[string]any{"name": "nimbus"})
				wantOK(t, res)
				if m["count"] != float64(i) || m["exec_env"] != "AWS_Lambda_"+c.runtime || m["request_id"] == "" {
					t.Errorf("invoke %d: %s", i, res.Payload)
				}
				if strings.HasPrefix(sandbox.Mode(), "namespaces") && (m["task_root"] != "/var/task" || m["cwd"] != "/var/task") {
					t.Errorf("task root %v cwd %v, want /var/task", m["task_root"], m["cwd"])
				}
				tail := string(res.LogTail)
				if !strings.Contains(tail, "greeting nimbus") || (i == 1) != strings.Contains(tail, "loading app") {
					t.Errorf("invoke %d log tail:\n%s", i, tail)
				}
			}
			fn.Handler, fn.RevisionId = c.missing, randHex(8)
			res, m := h.call(t, fn, map[string]any{"name": "nimbus"})
			wantError(t, res, "Runtime.ImportModuleError", "")
			if msg, _ := m["errorMessage"].(string); !strings.Contains(msg, "nomodule") {
				t.Errorf("errorMessage %q", msg)
			}
		})
	}
}
