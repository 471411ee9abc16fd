package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDeployOrdersExample: the canonical order example runs unchanged. A
// Node.js 20 function bundling @aws-sdk/lib-dynamodb (npm, as Nimbus's
// nodejs runtime does not provide the SDK) writes an order through its
// function URL, the AWS CLI reads the item back, and the table's stream
// triggers the second function, which records the order in the
// SimpleTable.
func TestDeployOrdersExample(t *testing.T) {
	t.Parallel()
	requireDeployTools(t)
	requireTool(t, "npm")
	requireTool(t, "aws")
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	app := copyExample(t, "sam-orders-node")
	r := mustDeploy(t, env, app)
	fnURL, orders, audit := r.outputs["CreateOrderUrl"], r.outputs["OrdersTable"], r.outputs["AuditTable"]
	if fnURL == "" || !strings.HasPrefix(orders, "sam-orders-node-Orders-") || audit == "" {
		t.Fatalf("outputs %v", r.outputs)
	}
	out, err := exec.Command("curl", "-sS", "-w", "\n%{http_code}", "-X", "POST", "-H", "content-type: application/json", //nolint:gosec // test
		"-d", `{"id":"o-1","customer":"ada","total":42.5,"items":[{"sku":"tea","qty":2}]}`, fnURL).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil || !strings.HasSuffix(s, "\n201") {
		t.Fatalf("POST %s: %v\n%s", fnURL, err, s)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSuffix(s, "\n201")), &created); err != nil || created["id"] != "o-1" || created["total"] != 42.5 {
		t.Fatalf("created %v (%v)", created, err)
	}
	got, errOut, err := run(t, env, t.TempDir(), "aws", "dynamodb", "get-item", "--table-name", orders, "--key", `{"id":{"S":"o-1"}}`, "--output", "json")
	if err != nil || !strings.Contains(got, `"N": "42.5"`) || !strings.Contains(got, `"S": "tea"`) {
		t.Fatalf("aws dynamodb get-item: %v\n%s%s", err, got, errOut)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, errOut, err = run(t, env, t.TempDir(), "aws", "dynamodb", "get-item", "--table-name", audit, "--key", `{"id":{"S":"o-1"}}`, "--output", "json")
		if err == nil && strings.Contains(got, `"INSERT"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream-triggered function did not record the order: %v\n%s%s", err, got, errOut)
		}
		time.Sleep(500 * time.Millisecond) // the stream function runs asynchronously
	}
	if out, errOut, err := run(t, env, t.TempDir(), nimbusBin, "delete", "--stack-name", "sam-orders-node", "--yes"); err != nil || !strings.Contains(out, "DELETE_COMPLETE") {
		t.Fatalf("nimbus delete: %v\n%s%s", err, out, errOut)
	}
	if _, _, err := run(t, env, t.TempDir(), "aws", "dynamodb", "describe-table", "--table-name", orders); err == nil {
		t.Error("the orders table survived the stack's deletion")
	}
}
