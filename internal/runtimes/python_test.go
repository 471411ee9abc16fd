package runtimes

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

const pyApp = `import logging
import os
import sys

logger = logging.getLogger()
logger.warning("init %s", "done")

COUNT = 0


def handler(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "event": event}


def none(event, context):
    return None


def raw(event, context):
    return b"\x00raw"


def unicode(event, context):
    return "caf\u00e9"


def boom(event, context):
    helper()


def helper():
    raise ValueError("boom")


def unserialisable(event, context):
    return {1, 2}


def ctx(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "cognito_identity_id": context.identity.cognito_identity_id,
        "cognito_identity_pool_id": context.identity.cognito_identity_pool_id,
        "installation_id": cc.client.installation_id if cc else None,
        "app_title": cc.client.app_title if cc else None,
        "custom": cc.custom if cc else None,
        "env": cc.env if cc else None,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "traceparent": os.environ.get("TRACEPARENT"),
        "sys_path0": sys.path[0],
        "opt_python": "/opt/python" in sys.path,
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "stdout_unbuffered": type(sys.stdout).__name__,
    }


def logs(event, context):
    print("plain print")
    if logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.info("info %s", 1)
    logging.getLogger("child").warning("child warning")
    logger.debug("hidden")
    return "ok"
`

func pyEnv(t *testing.T, runtime, handler string, extra map[string]string) *env {
	t.Helper()
	return startEnv(t, runtime, map[string]string{
		"app.py":              pyApp,
		"pkg/sub/mod.py":      "def fn(event, context):\n    return {'nested': True}\n",
		"bad.py":              "def handler(event, context)\n    return 1\n",
		"raises_at_import.py": "raise RuntimeError('import time failure')\n",
	}, handler, extra)
}

func TestPythonSuccessAndGlobals(t *testing.T) {
	t.Parallel()
	e := pyEnv(t, "python3.12", "app.handler", nil)
	r := e.invoke(e.newInvocation(`{"x": 1}`))
	if r.Error != nil || string(r.Payload) != `{"count": 1, "event": {"x": 1}}` || r.ContentType != "application/json" {
		t.Fatalf("first invoke = %q (%s), error %+v", r.Payload, r.ContentType, r.Error)
	}
	if got := e.ok(`"second"`); got != `{"count": 2, "event": "second"}` {
		t.Errorf("second invoke = %s, want count 2 (module globals survive)", got)
	}
}

func TestPythonNoneBytesAndUnicode(t *testing.T) {
	t.Parallel()
	if got := pyEnv(t, "python3.12", "app.none", nil).ok(`{}`); got != "null" {
		t.Errorf("None -> %q, want null", got)
	}
	e := pyEnv(t, "python3.12", "app.raw", nil)
	r := e.invoke(e.newInvocation(`{}`))
	if string(r.Payload) != "\x00raw" || r.ContentType != "application/unknown" {
		t.Errorf("bytes -> %q (%s), want raw bytes as application/unknown", r.Payload, r.ContentType)
	}
	// AWS's marshaller escapes non-ASCII before python3.12 and not since.
	if got := pyEnv(t, "python3.12", "app.unicode", nil).ok(`{}`); got != `"café"` {
		t.Errorf("python3.12 unicode -> %s", got)
	}
	if got := pyEnv(t, "python3.11", "app.unicode", nil).ok(`{}`); got != `"caf\u00e9"` {
		t.Errorf("python3.11 unicode -> %s", got)
	}
}

func TestPythonNestedModulePath(t *testing.T) {
	t.Parallel()
	if got := pyEnv(t, "python3.13", "pkg/sub/mod.fn", nil).ok(`{}`); got != `{"nested": true}` {
		t.Errorf("pkg/sub/mod.fn -> %s", got)
	}
}

// lineOf is the 1-based number of the line of src that equals line.
func lineOf(t *testing.T, src, line string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if l == line {
			return i + 1
		}
	}
	t.Fatalf("no line %q", line)
	return 0
}

type pyError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	RequestID    *string  `json:"requestId"`
	StackTrace   []string `json:"stackTrace"`
}

func decodePyError(t *testing.T, body []byte) pyError {
	t.Helper()
	var pe pyError
	if err := json.Unmarshal(body, &pe); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if pe.RequestID == nil || pe.StackTrace == nil {
		t.Errorf("error body %s lacks requestId or stackTrace", body)
	}
	return pe
}

func TestPythonHandlerError(t *testing.T) {
	t.Parallel()
	e := pyEnv(t, "python3.12", "app.boom", nil)
	inv := e.newInvocation(`{}`)
	r := e.invoke(inv)
	if r.Error == nil {
		t.Fatalf("got %s, want an error", r.Payload)
	}
	if r.Error.ErrorType != "ValueError" {
		t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want ValueError", r.Error.ErrorType)
	}
	pe := decodePyError(t, r.Error.Body)
	app := e.taskRoot + "/app.py"
	callLine, raiseLine := lineOf(t, pyApp, "    helper()"), lineOf(t, pyApp, `    raise ValueError("boom")`)
	want := []string{
		fmt.Sprintf("  File \"%s\", line %d, in boom\n    helper()\n", app, callLine),
		fmt.Sprintf("  File \"%s\", line %d, in helper\n    raise ValueError(\"boom\")\n", app, raiseLine),
	}
	if pe.ErrorType != "ValueError" || pe.ErrorMessage != "boom" || *pe.RequestID != inv.RequestID ||
		strings.Join(pe.StackTrace, "|") != strings.Join(want, "|") {
		t.Errorf("error = %+v\nwant stackTrace %q", pe, want)
	}
	// Key order and separators as awslambdaric writes them.
	if !strings.HasPrefix(string(r.Error.Body), `{"errorMessage": "boom", "errorType": "ValueError", "requestId": "`) {
		t.Errorf("error body %s", r.Error.Body)
	}
	// The log line AWS's runtime prints: \r between lines, NBSP indentation.
	wantLog := "[ERROR] ValueError: boom\rTraceback (most recent call last):\r\u00a0\u00a0File \"" + app + "\", line " + fmt.Sprint(callLine) + ", in boom\r\u00a0\u00a0\u00a0\u00a0helper()\r"
	if !strings.Contains(e.stdout.String(), wantLog) {
		t.Errorf("stdout lacks the error log line %q", wantLog)
	}
	// The environment stays usable after a function error.
	if er := e.fail(`{}`); er.ErrorType != "ValueError" {
		t.Errorf("second invoke error %s", er.ErrorType)
	}
}

func TestPythonMarshalError(t *testing.T) {
	t.Parallel()
	er := pyEnv(t, "python3.12", "app.unserialisable", nil).fail(`{}`)
	pe := decodePyError(t, er.Body)
	if pe.ErrorType != "Runtime.MarshalError" || pe.ErrorMessage != "Unable to marshal response: Object of type set is not JSON serializable" {
		t.Errorf("error = %+v", pe)
	}
}

func TestPythonInitErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		handler, errorType, message string
		trace                       bool
	}{
		{"missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'", false},
		{"app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'", false},
		{"app", "Runtime.MalformedHandlerName", "Bad handler 'app': not enough values to unpack (expected 2, got 1)", false},
		{"sys.exit", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module", false},
		{"bad.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'bad': expected ':' (bad.py, line 1)", true},
		{"raises_at_import.handler", "RuntimeError", "import time failure", true},
	} {
		t.Run(tc.handler, func(t *testing.T) {
			t.Parallel()
			e := pyEnv(t, "python3.12", tc.handler, nil)
			ie, code := e.initError()
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if ie.ErrorType != tc.errorType {
				t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want %q", ie.ErrorType, tc.errorType)
			}
			pe := decodePyError(t, ie.Body)
			if pe.ErrorType != tc.errorType || pe.ErrorMessage != tc.message || *pe.RequestID != "" || (len(pe.StackTrace) > 0) != tc.trace {
				t.Errorf("init error = %+v, want %s %q (trace %v)", pe, tc.errorType, tc.message, tc.trace)
			}
			out := e.stdout.String()
			if !strings.Contains(out, "[WARNING]\t") || !strings.Contains(out, "LAMBDA_WARNING: Unhandled exception.") ||
				!strings.Contains(out, "[ERROR] "+tc.errorType+": "+tc.message) {
				t.Errorf("stdout lacks the warning and error lines:\n%s", out)
			}
		})
	}
}

func TestPythonContext(t *testing.T) {
	t.Parallel()
	e := pyEnv(t, "python3.12", "app.ctx", nil)
	inv := e.newInvocation(`{}`)
	inv.InvokedFunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:fn:live"
	inv.TraceID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	inv.ClientContext = []byte(`{"client":{"installation_id":"inst-1","app_title":"App"},"custom":{"k":"v"},"env":{"platform":"x"}}`)
	inv.CognitoIdentity = []byte(`{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`)
	r := e.invoke(inv)
	if r.Error != nil {
		t.Fatalf("error %s", r.Error.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"aws_request_id":           inv.RequestID,
		"function_name":            "fn",
		"function_version":         "$LATEST",
		"invoked_function_arn":     inv.InvokedFunctionArn,
		"memory_limit_in_mb":       "128",
		"log_group_name":           "/aws/lambda/fn",
		"log_stream_name":          "2026/01/01/[$LATEST]0123456789abcdef",
		"cognito_identity_id":      "id-1",
		"cognito_identity_pool_id": "pool-1",
		"installation_id":          "inst-1",
		"app_title":                "App",
		"custom":                   map[string]any{"k": "v"},
		"env":                      map[string]any{"platform": "x"},
		"trace":                    inv.TraceID,
		"traceparent":              "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
		"sys_path0":                e.taskRoot,
		"opt_python":               true,
		"execution_env":            "AWS_Lambda_python3.12",
		"stdout_unbuffered":        "Unbuffered",
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	remaining, _ := got["remaining"].(float64)
	if limit := float64(time.Minute.Milliseconds()); remaining <= 0 || remaining > limit {
		t.Errorf("get_remaining_time_in_millis() = %v, want within (0, %v]", remaining, limit)
	}

	// Without the optional headers: no trace id, no client context, an
	// identity object with None fields.
	r2 := e.invoke(e.newInvocation(`{}`))
	var got2 map[string]any
	if err := json.Unmarshal(r2.Payload, &got2); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"trace", "traceparent", "installation_id", "cognito_identity_id"} {
		if got2[k] != nil {
			t.Errorf("second invoke %s = %v, want None", k, got2[k])
		}
	}
}

var (
	pyTS      = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`
	pyInitLog = regexp.MustCompile(`(?m)^\[WARNING\]\t` + pyTS + `\t\tinit done$`)
)

func TestPythonLogging(t *testing.T) {
	t.Parallel()
	e := pyEnv(t, "python3.12", "app.logs", nil)
	inv := e.newInvocation(`{}`)
	if r := e.invoke(inv); r.Error != nil || string(r.Payload) != `"ok"` {
		t.Fatalf("invoke = %s %+v", r.Payload, r.Error)
	}
	out := e.stdout.String()
	id := regexp.QuoteMeta(inv.RequestID)
	for _, re := range []*regexp.Regexp{
		pyInitLog,
		regexp.MustCompile(`(?m)^plain print$`),
		regexp.MustCompile(`(?m)^\[INFO\]\t` + pyTS + `\t` + id + `\tinfo 1$`),
		regexp.MustCompile(`(?m)^\[WARNING\]\t` + pyTS + `\t` + id + `\tchild warning$`),
	} {
		if !re.MatchString(out) {
			t.Errorf("stdout does not match %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("debug record below the root level was printed:\n%s", out)
	}
}

func TestPythonJSONLogFormat(t *testing.T) {
	t.Parallel()
	e := pyEnv(t, "python3.12", "app.logs", map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
	inv := e.newInvocation(`{}`)
	e.invoke(inv)
	var found bool
	for line := range strings.SplitSeq(e.stdout.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["message"] != "hidden" {
			continue
		}
		found = true
		if rec["level"] != "DEBUG" || rec["requestId"] != inv.RequestID || rec["logger"] != "root" {
			t.Errorf("JSON record %v", rec)
		}
	}
	if !found {
		t.Errorf("no JSON debug record in:\n%s", e.stdout.String())
	}
}
