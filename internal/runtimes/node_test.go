package runtimes

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

const nodeIndex = `'use strict';
console.log('init done');
let count = 0;

exports.handler = async (event, context) => {
  count++;
  return { count, event };
};

exports.undef = async () => {};

class MyError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MyError';
  }
}

exports.boom = async () => {
  throw new MyError('boom');
};

exports.syncThrow = () => {
  throw new TypeError('sync boom');
};

exports.cb = (event, context, callback) => {
  setTimeout(() => callback(null, { cb: true }), 5);
};

exports.cbErr = (event, context, callback) => {
  callback(new Error('cb failed'));
};

// Not waiting for the event loop: the pending timer must not hold the response.
exports.cbNoWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 10 * 60 * 1000);
  callback(null, 'early');
};

exports.legacy = (event, context) => {
  context.succeed({ legacy: true });
};

exports.sync = (event) => ({ sync: event });

exports.hang = async () => new Promise(() => {});

exports.circular = async () => {
  const o = {};
  o.self = o;
  return o;
};

exports.late = (event, context, callback) => {
  setTimeout(() => {
    throw new Error('late');
  }, 0);
};

exports.reject = async () => {
  Promise.reject(new Error('nope'));
  await new Promise((resolve) => setTimeout(resolve, 10 * 60 * 1000));
};

exports.ctx = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  identity: context.identity,
  clientContext: context.clientContext,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  succeed: typeof context.succeed,
  fail: typeof context.fail,
  done: typeof context.done,
  trace: process.env._X_AMZN_TRACE_ID,
  traceparent: process.env.TRACEPARENT,
  executionEnv: process.env.AWS_EXECUTION_ENV,
  nodePath: process.env.NODE_PATH,
});

exports.logs = async () => {
  console.log('hello %s', 'world');
  console.info('an info');
  console.warn('a warning');
  console.error('an error');
  console.debug('a debug');
  console.log('two\nlines');
  console.log({ a: 1 });
  return 'ok';
};

exports.stream = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/plain');
  responseStream.write('a');
  responseStream.write('b');
  responseStream.end();
});

exports.nested = { deeper: { fn: async () => 'nested' } };
exports.notFunction = 42;
`

func nodeEnv(t *testing.T, runtime, handler string, extra map[string]string) *env {
	t.Helper()
	return startEnv(t, runtime, map[string]string{
		"index.js":                  nodeIndex,
		"esm.mjs":                   "export const handler = async (event) => ({ esm: true, event });\n",
		"common.cjs":                "module.exports.handler = async () => 'cjs';\n",
		"src/package.json":          `{"type": "module"}`,
		"src/app.js":                "import { sep } from 'node:path';\nexport const handler = async () => ({ typeModule: sep });\n",
		"default.mjs":               "export default { handler: async () => 'from default' };\n",
		"syntax.js":                 "exports.handler = async () => {\n",
		"node_modules/dep/index.js": "module.exports = 'dep';\n",
		"usesdep.js":                "const dep = require('dep');\nexports.handler = async () => dep;\n",
	}, handler, extra)
}

func TestNodeSuccessAndGlobals(t *testing.T) {
	t.Parallel()
	e := nodeEnv(t, "nodejs20.x", "index.handler", nil)
	r := e.invoke(e.newInvocation(`{"x": 1}`))
	if r.Error != nil || string(r.Payload) != `{"count":1,"event":{"x":1}}` || r.ContentType != "application/json" {
		t.Fatalf("first invoke = %q (%s), error %+v", r.Payload, r.ContentType, r.Error)
	}
	if got := e.ok(`"again"`); got != `{"count":2,"event":"again"}` {
		t.Errorf("second invoke = %s, want count 2 (module globals survive)", got)
	}
}

func TestNodeHandlers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		runtime, handler, want string
	}{
		{"nodejs20.x", "index.undef", `null`},
		{"nodejs20.x", "index.cb", `{"cb":true}`},
		{"nodejs20.x", "index.cbNoWait", `"early"`},
		{"nodejs20.x", "index.legacy", `{"legacy":true}`},
		{"nodejs18.x", "index.nested.deeper.fn", `"nested"`},
		{"nodejs22.x", "esm.handler", `{"esm":true,"event":{"k":"v"}}`},
		{"nodejs20.x", "common.handler", `"cjs"`},
		{"nodejs20.x", "src/app.handler", `{"typeModule":"/"}`},
		{"nodejs20.x", "usesdep.handler", `"dep"`},
		// AWS's classic client ignores a sync handler's return value...
		{"nodejs20.x", "index.sync", `null`},
		// ...and the nodejs24.x client uses it.
		{"nodejs24.x", "index.sync", `{"sync":{"k":"v"}}`},
		{"nodejs24.x", "index.handler", `{"count":1,"event":{"k":"v"}}`},
		{"nodejs24.x", "default.handler", `"from default"`},
	} {
		t.Run(tc.runtime+"/"+tc.handler, func(t *testing.T) {
			t.Parallel()
			if got := nodeEnv(t, tc.runtime, tc.handler, nil).ok(`{"k":"v"}`); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNodeStreaming(t *testing.T) {
	t.Parallel()
	e := nodeEnv(t, "nodejs20.x", "index.stream", nil)
	r := e.invoke(e.newInvocation(`{}`))
	if r.Error != nil || !r.Streaming || string(r.Payload) != "ab" || r.ContentType != "text/plain" {
		t.Errorf("stream = %q streaming=%v type=%q error %+v", r.Payload, r.Streaming, r.ContentType, r.Error)
	}
	if r := e.invoke(e.newInvocation(`{}`)); string(r.Payload) != "ab" {
		t.Errorf("second stream = %q", r.Payload)
	}
}

type nodeError struct {
	ErrorType    string   `json:"errorType"`
	ErrorMessage string   `json:"errorMessage"`
	Trace        []string `json:"trace"`
}

func decodeNodeError(t *testing.T, body []byte) nodeError {
	t.Helper()
	var ne nodeError
	if err := json.Unmarshal(body, &ne); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return ne
}

func TestNodeHandlerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		runtime, handler, errorType, message, firstTrace string
	}{
		{"nodejs20.x", "index.boom", "MyError", "boom", "MyError: boom"},
		{"nodejs20.x", "index.syncThrow", "TypeError", "sync boom", "TypeError: sync boom"},
		{"nodejs20.x", "index.cbErr", "Error", "cb failed", "Error: cb failed"},
		{"nodejs20.x", "index.circular", "Error", "Unable to stringify response body", "Error: Unable to stringify response body"},
		{"nodejs20.x", "index.hang", "Runtime.NodeJsExit", "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes", "Runtime.NodeJsExit: The Lambda runtime client"},
		{"nodejs24.x", "index.boom", "MyError", "boom", "MyError: boom"},
		{"nodejs24.x", "index.hang", "Runtime.NodeJsExit", "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes", "Runtime.NodeJsExit: The Lambda runtime client"},
	} {
		t.Run(tc.runtime+"/"+tc.handler, func(t *testing.T) {
			t.Parallel()
			e := nodeEnv(t, tc.runtime, tc.handler, nil)
			er := e.fail(`{}`)
			if er.ErrorType != tc.errorType {
				t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want %q", er.ErrorType, tc.errorType)
			}
			ne := decodeNodeError(t, er.Body)
			if ne.ErrorType != tc.errorType || ne.ErrorMessage != tc.message || len(ne.Trace) == 0 || !strings.HasPrefix(ne.Trace[0], tc.firstTrace) {
				t.Errorf("error = %+v", ne)
			}
			if userFrame := tc.errorType != "Runtime.NodeJsExit" && tc.handler != "index.circular"; userFrame && !strings.Contains(strings.Join(ne.Trace, "\n"), e.taskRoot+"/index.js") {
				t.Errorf("trace %q does not point into index.js", ne.Trace)
			}
			if !regexp.MustCompile(`\t` + regexp.QuoteMeta(e.seqID()) + `\tERROR\tInvoke Error \t\{"errorType":"` + regexp.QuoteMeta(tc.errorType) + `"`).MatchString(e.stdout.String()) {
				t.Errorf("stdout lacks the Invoke Error line:\n%s", e.stdout.String())
			}
			// The environment stays usable after a function error.
			if er := e.fail(`{}`); er.ErrorType != tc.errorType {
				t.Errorf("second invoke error %s", er.ErrorType)
			}
		})
	}
}

// seqID is the request id of the last invocation made.
func (e *env) seqID() string { return fmt.Sprintf("8f5c6e4a-0000-4000-8000-%012d", e.seq) }

func TestNodeUncaughtDuringInvoke(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		handler, errorType, message string
		code                        int
	}{
		{"index.late", "Error", "late", 129},
		{"index.reject", "Runtime.UnhandledPromiseRejection", "Error: nope", 128},
	} {
		t.Run(tc.handler, func(t *testing.T) {
			t.Parallel()
			e := nodeEnv(t, "nodejs20.x", tc.handler, nil)
			ne := decodeNodeError(t, e.fail(`{}`).Body)
			if ne.ErrorType != tc.errorType || ne.ErrorMessage != tc.message {
				t.Errorf("error = %+v", ne)
			}
			if code := e.waitExit(); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
		})
	}
}

func TestNodeInitErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		runtime, handler, errorType, message string
	}{
		{"nodejs20.x", "missing.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'missing'\nRequire stack:\n- <runtime>/index.mjs"},
		{"nodejs20.x", "index.nope", "Runtime.HandlerNotFound", "index.nope is undefined or not exported"},
		{"nodejs20.x", "index.notFunction", "Runtime.HandlerNotFound", "index.notFunction is not a function"},
		{"nodejs20.x", "index", "Runtime.MalformedHandlerName", "Bad handler"},
		{"nodejs20.x", "../index.handler", "Runtime.MalformedHandlerName", "'../index.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names."},
		{"nodejs20.x", "syntax.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected end of input"},
		{"nodejs20.x", "default.handler", "Runtime.HandlerNotFound", "default.handler is undefined or not exported"},
		{"nodejs24.x", "index.cb", "Runtime.CallbackHandlerDeprecated", "ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html."},
	} {
		t.Run(tc.runtime+"/"+tc.handler, func(t *testing.T) {
			t.Parallel()
			e := nodeEnv(t, tc.runtime, tc.handler, nil)
			ie, code := e.initError()
			if code != 129 {
				t.Errorf("exit code %d, want 129", code)
			}
			if ie.ErrorType != tc.errorType {
				t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want %q", ie.ErrorType, tc.errorType)
			}
			ne := decodeNodeError(t, ie.Body)
			want := strings.ReplaceAll(tc.message, "<runtime>", strings.TrimSuffix(e.taskRoot, "/task")+"/runtime")
			if ne.ErrorType != tc.errorType || ne.ErrorMessage != want || ne.Trace == nil {
				t.Errorf("init error = %+v\nwant %s %q", ne, tc.errorType, want)
			}
			if !regexp.MustCompile(`(?m)^` + nodeTS + `\tundefined\tERROR\tUncaught Exception \t\{"errorType":"` + regexp.QuoteMeta(tc.errorType) + `"`).MatchString(e.stdout.String()) {
				t.Errorf("stdout lacks the Uncaught Exception line:\n%s", e.stdout.String())
			}
		})
	}
}

func TestNodeContext(t *testing.T) {
	t.Parallel()
	for _, runtime := range []string{"nodejs20.x", "nodejs24.x"} {
		t.Run(runtime, func(t *testing.T) {
			t.Parallel()
			e := nodeEnv(t, runtime, "index.ctx", nil)
			inv := e.newInvocation(`{}`)
			inv.InvokedFunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:fn:7"
			inv.TraceID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
			inv.ClientContext = []byte(`{"client":{"installation_id":"inst-1"},"custom":{"k":"v"},"env":{"platform":"x"}}`)
			inv.CognitoIdentity = []byte(`{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`)
			r := e.invoke(inv)
			if r.Error != nil {
				t.Fatalf("error %s", r.Error.Body)
			}
			var got map[string]any
			if err := json.Unmarshal(r.Payload, &got); err != nil {
				t.Fatal(err)
			}
			legacy := "function"
			if runtime == "nodejs24.x" {
				legacy = "undefined" // AWS's nodejs24.x client dropped succeed/fail/done
			}
			want := map[string]any{
				"awsRequestId":       inv.RequestID,
				"functionName":       "fn",
				"functionVersion":    "$LATEST",
				"invokedFunctionArn": inv.InvokedFunctionArn,
				"memoryLimitInMB":    "128",
				"logGroupName":       "/aws/lambda/fn",
				"logStreamName":      "2026/01/01/[$LATEST]0123456789abcdef",
				"identity":           map[string]any{"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
				"clientContext":      map[string]any{"client": map[string]any{"installation_id": "inst-1"}, "custom": map[string]any{"k": "v"}, "env": map[string]any{"platform": "x"}},
				"waits":              true,
				"succeed":            legacy,
				"fail":               legacy,
				"done":               legacy,
				"trace":              inv.TraceID,
				"traceparent":        "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
				"executionEnv":       "AWS_Lambda_" + runtime,
			}
			for k, v := range want {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			remaining, _ := got["remaining"].(float64)
			if limit := float64(time.Minute.Milliseconds()); remaining <= 0 || remaining > limit {
				t.Errorf("getRemainingTimeInMillis() = %v, want within (0, %v]", remaining, limit)
			}
			nodePath, _ := got["nodePath"].(string)
			for _, p := range []string{"/opt/nodejs/node_modules", "/var/task", e.taskRoot} {
				if !strings.Contains(":"+nodePath+":", ":"+p+":") {
					t.Errorf("NODE_PATH %q lacks %s", nodePath, p)
				}
			}

			// Without the optional headers they are absent from the context.
			var got2 map[string]any
			if err := json.Unmarshal([]byte(e.ok(`{}`)), &got2); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"trace", "traceparent", "identity", "clientContext"} {
				if _, ok := got2[k]; ok {
					t.Errorf("second invoke has %s = %v, want undefined", k, got2[k])
				}
			}
		})
	}
}

const nodeTS = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`

func TestNodeConsoleFormat(t *testing.T) {
	t.Parallel()
	e := nodeEnv(t, "nodejs20.x", "index.logs", nil)
	inv := e.newInvocation(`{}`)
	if got := string(e.invoke(inv).Payload); got != `"ok"` {
		t.Fatalf("invoke = %s", got)
	}
	out := e.stdout.String()
	id := regexp.QuoteMeta(inv.RequestID)
	for _, re := range []string{
		`^` + nodeTS + `\tundefined\tINFO\tinit done$`,
		`^` + nodeTS + `\t` + id + `\tINFO\thello world$`,
		`^` + nodeTS + `\t` + id + `\tINFO\tan info$`,
		`^` + nodeTS + `\t` + id + `\tWARN\ta warning$`,
		`^` + nodeTS + `\t` + id + `\tERROR\tan error$`,
		`^` + nodeTS + `\t` + id + `\tDEBUG\ta debug$`,
		`^` + nodeTS + `\t` + id + `\tINFO\ttwo\rlines$`,
		`^` + nodeTS + `\t` + id + `\tINFO\t\{ a: 1 \}$`,
	} {
		if !regexp.MustCompile(`(?m)` + re).MatchString(out) {
			t.Errorf("stdout does not match %s:\n%s", re, out)
		}
	}
}

func TestNodeJSONLogFormatAndLevel(t *testing.T) {
	t.Parallel()
	e := nodeEnv(t, "nodejs20.x", "index.logs", map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"})
	inv := e.newInvocation(`{}`)
	e.invoke(inv)
	var levels []string
	for line := range strings.SplitSeq(strings.TrimSpace(e.stdout.String()), "\n") {
		var rec struct{ Timestamp, Level, RequestID, Message string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		if rec.RequestID != inv.RequestID {
			t.Errorf("record %+v: request id", rec)
		}
		levels = append(levels, rec.Level+":"+rec.Message)
	}
	if strings.Join(levels, ",") != "WARN:a warning,ERROR:an error" {
		t.Errorf("records %v, want only WARN and ERROR", levels)
	}
}
