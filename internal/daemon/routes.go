package daemon

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/apigw"
	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfnapi"
	"github.com/nimbus-serverless/nimbus/internal/cloudwatch"
	"github.com/nimbus-serverless/nimbus/internal/console"
	"github.com/nimbus-serverless/nimbus/internal/dynamodb"
	"github.com/nimbus-serverless/nimbus/internal/esm"
	"github.com/nimbus-serverless/nimbus/internal/events"
	"github.com/nimbus-serverless/nimbus/internal/funcurl"
	"github.com/nimbus-serverless/nimbus/internal/kinesis"
	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/lambdaapi"
	"github.com/nimbus-serverless/nimbus/internal/logsapi"
	"github.com/nimbus-serverless/nimbus/internal/secretsmanager"
	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/sns"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
	"github.com/nimbus-serverless/nimbus/internal/ssm"
	"github.com/nimbus-serverless/nimbus/internal/telemetry"
)

// The front door's route table: every way into the node, in the order a
// request is matched against it. The first entry whose recognizer accepts
// a request serves it; the last one accepts everything. Each entry
// declares how its requests authenticate, and the table enforces it:
// an entry declared authSigV4 is only reachable through a verified
// signature scoped to the entry's signing name, so no other entry (code
// links, health probes, host-routed doors) can hand a request on to it.
//
// Order (top to bottom), so that no kind of request can shadow another
// (path-style S3 buckets, SQS queue URLs and /metrics one day share "/"):
//
//	host-routed doors   the console (console.localhost, and its path
//	                    /_nimbus/console/), function URLs, execute-api,
//	                    virtual-hosted S3 buckets           (Host header)
//	Nimbus's paths      code download links, deploy artifacts, SNS's
//	                    signing certificate, the rest of /_nimbus/ (path prefix);
//	                    SNS SubscribeURL links (GET / with a token)
//	/_aws/ paths        path-style function URLs and execute-api
//	X-Amz-Target        CloudWatch Logs, SQS, EventBridge, KMS, Secrets Manager,
//	                    SSM, DynamoDB (and Streams), Step Functions, CloudWatch
//	                    (and its RPC v2 CBOR path); unserved services
//	credential scope    lambda (event source mappings first), logs, sqs, events, kms,
//	                    secretsmanager, ssm, dynamodb, states, scheduler, pipes, sns,
//	                    monitoring (CloudWatch's query protocol), s3 (path-style),
//	                    apigateway, cloudformation; unserved services
//	path                CloudFormation (/ with Action, artifacts), API
//	                    Gateway management, event source mappings,
//	                    /healthz, /readyz, /metrics, then Lambda for
//	                    everything else
//
// A service Nimbus does not serve (services.go) is answered in its own
// protocol with an error naming it.

// authMode is how the requests of a route are authenticated.
type authMode int

const (
	// authSigV4: the front door verifies AWS Signature Version 4 (header
	// or presigned query) for the route's signing name before the handler
	// runs; a request that fails never reaches it.
	authSigV4 authMode = iota
	// authLink: a link this node signed (an HMAC of the object and an
	// expiry), checked by the handler: code download links.
	authLink
	// authPerResource: the handler authenticates by the resource's own
	// configuration: function URLs (AuthType AWS_IAM verifies SigV4 for
	// "lambda", NONE lets anyone in) and execute-api stages (authorizers,
	// AWS_IAM for "execute-api", API keys, or none).
	authPerResource
	// authNone: no authentication: health and readiness probes, /metrics.
	authNone
	// authSession: the web console's own session cookie (signed in with
	// an access key pair or a one-time link), checked by the console,
	// whose calls then go through this table signed as the session's
	// caller.
	authSession
)

func (m authMode) String() string {
	return [...]string{"SigV4", "own HMAC link", "per resource (IAM or none)", "none", "console session"}[m]
}

// route is one entry of the table.
type route struct {
	// name identifies the entry (a service or a door).
	name string
	// signing is the SigV4 service name requests must be scoped to
	// (authSigV4 routes; "" for the others).
	signing string
	// protocol is the AWS protocol of the route's answers (refusals
	// included).
	protocol auth.Protocol
	// auth is how the route's requests authenticate.
	auth authMode
	// match recognises the route's requests.
	match func(*http.Request, *reqFacts) bool
	// handler serves the route's requests once authenticated.
	handler http.Handler
	// guard, for an authSigV4 route, replaces the default verification
	// (requireSigV4) by one of the route's own that verifies signing.
	guard func(http.Handler) http.Handler
	// serve is handler behind the route's authentication (set by
	// routeTable).
	serve http.Handler
}

// routeHandlers are the handlers the table routes to, before any
// authentication (routeTable adds it). A nil handler leaves its route out.
type routeHandlers struct {
	funcURL    http.Handler // function URL requests (Host <url-id>.lambda-url.<region>.<domain>)
	executeAPI http.Handler // execute-api requests (Host <api-id>.execute-api.<region>.<domain>)
	code       http.Handler // code download links only (lambdaapi.Handler.CodeDownloads)
	healthz    http.Handler
	readyz     http.Handler
	metrics    http.Handler
	logs       http.Handler // CloudWatch Logs (JSON 1.1)
	sqs        http.Handler // SQS (JSON 1.0, X-Amz-Target AmazonSQS.*)
	events     http.Handler // EventBridge (JSON 1.1, X-Amz-Target AWSEvents.*)
	kms        http.Handler // KMS (JSON 1.1, X-Amz-Target TrentService.*)
	kinesis    http.Handler // Kinesis Data Streams (JSON 1.1, X-Amz-Target Kinesis_20131202.*)
	dynamodb   http.Handler // DynamoDB and DynamoDB Streams (JSON 1.0, DynamoDB_20120810.*, DynamoDBStreams_20120810.*)
	sfn        http.Handler // Step Functions (JSON 1.0, X-Amz-Target AWSStepFunctions.*)
	scheduler  http.Handler // EventBridge Scheduler (REST-JSON, /schedules, /schedule-groups)
	pipes      http.Handler // EventBridge Pipes (REST-JSON, /v1/pipes)
	cloudwatch http.Handler // CloudWatch (RPC v2 CBOR, JSON 1.0, query)
	sns        http.Handler // SNS (query, signed for sns)
	snsConfirm http.Handler // SNS SubscribeURL links (ConfirmSubscription by token)
	snsCert    http.Handler // SNS's signing certificate
	secrets    http.Handler // Secrets Manager (JSON 1.1, X-Amz-Target secretsmanager.*)
	ssm        http.Handler // SSM Parameter Store (JSON 1.1, X-Amz-Target AmazonSSM.*)
	esm        http.Handler // Lambda's event source mappings (REST-JSON)
	cfn        http.Handler // CloudFormation (query) and the artifact endpoint
	apigw      http.Handler // API Gateway management (REST-JSON, v1 and v2)
	cluster    http.Handler // GET /_nimbus/cluster (nimbus cluster status)
	s3         http.Handler // S3 (REST-XML): virtual-hosted by Host, path-style by credential scope
	iam        http.Handler // IAM (query)
	sts        http.Handler // STS (query)
	lambda     http.Handler // Lambda (REST-JSON)
	unserved   http.Handler // services Nimbus does not serve (unservedHandler)
	nimbus     http.Handler // the rest of /_nimbus/: Lambda's handler (the cost report)
	console    http.Handler // the web console (Host console.localhost, /_nimbus/console/)

	awsLambdaURL  http.Handler // /_aws/lambda-url/<url-id>/...: funcURL behind pathStyleDoor
	awsExecuteAPI http.Handler // /_aws/execute-api/<api-id>/...: executeAPI behind pathStyleDoor
}

// routeTable builds the table over h. The SigV4 routes get their
// verification here, from their declared signing name, so that a route's
// declaration and its enforcement cannot differ.
func (d *Daemon) routeTable(h routeHandlers) router {
	rs := []route{
		// Host-routed doors.
		{name: "console", auth: authSession, match: req(console.IsRequest), handler: h.console},
		{name: "function-url", auth: authPerResource, protocol: auth.RESTJSON,
			match: req(func(r *http.Request) bool { return funcurl.IsURLHost(r.Host) }), handler: h.funcURL},
		{name: "execute-api", auth: authPerResource, protocol: auth.RESTJSON,
			match: req(func(r *http.Request) bool { _, ok := apigw.InvokeHost(r.Host); return ok || d.gw.IsDomainHost(r.Host) }), handler: h.executeAPI},
		// Virtual-hosted S3 (<bucket>.s3[.<region>].localhost): the Host
		// names a bucket, whatever the path says.
		{name: "s3", signing: "s3", auth: authSigV4, protocol: auth.RESTXML, match: req(isS3Host), handler: h.s3, guard: d.s3Guard},
		// Nimbus's own paths. Code links carry their own HMAC; the handler
		// serves the download operation and nothing else, whatever the
		// request's other headers say. The rest of /_nimbus/ (the cost
		// report) is Lambda's, signed.
		{name: "code-download", auth: authLink, protocol: auth.RESTJSON, match: req(isCodeDownload), handler: h.code},
		// The deploy artifact endpoint (/_nimbus/artifacts/), signed for
		// CloudFormation. It sits under /_nimbus/ because no S3 bucket name
		// can start with "_", so path-style S3 never shadows it.
		{name: "cloudformation", signing: cfnService, auth: authSigV4, protocol: auth.Query, match: req(cfnapi.IsArtifactRequest),
			handler: h.cfn, guard: d.cloudFormationGuard},
		// Path-style forms of the host-routed doors, for clients that
		// cannot resolve *.localhost names (Node's fetch, Python's urllib).
		{name: "aws-lambda-url", auth: authPerResource, protocol: auth.RESTJSON, match: req(pathPrefix(awsLambdaURLPrefix)),
			handler: h.awsLambdaURL},
		{name: "aws-execute-api", auth: authPerResource, protocol: auth.RESTJSON, match: req(pathPrefix(awsExecuteAPIPrefix)),
			handler: h.awsExecuteAPI},
		// The cluster's status (nimbus cluster status), signed.
		{name: "cluster-status", signing: "lambda", auth: authSigV4, protocol: auth.RESTJSON, match: req(pathIs(clusterPath)),
			handler: h.cluster},
		// SNS's signing certificate (public), before the rest of /_nimbus/.
		{name: "sns-cert", auth: authNone, match: req(pathIs(sns.CertPath)), handler: h.snsCert},
		{name: "nimbus", signing: "lambda", auth: authSigV4, protocol: auth.RESTJSON,
			match: req(pathPrefix("/_nimbus/")), handler: h.nimbus},
		// An SNS SubscribeURL (GET /?Action=ConfirmSubscription&Token=…,
		// unsigned) or UnsubscribeURL (…Action=Unsubscribe&SubscriptionArn=…):
		// the secret token or the ARN's random id authenticates it, and the
		// handler serves those two operations and nothing else.
		{name: "sns-confirm", auth: authLink, protocol: auth.Query, match: req(sns.IsConfirmLink), handler: h.snsConfirm},
		// X-Amz-Target.
		{name: "logs", signing: "logs", auth: authSigV4, protocol: auth.JSON, match: req(logsapi.IsLogsRequest), handler: h.logs},
		{name: "sqs", signing: "sqs", auth: authSigV4, protocol: auth.JSON, match: req(sqs.IsRequest), handler: h.sqs},
		{name: "events", signing: "events", auth: authSigV4, protocol: auth.JSON, match: req(events.IsEventsRequest), handler: h.events},
		{name: "kms", signing: "kms", auth: authSigV4, protocol: auth.JSON, match: req(kms.IsRequest), handler: h.kms},
		{name: "dynamodb", signing: "dynamodb", auth: authSigV4, protocol: auth.JSON, match: req(dynamodb.IsRequest), handler: h.dynamodb},
		{name: "kinesis", signing: "kinesis", auth: authSigV4, protocol: auth.JSON, match: req(kinesis.IsRequest), handler: h.kinesis},
		{name: "states", signing: "states", auth: authSigV4, protocol: auth.JSON, match: req(sfn.IsRequest), handler: h.sfn},
		// CloudWatch by X-Amz-Target (JSON 1.0) or RPC v2 CBOR's path;
		// refusals in the protocol the request speaks.
		{name: "cloudwatch", signing: cloudwatch.SigningName, auth: authSigV4, protocol: protocolOfRequest,
			match: req(cloudwatch.IsRequest), handler: h.cloudwatch, guard: d.cloudWatchGuard},
		{name: "secretsmanager", signing: "secretsmanager", auth: authSigV4, protocol: auth.JSON, match: req(secretsmanager.IsRequest),
			handler: h.secrets},
		{name: "ssm", signing: "ssm", auth: authSigV4, protocol: auth.JSON, match: req(ssm.IsRequest), handler: h.ssm},
		// Services Nimbus does not serve, by X-Amz-Target or credential
		// scope: an answer in their protocol that names them.
		{name: "unserved", auth: authNone, match: isUnserved, handler: h.unserved},
		// The credential scope's service.
		{name: "event-source-mappings", signing: "lambda", auth: authSigV4, protocol: auth.RESTJSON,
			match: func(r *http.Request, f *reqFacts) bool { return scopeIs("lambda")(r, f) && esm.IsRequest(r) }, handler: h.esm},
		{name: "lambda", signing: "lambda", auth: authSigV4, protocol: protocolOfRequest, match: scopeIs("lambda"), handler: h.lambda},
		{name: "logs", signing: "logs", auth: authSigV4, protocol: auth.JSON, match: scopeIs("logs"), handler: h.logs},
		// SQS by scope: JSON, or the query protocol of older SDKs (answered,
		// refusals included, in the protocol the request speaks).
		{name: "sqs", signing: "sqs", auth: authSigV4, protocol: protocolOfRequest, match: scopeIs("sqs"), handler: h.sqs},
		{name: "events", signing: "events", auth: authSigV4, protocol: auth.JSON, match: scopeIs("events"), handler: h.events},
		{name: "kms", signing: "kms", auth: authSigV4, protocol: auth.JSON, match: scopeIs("kms"), handler: h.kms},
		{name: "dynamodb", signing: "dynamodb", auth: authSigV4, protocol: auth.JSON, match: scopeIs("dynamodb"), handler: h.dynamodb},
		{name: "kinesis", signing: "kinesis", auth: authSigV4, protocol: auth.JSON, match: scopeIs("kinesis"), handler: h.kinesis},
		{name: "states", signing: "states", auth: authSigV4, protocol: auth.JSON, match: scopeIs("states"), handler: h.sfn},
		{name: "scheduler", signing: "scheduler", auth: authSigV4, protocol: auth.RESTJSON, match: scopeIs("scheduler"), handler: h.scheduler},
		{name: "pipes", signing: "pipes", auth: authSigV4, protocol: auth.RESTJSON, match: scopeIs("pipes"), handler: h.pipes},
		{name: "cloudwatch", signing: cloudwatch.SigningName, auth: authSigV4, protocol: protocolOfRequest,
			match: scopeIs(cloudwatch.SigningName), handler: h.cloudwatch, guard: d.cloudWatchGuard},
		{name: "sns", signing: "sns", auth: authSigV4, protocol: auth.Query, match: scopeIs("sns"), handler: h.sns},
		{name: "secretsmanager", signing: "secretsmanager", auth: authSigV4, protocol: auth.JSON, match: scopeIs("secretsmanager"),
			handler: h.secrets},
		{name: "ssm", signing: "ssm", auth: authSigV4, protocol: auth.JSON, match: scopeIs("ssm"), handler: h.ssm},
		// Path-style S3 (/<bucket>/<key>), signed for "s3" in the
		// Authorization header or a presigned X-Amz-Credential; a CORS
		// preflight, unsigned, is answered by s3Guard from the bucket's rules.
		{name: "s3", signing: "s3", auth: authSigV4, protocol: auth.RESTXML, match: func(r *http.Request, f *reqFacts) bool {
			return scopeIs("s3")(r, f) || isS3Preflight(r)
		}, handler: h.s3, guard: d.s3Guard},
		// S3's Signature Version 2 presigned URLs (boto3's default).
		{name: "s3", signing: "s3", auth: authSigV4, protocol: auth.RESTXML, match: req(isS3V2Presigned), handler: h.s3, guard: d.s3Guard},
		{name: "apigateway", signing: "apigateway", auth: authSigV4, protocol: auth.RESTJSON, match: scopeIs("apigateway"),
			handler: h.apigw},
		{name: "cloudformation", signing: cfnService, auth: authSigV4, protocol: auth.Query, match: scopeIs(cfnService),
			handler: h.cfn, guard: d.cloudFormationGuard},
		{name: "iam", signing: "iam", auth: authSigV4, protocol: auth.Query, match: scopeIs("iam"), handler: h.iam},
		{name: "sts", signing: "sts", auth: authSigV4, protocol: auth.Query, match: scopeIs("sts"), handler: h.sts},
		// Paths (unsigned requests, or scoped to no service above).
		{name: "cloudformation", signing: cfnService, auth: authSigV4, protocol: auth.Query, match: req(isCloudFormation),
			handler: h.cfn, guard: d.cloudFormationGuard},
		{name: "apigateway", signing: "apigateway", auth: authSigV4, protocol: auth.RESTJSON, match: req(apigw.IsManagement),
			handler: h.apigw},
		{name: "event-source-mappings", signing: "lambda", auth: authSigV4, protocol: auth.RESTJSON, match: req(esm.IsRequest),
			handler: h.esm},
		{name: "healthz", auth: authNone, match: req(pathIs("/healthz")), handler: h.healthz},
		{name: "readyz", auth: authNone, match: req(pathIs("/readyz")), handler: h.readyz},
		{name: "metrics", auth: authNone, match: req(pathIs("/metrics")), handler: h.metrics},
		// The rest is Lambda's, or a request of another service that is
		// refused in the protocol its headers suggest.
		{name: "lambda", signing: "lambda", auth: authSigV4, protocol: protocolOfRequest,
			match: func(*http.Request, *reqFacts) bool { return true }, handler: h.lambda},
	}
	out := rs[:0]
	for _, r := range rs {
		if r.handler == nil {
			continue
		}
		r.serve = r.handler
		if r.auth == authSigV4 {
			// IAM evaluation runs behind the signature check, so it
			// always knows who called.
			h := d.authorized(r.name, r.protocol, r.handler)
			if r.guard != nil {
				r.serve = r.guard(h)
			} else {
				r.serve = d.requireSigV4(r.signing, r.protocol, h)
			}
		}
		out = append(out, r)
	}
	return out
}

// isCodeDownload recognises code download links: every path under
// /_nimbus/code/, whatever the method (the handler answers anything but
// GET with UnknownOperationException).
func isCodeDownload(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, lambdaapi.CodeRoutePrefix)
}

func pathIs(p string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.URL.Path == p }
}

func pathPrefix(p string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, p) }
}

// req adapts a recogniser that needs only the request.
func req(f func(*http.Request) bool) func(*http.Request, *reqFacts) bool {
	return func(r *http.Request, _ *reqFacts) bool { return f(r) }
}

// scopeIs recognises requests whose SigV4 credential scope names service.
func scopeIs(service string) func(*http.Request, *reqFacts) bool {
	return func(r *http.Request, f *reqFacts) bool {
		s, ok := f.scope(r)
		return ok && s == service
	}
}

// reqFacts memoises what several recognisers read from one request (its
// credential scope's service), so routing parses it once.
type reqFacts struct {
	parsed  bool
	service string
	scoped  bool
}

func (f *reqFacts) scope(r *http.Request) (string, bool) {
	if !f.parsed {
		f.service, f.scoped = scopeService(r)
		f.parsed = true
	}
	return f.service, f.scoped
}

// protocolOfRequest, as a route's protocol, answers in the protocol the
// request's headers suggest (auth.ProtocolOf).
const protocolOfRequest auth.Protocol = -1

// requireSigV4 puts next behind SigV4 verification for service: a request
// that fails is answered in protocol p (403 with AWS's exception name) and
// never reaches next; one that passes reaches next with its Identity in
// the context. p may be protocolOfRequest.
func (d *Daemon) requireSigV4(service string, p auth.Protocol, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := d.auth.Verify(r, service)
		if err != nil {
			d.log.Info("request refused", "service", service, "method", r.Method, "path", r.URL.Path,
				"remote_addr", r.RemoteAddr)
			if p == protocolOfRequest {
				auth.WriteError(w, r, d.log, err)
			} else {
				auth.WriteErrorIn(w, p, d.log, err)
			}
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

// router serves a request with the first route of the table that
// recognises it.
type router []route

func (rt router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var f reqFacts
	for i := range rt {
		if rt[i].match(r, &f) {
			rt[i].serve.ServeHTTP(w, r)
			return
		}
	}
	http.NotFound(w, r) // unreachable: the last route takes everything
}

// routeHandlers are the node's handlers for its route table: telemetry
// paths need no signature (they carry no customer data, and scrapers and
// probes do not sign requests); function URLs and execute-api check their
// callers themselves.
func (d *Daemon) routeHandlers(lambda *lambdaapi.Handler, urls *funcurl.Handler, logs *logsapi.Handler) routeHandlers {
	h := routeHandlers{
		funcURL: urls,
		executeAPI: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := apigw.InvokeHost(r.Host)
			if !ok { // a custom domain name: its API mapping picks the API and stage
				if id, r, ok = d.gw.DomainRequest(r); !ok {
					apigw.DomainForbidden(w)
					return
				}
			}
			d.serveExecuteAPI(w, r, id)
		}),
		code:       lambda.CodeDownloads(),
		healthz:    telemetry.Healthz(),
		readyz:     telemetry.Readyz(d.readiness()...),
		logs:       logs,
		sqs:        d.sqsAPI,
		events:     d.events,
		kms:        d.kms,
		secrets:    d.secrets,
		ssm:        d.params,
		cloudwatch: cloudwatch.NewHandler(d.cw),
		esm:        d.esm,
		cfn:        d.cfnAPI,
		apigw:      d.gw,
		cluster:    d.clusterAPI(),
		dynamodb:   d.tablesAPI,
		kinesis:    d.kinesisAPI,
		sfn:        d.sfn,
		scheduler:  d.sched,
		pipes:      d.pipes,
		s3:         d.s3,
		iam:        d.iam,
		sts:        d.iam.STS(d.issuer),
		lambda:     lambda,
		sns:        d.sns,

		snsConfirm: d.sns.ConfirmLinks(),
		snsCert:    d.sns.CertHandler(),
		unserved:   unservedHandler(),
		nimbus:     lambda,
		console:    d.consoleHandler(&d.consoleFront),
	}
	h.awsLambdaURL = pathStyleDoor(awsLambdaURLPrefix, func(id string) string {
		return id + ".lambda-url." + d.cfg.Region + ".localhost"
	}, h.funcURL)
	h.awsExecuteAPI = pathStyleDoor(awsExecuteAPIPrefix, func(id string) string {
		return id + ".execute-api." + d.cfg.Region + ".localhost"
	}, h.executeAPI)
	if d.metrics != nil {
		h.metrics = d.metrics.Handler()
	}
	return h
}

// The path-style forms of the host-routed doors:
// /_aws/lambda-url/<url-id>/<path> is <url-id>.lambda-url.<region>.localhost/<path>,
// /_aws/execute-api/<api-id>/<path> is <api-id>.execute-api.<region>.localhost/<path>.
const (
	awsLambdaURLPrefix  = "/_aws/lambda-url/"
	awsExecuteAPIPrefix = "/_aws/execute-api/"
)

// originalTarget is the Host and URL a client sent a path-style request
// to, kept for verifying its SigV4 signature (AWS_IAM function URLs and
// routes), which covers them.
type originalTarget struct {
	host string
	url  *url.URL
}

type originalTargetKey struct{}

// pathStyleDoor serves prefix<id>/<path> as the host-routed door next
// serves host(id)/<path>: the request next sees has that Host and path
// (the event's rawPath is <path>), and the original ones stay in the
// context for signature checks (withOriginalTarget).
func pathStyleDoor(prefix string, host func(id string) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		esc := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
		id, tail, _ := strings.Cut(esc, "/")
		tail = "/" + tail
		p, err := url.PathUnescape(tail)
		if id == "" || err != nil {
			w.Header().Set("X-Amzn-ErrorType", "NotFoundException")
			awsapi.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		h := host(strings.ToLower(id))
		if _, port, err := net.SplitHostPort(r.Host); err == nil {
			h = net.JoinHostPort(h, port)
		}
		u := *r.URL
		u.Path, u.RawPath = p, ""
		if tail != u.EscapedPath() {
			u.RawPath = tail
		}
		r2 := r.WithContext(context.WithValue(r.Context(), originalTargetKey{}, originalTarget{host: r.Host, url: r.URL}))
		r2.URL, r2.Host, r2.RequestURI = &u, h, u.RequestURI()
		next.ServeHTTP(w, r2)
	})
}

// withOriginalTarget runs f with r's Host and URL as the client sent them
// when r came through a path-style door, and puts them back after.
func withOriginalTarget(r *http.Request, f func()) {
	o, ok := r.Context().Value(originalTargetKey{}).(originalTarget)
	if !ok {
		f()
		return
	}
	host, u, uri := r.Host, r.URL, r.RequestURI
	r.Host, r.URL, r.RequestURI = o.host, o.url, o.url.RequestURI()
	defer func() { r.Host, r.URL, r.RequestURI = host, u, uri }()
	f()
}
