package pool

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// InvokeWarm (another node's forwarded invocation) runs only on an idle
// environment of the version at the revision asked for: with none, or
// for another revision, nothing starts and this node's pool is left as
// it was; with one, it runs there with the configuration the environment
// was started with, and Warm and HasIdle say what is idle.
func TestInvokeWarmNeverStartsAnEnvironment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("warm", nil)
	v := WarmVersion{FunctionArn: fn.FunctionArn, Version: fn.Version, RevisionID: fn.RevisionId}
	echo, _ := json.Marshal(map[string]any{"action": "echo", "value": "fwd"})
	warm := func(v WarmVersion) (*invoke.Result, bool, error) {
		return h.m.InvokeWarm(context.Background(), v, &invoke.Request{RequestID: newRequestID(), Payload: echo})
	}
	if res, ran, err := warm(v); ran || res != nil || err != nil {
		t.Fatalf("no environment yet: ran %v, %v, %v", ran, res, err)
	}
	if s := h.m.Stats(); s.Environments != 0 || h.m.HasIdle(fn) || len(h.m.Warm()) != 0 {
		t.Fatalf("a warm-only invocation started an environment: %+v", s)
	}
	res, _ := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if !h.m.HasIdle(fn) {
		t.Fatal("HasIdle false after an invocation returned its environment")
	}
	if w := h.m.Warm(); len(w) != 1 || w[0].FunctionArn != fn.FunctionArn || w[0].RevisionID != fn.RevisionId || w[0].Idle != 1 {
		t.Fatalf("Warm %+v", w)
	}
	other := v
	other.RevisionID = "another"
	if _, ran, err := warm(other); ran || err != nil {
		t.Fatalf("another revision: ran %v, %v", ran, err)
	}
	res, ran, err := warm(v)
	if !ran || err != nil {
		t.Fatalf("idle environment: ran %v, %v", ran, err)
	}
	wantOK(t, res)
	var m map[string]any
	_ = json.Unmarshal(res.Payload, &m)
	if m["count"] != 2.0 || m["value"] != "fwd" || res.InitDuration != 0 {
		t.Fatalf("forwarded invocation: %s (init %s), want the environment's second invocation", res.Payload, res.InitDuration)
	}
	if s := h.m.Stats(); s.Environments != 1 {
		t.Fatalf("stats %+v, want the one environment", s)
	}
}
