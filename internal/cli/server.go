package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
)

func newServerCmd() *cobra.Command {
	cfg := config.FromEnv()
	var routes, secretFile string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Nimbus node (AWS-compatible API on --listen)",
		Long: `Run a Nimbus node: the Lambda API and function execution on one endpoint,
with state kept durably under --data-dir. Settings come from flags, then
NIMBUS_* environment variables (NIMBUS_LISTEN, NIMBUS_DATA_DIR, NIMBUS_REGION,
NIMBUS_ACCOUNT_ID, NIMBUS_ACCESS_KEY_ID, NIMBUS_SECRET_ACCESS_KEY, ...).

Every API call must be signed with AWS Signature Version 4 by the root
credentials (or a function's own credentials). Without NIMBUS_ACCESS_KEY_ID /
NIMBUS_SECRET_ACCESS_KEY the first start generates root credentials into the
data directory; 'eval "$(nimbus env)"' exports them for the AWS CLI and SDKs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runtime.GOOS == "windows" {
				return errors.New("nimbus server does not run on Windows (functions need Unix processes): run it on Linux, macOS or in WSL 2, and point the client commands here at it with --endpoint-url or AWS_ENDPOINT_URL")
			}
			if err := applyClusterFlags(&cfg, routes, secretFile); err != nil {
				return err
			}
			if err := applyInterpreters(cfg); err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), cfg)
			d, err := daemon.New(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			if d.RootCredentialsCreated() {
				tellRootCreated(cmd.ErrOrStderr(), cfg.DataDir)
			}
			waitSDKs := startSDKInstall(cmd.Context(), cfg, log)
			defer waitSDKs()
			return d.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Cluster.Name, "cluster-name", cfg.Cluster.Name, "join a cluster of this name: the embedded NATS server routes to its peers (see docs/design/cluster.md)")
	f.StringVar(&cfg.Cluster.Listen, "cluster-listen", cfg.Cluster.Listen, "HOST:PORT the embedded NATS server accepts cluster routes on")
	f.StringVar(&routes, "routes", strings.Join(cfg.Cluster.Routes, ","), "comma-separated peer routes nats://HOST:PORT (this node's own may be listed: one list for every node)")
	f.StringVar(&secretFile, "cluster-secret-file", "", "file holding the cluster's route secret (default $NIMBUS_CLUSTER_SECRET); the same on every node")
	f.StringVar(&cfg.Cluster.TLSCert, "cluster-tls-cert", cfg.Cluster.TLSCert, "PEM certificate this node presents on its routes (mutual TLS; with --cluster-tls-key and --cluster-tls-ca)")
	f.StringVar(&cfg.Cluster.TLSKey, "cluster-tls-key", cfg.Cluster.TLSKey, "the PEM private key of --cluster-tls-cert")
	f.StringVar(&cfg.Cluster.TLSCA, "cluster-tls-ca", cfg.Cluster.TLSCA, "PEM certificate authority that signs every node's route certificate; peers without one are refused")
	f.StringVar(&cfg.Cluster.Advertise, "cluster-advertise", cfg.Cluster.Advertise, "HOST:PORT peers learn to reach this node's routes at (default: --cluster-listen's)")
	f.StringVar(&cfg.Cluster.NodeName, "node-name", cfg.Cluster.NodeName, "this node's name in the cluster (default: generated once into --data-dir)")
	f.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "copies JetStream keeps of every stream (0: 3 on a cluster of three or more servers, else 1)")
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address of the API endpoint")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for state, code and environments")
	f.StringVar(&cfg.NATSURL, "nats", cfg.NATSURL, "use this external NATS server instead of the embedded one")
	f.StringVar(&cfg.Region, "region", cfg.Region, "region used in ARNs and function environments")
	f.StringVar(&cfg.AccountID, "account-id", cfg.AccountID, "12-digit account id used in ARNs")
	f.StringVar(&cfg.AccessKeyID, "access-key-id", cfg.AccessKeyID, "root access key id (default $NIMBUS_ACCESS_KEY_ID, else generated into --data-dir)")
	f.StringVar(&cfg.SecretAccessKey, "secret-access-key", cfg.SecretAccessKey, "root secret access key (prefer $NIMBUS_SECRET_ACCESS_KEY: flags show in ps)")
	f.StringVar(&cfg.MasterKeyFile, "master-key-file", cfg.MasterKeyFile, "file holding the master key that seals KMS keys, secrets and SecureStrings at rest (default $NIMBUS_MASTER_KEY_FILE; else derived from the cluster secret, or generated into --data-dir/master.key); the same on every node")
	f.StringVar(&cfg.IAM, "iam", cfg.IAM, "IAM policy evaluation of every call: enforce (deny with AWS's AccessDenied), audit (log would-be denials, allow) or off; --insecure-no-auth implies off (default $NIMBUS_IAM, else enforce)")
	f.BoolVar(&cfg.InsecureNoAuth, "insecure-no-auth", cfg.InsecureNoAuth, "DANGEROUS: accept unsigned requests from anyone (throwaway local use only)")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "reclaim execution environments idle this long")
	f.IntVar(&cfg.ConcurrencyLimit, "concurrency-limit", cfg.ConcurrencyLimit, "account-wide concurrent executions limit (0: derived from the node's memory and CPUs)")
	f.IntVar(&cfg.MemoryBudgetMB, "memory-budget-mb", cfg.MemoryBudgetMB, "bound on the sum of MemorySize of live environments (0: 80% of the node's memory)")
	f.IntVar(&cfg.SpareInits, "spare-inits", cfg.SpareInits, "sandbox inits kept started ahead of cold starts, network and shared mounts ready (0: 4); a burst of up to this many first invocations claims them, about 1 MB each")
	f.BoolVar(&cfg.FunctionLogs, "function-logs", cfg.FunctionLogs, "copy function output to stdout")
	f.StringVar(&cfg.FunctionNetwork, "function-network", cfg.FunctionNetwork, "outbound network of functions without a nimbus:network tag: auto (egress as root, none rootless), none (loopback only) or egress (out through the host; never to the host, private ranges or 169.254/16)")
	f.StringVar(&cfg.FunctionAllowHosts, "function-allow-host", cfg.FunctionAllowHosts, "comma-separated host loopback ports (127.0.0.1:5432) every function reaches at the same address inside its environment")
	f.StringVar(&cfg.DebugPorts, "debug-port", cfg.DebugPorts, "FUNCTION=PORT, comma-separated: publish the function's runtime debugger (Node.js --inspect, Python debugpy, Delve for a Go bootstrap with debug info) on 127.0.0.1:PORT and keep its environments unfrozen; for development")
	f.StringVar(&cfg.RuntimeSDKs, "runtime-sdks", cfg.RuntimeSDKs, "auto: install the AWS SDKs the Node.js and Python runtimes provide at start when missing (see 'nimbus runtimes install'); off: do not")
	f.StringVar(&cfg.RuntimeInterpreters, "runtime-interpreter", cfg.RuntimeInterpreters, "RUNTIME=/path/to/interpreter, comma-separated (python3.12=/usr/bin/python3.12); python3.X and nodeNN on PATH are found without it")
	f.StringVar(&cfg.RuntimeVersionCheck, "runtime-version-check", cfg.RuntimeVersionCheck, "when a runtime's interpreter is older than the runtime: warn (CreateFunction succeeds, the server logs it) or refuse (CreateFunction fails)")
	f.StringVar(&cfg.SNSAllowedHosts, "sns-allowed-hosts", cfg.SNSAllowedHosts, "comma-separated hosts (host or host:port) of http/https SNS endpoints that may be subscribed besides loopback ones")
	f.StringVar(&cfg.APIGWHTTPHosts, "apigw-http-hosts", cfg.APIGWHTTPHosts, "comma-separated host names API Gateway HTTP and HTTP_PROXY integrations may call besides loopback ones")
	f.BoolVar(&cfg.CPUQuota, "cpu-quota", cfg.CPUQuota, "cap each environment's CPU in proportion to its memory after init, as Lambda does (1,769 MB = one vCPU)")
	f.BoolVar(&cfg.Telemetry, "telemetry", cfg.Telemetry, "serve Prometheus metrics on /metrics and meter invocations for 'nimbus cost'")
	f.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "serve every door over HTTPS with this PEM certificate (and chain); read again when it changes (default $NIMBUS_TLS_CERT)")
	f.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "the PEM private key of --tls-cert (default $NIMBUS_TLS_KEY)")
	f.BoolVar(&cfg.TLSSelfSigned, "tls-self-signed", cfg.TLSSelfSigned, "serve HTTPS with a development certificate made into --data-dir/tls on first start; clients trust its ca.pem (nimbus env exports AWS_CA_BUNDLE)")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "serve /metrics (and /healthz, /readyz) on this address of its own instead of --listen")
	f.StringVar(&cfg.MetricsToken, "metrics-token", cfg.MetricsToken, "bearer token /metrics requires (prefer $NIMBUS_METRICS_TOKEN: flags show in ps); without one, /metrics on --listen answers loopback connections only")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", cfg.OTLPEndpoint, "export the platform's trace spans over OTLP/HTTP to this URL (default $NIMBUS_OTLP_ENDPOINT, $OTEL_EXPORTER_OTLP_ENDPOINT; off when empty)")
	f.StringVar(&cfg.PriceFile, "price-file", cfg.PriceFile, "JSON price table for 'nimbus cost' (default: AWS us-east-1 prices)")
	f.DurationVar(&cfg.LogMaxAge, "log-max-age", cfg.LogMaxAge, "forget stored function logs older than this (0: 30 days)")
	f.Int64Var(&cfg.LogMaxBytes, "log-max-bytes", cfg.LogMaxBytes, "bound the stored function logs to this many bytes (0: an eighth of the data directory's storage, at most 1 GiB)")
	f.Int64Var(&cfg.AsyncMaxBytes, "async-max-bytes", cfg.AsyncMaxBytes, "bound the queue of asynchronous invocations to this many bytes (0: a quarter of the data directory's storage, at most 4 GiB)")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "server log format: text or json")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "server log level: debug, info, warn, error")
	f.Float64Var(&cfg.AlarmPeriodScale, "alarm-period-scale", cfg.AlarmPeriodScale, "multiply CloudWatch alarm periods and evaluation by this (0.1 = a 60 s period lasts 6 s, for tests)")
	f.Float64Var(&cfg.AsyncDelayScale, "async-delay-scale", cfg.AsyncDelayScale, "multiply async retry delays and event ages by this (0.01 = 100x faster, for tests)")
	f.DurationVar(&cfg.HeaderTimeout, "header-timeout", cfg.HeaderTimeout, "close a connection whose request headers take longer than this")
	f.DurationVar(&cfg.ConnIdleTimeout, "conn-idle-timeout", cfg.ConnIdleTimeout, "close a keep-alive connection idle this long")
	f.Int64Var(&cfg.BodyMinRate, "body-min-rate", cfg.BodyMinRate, "disconnect a client whose request body arrives slower than this many bytes/s on average after --body-grace")
	f.DurationVar(&cfg.BodyGrace, "body-grace", cfg.BodyGrace, "allowance before --body-min-rate applies, and the longest pause within a request body")
	f.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "answer 503 to connections beyond this many open (0: half the file-descriptor limit, at most 16384)")
	f.IntVar(&cfg.BodySpoolSlots, "body-spool-slots", cfg.BodySpoolSlots, "large request bodies held on disk at once while their signature is checked")
	return cmd
}

// applyClusterFlags folds the flags that need parsing into cfg.
func applyClusterFlags(cfg *config.Config, routes, secretFile string) error {
	cfg.Cluster.Routes = config.SplitRoutes(routes)
	if secretFile != "" {
		b, err := os.ReadFile(secretFile) //nolint:gosec // the operator names the file
		if err != nil {
			return fmt.Errorf("cluster secret: %w", err)
		}
		cfg.Cluster.Secret = strings.TrimSpace(string(b))
	}
	return nil
}

func newLogger(w interface{ Write([]byte) (int, error) }, cfg config.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
