package daemon

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// invokeWithHeader invokes name with one extra HTTP header.
func invokeWithHeader(t *testing.T, n *node, name, header, value string, payload string) map[string]any {
	t.Helper()
	out, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(name), Payload: []byte(payload),
	}, func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(header, value))
	})
	if err != nil {
		t.Fatalf("Invoke %s: %v", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Payload, &m); err != nil {
		t.Fatalf("payload %s: %v", out.Payload, err)
	}
	return m
}

// A trace id the client sends reaches the function as _X_AMZN_TRACE_ID
// (aws-lambda-go sets it from Lambda-Runtime-Trace-Id), with the client's
// sampling decision kept and the parent replaced by the platform's span;
// with none, Active tracing makes a sampled one.
func TestTraceHeaderReachesFunction(t *testing.T) {
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "traced", nil)
	root := "1-5759e988-bd862e3fe1be46a994272793"
	env := invokeWithHeader(t, n, "traced", "X-Amzn-Trace-Id", "Root="+root+";Parent=53995c3f42cd8ad8;Sampled=1", `{"action":"env"}`)
	got, _ := env["_X_AMZN_TRACE_ID"].(string)
	if !strings.HasPrefix(got, "Root="+root+";Parent=") || !strings.HasSuffix(got, ";Sampled=1") || strings.Contains(got, "53995c3f42cd8ad8") {
		t.Errorf("function saw _X_AMZN_TRACE_ID %q", got)
	}
	env = invokeWithHeader(t, n, "traced", "traceparent", "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00", `{"action":"env"}`)
	if got, _ := env["_X_AMZN_TRACE_ID"].(string); !strings.HasPrefix(got, "Root="+root+";") || !strings.HasSuffix(got, ";Sampled=0") {
		t.Errorf("from traceparent the function saw %q", got)
	}

	createGoFunction(t, n, "active", func(in *lambda.CreateFunctionInput) {
		in.TracingConfig = &types.TracingConfig{Mode: types.TracingModeActive}
	})
	env = invokeWithHeader(t, n, "active", "X-Test", "1", `{"action":"env"}`)
	if got, _ := env["_X_AMZN_TRACE_ID"].(string); !strings.HasPrefix(got, "Root=1-") || !strings.HasSuffix(got, ";Sampled=1") {
		t.Errorf("Active tracing without a header: function saw %q", got)
	}
}
