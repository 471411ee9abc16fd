// Package config holds the server's configuration: one Config struct with
// defaults, environment overrides and Validate. Precedence is flags >
// NIMBUS_* environment > defaults; the cli package binds flags onto a Config
// that FromEnv filled first. Only the daemon, the cli and bench import it.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults.
const (
	DefaultListen    = "127.0.0.1:4566"
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"

	// DefaultBodyMinRate is 1 KiB/s (8 kbit/s): slower than any link a
	// code package is uploaded over, fast enough that holding a connection
	// costs a client bandwidth.
	DefaultBodyMinRate = 1 << 10

	// NetworkAuto is FunctionNetwork's default: egress where the sandbox
	// can filter it (root), none otherwise.
	NetworkAuto = "auto"
)

// Config is everything `nimbus server` needs to run a node.
type Config struct {
	// Listen is the address of the one HTTP endpoint (AWS APIs).
	Listen string
	// DataDir holds JetStream files, the code cache and environments.
	DataDir string
	// NATSURL, when set, uses an external NATS instead of the embedded one.
	NATSURL string
	// Region and AccountID appear in ARNs and in the functions' environment.
	Region    string
	AccountID string
	// AccessKeyID and SecretAccessKey are the root credentials
	// (NIMBUS_ACCESS_KEY_ID / NIMBUS_SECRET_ACCESS_KEY). When both are
	// empty the node generates them into DataDir on first start.
	AccessKeyID     string
	SecretAccessKey string
	// MasterKeyFile, when set, holds the node's master key, which seals
	// KMS key material (and so every secret and SecureString) at rest:
	// 32 bytes, raw, hex or base64 (NIMBUS_MASTER_KEY_FILE). Without it a
	// cluster derives the key from its shared secret and a single node
	// keeps one in DataDir/master.key (mode 0600). docs/design/secrets.md.
	MasterKeyFile string
	// InsecureNoAuth disables signature verification: anyone who reaches
	// Listen may use the API as root (NIMBUS_INSECURE_NO_AUTH=1).
	InsecureNoAuth bool
	// IAM is how IAM policies are applied to every authenticated call
	// (NIMBUS_IAM): "enforce" (denials are refused with AWS's
	// AccessDenied), "audit" (denials are logged and allowed) or "off".
	// InsecureNoAuth implies off.
	IAM string
	// IdleTimeout reclaims execution environments unused this long.
	IdleTimeout time.Duration
	// FunctionLogs copies every function output line to the server's stdout.
	FunctionLogs bool
	// FunctionNetwork is the outbound network of functions without a
	// nimbus:network tag: "none" (the environment's loopback only),
	// "egress" (out through the host, as a Lambda function outside a VPC;
	// NIMBUS_FUNCTION_NETWORK) or "auto" (the default: egress where it can
	// be had filtered, as root; none otherwise).
	FunctionNetwork string
	// FunctionAllowHosts are host loopback ports (127.0.0.1:5432, comma-
	// separated) every function may reach at the same address inside its
	// environment (NIMBUS_FUNCTION_ALLOW_HOSTS). Only the server sets it.
	FunctionAllowHosts string
	// DebugPorts publishes functions' runtime debuggers on host loopback
	// ports: comma-separated FUNCTION=PORT (NIMBUS_DEBUG_PORTS; Node.js
	// --inspect, Python debugpy, Delve for Go). Only the server sets it, for development.
	DebugPorts string
	// RuntimeSDKs is "auto" (install the AWS SDKs the runtimes provide at
	// start when they are missing) or "off" (NIMBUS_RUNTIME_SDKS).
	RuntimeSDKs string
	// RuntimeInterpreters maps runtimes to interpreters
	// ("python3.12=/usr/bin/python3.12,nodejs22.x=/opt/node22/bin/node";
	// NIMBUS_RUNTIME_INTERPRETERS), over the ones found on PATH.
	RuntimeInterpreters string
	// RuntimeVersionCheck is what CreateFunction does when a runtime's
	// interpreter is older than the runtime: "warn" (the default) or
	// "refuse" (NIMBUS_RUNTIME_VERSION_CHECK).
	RuntimeVersionCheck string
	// SNSAllowedHosts are the hosts (host or host:port, comma-separated)
	// of http/https SNS endpoints that may be subscribed besides loopback
	// ones (NIMBUS_SNS_ALLOWED_HOSTS). Empty: loopback endpoints only.
	SNSAllowedHosts string
	// APIGWHTTPHosts are the host names (comma-separated) API Gateway's
	// HTTP and HTTP_PROXY integrations may call besides loopback ones
	// (NIMBUS_APIGW_HTTP_HOSTS). Empty: loopback endpoints only.
	APIGWHTTPHosts string
	// CPUQuota caps each environment's CPU in proportion to its memory
	// after init, as Lambda does (1,769 MB = one vCPU; NIMBUS_CPU_QUOTA).
	// Off, environments get a proportional CPU weight only: all the CPU
	// the machine has to spare.
	CPUQuota bool
	// Telemetry turns the Prometheus metrics (/metrics) and cost metering
	// on (the default); off only for measuring their cost.
	Telemetry bool
	// TLSCert and TLSKey, when set, are PEM files of the certificate
	// (with its chain) and key every door is served with over HTTPS
	// (NIMBUS_TLS_CERT, NIMBUS_TLS_KEY); they are read again when they
	// change.
	TLSCert, TLSKey string
	// TLSSelfSigned serves HTTPS with a development certificate made into
	// the data directory's tls/ on first start (clients trust its ca.pem).
	TLSSelfSigned bool
	// MetricsListen, when set, serves /metrics (and /healthz, /readyz) on
	// this address of its own instead of Listen (NIMBUS_METRICS_LISTEN).
	MetricsListen string
	// MetricsToken, when set, is the bearer token /metrics requires
	// (Authorization: Bearer <token>; NIMBUS_METRICS_TOKEN). Without it,
	// /metrics on Listen answers loopback connections only.
	MetricsToken string
	// OTLPEndpoint, when set, exports the platform's spans over OTLP/HTTP
	// to this URL (NIMBUS_OTLP_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT);
	// empty: tracing off.
	OTLPEndpoint string
	// PriceFile, when set, is a JSON price table for `nimbus cost`
	// replacing the built-in us-east-1 prices.
	PriceFile string
	// LogMaxAge and LogMaxBytes bound the stored function logs (all log
	// groups together); the oldest are forgotten first. Zero: 30 days, and
	// an eighth of the storage JetStream may use (at most 1 GiB).
	LogMaxAge   time.Duration
	LogMaxBytes int64
	// AsyncMaxBytes bounds the queue of asynchronous invocations (a full
	// queue refuses new events). Zero: a quarter of the storage JetStream
	// may use (at most 4 GiB).
	AsyncMaxBytes int64
	// ConcurrencyLimit is the account-wide concurrent executions limit of
	// the node; 0 derives it from the node's memory and CPUs.
	ConcurrencyLimit int
	// MemoryBudgetMB bounds the sum of MemorySize of live execution
	// environments; 0 is 80% of the node's memory.
	MemoryBudgetMB int
	// SpareInits is how many sandbox inits the node keeps started ahead
	// of cold starts, each in its namespaces, cgroup and egress link with
	// the function-independent part of its root mounted
	// (NIMBUS_SPARE_INITS; 0: 4). A burst of up to this many first
	// invocations claims them; beyond it, starts pay the whole set-up.
	// About 1 MB of memory each.
	SpareInits int
	// LogFormat of the server's own log: "text" or "json".
	LogFormat string
	// LogLevel of the server's own log: debug, info, warn, error.
	LogLevel string
	// AsyncDelayScale multiplies every asynchronous-invocation timing
	// (retry delays, throttle backoff, maximum event age): 1 is AWS's
	// timing, 0.01 makes a 1-minute retry wait 0.6 s (for tests).
	AsyncDelayScale float64
	// AlarmPeriodScale multiplies every CloudWatch alarm period and
	// evaluation interval: 1 is AWS's timing, 0.1 makes a 60-second
	// period 6 s (for tests).
	AlarmPeriodScale float64

	// HeaderTimeout bounds reading a request's headers; ConnIdleTimeout
	// closes a keep-alive connection that sends no new request this long.
	HeaderTimeout   time.Duration
	ConnIdleTimeout time.Duration
	// BodyMinRate (bytes/s) and BodyGrace bound how slowly a request body
	// may arrive: after BodyGrace from its first byte it must average
	// BodyMinRate, and it may never pause longer than BodyGrace; a slower
	// client is disconnected. A body of declared length L so has at most
	// BodyGrace + L/BodyMinRate.
	BodyMinRate int64
	BodyGrace   time.Duration
	// MaxConnections bounds the open client connections; more are answered
	// 503 and closed. 0: half the process's file-descriptor limit, at most
	// 16,384.
	MaxConnections int
	// BodySpoolSlots bounds the large request bodies (over 256 KiB) held
	// on disk at once, under DataDir, while their signature is checked;
	// a body that finds no slot within BodyGrace is answered 503.
	BodySpoolSlots int
	// Cluster, when its Name is set, makes the embedded NATS server join
	// peers over routes (see docs/design/cluster.md).
	Cluster Cluster
	// Replicas is how many copies JetStream keeps of the control-plane,
	// event and lease streams: 0 chooses (3 in a cluster of three or more
	// servers, else 1); asking more than the cluster has is refused.
	Replicas int

	envErrs []error // malformed NIMBUS_* values, reported by Validate
}

// Cluster is the embedded NATS server's clustering (NIMBUS_CLUSTER_*).
type Cluster struct {
	// Name every node of the cluster shares; a peer with another name is
	// refused.
	Name string
	// Listen is the host:port of the route listener peers connect to.
	Listen string
	// Routes are the peers' route URLs (nats://host:port); a node's own
	// URL may be among them (one list for every node).
	Routes []string
	// Secret authenticates routes: a peer without it is refused. It is
	// the one secret set by hand on every node; the rest (root
	// credentials, session key) are shared through the backbone.
	Secret string
	// NodeName names this node among its peers; empty: a name kept in the
	// data directory ("<hostname>-<6 hex>").
	NodeName string
	// Advertise is the host:port peers are told to reach this node's
	// route listener at (behind NAT, a proxy or a pod address); empty:
	// Listen's.
	Advertise string
	// TLSCert, TLSKey and TLSCA (PEM files, all or none) encrypt the
	// routes with mutual TLS: each node presents its certificate and
	// accepts only peers whose certificate TLSCA signed.
	TLSCert, TLSKey, TLSCA string
}

// Enabled reports whether clustering is asked for.
func (c Cluster) Enabled() bool { return c.Name != "" || c.Listen != "" || len(c.Routes) > 0 }

// The IAM modes (Config.IAM).
const (
	IAMEnforce = "enforce"
	IAMAudit   = "audit"
	IAMOff     = "off"
)

// IAMMode is the effective IAM mode: off with InsecureNoAuth, enforce
// when unset.
func (c *Config) IAMMode() string {
	switch {
	case c.InsecureNoAuth:
		return IAMOff
	case c.IAM == "":
		return IAMEnforce
	}
	return c.IAM
}

// Default returns a Config with every default filled in.
func Default() Config {
	return Config{
		Listen:              DefaultListen,
		DataDir:             defaultDataDir(),
		Region:              DefaultRegion,
		AccountID:           DefaultAccountID,
		IdleTimeout:         10 * time.Minute,
		Telemetry:           true,
		FunctionNetwork:     NetworkAuto,
		RuntimeSDKs:         "auto",
		RuntimeVersionCheck: "warn",
		IAM:                 IAMEnforce,
		LogFormat:           "text",
		LogLevel:            "info",

		AsyncDelayScale:  1,
		AlarmPeriodScale: 1,

		HeaderTimeout:   30 * time.Second,
		ConnIdleTimeout: 2 * time.Minute,
		BodyMinRate:     DefaultBodyMinRate,
		BodyGrace:       30 * time.Second,
		BodySpoolSlots:  8,
	}
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "nimbus")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "nimbus")
	}
	return ".nimbus"
}

// FromEnv returns the defaults overridden by NIMBUS_* environment variables.
func FromEnv() Config {
	c := Default()
	set := func(dst *string, name string) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			*dst = v
		}
	}
	set(&c.Listen, "NIMBUS_LISTEN")
	set(&c.DataDir, "NIMBUS_DATA_DIR")
	set(&c.NATSURL, "NIMBUS_NATS_URL")
	set(&c.Region, "NIMBUS_REGION")
	set(&c.AccountID, "NIMBUS_ACCOUNT_ID")
	set(&c.AccessKeyID, "NIMBUS_ACCESS_KEY_ID")
	set(&c.SecretAccessKey, "NIMBUS_SECRET_ACCESS_KEY")
	set(&c.OTLPEndpoint, "OTEL_EXPORTER_OTLP_ENDPOINT")
	set(&c.OTLPEndpoint, "NIMBUS_OTLP_ENDPOINT")
	set(&c.PriceFile, "NIMBUS_PRICE_FILE")
	set(&c.MasterKeyFile, "NIMBUS_MASTER_KEY_FILE")
	set(&c.MetricsListen, "NIMBUS_METRICS_LISTEN")
	set(&c.TLSCert, "NIMBUS_TLS_CERT")
	set(&c.TLSKey, "NIMBUS_TLS_KEY")
	set(&c.MetricsToken, "NIMBUS_METRICS_TOKEN")
	set(&c.FunctionNetwork, "NIMBUS_FUNCTION_NETWORK")
	set(&c.SNSAllowedHosts, "NIMBUS_SNS_ALLOWED_HOSTS")
	set(&c.APIGWHTTPHosts, "NIMBUS_APIGW_HTTP_HOSTS")
	set(&c.FunctionAllowHosts, "NIMBUS_FUNCTION_ALLOW_HOSTS")
	set(&c.DebugPorts, "NIMBUS_DEBUG_PORTS")
	set(&c.RuntimeSDKs, "NIMBUS_RUNTIME_SDKS")
	set(&c.RuntimeInterpreters, "NIMBUS_RUNTIME_INTERPRETERS")
	set(&c.RuntimeVersionCheck, "NIMBUS_RUNTIME_VERSION_CHECK")
	if v := os.Getenv("NIMBUS_CPU_QUOTA"); v == "true" || v == "1" || v == "on" {
		c.CPUQuota = true
	}
	if v := os.Getenv("NIMBUS_TELEMETRY"); v == "false" || v == "0" || v == "off" {
		c.Telemetry = false
	}
	set(&c.LogFormat, "NIMBUS_LOG_FORMAT")
	set(&c.LogLevel, "NIMBUS_LOG_LEVEL")
	set(&c.Cluster.Name, "NIMBUS_CLUSTER_NAME")
	set(&c.Cluster.Listen, "NIMBUS_CLUSTER_LISTEN")
	set(&c.Cluster.Secret, "NIMBUS_CLUSTER_SECRET")
	set(&c.Cluster.NodeName, "NIMBUS_NODE_NAME")
	set(&c.Cluster.Advertise, "NIMBUS_CLUSTER_ADVERTISE")
	set(&c.Cluster.TLSCert, "NIMBUS_CLUSTER_TLS_CERT")
	set(&c.Cluster.TLSKey, "NIMBUS_CLUSTER_TLS_KEY")
	set(&c.Cluster.TLSCA, "NIMBUS_CLUSTER_TLS_CA")
	if v := os.Getenv("NIMBUS_ROUTES"); v != "" {
		c.Cluster.Routes = SplitRoutes(v)
	}
	if v := os.Getenv("NIMBUS_ASYNC_DELAY_SCALE"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			c.AsyncDelayScale = f
		} else {
			c.AsyncDelayScale = -1 // Validate reports it
		}
	}
	if v := os.Getenv("NIMBUS_ALARM_PERIOD_SCALE"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			c.AlarmPeriodScale = f
		} else {
			c.AlarmPeriodScale = -1 // Validate reports it
		}
	}
	setInt := func(dst *int, name string) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				*dst = n
			} else {
				*dst = -1 // Validate reports it
			}
		}
	}
	setInt(&c.ConcurrencyLimit, "NIMBUS_CONCURRENCY_LIMIT")
	setInt(&c.MemoryBudgetMB, "NIMBUS_MEMORY_BUDGET_MB")
	setInt(&c.SpareInits, "NIMBUS_SPARE_INITS")
	for _, b := range []struct {
		dst  *int64
		name string
	}{{&c.LogMaxBytes, "NIMBUS_LOG_MAX_BYTES"}, {&c.AsyncMaxBytes, "NIMBUS_ASYNC_MAX_BYTES"}, {&c.BodyMinRate, "NIMBUS_BODY_MIN_RATE"}} {
		if v, ok := os.LookupEnv(b.name); ok && v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q is not a number of bytes", b.name, v))
			}
			*b.dst = n
		}
	}
	setInt(&c.MaxConnections, "NIMBUS_MAX_CONNECTIONS")
	setInt(&c.BodySpoolSlots, "NIMBUS_BODY_SPOOL_SLOTS")
	setDuration := func(dst *time.Duration, name string) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q is not a duration like 30s", name, v))
			}
			*dst = d
		}
	}
	setDuration(&c.HeaderTimeout, "NIMBUS_HEADER_TIMEOUT")
	setDuration(&c.ConnIdleTimeout, "NIMBUS_CONN_IDLE_TIMEOUT")
	setDuration(&c.BodyGrace, "NIMBUS_BODY_GRACE")
	setInt(&c.Replicas, "NIMBUS_REPLICAS")
	if v, ok := os.LookupEnv("NIMBUS_IAM"); ok && v != "" {
		c.IAM = v
	}
	if v, ok := os.LookupEnv("NIMBUS_INSECURE_NO_AUTH"); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.envErrs = append(c.envErrs, fmt.Errorf("NIMBUS_INSECURE_NO_AUTH=%q is not a boolean", v))
		}
		c.InsecureNoAuth = b
	}
	return c
}

// TLS reports whether the node serves HTTPS.
func (c *Config) TLS() bool { return c.TLSCert != "" || c.TLSSelfSigned }

var (
	regionRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}$`) })
	accountRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\d{12}$`) })
)

// Validate reports every problem at once.
func (c *Config) Validate() error {
	errs := append([]error(nil), c.envErrs...)
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", c.Listen, err))
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics listen address %q: %w", c.MetricsListen, err))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.TLSSelfSigned && c.TLSCert != "" {
		errs = append(errs, errors.New("--tls-self-signed and --tls-cert exclude each other"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory must not be empty"))
	}
	switch c.IAM {
	case IAMEnforce, IAMAudit, IAMOff, "":
	default:
		errs = append(errs, fmt.Errorf("--iam %q is not enforce, audit or off", c.IAM))
	}
	if c.FunctionNetwork != "" && c.FunctionNetwork != "none" && c.FunctionNetwork != "egress" && c.FunctionNetwork != NetworkAuto {
		errs = append(errs, fmt.Errorf("function network %q is not auto, none or egress", c.FunctionNetwork))
	}
	if c.RuntimeSDKs != "" && c.RuntimeSDKs != "auto" && c.RuntimeSDKs != "off" {
		errs = append(errs, fmt.Errorf("--runtime-sdks %q is not auto or off", c.RuntimeSDKs))
	}
	if c.RuntimeVersionCheck != "" && c.RuntimeVersionCheck != "warn" && c.RuntimeVersionCheck != "refuse" {
		errs = append(errs, fmt.Errorf("--runtime-version-check %q is not warn or refuse", c.RuntimeVersionCheck))
	}
	if _, err := ParseAllowHosts(c.FunctionAllowHosts); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseDebugPorts(c.DebugPorts); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseInterpreters(c.RuntimeInterpreters); err != nil {
		errs = append(errs, err)
	}
	if !regionRE().MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("region %q is not a region name like us-east-1", c.Region))
	}
	if !accountRE().MatchString(c.AccountID) {
		errs = append(errs, fmt.Errorf("account id %q must be 12 digits", c.AccountID))
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, errors.New("NIMBUS_ACCESS_KEY_ID and NIMBUS_SECRET_ACCESS_KEY must be set together"))
	}
	if c.AsyncMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("async max bytes %d is negative", c.AsyncMaxBytes))
	}
	if c.LogMaxAge < 0 || c.LogMaxBytes < 0 {
		errs = append(errs, errors.New("log retention limits must not be negative"))
	}
	if c.ConcurrencyLimit < 0 {
		errs = append(errs, fmt.Errorf("concurrency limit %d must be a positive number (0: derived from the node)", c.ConcurrencyLimit))
	}
	if c.SpareInits < 0 || c.SpareInits > 1024 {
		errs = append(errs, fmt.Errorf("spare inits %d must be between 0 (the default, 4) and 1024", c.SpareInits))
	}
	if c.MemoryBudgetMB < 0 {
		errs = append(errs, fmt.Errorf("memory budget %d MB must be a positive number (0: 80%% of the node's memory)", c.MemoryBudgetMB))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("idle timeout %s must be positive", c.IdleTimeout))
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("OTLP endpoint %q must be an http:// or https:// URL", c.OTLPEndpoint))
		}
	}
	if !(c.AsyncDelayScale > 0 && c.AsyncDelayScale <= 1) {
		errs = append(errs, fmt.Errorf("async delay scale %v must be a number in (0, 1]", c.AsyncDelayScale))
	}
	if !(c.AlarmPeriodScale > 0 && c.AlarmPeriodScale <= 1) {
		errs = append(errs, fmt.Errorf("alarm period scale %v must be a number in (0, 1]", c.AlarmPeriodScale))
	}
	if c.HeaderTimeout <= 0 || c.ConnIdleTimeout <= 0 || c.BodyGrace <= 0 {
		errs = append(errs, fmt.Errorf("header timeout %s, connection idle timeout %s and body grace %s must be positive",
			c.HeaderTimeout, c.ConnIdleTimeout, c.BodyGrace))
	}
	if c.BodyMinRate <= 0 {
		errs = append(errs, fmt.Errorf("body minimum rate %d bytes/s must be positive", c.BodyMinRate))
	}
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("max connections %d must not be negative (0: from the file-descriptor limit)", c.MaxConnections))
	}
	if c.BodySpoolSlots <= 0 {
		errs = append(errs, fmt.Errorf("body spool slots %d must be positive", c.BodySpoolSlots))
	}
	errs = append(errs, c.validateCluster()...)
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log format %q must be text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q must be debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// SplitList splits a comma-separated list, dropping empty items and
// surrounding spaces.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
