package lambdaapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// verrs collects violations of the service model; AWS reports them all in
// one ValidationException.
type verrs []string

// add records that value at member breaks constraint. value is quoted
// as AWS does; pass "null" for a missing member.
func (v *verrs) add(value, member, constraint string) {
	if value != "null" {
		value = "'" + value + "'"
	}
	*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

// addRaw records a violation worded in full.
func (v *verrs) addRaw(msg string) { *v = append(*v, msg) }

func (v verrs) err() error {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return awsapi.Validation("1 validation error detected: %s", v[0])
	}
	return awsapi.Validation("%d validation errors detected: %s", len(v), strings.Join(v, "; "))
}

func (v *verrs) intRange(p *int, member string, lo, hi int) {
	if p == nil {
		return
	}
	if *p < lo {
		v.add(strconv.Itoa(*p), member, fmt.Sprintf("Member must have value greater than or equal to %d", lo))
	} else if hi > 0 && *p > hi {
		v.add(strconv.Itoa(*p), member, fmt.Sprintf("Member must have value less than or equal to %d", hi))
	}
}

func (v *verrs) maxLen(p *string, member string, n int) {
	if p != nil && len(*p) > n {
		v.add(*p, member, fmt.Sprintf("Member must have length less than or equal to %d", n))
	}
}

func (v *verrs) enum(p *string, member string, values ...string) {
	if p != nil && !slices.Contains(values, *p) {
		v.add(*p, member, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
	}
}

func (v *verrs) pattern(p *string, member string, re *regexp.Regexp, shown string) {
	if p != nil && !re.MatchString(*p) {
		v.add(*p, member, "Member must satisfy regular expression pattern: "+shown)
	}
}

// Patterns of the service model (anchored here; the model's are implicit).
const (
	rolePattern        = `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`
	handlerPattern     = `[^\s]+`
	envKeyPattern      = `[a-zA-Z]([a-zA-Z0-9_])+`
	logGroupPattern    = `[\.\-_/#A-Za-z0-9]+`
	aliasPattern       = `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`
	versionPattern     = `(\$LATEST|[0-9]+)`
	qualifierPattern   = `(|[a-zA-Z0-9$_-]+)`
	taggableARNPattern = `arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)`
)

var (
	roleRE      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + rolePattern + `$`) })
	handlerRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + handlerPattern + `$`) })
	envKeyRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + envKeyPattern + `$`) })
	logGroupRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + logGroupPattern + `$`) })
	aliasNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9-_]+$`) }) // and not all digits
	versionRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + versionPattern + `$`) })
	qualifierRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9$_-]*$`) })
	digitsRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+$`) })
	regionRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d{1}$`) })
)

// modelRuntimes is the service model's Runtime enum, used when no
// Runtimes checker is configured.
var modelRuntimes = []string{
	"nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x",
	"java8", "java8.al2", "java11", "python2.7", "python3.6", "python3.7", "python3.8", "python3.9",
	"dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8", "nodejs4.3-edge",
	"go1.x", "ruby2.5", "ruby2.7", "provided", "provided.al2", "nodejs18.x", "python3.10", "java17",
	"ruby3.2", "ruby3.3", "ruby3.4", "python3.11", "nodejs20.x", "provided.al2023", "python3.12", "java21",
	"python3.13", "nodejs22.x", "nodejs24.x", "python3.14", "java25", "dotnet10", "ruby4.0",
}

// reservedEnv are the environment variables Lambda sets itself and
// refuses in a function's configuration.
var reservedEnv = []string{
	"AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_LAMBDA_RUNTIME_API", "AWS_REGION", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"LAMBDA_RUNTIME_DIR", "LAMBDA_TASK_ROOT", "_HANDLER", "_X_AMZN_TRACE_ID",
}

// settings are the members CreateFunction and UpdateFunctionConfiguration
// share. nil means "not given".
type settings struct {
	Role                   *string                    `json:"Role"`
	Handler                *string                    `json:"Handler"`
	Description            *string                    `json:"Description"`
	Timeout                *int                       `json:"Timeout"`
	MemorySize             *int                       `json:"MemorySize"`
	Runtime                *string                    `json:"Runtime"`
	VpcConfig              *vpcConfig                 `json:"VpcConfig"`
	Environment            *environment               `json:"Environment"`
	DeadLetterConfig       *function.DeadLetterConfig `json:"DeadLetterConfig"`
	KMSKeyArn              *string                    `json:"KMSKeyArn"`
	TracingConfig          *tracingConfig             `json:"TracingConfig"`
	Layers                 []string                   `json:"Layers"`
	FileSystemConfigs      []json.RawMessage          `json:"FileSystemConfigs"`
	ImageConfig            json.RawMessage            `json:"ImageConfig"`
	EphemeralStorage       *ephemeralStorage          `json:"EphemeralStorage"`
	SnapStart              *snapStart                 `json:"SnapStart"`
	LoggingConfig          *loggingConfig             `json:"LoggingConfig"`
	CapacityProviderConfig json.RawMessage            `json:"CapacityProviderConfig"`
	DurableConfig          json.RawMessage            `json:"DurableConfig"`
}

type vpcConfig struct {
	SubnetIDs        []string `json:"SubnetIds"`
	SecurityGroupIDs []string `json:"SecurityGroupIds"`
}

type environment struct {
	Variables map[string]string `json:"Variables"`
}

type tracingConfig struct {
	Mode *string `json:"Mode"`
}

type ephemeralStorage struct {
	Size *int `json:"Size"`
}

type snapStart struct {
	ApplyOn *string `json:"ApplyOn"`
}

type loggingConfig struct {
	LogFormat           *string `json:"LogFormat"`
	ApplicationLogLevel *string `json:"ApplicationLogLevel"`
	SystemLogLevel      *string `json:"SystemLogLevel"`
	LogGroup            *string `json:"LogGroup"`
}

func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// validateModel adds the service-model violations of s to v.
func (s *settings) validateModel(v *verrs) {
	if s.Role != nil && !roleRE().MatchString(*s.Role) {
		v.add(*s.Role, "role", "Member must satisfy regular expression pattern: "+rolePattern)
	}
	if s.Handler != nil {
		v.maxLen(s.Handler, "handler", 128)
		if len(*s.Handler) <= 128 && *s.Handler != "" {
			v.pattern(s.Handler, "handler", handlerRE(), handlerPattern)
		}
	}
	v.maxLen(s.Description, "description", function.MaxDescription)
	v.intRange(s.Timeout, "timeout", 1, function.MaxTimeout)
	v.intRange(s.MemorySize, "memorySize", function.MinMemorySize, 32768)
	if s.Environment != nil {
		for k := range s.Environment.Variables {
			if !envKeyRE().MatchString(k) {
				v.addRaw("Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: " + envKeyPattern + "]")
				break
			}
		}
	}
	if s.TracingConfig != nil {
		v.enum(s.TracingConfig.Mode, "tracingConfig.mode", "Active", "PassThrough")
	}
	if s.EphemeralStorage != nil {
		if s.EphemeralStorage.Size == nil {
			v.add("null", "ephemeralStorage.size", "Member must not be null")
		}
		v.intRange(s.EphemeralStorage.Size, "ephemeralStorage.size", function.MinEphemeralStorage, function.MaxEphemeralStorage)
	}
	if s.SnapStart != nil {
		v.enum(s.SnapStart.ApplyOn, "snapStart.applyOn", "PublishedVersions", "None")
	}
	if lc := s.LoggingConfig; lc != nil {
		v.enum(lc.LogFormat, "loggingConfig.logFormat", "JSON", "Text")
		v.enum(lc.ApplicationLogLevel, "loggingConfig.applicationLogLevel", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
		v.enum(lc.SystemLogLevel, "loggingConfig.systemLogLevel", "DEBUG", "INFO", "WARN")
		if lc.LogGroup != nil {
			if len(*lc.LogGroup) < 1 || len(*lc.LogGroup) > 512 {
				v.add(*lc.LogGroup, "loggingConfig.logGroup", "Member must have length less than or equal to 512")
			} else {
				v.pattern(lc.LogGroup, "loggingConfig.logGroup", logGroupRE(), logGroupPattern)
			}
		}
	}
	if s.Runtime != nil && *s.Runtime == "" {
		v.add("", "runtime", "Member must satisfy enum value set: ["+strings.Join(modelRuntimes, ", ")+"]")
	}
}

// notSupported is the answer for features Nimbus does not have.
func notSupported(what string) error {
	return awsapi.InvalidParameter("%s not supported by Nimbus.", what)
}

// check adds the semantic checks (InvalidParameterValueException) of s.
func (h *Handler) checkSettings(s *settings) error {
	if s.MemorySize != nil && *s.MemorySize > function.MaxMemorySize {
		return awsapi.InvalidParameter("'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to %d", function.MaxMemorySize)
	}
	if s.Environment != nil {
		if err := checkEnvironment(s.Environment.Variables); err != nil {
			return err
		}
	}
	switch {
	case s.VpcConfig != nil && (len(s.VpcConfig.SubnetIDs) > 0 || len(s.VpcConfig.SecurityGroupIDs) > 0):
		return notSupported("VpcConfig (subnets and security groups) is")
	case len(s.FileSystemConfigs) > 0:
		return notSupported("FileSystemConfigs (EFS) are")
	case present(s.ImageConfig):
		return notSupported("ImageConfig (container image functions) is")
	case present(s.CapacityProviderConfig):
		return notSupported("CapacityProviderConfig is")
	case present(s.DurableConfig):
		return notSupported("DurableConfig (durable functions) is")
	}
	if s.KMSKeyArn != nil {
		if err := h.checkKMSKeyArn(*s.KMSKeyArn); err != nil {
			return err
		}
	}
	if s.Runtime != nil {
		if err := h.checkRuntime(*s.Runtime); err != nil {
			return err
		}
	}
	if s.SnapStart != nil && s.SnapStart.ApplyOn != nil && *s.SnapStart.ApplyOn == "PublishedVersions" {
		rt := "This runtime"
		if s.Runtime != nil {
			rt = *s.Runtime
		}
		return awsapi.InvalidParameter("%s is not supported for SnapStart enabled functions.", rt)
	}
	return nil
}

func (h *Handler) checkRuntime(name string) error {
	if h.rts != nil {
		_, err := h.rts.Lookup(name)
		return err
	}
	if !slices.Contains(modelRuntimes, name) {
		return awsapi.InvalidParameter("Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [%s] or be a valid ARN", name, strings.Join(modelRuntimes, ", "))
	}
	return nil
}

// checkEnvironment refuses reserved keys and more than 4 KB of variables,
// measured as AWS does: the variables as compact JSON.
func checkEnvironment(vars map[string]string) error {
	var used []string
	for k := range vars {
		if slices.Contains(reservedEnv, k) {
			used = append(used, k)
		}
	}
	if len(used) > 0 {
		slices.Sort(used)
		return awsapi.InvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(used, ", "))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(vars)
	measured := bytes.TrimRight(buf.Bytes(), "\n")
	if len(measured) > function.MaxEnvironmentBytes {
		return awsapi.InvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", measured)
	}
	return nil
}

// apply writes the given settings onto cfg.
func (s *settings) apply(cfg *function.Config) {
	if s.Role != nil {
		cfg.Role = *s.Role
	}
	if s.Handler != nil {
		cfg.Handler = *s.Handler
	}
	if s.Description != nil {
		cfg.Description = *s.Description
	}
	if s.Timeout != nil {
		cfg.Timeout = *s.Timeout
	}
	if s.MemorySize != nil {
		cfg.MemorySize = *s.MemorySize
	}
	if s.Runtime != nil {
		cfg.Runtime = *s.Runtime
	}
	if s.Environment != nil {
		// AWS keeps an Environment given without variables and answers
		// {"Variables": {}} from then on (localstack's AWS-recorded
		// snapshots); a function never given one has no Environment.
		vars := make(map[string]string, len(s.Environment.Variables))
		for k, v := range s.Environment.Variables {
			vars[k] = v
		}
		cfg.Environment = &function.Environment{Variables: vars}
	}
	if s.KMSKeyArn != nil {
		cfg.KMSKeyArn = *s.KMSKeyArn
	}
	if s.DeadLetterConfig != nil {
		if s.DeadLetterConfig.TargetArn == "" {
			cfg.DeadLetterConfig = nil
		} else {
			cfg.DeadLetterConfig = &function.DeadLetterConfig{TargetArn: s.DeadLetterConfig.TargetArn}
		}
	}
	if s.TracingConfig != nil && s.TracingConfig.Mode != nil {
		cfg.TracingConfig = &function.TracingConfig{Mode: *s.TracingConfig.Mode}
	}
	if s.EphemeralStorage != nil && s.EphemeralStorage.Size != nil {
		cfg.EphemeralStorage = &function.EphemeralStorage{Size: *s.EphemeralStorage.Size}
	}
	if s.LoggingConfig != nil {
		lc := function.LoggingConfig{}
		if cfg.LoggingConfig != nil {
			lc = *cfg.LoggingConfig
		}
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&lc.LogFormat, s.LoggingConfig.LogFormat)
		set(&lc.ApplicationLogLevel, s.LoggingConfig.ApplicationLogLevel)
		set(&lc.SystemLogLevel, s.LoggingConfig.SystemLogLevel)
		set(&lc.LogGroup, s.LoggingConfig.LogGroup)
		if lc.LogFormat == "JSON" {
			if lc.ApplicationLogLevel == "" {
				lc.ApplicationLogLevel = "INFO"
			}
			if lc.SystemLogLevel == "" {
				lc.SystemLogLevel = "INFO"
			}
		} else {
			lc.ApplicationLogLevel, lc.SystemLogLevel = "", ""
		}
		cfg.LoggingConfig = &lc
	}
}

// validateArchitectures checks Architectures as the model does.
func validateArchitectures(v *verrs, archs []string) {
	if archs == nil {
		return
	}
	list := "[" + strings.Join(archs, ", ") + "]"
	if len(archs) != 1 {
		v.add(list, "architectures", "Member must have length less than or equal to 1")
		return
	}
	if archs[0] != "x86_64" && archs[0] != "arm64" {
		v.add(list, "architectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]")
	}
}

// checkTags applies Lambda's tag rules (messages as AWS words them:
// localstack's AWS-recorded snapshots, TestLambdaTags).
func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return awsapi.InvalidParameter("Number of tags exceeds resource tag limit.")
	}
	for k, val := range tags {
		switch {
		case k == "" || len(k) > 128:
			return awsapi.InvalidParameter("Tag keys must be between 1 and 128 characters long: %q", k)
		case len(val) > 256:
			return awsapi.InvalidParameter("Tag values must be at most 256 characters long (key %q).", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return awsapi.InvalidParameter("Tag keys beginning with 'aws:' are reserved for AWS use: %q", k)
		}
	}
	return nil
}

// formatWeight renders a weight as Java prints a double (0.5, 1.0).
func formatWeight(w float64) string {
	s := strconv.FormatFloat(w, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEN") {
		s += ".0"
	}
	return s
}

// validateRouting checks AdditionalVersionWeights against the model.
func validateRouting(v *verrs, weights map[string]float64) {
	keys := make([]string, 0, len(weights))
	for k := range weights {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w := weights[k]
		shown := "{" + k + "=" + formatWeight(w) + "}"
		if len(k) < 1 || len(k) > 1024 || !digitsRE().MatchString(k) {
			v.addRaw("Value '" + shown + "' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+, Member must not be null]")
		}
		if w < 0 || w >= 1 || w != w {
			v.addRaw("Value '" + shown + "' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]")
		}
	}
}

// validateAliasName checks an alias name against the model.
func validateAliasName(v *verrs, name *string, member string) {
	if name == nil {
		v.add("null", member, "Member must not be null")
		return
	}
	if len(*name) > 128 {
		v.add(*name, member, "Member must have length less than or equal to 128")
		return
	}
	if !aliasNameRE().MatchString(*name) || digitsRE().MatchString(*name) {
		v.add(*name, member, "Member must satisfy regular expression pattern: "+aliasPattern)
	}
}

// validateVersion checks a FunctionVersion member.
func validateVersion(v *verrs, ver *string, member string, required bool) {
	if ver == nil {
		if required {
			v.add("null", member, "Member must not be null")
		}
		return
	}
	if len(*ver) > 1024 {
		v.add(*ver, member, "Member must have length less than or equal to 1024")
		return
	}
	v.pattern(ver, member, versionRE(), versionPattern)
}
