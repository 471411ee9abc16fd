package runtimes

import (
	"errors"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/runtimeapi"
)

// A response over Lambda's 6 MB limit fails that invocation (the Runtime
// API answers 413) and the environment stays usable, as on AWS.
func TestResponseTooLargeKeepsEnvironment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		runtime, handler string
		files            map[string]string
	}{
		{"python3.12", "app.handler", map[string]string{"app.py": "def handler(event, context):\n    return 'x' * event['n']\n"}},
		{"nodejs20.x", "index.handler", map[string]string{"index.js": "exports.handler = async (event) => 'x'.repeat(event.n);\n"}},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			t.Parallel()
			e := startEnv(t, tc.runtime, tc.files, tc.handler, nil)
			if ie, err := e.waitInit(); err != nil || ie != nil {
				t.Fatalf("init: %v %v", ie, err)
			}
			_, err := e.api.Invoke(e.ctx, e.newInvocation(`{"n": 7000000}`))
			if !errors.Is(err, runtimeapi.ErrResponseTooLarge) {
				t.Fatalf("Invoke = %v, want ErrResponseTooLarge", err)
			}
			big := e.ok(`{"n": 5000000}`)
			if len(big) != 5000002 || strings.Trim(big, `"x`) != "" {
				t.Errorf("5 MB response came back as %d bytes", len(big))
			}
		})
	}
}
