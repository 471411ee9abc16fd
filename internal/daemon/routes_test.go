package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/nimbus-serverless/nimbus/internal/apigw"
	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/funcurl"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
	"github.com/nimbus-serverless/nimbus/internal/sns"
)

// routeDecl is what the test expects of a route, written independently of
// the table: how its requests authenticate, the SigV4 service they must be
// scoped to, and (for entries without SigV4) which requests are its own.
type routeDecl struct {
	auth    authMode
	signing string
	// owns recognises the route's own requests, for entries reachable
	// without a signature.
	owns func(*http.Request) bool
}

// declared lists every route of the table. A route the table gains must
// be declared here (TestRouteTableDeclared fails otherwise), so every new
// entry is attacked by the tests below.
var declared = map[string]routeDecl{
	"function-url": {auth: authPerResource, owns: func(r *http.Request) bool { return funcurl.IsURLHost(r.Host) }},
	"execute-api": {auth: authPerResource, owns: func(r *http.Request) bool {
		h, _, _ := strings.Cut(strings.ToLower(r.Host), ":")
		parts := strings.Split(h, ".")
		return len(parts) >= 3 && parts[1] == "execute-api"
	}},
	"code-download":  {auth: authLink, owns: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/_nimbus/code/") }},
	"nimbus":         {auth: authSigV4, signing: "lambda"},
	"aws-lambda-url": {auth: authPerResource, owns: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/_aws/lambda-url/") }},
	"aws-execute-api": {auth: authPerResource, owns: func(r *http.Request) bool {
		return strings.HasPrefix(r.URL.Path, "/_aws/execute-api/")
	}},
	"unserved":   {auth: authNone, owns: namesUnservedService},
	"logs":       {auth: authSigV4, signing: "logs"},
	"sqs":        {auth: authSigV4, signing: "sqs"},
	"events":     {auth: authSigV4, signing: "events"},
	"kms":        {auth: authSigV4, signing: "kms"},
	"dynamodb":   {auth: authSigV4, signing: "dynamodb"},
	"kinesis":    {auth: authSigV4, signing: "kinesis"},
	"states":     {auth: authSigV4, signing: "states"},
	"scheduler":  {auth: authSigV4, signing: "scheduler"},
	"pipes":      {auth: authSigV4, signing: "pipes"},
	"cloudwatch": {auth: authSigV4, signing: "monitoring"},
	"sns":        {auth: authSigV4, signing: "sns"},
	"sns-cert":   {auth: authNone, owns: func(r *http.Request) bool { return r.URL.Path == sns.CertPath }},
	"sns-confirm": {auth: authLink, owns: func(r *http.Request) bool {
		a := r.URL.Query().Get("Action")
		return r.Method == http.MethodGet && r.URL.Path == "/" && (a == "ConfirmSubscription" || a == "Unsubscribe")
	}},
	"secretsmanager":        {auth: authSigV4, signing: "secretsmanager"},
	"ssm":                   {auth: authSigV4, signing: "ssm"},
	"event-source-mappings": {auth: authSigV4, signing: "lambda"},
	"cloudformation":        {auth: authSigV4, signing: "cloudformation"},
	"apigateway":            {auth: authSigV4, signing: "apigateway"},
	"healthz":               {auth: authNone, owns: func(r *http.Request) bool { return r.URL.Path == "/healthz" }},
	"readyz":                {auth: authNone, owns: func(r *http.Request) bool { return r.URL.Path == "/readyz" }},
	"metrics":               {auth: authNone, owns: func(r *http.Request) bool { return r.URL.Path == "/metrics" }},
	"lambda":                {auth: authSigV4, signing: "lambda"},
	"cluster-status":        {auth: authSigV4, signing: "lambda"},
	"s3":                    {auth: authSigV4, signing: "s3"},
	"iam":                   {auth: authSigV4, signing: "iam"},
	"sts":                   {auth: authSigV4, signing: "sts"},
	"console": {auth: authSession, owns: func(r *http.Request) bool {
		h, _, _ := strings.Cut(strings.ToLower(r.Host), ":")
		return h == "console.localhost" || r.URL.Path == "/_nimbus/console" || strings.HasPrefix(r.URL.Path, "/_nimbus/console/")
	}},
}

// namesUnservedService: the request's X-Amz-Target or credential scope
// names a service Nimbus does not serve (the unserved route only writes an
// error naming it).
func namesUnservedService(r *http.Request) bool {
	for _, p := range []string{
		"Firehose_20150804.", "AWSCognitoIdentityProviderService.", "AmazonEC2ContainerRegistry_V20150921.", "AmazonAthena."} {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), p) {
			return true
		}
	}
	svc, ok := scopeService(r)
	switch {
	case !ok:
		return false
	case svc == "execute-api":
		return strings.HasPrefix(r.URL.Path, "/@connections")
	}
	return svc != "lambda" && svc != "logs" && svc != "sqs" && svc != "events" && svc != "kms" && svc != "secretsmanager" && svc != "ssm" && svc != "scheduler" && svc != "pipes" && svc != "apigateway" && svc != "cloudformation" &&
		svc != "dynamodb" && svc != "states" && svc != "monitoring" && svc != "s3" &&
		svc != "iam" && svc != "sts" && svc != "kinesis" && svc != "sns"
}

var testRoot = aws.Credentials{AccessKeyID: "AKIAROUTETESTROOT000", SecretAccessKey: "route-test-secret"}

type hitKey struct{}

// recordingRouter is the node's route table with every handler replaced by
// one that records its route's name in the request's context.
func recordingRouter(t testing.TB) router {
	t.Helper()
	a, err := auth.New(auth.Options{Root: auth.Credentials{AccessKeyID: testRoot.AccessKeyID, SecretAccessKey: testRoot.SecretAccessKey},
		Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{auth: a, log: slog.New(slog.DiscardHandler)}
	rec := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*r.Context().Value(hitKey{}).(*string) = name
			w.WriteHeader(299)
		})
	}
	h := routeHandlers{
		funcURL: rec("function-url"), executeAPI: rec("execute-api"), code: rec("code-download"),
		healthz: rec("healthz"), readyz: rec("readyz"), metrics: rec("metrics"),
		logs: rec("logs"), sqs: rec("sqs"), events: rec("events"), kms: rec("kms"), secrets: rec("secretsmanager"), ssm: rec("ssm"), cloudwatch: rec("cloudwatch"), dynamodb: rec("dynamodb"), kinesis: rec("kinesis"), sfn: rec("states"), scheduler: rec("scheduler"), pipes: rec("pipes"), esm: rec("event-source-mappings"), cfn: rec("cloudformation"), apigw: rec("apigateway"), lambda: rec("lambda"),
		unserved: rec("unserved"), nimbus: rec("nimbus"), cluster: rec("cluster-status"), s3: rec("s3"), iam: rec("iam"), sts: rec("sts"),
		sns: rec("sns"), snsConfirm: rec("sns-confirm"), snsCert: rec("sns-cert"),
		awsLambdaURL: rec("aws-lambda-url"), awsExecuteAPI: rec("aws-execute-api"), console: rec("console"),
	}
	// A nil handler leaves its route out of the table, and so out of every
	// test here: each handler of the node must be given one.
	v := reflect.ValueOf(h)
	for i := range v.NumField() {
		if v.Field(i).IsNil() {
			t.Fatalf("recordingRouter gives no handler for routeHandlers.%s: its route would escape the attack tests", v.Type().Field(i).Name)
		}
	}
	return d.routeTable(h)
}

// serveRoute routes r and returns the name of the handler it reached ("" if
// refused before any) and the answer's status.
func serveRoute(rt router, r *http.Request) (string, int) {
	var hit string
	r = r.WithContext(context.WithValue(r.Context(), hitKey{}, &hit))
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, r)
	return hit, w.Code
}

func TestRouteTableDeclared(t *testing.T) {
	rt := recordingRouter(t)
	seen := map[string]bool{}
	for _, r := range rt {
		decl, ok := declared[r.name]
		if !ok {
			t.Errorf("route %q is not declared in this test: declare how it authenticates", r.name)
			continue
		}
		seen[r.name] = true
		if decl.auth != r.auth || decl.signing != r.signing {
			t.Errorf("route %q: table says %v %q, declared %v %q", r.name, r.auth, r.signing, decl.auth, decl.signing)
		}
		if (r.auth == authSigV4) != (r.signing != "") {
			t.Errorf("route %q: a SigV4 route needs a signing name and only it has one", r.name)
		}
	}
	for name := range declared {
		if !seen[name] {
			t.Errorf("declared route %q is not in the table", name)
		}
	}
	if last := rt[len(rt)-1]; last.auth != authSigV4 {
		t.Errorf("the catch-all route %q must require a signature", last.name)
	}
}

const (
	testFuncURLHost = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.localhost:9000"
	testExecAPIHost = "a1b2c3d4e5.execute-api.us-east-1.localhost:9000"
	testS3Host      = "my-bucket.s3.us-east-1.localhost:9000"
)

// routeSample is a legitimate request of each route.
type routeSample struct {
	method, host, path, target, body, contentType, service string
}

var samples = map[string]routeSample{
	"function-url":          {method: "GET", host: testFuncURLHost, path: "/hello"},
	"execute-api":           {method: "POST", host: testExecAPIHost, path: "/prod/items", body: `{}`},
	"code-download":         {method: "GET", path: "/_nimbus/code/functions/abc.zip?X-Nimbus-Expires=1&X-Nimbus-Signature=00"},
	"logs":                  {method: "POST", path: "/", target: "Logs_20140328.DescribeLogGroups", body: `{}`, contentType: "application/x-amz-json-1.1", service: "logs"},
	"event-source-mappings": {method: "GET", path: "/2015-03-31/event-source-mappings", service: "lambda"},
	"sqs":                   {method: "POST", path: "/", target: "AmazonSQS.ListQueues", body: `{}`, contentType: "application/x-amz-json-1.0", service: "sqs"},
	"events":                {method: "POST", path: "/", target: "AWSEvents.ListEventBuses", body: `{}`, contentType: "application/x-amz-json-1.1", service: "events"},
	"kms":                   {method: "POST", path: "/", target: "TrentService.ListKeys", body: `{}`, contentType: "application/x-amz-json-1.1", service: "kms"},
	"states":                {method: "POST", path: "/", target: "AWSStepFunctions.ListStateMachines", body: `{}`, contentType: "application/x-amz-json-1.0", service: "states"},
	"scheduler":             {method: "GET", path: "/schedules", service: "scheduler"},
	"pipes":                 {method: "GET", path: "/v1/pipes", service: "pipes"},
	"sns":                   {method: "POST", path: "/", body: "Action=ListTopics&Version=2010-03-31", contentType: "application/x-www-form-urlencoded", service: "sns"},
	"sns-confirm":           {method: "GET", path: "/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3At&Token=abc"},
	"sns-cert":              {method: "GET", path: sns.CertPath},
	"secretsmanager":        {method: "POST", path: "/", target: "secretsmanager.ListSecrets", body: `{}`, contentType: "application/x-amz-json-1.1", service: "secretsmanager"},
	"ssm":                   {method: "POST", path: "/", target: "AmazonSSM.DescribeParameters", body: `{}`, contentType: "application/x-amz-json-1.1", service: "ssm"},
	"cloudformation":        {method: "POST", path: "/", body: "Action=ListStacks&Version=2010-05-15", contentType: "application/x-www-form-urlencoded", service: "cloudformation"},
	"cloudwatch":            {method: "POST", path: "/", target: "GraniteServiceVersion20100801.ListMetrics", body: `{}`, contentType: "application/x-amz-json-1.0", service: "monitoring"},
	"apigateway":            {method: "GET", path: "/restapis", service: "apigateway"},
	"healthz":               {method: "GET", path: "/healthz"},
	"readyz":                {method: "GET", path: "/readyz"},
	"metrics":               {method: "GET", path: "/metrics"},
	"lambda":                {method: "GET", path: "/2015-03-31/functions", service: "lambda"},
	"nimbus":                {method: "GET", path: "/_nimbus/cost", service: "lambda"},
	"cluster-status":        {method: "GET", path: "/_nimbus/cluster", service: "lambda"},
	"aws-lambda-url":        {method: "GET", path: "/_aws/lambda-url/abcdefghijklmnopqrstuvwxyz012345/hello"},
	"aws-execute-api":       {method: "POST", path: "/_aws/execute-api/a1b2c3d4e5/prod/items", body: `{}`},
	"unserved":              {method: "POST", path: "/", target: "Firehose_20150804.ListDeliveryStreams", body: `{}`, contentType: "application/x-amz-json-1.1"},
	"kinesis":               {method: "POST", path: "/", target: "Kinesis_20131202.ListStreams", body: `{}`, contentType: "application/x-amz-json-1.1", service: "kinesis"},
	"dynamodb":              {method: "POST", path: "/", target: "DynamoDB_20120810.ListTables", body: `{}`, contentType: "application/x-amz-json-1.0", service: "dynamodb"},
	"s3":                    {method: "PUT", path: "/my-bucket/some/key.txt", body: "hello", service: "s3"},
	"iam":                   {method: "POST", path: "/", body: "Action=ListRoles&Version=2010-05-08", contentType: "application/x-www-form-urlencoded", service: "iam"},
	"sts":                   {method: "POST", path: "/", body: "Action=GetCallerIdentity&Version=2011-06-15", contentType: "application/x-www-form-urlencoded", service: "sts"},
	"console":               {method: "GET", path: "/_nimbus/console/"},
}

// s3HostSample is a virtual-hosted S3 request (the route table's other
// "s3" entry).
var s3HostSample = routeSample{method: "GET", host: testS3Host, path: "/some/key.txt", service: "s3"}

// signing is how a test request is signed.
type signing struct {
	name    string
	service string // "" unsigned
	creds   aws.Credentials
	region  string
	at      time.Duration // from now
	presign bool
	valid   bool // a correct signature, scoped to service in the node's region
}

func signings() []signing {
	wrong := testRoot
	wrong.SecretAccessKey = "not-the-secret"
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: testRoot.SecretAccessKey}
	ss := []signing{{name: "unsigned"}}
	for _, svc := range []string{"lambda", "logs", "events", "states", "apigateway", "cloudformation", "execute-api", "sqs", "sns", "s3", "kms", "dynamodb", "scheduler", "monitoring", "kinesis", "secretsmanager", "ssm", "pipes"} {
		ss = append(ss,
			signing{name: "valid " + svc, service: svc, creds: testRoot, region: "us-east-1", valid: true},
			signing{name: "wrong secret " + svc, service: svc, creds: wrong, region: "us-east-1"},
		)
	}
	// IAM and STS share the query protocol's shape with CloudFormation,
	// whose wrong secrets are tried above: their valid scopes suffice to
	// reach (only) their routes, and keep the matrix from growing.
	for _, svc := range []string{"iam", "sts"} {
		ss = append(ss, signing{name: "valid " + svc, service: svc, creds: testRoot, region: "us-east-1", valid: true})
	}
	ss = append(ss,
		signing{name: "unknown key", service: "lambda", creds: unknown, region: "us-east-1"},
		signing{name: "other region", service: "lambda", creds: testRoot, region: "eu-west-1"},
		signing{name: "expired", service: "logs", creds: testRoot, region: "us-east-1", at: -time.Hour},
		signing{name: "presigned valid lambda", service: "lambda", creds: testRoot, region: "us-east-1", presign: true, valid: true},
		signing{name: "presigned valid logs", service: "logs", creds: testRoot, region: "us-east-1", presign: true, valid: true},
		signing{name: "presigned wrong secret logs", service: "logs", creds: wrong, region: "us-east-1", presign: true},
		signing{name: "presigned valid s3", service: "s3", creds: testRoot, region: "us-east-1", presign: true, valid: true},
		signing{name: "presigned wrong secret s3", service: "s3", creds: wrong, region: "us-east-1", presign: true},
	)
	return ss
}

// buildRequest makes the request of s on host (the node's own address when
// empty), signed as sg.
func buildRequest(t testing.TB, s routeSample, sg signing) *http.Request {
	t.Helper()
	host := s.host
	if host == "" {
		host = "127.0.0.1:9000"
	}
	var body io.Reader = http.NoBody
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	r, err := http.NewRequestWithContext(context.Background(), s.method, "http://"+host+s.path, body)
	if err != nil {
		t.Skipf("not an HTTP request: %v", err)
	}
	r.RequestURI = r.URL.RequestURI()
	if s.target != "" {
		r.Header.Set("X-Amz-Target", s.target)
	}
	if s.contentType != "" {
		r.Header.Set("Content-Type", s.contentType)
	}
	if sg.service == "" {
		return r
	}
	at := time.Now().Add(sg.at)
	if !sg.presign {
		if err := sigv4test.Sign(r, sg.creds, sg.region, sg.service, at); err != nil {
			t.Fatal(err)
		}
		return r
	}
	sum := sha256.Sum256([]byte(s.body))
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), sg.creds, r, hex.EncodeToString(sum[:]), sg.service, sg.region, at)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	r.URL.RawQuery = pu.RawQuery
	r.RequestURI = r.URL.RequestURI()
	for k, v := range hdr {
		r.Header[k] = v
	}
	if s.body != "" {
		r.Body = io.NopCloser(strings.NewReader(s.body))
	}
	return r
}

// TestRoutesServeTheirSamples: a correctly signed request of each route
// reaches that route's handler.
func TestRoutesServeTheirSamples(t *testing.T) {
	rt := recordingRouter(t)
	for name, s := range samples {
		sg := signing{name: "unsigned"}
		if s.service != "" {
			sg = signing{service: s.service, creds: testRoot, region: "us-east-1", valid: true}
		}
		if got, code := serveRoute(rt, buildRequest(t, s, sg)); got != name {
			t.Errorf("routeSample of %s reached %q (status %d)", name, got, code)
		}
	}
	for _, r := range rt {
		if _, ok := samples[r.name]; !ok {
			t.Errorf("route %q has no routeSample request", r.name)
		}
	}
	sg := signing{service: "s3", creds: testRoot, region: "us-east-1", valid: true}
	if got, code := serveRoute(rt, buildRequest(t, s3HostSample, sg)); got != "s3" {
		t.Errorf("virtual-hosted S3 sample reached %q (status %d)", got, code)
	}
}

// checkReach fails t when a request signed as sg reached handler hit
// without the right to: a SigV4 route needs a valid signature scoped to
// its signing name; any other route must own the request (its path or
// host), so that nothing reachable without a signature leads elsewhere.
func checkReach(t *testing.T, r *http.Request, sg signing, hit string) {
	t.Helper()
	if hit == "" {
		return
	}
	decl, ok := declared[hit]
	if !ok {
		t.Fatalf("reached undeclared route %q", hit)
	}
	if decl.auth == authSigV4 {
		if !sg.valid || sg.service != decl.signing {
			t.Errorf("%s %s host %q target %q (%s) reached SigV4 route %q", r.Method, r.URL.Path, r.Host,
				r.Header.Get("X-Amz-Target"), sg.name, hit)
		}
		return
	}
	if !decl.owns(r) {
		t.Errorf("%s %s host %q target %q (%s) reached %q, which does not own it", r.Method, r.URL.Path, r.Host,
			r.Header.Get("X-Amz-Target"), sg.name, hit)
	}
}

// TestUnauthenticatedReachOnlyTheirOwnRoutes sends every combination of
// misleading paths, hosts and X-Amz-Target headers, unsigned, wrongly
// signed and wrongly scoped, and checks that each reaches only a route
// declared reachable that way, and only that route's own handler.
func TestUnauthenticatedReachOnlyTheirOwnRoutes(t *testing.T) {
	rt := recordingRouter(t)
	paths := []string{"/", "/_nimbus/code/x", "/_nimbus/code/", "/_nimbus/code", "/_nimbus/code/../2015-03-31/functions",
		"/_nimbus/code/x/../../2015-03-31/functions", "//_nimbus/code/x", "/_NIMBUS/code/x", "/%5fnimbus/code/x",
		"/_nimbus/code%2fx", "/_nimbus/cost", "/_nimbus/cluster", "/_nimbus/cluster/x", "/_nimbus/", "/healthz", "/readyz", "/metrics", "/metrics/",
		"/2015-03-31/functions", "/2015-03-31/functions/f/invocations", "/2015-03-31/event-source-mappings", "/v2/apis", "/restapis", "/domainnames", "/v2/domainnames", "/_nimbus/artifacts/abc", "/nimbus/artifacts/abc",
		"/_aws/execute-api/a1b2c3d4e5/prod/x", "/_aws/lambda-url/abcdefghijklmnopqrstuvwxyz012345/x",
		"/_aws/lambda-url/x/../../_nimbus/cost", "/_aws/execute-api/../2015-03-31/functions", "/_AWS/lambda-url/x", "/@connections/abc",
		"/my-bucket/key", "/my-bucket/../2015-03-31/functions", "/service/GraniteServiceVersion20100801/operation/ListMetrics",
		"/my-bucket/key?AWSAccessKeyId=AKIAROUTETESTROOT000&Signature=c2lnbmF0dXJl&Expires=4102444800",
		"/?Action=ConfirmSubscription&TopicArn=t&Token=forged", "/?Action=Publish&TopicArn=t&Message=m",
		"/?Action=Unsubscribe&SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3At%3Ax", "/?Action=Unsubscribe&SubscriptionArn=x&X-Amz-Signature=0",
		"/?Action=ConfirmSubscription&Token=x&X-Amz-Signature=0", sns.CertPath, sns.CertPath + "/../cost",
		"/_nimbus/console/api/aws"}
	hosts := []string{"", "localhost", testFuncURLHost, testExecAPIHost, "lambda-url.us-east-1.localhost",
		"x.lambda-url.localhost", "a1b2c3d4e5.execute-api", "execute-api.us-east-1.localhost", "logs.us-east-1.amazonaws.com",
		testS3Host, "my-bucket.s3.localhost.evil.com"}
	targets := []string{"", "Logs_20140328.DescribeLogGroups", "Logs_20140328.DeleteLogGroup", "logs_20140328.DescribeLogGroups",
		" Logs_20140328.FilterLogEvents", "AWSLambda.Invoke", "DynamoDB_20120810.ListTables", "AmazonSQS.DeleteQueue",
		"amazonsqs.ListQueues", "AWSEvents.PutEvents", "awsevents.PutRule", "TrentService.Decrypt", "DynamoDBStreams_20120810.GetRecords",
		"GraniteServiceVersion20100801.PutMetricData", "secretsmanager.GetSecretValue", "AmazonSSM.GetParameter"}
	reached := map[string]int{}
	n := 0
	for _, p := range paths {
		for _, h := range hosts {
			for _, tg := range targets {
				for _, m := range []string{"GET", "POST"} {
					for _, sg := range signings() {
						s := routeSample{method: m, host: h, path: p, target: tg}
						if m == "POST" {
							s.body = "Action=ListStacks"
							s.contentType = "application/x-www-form-urlencoded"
						}
						r := buildRequest(t, s, sg)
						hit, _ := serveRoute(rt, r)
						checkReach(t, r, sg, hit)
						reached[hit]++
						n++
					}
				}
			}
		}
	}
	// The combinations must have exercised every route, or the matrix
	// proves little.
	for _, r := range rt {
		if reached[r.name] == 0 {
			t.Errorf("no combination reached route %q", r.name)
		}
	}
	t.Logf("%d requests; reached %v", n, reached)
}

// FuzzRouteConfusion routes arbitrary combinations of method, host, path,
// X-Amz-Target and signature and checks the same property as
// TestUnauthenticatedReachOnlyTheirOwnRoutes.
func FuzzRouteConfusion(f *testing.F) {
	for _, s := range samples {
		f.Add(s.method, s.host, s.path, s.target, s.body, uint8(0))
	}
	f.Add("POST", "", "/_nimbus/code/x", "Logs_20140328.DescribeLogGroups", "{}", uint8(0))
	f.Add("POST", testFuncURLHost, "/_nimbus/code/x", "Logs_20140328.DeleteLogGroup", "{}", uint8(3))
	f.Add("GET", "", "/metrics", "Logs_20140328.DescribeLogGroups", "", uint8(2))
	f.Add("POST", "", "/", "", "Action=DeleteStack&StackName=x", uint8(1))
	sgs := signings()
	rt := recordingRouter(f)
	f.Fuzz(func(t *testing.T, method, host, path, target, body string, mode uint8) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(host, "/?#@ \t\r\n") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		if !validMethod(method) || strings.ContainsAny(target, "\r\n\x00") {
			return
		}
		sg := sgs[int(mode)%len(sgs)]
		s := routeSample{method: method, host: host, path: path, target: target, body: body}
		if strings.HasPrefix(body, "Action=") {
			s.contentType = "application/x-www-form-urlencoded"
		}
		r := buildRequest(t, s, sg)
		hit, _ := serveRoute(rt, r)
		checkReach(t, r, sg, hit)
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// An execute-api host is recognised by the same function the table uses;
// the declaration's own reading must agree on the test hosts, or the
// property above would be checked against the wrong owner.
func TestRouteDeclarationsAgreeOnTestHosts(t *testing.T) {
	if _, ok := apigw.InvokeHost(testExecAPIHost); !ok {
		t.Fatal("test execute-api host not recognised")
	}
	if !funcurl.IsURLHost(testFuncURLHost) {
		t.Fatal("test function URL host not recognised")
	}
}

// TestPathStyleDoor: /_aws/<door>/<id>/<path> reaches the door as
// <id>.<door>.<region>.localhost/<path>, escapes and query kept, and the
// original target stays available for signature checks.
func TestPathStyleDoor(t *testing.T) {
	var got *http.Request
	var orig string
	door := pathStyleDoor(awsLambdaURLPrefix, func(id string) string { return id + ".lambda-url.us-east-1.localhost" },
		http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got = r
			withOriginalTarget(r, func() { orig = r.Host + r.URL.RequestURI() })
		}))
	for _, c := range []struct{ target, host, path, raw, query string }{
		{"/_aws/lambda-url/ABC123/hello/world?x=1", "abc123.lambda-url.us-east-1.localhost:4566", "/hello/world", "/hello/world", "x=1"},
		{"/_aws/lambda-url/abc123/", "abc123.lambda-url.us-east-1.localhost:4566", "/", "/", ""},
		{"/_aws/lambda-url/abc123", "abc123.lambda-url.us-east-1.localhost:4566", "/", "/", ""},
		{"/_aws/lambda-url/abc123/a%2Fb%20c", "abc123.lambda-url.us-east-1.localhost:4566", "/a/b c", "/a%2Fb%20c", ""},
	} {
		got, orig = nil, ""
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:4566"+c.target, nil)
		w := httptest.NewRecorder()
		door.ServeHTTP(w, r)
		if got == nil {
			t.Errorf("%s: not served (%d)", c.target, w.Code)
			continue
		}
		if got.Host != c.host || got.URL.Path != c.path || got.URL.EscapedPath() != c.raw || got.URL.RawQuery != c.query {
			t.Errorf("%s: host %q path %q (%q) query %q", c.target, got.Host, got.URL.Path, got.URL.EscapedPath(), got.URL.RawQuery)
		}
		if orig != "127.0.0.1:4566"+c.target {
			t.Errorf("%s: original target %q", c.target, orig)
		}
		if got.Host != c.host {
			t.Errorf("%s: the original target was not put back: %q", c.target, got.Host)
		}
	}
	w := httptest.NewRecorder()
	got = nil
	door.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:4566/_aws/lambda-url//x", nil))
	if got != nil || w.Code != http.StatusNotFound {
		t.Errorf("empty id: served %v, %d", got != nil, w.Code)
	}
}
