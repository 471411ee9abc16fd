package pool

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/runtimes"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// reserved are the variables Lambda sets and a function's configuration
// cannot override.
var reserved = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true,
	"AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true,
	"AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
	"AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// Credentials are the temporary AWS credentials an environment runs with
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN): they
// identify the function's role to the node's API. An environment is not
// reused once its credentials would expire during an invocation.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// credentials returns the credentials of a new environment of fn (none
// without Options.Credentials).
func (m *Manager) credentials(fn *function.Config) (Credentials, error) {
	if m.opts.Credentials == nil {
		return Credentials{}, nil
	}
	c, err := m.opts.Credentials(fn)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials for %s: %w", fn.FunctionArn, err)
	}
	return c, nil
}

// credentialsExpireBy reports whether e's credentials are no longer valid
// at t.
func (e *environment) credentialsExpireBy(t time.Time) bool {
	return !e.credsExpire.IsZero() && !t.Before(e.credsExpire)
}

// environ is the complete environment of fn's runtime process: Lambda's
// defaults, the runtime's own variables, the function's variables, and the
// reserved variables on top.
// AWS_LAMBDA_RUNTIME_API (and, with an APIHandler, AWS_ENDPOINT_URL) are
// set by the sandbox once it has opened their listeners (see listeners).
func (m *Manager) environ(fn *function.Config, rt *runtimes.Runtime, stream, initType string, creds Credentials) []string {
	vars := map[string]string{
		"LANG": "en_US.UTF-8",
		"PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH": "/lib64:/usr/lib64:" + sandbox.RuntimeDir + ":" + sandbox.RuntimeDir + "/lib:" +
			sandbox.TaskRoot + ":" + sandbox.TaskRoot + "/lib:/opt/lib",
		"TZ": ":UTC",
	}
	if lc := fn.LoggingConfig; lc != nil && lc.LogFormat == "JSON" {
		vars["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
		vars["AWS_LAMBDA_LOG_LEVEL"] = lc.ApplicationLogLevel
		if lc.ApplicationLogLevel == "" {
			vars["AWS_LAMBDA_LOG_LEVEL"] = "INFO"
		}
	}
	if m.opts.Endpoint != "" && m.opts.APIHandler == nil {
		vars["AWS_ENDPOINT_URL"] = m.opts.Endpoint
	}
	rtEnv := rt.Env()
	for k, v := range rtEnv {
		vars[k] = v
	}
	for k, v := range fn.Variables() {
		if !reserved[k] {
			vars[k] = v
		}
	}
	delete(vars, "AWS_EXECUTION_ENV") // only the runtime may set it
	if v, ok := rtEnv["AWS_EXECUTION_ENV"]; ok {
		vars["AWS_EXECUTION_ENV"] = v
	}
	logGroup := "/aws/lambda/" + fn.FunctionName
	if lc := fn.LoggingConfig; lc != nil && lc.LogGroup != "" {
		logGroup = lc.LogGroup
	}
	for k, v := range map[string]string{
		"_HANDLER":                        fn.Handler,
		"AWS_REGION":                      m.opts.Region,
		"AWS_DEFAULT_REGION":              m.opts.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        fn.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB()),
		"AWS_LAMBDA_FUNCTION_VERSION":     fn.Version,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  initType,
		"AWS_LAMBDA_LOG_GROUP_NAME":       logGroup,
		"AWS_LAMBDA_LOG_STREAM_NAME":      stream,
		"LAMBDA_TASK_ROOT":                sandbox.TaskRoot,
		"LAMBDA_RUNTIME_DIR":              sandbox.RuntimeDir,
	} {
		vars[k] = v
	}
	if creds.AccessKeyID != "" {
		vars["AWS_ACCESS_KEY_ID"] = creds.AccessKeyID
		vars["AWS_ACCESS_KEY"] = creds.AccessKeyID
		vars["AWS_SECRET_ACCESS_KEY"] = creds.SecretAccessKey
		vars["AWS_SESSION_TOKEN"] = creds.SessionToken
	}
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// AWS_LAMBDA_INITIALIZATION_TYPE values.
const (
	initOnDemand    = "on-demand"
	initProvisioned = "provisioned-concurrency"
)

// logStreamName is Lambda's: 2026/11/27/[$LATEST]<32 hex>.
func logStreamName(now time.Time, version, envID string) string {
	return now.UTC().Format("2006/01/02") + "/[" + version + "]" + envID
}
