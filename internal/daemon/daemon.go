// Package daemon wires one Nimbus node together: the backbone store, the
// function registry, the managed-runtime catalogue, the environment pool,
// the stack engine (CloudFormation) and the HTTP front door. It is the only place components are constructed;
// tests start a whole node in-process through New and Run. Only cli, bench
// (which starts a node to measure) and tests import it.
//
// Shutdown order (reverse of start): stop accepting HTTP and wait for
// in-flight requests (bounded), close WebSocket connections (their
// $disconnect runs, within the same bound), leave the coordinator lease (released
// while the store is up, so another node takes over at once), stop the stack engine (operations in
// progress stop where they are, their stacks stay *_IN_PROGRESS and the
// next start resumes them; they call the node's APIs in-process, so they
// stop before anything those APIs use), stop CloudWatch (alarm
// evaluation, whose actions go through the async path and EventBridge;
// the last batch of Nimbus's own metrics is published), stop the EventBridge router and
// scheduler, the event source mappings and the Step Functions runner (runs stop where their
// journals are; the next start resumes them) and the async dispatcher (running async
// invocations are cancelled; their events stay queued), close the pool (kills every environment),
// stop the registry watch, close the store (drains NATS, stops JetStream).
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/apigw"
	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/cfnapi"
	"github.com/nimbus-serverless/nimbus/internal/cloudwatch"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/cost"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/dynamodb"
	"github.com/nimbus-serverless/nimbus/internal/esm"
	"github.com/nimbus-serverless/nimbus/internal/events"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/funcurl"
	"github.com/nimbus-serverless/nimbus/internal/iam"
	"github.com/nimbus-serverless/nimbus/internal/ingress"
	"github.com/nimbus-serverless/nimbus/internal/kinesis"
	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/lambdaapi"
	"github.com/nimbus-serverless/nimbus/internal/lease"
	"github.com/nimbus-serverless/nimbus/internal/logsapi"
	"github.com/nimbus-serverless/nimbus/internal/logstore"
	"github.com/nimbus-serverless/nimbus/internal/pipes"
	"github.com/nimbus-serverless/nimbus/internal/pool"
	"github.com/nimbus-serverless/nimbus/internal/registry"
	"github.com/nimbus-serverless/nimbus/internal/runtimes"
	"github.com/nimbus-serverless/nimbus/internal/s3"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
	"github.com/nimbus-serverless/nimbus/internal/scheduler"
	"github.com/nimbus-serverless/nimbus/internal/secretsmanager"
	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/sns"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
	"github.com/nimbus-serverless/nimbus/internal/ssm"
	"github.com/nimbus-serverless/nimbus/internal/stack"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/telemetry"
)

// Daemon is one running node.
type Daemon struct {
	cfg   config.Config
	log   *slog.Logger
	ln    net.Listener
	tls   *tls.Config // HTTPS on ln (nil: plain HTTP)
	st    *store.Store
	reg   *registry.Registry
	pool  *pool.Manager
	async *async.Service
	// events is EventBridge: its API, router and scheduler.
	events *events.Service
	sched  *scheduler.Service
	gw     *apigw.Gateway
	srv    *http.Server
	// fnHandler serves functions' calls to the node's API (and resource
	// providers'): the route table without the telemetry paths.
	fnHandler http.Handler
	// metricsLn and metricsSrv serve /metrics on --metrics-listen (nil
	// without it).
	metricsLn  net.Listener
	metricsSrv *http.Server

	// network is the outbound network of functions without a tag (cfg's
	// "auto" resolved at start).
	network string

	stacks *stack.Service  // the CloudFormation engine (nimbus deploy)
	cfnAPI *cfnapi.Handler // its API and the artifact endpoint
	sqsAPI *sqs.Handler    // SQS (queues on the backbone)
	queues *sqs.Service    // closed before the store: its intake's mover writes to it
	s3     *s3.Service     // S3 (buckets on the backbone, objects on this node)
	s3Key  []byte          // seals SSE-S3 data keys (derived from the master key)
	sns    *sns.Service    // SNS (topics on the backbone, fan-out)
	esm    *esm.Service    // event source mappings and their pollers
	pipes  *pipes.Service  // EventBridge Pipes and their runner
	kms    *kms.Service    // KMS: keys, and the sealing of secrets at rest
	// tables is DynamoDB and DynamoDB Streams (tables in the node's own
	// store, docs/design/tables.md); tablesAPI its handler.
	tables    *dynamodb.Service
	tablesAPI *dynamodb.Handler
	sfn       *sfn.Service        // Step Functions: API and the runner of executions
	cw        *cloudwatch.Service // CloudWatch metrics, alarms and dashboards
	cwObs     *cwObserver         // AWS/Lambda metrics of every invocation
	// kinesisAPI is Kinesis Data Streams (streams on the backbone).
	kinesisAPI http.Handler
	// secrets is Secrets Manager (its rotations stop at closeAll).
	secrets *secretsmanager.Service
	params  *ssm.Service // Parameter Store

	metrics *telemetry.Metrics // nil with telemetry off
	meter   *cost.Meter        // nil with telemetry off
	tracer  *telemetry.Tracer  // nil with tracing off
	prices  cost.Prices
	// meterStop ends the meter's Run (started by Run); meterDone is closed
	// when it has returned.
	meterStop func()
	meterDone chan struct{}
	logs      *logstore.Store
	logw      *logstore.Writer
	sink      *logFanout
	auth      *auth.Authenticator
	// iam is the account's IAM (roles, users, policies) and the
	// authorizer the front door asks on every call; issuer signs STS
	// sessions and functions' credentials.
	iam         *iam.Service
	issuer      *auth.Issuer
	conns       *ingress.Conns // open client connections, bounded
	root        auth.Credentials
	rootCreated bool
	// clusterRootCreated: this node generated the cluster's root
	// credentials; leases is nil on a single node (cluster.go).
	clusterRootCreated bool
	leases             *lease.Leases
	// tokens share the concurrency limits with the other nodes (nil on
	// a single node); stopTokens ends their renewals and gives the
	// shares back, after the pool has closed.
	tokens     *lease.Tokens
	stopTokens func()
	// forward sends synchronous invokes to nodes with idle environments
	// (nil on a single node): forward.go.
	forward forwarder

	// consoleFront is the route table the console's calls go through.
	consoleFront http.Handler
	// sessionKey is the session key (a cluster's nodes share it); the
	// console derives its cookies' key from it.
	sessionKey []byte
}

// New opens the store, builds every component and binds the listener (so
// Addr is known before Run), but serves nothing until Run.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (d *Daemon, err error) {
	return newDaemon(ctx, cfg, log, hooks{})
}

// hooks are what tests may replace in a node: the clock that schedules
// fire on (nil: the real one).
type hooks struct {
	clock events.Clock
}

func newDaemon(ctx context.Context, cfg config.Config, log *slog.Logger, h hooks) (d *Daemon, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	d = &Daemon{cfg: cfg, log: log}
	built := d // the error returns below set d to nil
	defer func() {
		if err != nil {
			built.closeAll()
		}
	}()
	d.st, err = store.Open(ctx, storeOptions(cfg, log))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := d.shareSecrets(ctx); err != nil {
		return nil, err
	}
	d.iam, err = iam.New(ctx, iam.Options{Store: d.st, AccountID: cfg.AccountID, Region: cfg.Region,
		Logger: log.With("component", "iam")})
	if err != nil {
		return nil, fmt.Errorf("create iam: %w", err)
	}
	issuer, err := d.setupAuth()
	if err != nil {
		return nil, err
	}
	d.issuer = issuer
	if !cfg.InsecureNoAuth {
		d.iam.SetSecrets(issuer.UserSecret, func() string { return auth.NewAccessKeyID("AKIA") })
	}
	d.reg, err = registry.New(registry.Options{
		Store:     d.st,
		Region:    cfg.Region,
		AccountID: cfg.AccountID,
		Logger:    log.With("component", "registry"),
	})
	if err != nil {
		return nil, fmt.Errorf("create registry: %w", err)
	}
	budget := d.st.StorageBudget()
	logBytes, asyncBytes, err := streamLimits(cfg, budget)
	if err != nil {
		return nil, err
	}
	log.Info("storage", "component", "store", "jetstream_max_bytes", budget,
		"log_max_bytes", logBytes, "async_max_bytes", asyncBytes)
	d.logs, err = logstore.Open(ctx, d.st.JetStream(), logstore.Options{
		MaxAge: cfg.LogMaxAge, MaxBytes: logBytes, Replicas: d.st.Replicas(), Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open log store: %w",
			noRoom(err, "function log store (stream "+logstore.StreamName+")", "--log-max-bytes", logBytes, budget))
	}
	d.logw = logstore.NewWriter(d.logs, logstore.WriterOptions{})
	d.sink = &logFanout{}
	d.sink.Add(logStoreSink{d.logw})
	d.cwObs = newCWObserver()
	if err := d.newCloudWatch(ctx, budget); err != nil {
		return nil, err
	}
	d.sink.Add(cwEMFSink{d.cw}) // EMF lines in function logs become CloudWatch metrics
	d.ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if d.tls, err = serverTLS(cfg, log); err != nil {
		return nil, err
	}
	popts := pool.Options{
		Endpoint: functionEndpoint(d.ln.Addr()),
		// Functions reach the node's API on their own loopback, through
		// the same front door (and authentication) as any client.
		APIHandler:  http.HandlerFunc(d.serveFunctionCall),
		DataDir:     workerDir(cfg.DataDir),
		Code:        d.st,
		Region:      cfg.Region,
		AccountID:   cfg.AccountID,
		Runtimes:    runtimeCatalog{},
		IdleTimeout: cfg.IdleTimeout,
		LogSink:     d.sink,
		Credentials: func(fn *function.Config) (pool.Credentials, error) {
			c, err := issuer.Issue(fn.Role, fn.FunctionArn)
			return pool.Credentials(c), err
		},
		OpenEnvironment: envKeys{d}.open,
		ParamsSecrets:   paramsSecrets(cfg.Region),
		Logger:          log, // the pool names its own component

		ConcurrencyLimit: cfg.ConcurrencyLimit,
		MemoryBudgetMB:   cfg.MemoryBudgetMB,
		SpareInits:       cfg.SpareInits,
		Reservations:     d.reg,
	}
	if d.tokens != nil {
		popts.Cluster = d.tokens
	}
	popts.CPUQuota = cfg.CPUQuota
	popts.Network = cfg.FunctionNetwork
	if popts.Network == config.NetworkAuto || popts.Network == "" {
		// Lambda functions outside a VPC reach the internet: so do these,
		// where the sandbox can keep them off the host and its networks.
		popts.Network = function.NetworkEgress
		if err := sandbox.EgressAvailable(); err != nil {
			popts.Network = function.NetworkNone
			d.log.Info("functions have no outbound network by default", "why", err.Error(),
				"change_with", "--function-network egress, or the tag nimbus:network=egress")
		}
	}
	d.network = popts.Network
	popts.AllowHosts, _ = config.ParseAllowHosts(cfg.FunctionAllowHosts) // Validate has checked it
	popts.DebugPorts, _ = config.ParseDebugPorts(cfg.DebugPorts)         // Validate has checked it
	if cfg.FunctionLogs {
		popts.FunctionLog = os.Stdout
	}
	obs, err := d.newTelemetry(ctx)
	if err != nil {
		return nil, err
	}
	popts.Observer = observers(obs, d.cwObs)
	if d.metrics != nil {
		d.sink.Add(emfSink{d.metrics}) // EMF lines in function logs become metrics
		if err := registerLogMetrics(d.metrics.Registry(), d.logw); err != nil {
			return nil, err
		}
	}
	d.pool, err = pool.New(popts)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	// One delivery router for the node: async destinations, EventBridge
	// targets and SNS subscriptions hand payloads to ARNs through it.
	targets := deliver.NewRouter()
	targets.Guard(d.deliveryGuard) // service principals and roles (iam_deliver.go)
	d.async, err = async.New(ctx, async.Options{
		Targets:    targets,
		JetStream:  d.st.JetStream(),
		Functions:  d.reg,
		Invoker:    d.pool,
		Region:     cfg.Region,
		AccountID:  cfg.AccountID,
		DelayScale: cfg.AsyncDelayScale,
		SingleNode: !d.shared(),
		Replicas:   d.st.Replicas(),
		AckWait:    d.asyncAckWait(),
		MaxBytes:   asyncBytes,
		Storage:    d.st.StorageErr,
		Logger:     log.With("component", "async"),
	})
	if err != nil {
		return nil, fmt.Errorf("create async service: %w",
			noRoom(err, "async invocation queue (stream "+async.StreamName+")", "--async-max-bytes", asyncBytes, budget))
	}
	if err := d.startForwarding(); err != nil {
		return nil, err
	}
	api := lambdaapi.New(lambdaapi.Options{
		Registry:  d.reg,
		Invoker:   d.syncInvoker(),
		Async:     d.async,
		Runtimes:  runtimeCatalog{versionCheck: cfg.RuntimeVersionCheck, log: log.With("component", "lambdaapi")},
		Region:    cfg.Region,
		AccountID: cfg.AccountID,
		Logger:    log.With("component", "lambdaapi"),
		Cost:      d.costReporter(),
		URLPort:   listenPort(d.ln.Addr()),
		URLHTTPS:  cfg.TLS(),

		ConcurrentExecutions: d.pool.Limits().Concurrency,
		MinUnreserved:        d.pool.Limits().MinUnreserved(),
		Concurrency:          provisionedStatus{d.pool, d},
		Keys:                 envKeys{d},
		Objects:              s3Code{d: d, arts: &stack.Artifacts{Code: d.st}},
		Roles:                d.lambdaRoles(), // iam_tags.go
	})
	urls := funcurl.New(funcurl.Options{
		Registry:  d.reg,
		Invoker:   d.pool,
		Region:    cfg.Region,
		AccountID: cfg.AccountID,
		Auth:      iamAuth{d, "lambda", "lambda:InvokeFunctionUrl"},
		Logger:    log.With("component", "funcurl"),
	})
	logsAPI := logsapi.New(logsapi.Options{
		Store: d.logs, Flush: d.logw.Flush, Region: cfg.Region, AccountID: cfg.AccountID,
		Storage: d.st,
		Logger:  log.With("component", "logsapi"),
	})
	queues, err := sqs.New(ctx, sqs.Options{
		JetStream: d.st.JetStream(), Region: cfg.Region, AccountID: cfg.AccountID,
		Replicas: d.st.Replicas(), Logger: log.With("component", "sqs"),
	})
	if err != nil {
		return nil, fmt.Errorf("create sqs service: %w", err)
	}
	d.sqsAPI = sqs.NewHandler(queues)
	d.queues = queues
	if d.metrics != nil {
		d.metrics.Registry().MustRegister(queues.Collector()) // AWS/SQS's names on /metrics
	}
	targets.Handle("sqs", sqsTargets{queues})
	d.sfn, err = sfn.New(ctx, sfn.Options{
		JetStream: d.st.JetStream(), Tasks: d.sfnTasks(), Region: cfg.Region, AccountID: cfg.AccountID,
		Replicas: d.st.Replicas(), SingleNode: !d.shared(), Logger: log.With("component", "sfn"), Observe: d.recordExecution,
		StatusChange: d.putExecutionStatus, Logs: d.putExecutionLogs,
	})
	if err != nil {
		return nil, fmt.Errorf("create step functions service: %w", err)
	}
	targets.Handle("states", statesTargets{d.sfn})
	if err := d.newSecrets(ctx, h.clock); err != nil {
		return nil, err
	}
	d.tables, err = dynamodb.New(ctx, dynamodb.Options{
		Dir: filepath.Join(cfg.DataDir, "dynamodb"), Region: cfg.Region, AccountID: cfg.AccountID,
		JetStream: d.st.JetStream(), Replicas: d.st.Replicas(), Logger: log.With("component", "dynamodb"),
		Cluster: d.shared(), Conn: d.st.Conn(), Node: d.nodeName(),
	})
	if err != nil {
		return nil, fmt.Errorf("create dynamodb service: %w", err)
	}
	d.tablesAPI = dynamodb.NewHandler(d.tables)
	d.tablesAPI.SetObserver(d.recordTableRequest)
	d.registerResourcePolicies(queues)
	d.registerResourceTags(queues)
	streams, err := kinesis.New(ctx, kinesis.Options{JetStream: d.st.JetStream(), Replicas: d.st.Replicas(), Region: cfg.Region,
		AccountID: cfg.AccountID, Logger: log.With("component", "kinesis")})
	if err != nil {
		return nil, fmt.Errorf("create kinesis service: %w", err)
	}
	d.kinesisAPI = streams.Handler()
	snsMax, err := snsBytes(budget)
	if err != nil {
		return nil, err
	}
	d.sns, err = sns.New(ctx, sns.Options{
		JetStream: d.st.JetStream(), Targets: targets, MaxBytes: snsMax, Region: cfg.Region, AccountID: cfg.AccountID,
		Endpoint: d.publicEndpoint(), AllowedHosts: config.SplitList(cfg.SNSAllowedHosts),
		Replicas: d.st.Replicas(), DelayScale: cfg.AsyncDelayScale, Logger: log.With("component", "sns"),
	})
	if err != nil {
		return nil, fmt.Errorf("create sns service: %w", err)
	}
	targets.Handle("sns", d.sns.Deliverer())
	evBytes, err := eventsBytes(budget)
	if err != nil {
		return nil, err
	}
	d.events, err = events.New(ctx, events.Options{
		MaxBytes:   evBytes,
		JetStream:  d.st.JetStream(),
		Functions:  d.reg,
		Async:      d.async,
		Region:     cfg.Region,
		AccountID:  cfg.AccountID,
		DelayScale: cfg.AsyncDelayScale,
		SingleNode: !d.shared(),
		Targets:    targets,
		Logger:     log.With("component", "events"),
		Clock:      h.clock,
		Lease:      d.leaseRunner(archiveLease),
	})
	if err != nil {
		return nil, fmt.Errorf("create events service: %w",
			noRoom(err, "EventBridge event stream (stream "+events.StreamName+")", "--async-max-bytes", evBytes, budget))
	}
	schedBytes, err := schedulerBytes(budget)
	if err != nil {
		return nil, err
	}
	var schedLease func(context.Context, func(context.Context) error) error
	if d.leases != nil {
		schedLease = func(ctx context.Context, fn func(context.Context) error) error {
			return d.leases.Run(ctx, schedulerLease, func(ctx context.Context, _ uint64) error { return fn(ctx) })
		}
	}
	d.sched, err = scheduler.New(ctx, scheduler.Options{
		JetStream: d.st.JetStream(), Targets: targets, Bus: d.events, Region: cfg.Region, AccountID: cfg.AccountID,
		MaxBytes: schedBytes, Lease: schedLease, SingleNode: !d.shared(), DelayScale: cfg.AsyncDelayScale,
		Clock: h.clock, Logger: log.With("component", "scheduler"),
	})
	if err != nil {
		return nil, fmt.Errorf("create scheduler: %w",
			noRoom(err, "EventBridge Scheduler stream (stream "+scheduler.StreamName+")", "--async-max-bytes", schedBytes, budget))
	}
	d.cw.SetActions(cwActions{targets})
	d.cw.SetEvents(d.cwEvents)
	srcStreams := streamSources{tables: tableStreams{d.tables}, kinesis: streams, region: cfg.Region}
	d.esm, err = esm.New(ctx, esm.Options{
		JetStream: d.st.JetStream(), Functions: d.reg, Invoker: d.pool, Queues: sqsSource{queues},
		Streams: srcStreams, OnFailure: d.onFailureTo(targets), IteratorAge: d.recordIteratorAge, Lease: d.esmLease(),
		Node: d.nodeName(), Region: cfg.Region, AccountID: cfg.AccountID, Logger: log.With("component", "esm"),
		Authorize: d.pollerAccess,
	})
	if err != nil {
		return nil, fmt.Errorf("create event source mappings: %w", err)
	}
	if err := d.newPipes(ctx, queues, srcStreams, targets); err != nil {
		return nil, err
	}
	if err := d.newS3(targets); err != nil {
		return nil, err
	}
	gwCluster, err := d.apigwCluster(ctx)
	if err != nil {
		return nil, err
	}
	d.gw = apigw.New(apigw.Options{
		Cluster:   gwCluster,
		Store:     d.st,
		Resolver:  d.reg,
		Invoker:   d.pool,
		Region:    cfg.Region,
		AccountID: cfg.AccountID,
		Port:      listenPort(d.ln.Addr()),
		HTTPS:     cfg.TLS(),
		Auth:      iamAuth{d, "execute-api", "execute-api:Invoke"},
		AWS:       apigwAWS{d},
		ConnAuth:  connectionsAuth{d},
		HTTPHosts: config.SplitList(cfg.APIGWHTTPHosts),
		Logger:    log.With("component", "apigw"),
	})
	if err := d.newStacks(); err != nil {
		return nil, err
	}
	if err := auth.WriteEndpoint(cfg.DataDir, d.publicEndpoint()); err != nil {
		return nil, fmt.Errorf("record endpoint: %w", err)
	}
	d.conns = ingress.NewConns(maxConnections(cfg.MaxConnections))
	bodyRate := ingress.BodyRate{MinRate: cfg.BodyMinRate, Grace: cfg.BodyGrace}
	handlers := d.routeHandlers(api, urls, logsAPI)
	// Functions reach the node's API from inside their sandboxes through a
	// table without the telemetry paths: a tenant must not read every
	// function's names and metrics, nor probe the node.
	fnHandlers := handlers
	fnHandlers.healthz, fnHandlers.readyz, fnHandlers.metrics, fnHandlers.console = nil, nil, nil, nil
	d.fnHandler = bodyRate.Wrap(d.tracer.Middleware(d.routeTable(fnHandlers)))
	if err := d.newMetricsServer(ctx, &handlers); err != nil {
		return nil, err
	}
	routes := d.routeTable(handlers)
	d.consoleFront = routes
	d.srv = &http.Server{
		// The body rate outermost (it needs the server's own
		// ResponseWriter to set read deadlines), then tracing: every front
		// door's invocation gets its span tree.
		Handler:           bodyRate.Wrap(d.tracer.Middleware(routes)),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.ConnIdleTimeout,
		ConnState:         d.conns.ConnState,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	d.componentMetrics()
	return d, nil
}

// maxConnections is the configured bound on open client connections, or
// half the process's file-descriptor limit (Go raises the soft limit to the
// hard one at start), at most 16,384: the rest stays for environments,
// the store and code files.
func maxConnections(configured int) int {
	if configured > 0 {
		return configured
	}
	const ceiling = 16384
	lim, ok := fdLimit()
	if !ok || lim/2 > ceiling {
		return ceiling
	}
	return max(int(lim/2), 64) //nolint:gosec // G115: at most ceiling, checked above
}

// serveFunctionCall serves a request a function made to the node's API
// (see pool.Options.APIHandler) with the front door's handler.
func (d *Daemon) serveFunctionCall(w http.ResponseWriter, r *http.Request) {
	d.fnHandler.ServeHTTP(w, r)
}

// setupAuth loads or generates the root credentials and the session key,
// and builds the authenticator and the issuer of function credentials.
func (d *Daemon) setupAuth() (*auth.Issuer, error) {
	cfg := d.cfg
	if !cfg.InsecureNoAuth {
		root, created, err := auth.EnsureRoot(cfg.DataDir, auth.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey})
		if err != nil {
			return nil, fmt.Errorf("root credentials: %w", err)
		}
		d.root, d.rootCreated = root, created
	}
	// Large request bodies wait here, in unlinked files, while their
	// signature is checked (never in memory: see docs/design/access-control.md).
	spool := filepath.Join(cfg.DataDir, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	key, err := auth.LoadOrCreateSessionKey(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	d.sessionKey = key
	issuer, err := auth.NewIssuer(key, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	d.auth, err = auth.New(auth.Options{
		Root:      d.root,
		Issuer:    issuer,
		Users:     d.userKey,
		UserArn:   func(name string) (string, bool) { return d.iam.UserArn(name) },
		Region:    cfg.Region,
		AccountID: cfg.AccountID,
		Insecure:  cfg.InsecureNoAuth,
		Logger:    d.log.With("component", "auth"),

		SpoolDir:   spool,
		MaxSpooled: cfg.BodySpoolSlots,
		SpoolWait:  cfg.BodyGrace,
	})
	if err != nil {
		return nil, fmt.Errorf("create authenticator: %w", err)
	}
	return issuer, nil
}

// RootCredentials are the node's root credentials (empty with
// InsecureNoAuth); RootCredentialsCreated reports that this start
// generated them into the data directory.
func (d *Daemon) RootCredentials() auth.Credentials { return d.root }

// RootCredentialsCreated reports whether this start generated the root
// credentials (so the user should be told how to use them).
func (d *Daemon) RootCredentialsCreated() bool { return d.rootCreated || d.clusterRootCreated }

// functionEndpoint is the API URL functions on this node use: the listen
// address, with loopback for an unspecified (all-interfaces) host.
// publicEndpoint is the node's endpoint as clients reach it: https:// when
// it serves HTTPS (functionEndpoint stays http://: the node's in-process
// callers never go through TLS).
func (d *Daemon) publicEndpoint() string {
	e := functionEndpoint(d.ln.Addr())
	if d.tls != nil {
		e = "https://" + strings.TrimPrefix(e, "http://")
	}
	return e
}

func functionEndpoint(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

// AddLogSink attaches another consumer of every function log line (an
// EMF reader, say) beside the log store. Call it before Run.
func (d *Daemon) AddLogSink(s pool.LogSink) { d.sink.Add(s) }

// LogsDropped counts function log lines lost because the log store fell
// behind (for metrics).
func (d *Daemon) LogsDropped() uint64 { return d.logw.Dropped() }

// Addr is the address the API listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Run serves until ctx ends, then shuts down in the documented order.
func (d *Daemon) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	regCtx, stopReg := context.WithCancel(context.WithoutCancel(ctx))
	regErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		regErr <- d.reg.Run(regCtx)
	}()
	d.startMeter(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.gw.Run(regCtx); err != nil {
			d.log.Warn("api gateway watch ended", "err", err)
		}
	}()
	stacksCtx, stopStacks := context.WithCancel(context.WithoutCancel(ctx))
	stacksDone := make(chan struct{})
	go func() {
		defer close(stacksDone)
		if err := d.stacks.Run(stacksCtx); err != nil {
			d.log.Error("stack engine", "err", err)
		}
	}()
	asyncCtx, stopAsync := context.WithCancel(context.WithoutCancel(ctx))
	asyncDone := make(chan struct{})
	go func() {
		defer close(asyncDone)
		if err := d.async.Run(asyncCtx); err != nil {
			d.log.Error("async service", "err", err)
		}
	}()
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		if err := d.events.Run(asyncCtx); err != nil {
			d.log.Error("events service", "err", err)
		}
	}()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		if err := d.sched.Run(asyncCtx); err != nil {
			d.log.Error("scheduler", "err", err)
		}
	}()
	rotDone := make(chan struct{})
	go func() {
		defer close(rotDone)
		d.runRotations(asyncCtx)
	}()
	cwCtx, stopCW := context.WithCancel(context.WithoutCancel(ctx))
	cwDone := make(chan struct{})
	go func() {
		defer close(cwDone)
		var wg sync.WaitGroup
		wg.Go(func() { d.sampleServiceMetrics(cwCtx) })
		if err := d.cw.Run(cwCtx, d.runOnce); err != nil {
			d.log.Error("cloudwatch service", "err", err)
		}
		wg.Wait()
	}()
	s3Done := make(chan struct{})
	go func() {
		defer close(s3Done)
		if err := d.s3.Run(asyncCtx); err != nil {
			d.log.Error("s3 notifications", "err", err)
		}
	}()
	snsDone := make(chan struct{})
	go func() {
		defer close(snsDone)
		if err := d.sns.Run(asyncCtx); err != nil {
			d.log.Error("sns service", "err", err)
		}
	}()
	esmCtx, stopESM := context.WithCancel(context.WithoutCancel(ctx))
	esmDone := make(chan struct{})
	go func() {
		defer close(esmDone)
		if err := d.esm.Run(esmCtx); err != nil {
			d.log.Error("event source mappings", "err", err)
		}
	}()
	pipesDone := make(chan struct{})
	go func() {
		defer close(pipesDone)
		if err := d.pipes.Run(esmCtx); err != nil {
			d.log.Error("pipes", "err", err)
		}
	}()
	sfnDone := make(chan struct{})
	go func() {
		defer close(sfnDone)
		if err := d.sfn.Run(esmCtx); err != nil {
			d.log.Error("step functions runner", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.provision(regCtx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.runForwarding(regCtx)
	}()
	coordCtx, stopCoord := context.WithCancel(context.WithoutCancel(ctx))
	coordDone := make(chan struct{})
	go func() {
		defer close(coordDone)
		d.runCoordinator(coordCtx)
	}()
	srvErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		ln := d.conns.Listener(d.ln)
		if d.tls != nil {
			ln = d.conns.TLSListener(d.ln, d.tls)
		}
		srvErr <- d.srv.Serve(ln)
	}()
	if n := sandbox.OrphansRemoved(); n > 0 {
		d.log.Warn("removed environments left running by nimbus servers that died without stopping them",
			"environments", n)
	}
	if d.metricsSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.metricsSrv.Serve(d.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("metrics listener", "err", err)
			}
		}()
	}
	// The first lines say where Nimbus listens, where its data is, how to
	// get credentials and which protections are active (the embedded NATS
	// server's banner is at debug level).
	d.log.Info("nimbus listening",
		"addr", d.Addr(), "data_dir", d.cfg.DataDir, "region", d.cfg.Region,
		"account_id", d.cfg.AccountID, "runtimes", runtimes.Supported())
	if !d.cfg.InsecureNoAuth {
		d.log.Info("credentials", "get_them_with", `eval "$(nimbus env --data-dir `+d.cfg.DataDir+`)"`,
			"access_key_id", d.root.AccessKeyID)
	}
	d.log.Info("protections", "auth", d.authMode(), "iam", d.cfg.IAMMode(), "metrics", d.metricsMode(), "sandbox", sandbox.Mode(),
		"function_network", d.network)
	d.logProtections()
	d.warnMissingRoles(ctx)
	if d.cfg.InsecureNoAuth {
		d.log.Warn("SIGNATURE VERIFICATION IS DISABLED (--insecure-no-auth): anyone who can reach this address can use the API as root; use it for throwaway local work only",
			"addr", d.Addr())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("serve http: %w", err)
		}
	case err := <-regErr:
		runErr = fmt.Errorf("registry watch: %w", err)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.srv.Shutdown(shutCtx); err != nil {
		d.log.Warn("http shutdown incomplete", "err", err)
		_ = d.srv.Close()
	}
	d.gw.CloseConnections(shutCtx) // WebSocket connections (hijacked: not the server's), their $disconnect
	if d.metricsSrv != nil {
		_ = d.metricsSrv.Close()
	}
	stopCoord()
	<-coordDone // the coordinator lease is released while the store is up
	stopStacks()
	<-stacksDone // stack operations stop (and resume at the next start) before the APIs they call go
	stopCW()
	<-cwDone // alarm evaluation (its actions go through async and EventBridge) ends first
	stopAsync()
	<-eventsDone // the router stops enqueueing before the async path goes
	<-schedDone  // so does the scheduler's delivery
	<-rotDone    // scheduled rotations stop starting (running ones end at secrets.Close)
	<-s3Done     // so do S3's notifications
	<-snsDone    // the fan-out stops enqueueing before the async path goes
	<-asyncDone  // running async invocations end before the pool closes
	stopESM()
	<-esmDone   // pollers' invocations end before the pool closes
	<-pipesDone // so do the pipes'
	<-sfnDone   // executions' runs stop (their journals resume them) before the pool closes
	stopReg()
	d.closeAll()
	wg.Wait()
	d.log.Info("nimbus stopped")
	return runErr
}

// logProtections says at startup which sandbox protections environments
// get on this machine and why any is missing (`nimbus doctor` prints the
// same).
func (d *Daemon) logProtections() {
	var on, off []string
	for _, p := range sandbox.Protections() {
		if p.Active {
			on = append(on, p.Name)
		} else {
			off = append(off, p.Name+": "+p.Detail)
		}
	}
	d.log.Info("sandbox protections", "active", strings.Join(on, ", "))
	if !strings.HasPrefix(sandbox.Mode(), "namespaces") && goruntime.GOOS != "linux" {
		d.log.Warn("NO SANDBOX: functions run as plain process groups of this user, with its access to every file and the network; run only code you trust",
			"os", goruntime.GOOS, "sandbox", sandbox.Mode())
	}
	if len(off) > 0 {
		d.log.Warn("sandbox protections missing", "inactive", strings.Join(off, "; "))
	}
}

// metricsMode says who may read /metrics.
func (d *Daemon) metricsMode() string {
	switch {
	case d.metrics == nil:
		return "off"
	case d.cfg.MetricsListen != "" && d.cfg.MetricsToken != "":
		return "on " + d.MetricsAddr() + " with a bearer token"
	case d.cfg.MetricsListen != "":
		return "on " + d.MetricsAddr() + " without a token"
	case d.cfg.MetricsToken != "":
		return "bearer token"
	}
	return "loopback connections only"
}

func (d *Daemon) authMode() string {
	if d.cfg.InsecureNoAuth {
		return "none (insecure)"
	}
	return "sigv4"
}

// closeAll releases what New built, in reverse order; safe on partial builds.
func (d *Daemon) closeAll() {
	if d.secrets != nil {
		d.secrets.Close() // running rotations end before the pool goes
	}
	if d.ln != nil {
		_ = d.ln.Close()
	}
	if d.metricsLn != nil {
		_ = d.metricsLn.Close()
	}
	if d.forward != nil {
		d.forward.Close() // forwarded invocations end before the pool goes
	}
	if d.pool != nil {
		if err := d.pool.Close(); err != nil {
			d.log.Warn("close pool", "err", err)
		}
	}
	if d.stopTokens != nil {
		d.stopTokens() // after the pool: no invocation holds a token any more
	}
	d.stopMeter() // after the pool: its last invocations are metered
	if d.logw != nil {
		d.logw.Close() // stores the lines of the environments just killed
	}
	d.stopTracer()
	if d.tables != nil {
		if err := d.tables.Close(); err != nil {
			d.log.Warn("close tables", "err", err)
		}
	}
	if d.s3 != nil {
		if err := d.s3.Close(); err != nil {
			d.log.Warn("close object storage", "err", err)
		}
	}
	if d.iam != nil {
		d.iam.Close()
	}
	if d.queues != nil {
		d.queues.Close()
	}
	if d.st != nil {
		if err := d.st.Close(); err != nil {
			d.log.Warn("close store", "err", err)
		}
	}
}
