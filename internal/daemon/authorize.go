package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfnapi"
	"github.com/nimbus-serverless/nimbus/internal/cloudwatch"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/dynamodb"
	"github.com/nimbus-serverless/nimbus/internal/esm"
	"github.com/nimbus-serverless/nimbus/internal/iam"
	"github.com/nimbus-serverless/nimbus/internal/kinesis"
	"github.com/nimbus-serverless/nimbus/internal/lambdaapi"
	"github.com/nimbus-serverless/nimbus/internal/pipes"
	"github.com/nimbus-serverless/nimbus/internal/policy"
	"github.com/nimbus-serverless/nimbus/internal/s3"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
)

// IAM evaluation at the front door (docs/design/access-control.md): every
// SigV4 route's handler is wrapped by authorized, which names the
// request's operation, maps it to its IAM action and resource
// (iamAction, iamResource in iam.go), and asks the IAM service whether the
// caller's policies, with the resource's own policy, allow it. Root, and
// every caller with --iam off or --insecure-no-auth, pass untouched (no
// body is read, nothing is evaluated).

// operation is what the front door knows of one request for IAM.
type operation struct {
	service string            // model id ("lambda", "sqs", ...)
	name    string            // operation name ("DeleteFunction")
	params  map[string]string // iamResource's parameters
	// action and resource, when set, replace iamAction/iamResource.
	action, resource string
	// passRole is a role the call hands to a service (CreateFunction's
	// and UpdateFunctionConfiguration's Role, a schedule's target
	// RoleArn): the caller needs iam:PassRole on it too, with
	// iam:PassedToService passTo (lambda.amazonaws.com when empty).
	passRole, passTo string
	// morePass are further roles the call hands to passTo (PutTargets'
	// targets' RoleArns).
	morePass []string
	// keys are service condition keys the request supplies
	// (cloudformation:RoleArn).
	keys map[string]string
	// also are further actions on further resources the call needs, all
	// allowed (a DynamoDB transaction's or PartiQL batch's other tables).
	also []check
}

// check is one action on one resource.
type check struct{ action, resource string }

// schedulerOperation names an EventBridge Scheduler request (REST-JSON:
// /schedules/{Name}, /schedule-groups/{Name}, /tags/{ResourceArn}) and its
// resource; a schedule's target RoleArn must be passable by the caller.
func (d *Daemon) schedulerOperation(r *http.Request) (operation, bool) {
	parts := strings.SplitN(strings.Trim(r.URL.Path, "/"), "/", 2)
	kind, name := parts[0], ""
	if len(parts) == 2 {
		if n, err := url.PathUnescape(parts[1]); err == nil {
			name = n
		}
	}
	arn := "arn:aws:scheduler:" + d.cfg.Region + ":" + d.cfg.AccountID + ":"
	verb := map[string]string{http.MethodPost: "Create", http.MethodGet: "Get", http.MethodPut: "Update", http.MethodDelete: "Delete"}[r.Method]
	o := operation{service: "scheduler", resource: "*"}
	switch {
	case kind == "schedules" && name == "" && r.Method == http.MethodGet:
		o.name = "ListSchedules"
	case kind == "schedule-groups" && name == "" && r.Method == http.MethodGet:
		o.name = "ListScheduleGroups"
	case kind == "schedules" && name != "" && verb != "":
		o.name = verb + "Schedule"
		group := r.URL.Query().Get("groupName")
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			m := jsonFields(peekBody(r))
			group = str(m, "GroupName")
			if t, ok := m["Target"].(map[string]any); ok {
				o.passRole, o.passTo = str(t, "RoleArn"), "scheduler.amazonaws.com"
			}
		}
		if group == "" {
			group = "default"
		}
		o.resource = arn + "schedule/" + group + "/" + name
	case kind == "schedule-groups" && name != "" && verb != "" && verb != "Update":
		o.name = verb + "ScheduleGroup"
		o.resource = arn + "schedule-group/" + name
	case kind == "tags" && name != "":
		o.name = map[string]string{http.MethodGet: "ListTagsForResource", http.MethodPost: "TagResource",
			http.MethodDelete: "UntagResource"}[r.Method]
		o.resource = name
	}
	return o, o.name != ""
}

// maxPeek bounds the body the front door parses to find an operation's
// resource; a larger body is evaluated against resource "*" (which only a
// policy allowing "*" allows).
const maxPeek = 8 << 20

// peekBody returns r's body and puts an unread copy back. The body has
// been verified (and so held) by SigV4 already: when SigV4 holds it in
// memory its bytes are returned as they are, without a copy (read-only:
// the handler reads the same bytes after).
func peekBody(r *http.Request) []byte {
	if r.Body == nil || r.ContentLength > maxPeek {
		return nil
	}
	if p, ok := r.Body.(interface{ Peek() []byte }); ok {
		if b := p.Peek(); len(b) <= maxPeek {
			return b
		}
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxPeek+1))
	rest := r.Body
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), rest}
	if err != nil || len(b) > maxPeek {
		return nil
	}
	return b
}

// jsonField reads top-level string fields of a JSON body.
func jsonFields(body []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return m
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// queryForm is the query-protocol form of r (URL and body).
func queryForm(r *http.Request) url.Values {
	vals, _ := url.ParseQuery(r.URL.RawQuery)
	if r.Method == http.MethodPost {
		if b := peekBody(r); b != nil {
			bv, _ := url.ParseQuery(string(b))
			for k, v := range bv {
				vals[k] = v
			}
		}
	}
	return vals
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// operationOf names the operation of a request routed to route.
func (d *Daemon) operationOf(route string, r *http.Request) (operation, bool) {
	target := r.Header.Get("X-Amz-Target")
	_, opFromTarget, _ := strings.Cut(target, ".")
	switch route {
	case "lambda", "nimbus":
		op, ps, ok := lambdaapi.Operation(r.Method, r.URL.EscapedPath())
		if !ok {
			return operation{}, false
		}
		o := operation{service: "lambda", name: op, params: map[string]string{}}
		switch op {
		case "GetCostReport":
			o.action, o.resource = "nimbus:GetCostReport", "*"
			return o, true
		case "CreateFunction":
			m := jsonFields(peekBody(r))
			ps = map[string]string{"fn": str(m, "FunctionName")}
			o.passRole = str(m, "Role")
		case "UpdateFunctionConfiguration":
			o.passRole = str(jsonFields(peekBody(r)), "Role")
		case "TagResource", "UntagResource", "ListTags":
			o.resource = ps["arn"]
		}
		if fn := ps["fn"]; fn != "" {
			ref, err := awsapi.ParseFunctionRef(fn)
			if err != nil {
				return operation{}, false
			}
			o.params["function"], o.params["qualifier"] = ref.Name, ref.Qualifier
			if q := r.URL.Query().Get("Qualifier"); q != "" {
				o.params["qualifier"] = q
			}
		}
		if a := ps["alias"]; a != "" && o.params["qualifier"] == "" {
			o.params["qualifier"] = a
		}
		if l := ps["layer"]; l != "" {
			o.params["layer"], o.params["version"] = l, ps["version"]
		}
		return o, true
	case "cluster-status":
		return operation{action: "nimbus:GetClusterStatus", resource: "*"}, true
	case "event-source-mappings":
		id := strings.Trim(strings.TrimPrefix(r.URL.Path, esm.PathPrefix), "/")
		o := operation{service: "lambda", resource: "*"}
		switch {
		case id == "" && r.Method == http.MethodPost:
			o.name = "CreateEventSourceMapping"
		case id == "":
			o.name = "ListEventSourceMappings"
		case r.Method == http.MethodGet:
			o.name = "GetEventSourceMapping"
		case r.Method == http.MethodPut:
			o.name = "UpdateEventSourceMapping"
		case r.Method == http.MethodDelete:
			o.name = "DeleteEventSourceMapping"
		default:
			return operation{}, false
		}
		if id != "" {
			o.resource = "arn:aws:lambda:" + d.cfg.Region + ":" + d.cfg.AccountID + ":event-source-mapping:" + id
		}
		return o, true
	case "logs":
		m := jsonFields(peekBody(r))
		g := str(m, "logGroupName")
		if id := str(m, "logGroupIdentifier"); g == "" && id != "" {
			g = id
			if strings.HasPrefix(id, "arn:") {
				parts := strings.SplitN(id, ":", 7)
				if len(parts) == 7 {
					g = strings.TrimSuffix(parts[6], ":*")
				}
			}
		}
		o := operation{service: "logs", name: opFromTarget, params: map[string]string{"logGroup": g}}
		if g == "" {
			o.resource = "*"
		}
		if opFromTarget == "StartLiveTail" {
			o = liveTailOperation(o, m, "arn:aws:logs:"+d.cfg.Region+":"+d.cfg.AccountID+":log-group:")
		}
		return o, true
	case "cloudwatch":
		op, alarm, dashboard := cloudwatch.RequestTarget(r, peekBody(r))
		o := operation{service: "cloudwatch", name: op, params: map[string]string{"alarm": alarm, "dashboard": dashboard}}
		if alarm == "" && dashboard == "" {
			o.resource = "*"
		}
		return o, op != ""
	case "sqs":
		var name, queueURL string
		var op string
		if target != "" {
			m := jsonFields(peekBody(r))
			op, queueURL, name = opFromTarget, str(m, "QueueUrl"), str(m, "QueueName")
		} else {
			f := queryForm(r)
			op, queueURL, name = f.Get("Action"), f.Get("QueueUrl"), f.Get("QueueName")
			if queueURL == "" && r.URL.Path != "/" {
				queueURL = r.URL.Path
			}
		}
		if queueURL != "" {
			name = lastSegment(strings.TrimRight(queueURL, "/"))
		}
		o := operation{service: "sqs", name: op, params: map[string]string{"queue": name}}
		if name == "" {
			o.resource = "*"
		}
		return o, op != ""
	case "events":
		m := jsonFields(peekBody(r))
		o := operation{service: "events", name: opFromTarget, resource: "*"}
		arn := "arn:aws:events:" + d.cfg.Region + ":" + d.cfg.AccountID + ":"
		bus := str(m, "EventBusName")
		if strings.HasPrefix(bus, "arn:") {
			bus = lastSegment(bus)
		}
		switch {
		case str(m, "Rule") != "" || (str(m, "Name") != "" && strings.Contains(opFromTarget, "Rule")):
			rule := str(m, "Rule")
			if rule == "" {
				rule = str(m, "Name")
			}
			if bus != "" && bus != "default" {
				rule = bus + "/" + rule
			}
			o.resource = arn + "rule/" + rule
		case opFromTarget == "PutEvents":
			o.resource = arn + "event-bus/default"
			if es, ok := m["Entries"].([]any); ok && len(es) > 0 {
				if e, ok := es[0].(map[string]any); ok && str(e, "EventBusName") != "" {
					o.resource = arn + "event-bus/" + lastSegment(str(e, "EventBusName"))
				}
			}
		case str(m, "Name") != "" && strings.Contains(opFromTarget, "EventBus"):
			o.resource = arn + "event-bus/" + str(m, "Name")
		case bus != "":
			o.resource = arn + "event-bus/" + bus
		}
		switch opFromTarget {
		case "PutRule":
			o.passRole, o.passTo = str(m, "RoleArn"), "events.amazonaws.com"
		case "PutTargets":
			// Each target's RoleArn is a role EventBridge acts as: the
			// caller must be able to pass every one, as AWS asks.
			o.passTo = "events.amazonaws.com"
			ts, _ := m["Targets"].([]any)
			for _, t := range ts {
				tm, _ := t.(map[string]any)
				if ra := str(tm, "RoleArn"); ra != "" && ra != o.passRole && !slices.Contains(o.morePass, ra) {
					if o.passRole == "" {
						o.passRole = ra
					} else {
						o.morePass = append(o.morePass, ra)
					}
				}
			}
		}
		return o, opFromTarget != ""
	case "pipes":
		op, name, ok := pipes.Operation(r.Method, r.URL.EscapedPath())
		if u, err := url.PathUnescape(name); err == nil {
			name = u
		}
		o := operation{service: "pipes", name: op, params: map[string]string{"pipe": name}}
		switch {
		case op == "ListPipes":
			o.resource = "*"
		case strings.HasPrefix(name, "arn:"):
			o.resource = name // the tag operations name the pipe by ARN
		case op == "CreatePipe" || op == "UpdatePipe":
			o.passRole, o.passTo = str(jsonFields(peekBody(r)), "RoleArn"), "pipes.amazonaws.com"
		}
		return o, ok
	case "apigateway":
		return operation{service: "apigateway", name: r.Method, params: map[string]string{"path": r.URL.Path}}, true
	case "scheduler":
		return d.schedulerOperation(r)
	case "s3":
		return s3Operation(r), true
	case "cloudformation":
		if cfnapi.IsArtifactRequest(r) {
			if r.Method == http.MethodGet {
				return operation{action: "nimbus:GetArtifact", resource: "*"}, true
			}
			return operation{action: "nimbus:PutArtifact", resource: "*"}, true
		}
		f := queryForm(r)
		o := operation{service: "cloudformation", name: f.Get("Action"), params: map[string]string{"stack": f.Get("StackName")}}
		if s := f.Get("StackName"); s == "" {
			o.resource = "*"
		} else if strings.HasPrefix(s, "arn:") {
			o.resource = s
		}
		switch o.name {
		case "CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet":
			// The stack's operations act as its service role: handing
			// it over needs iam:PassRole, as AWS asks.
			o.passRole, o.passTo = f.Get("RoleARN"), "cloudformation.amazonaws.com"
			if o.passRole != "" {
				o.keys = map[string]string{"cloudformation:RoleArn": o.passRole}
			}
		}
		return o, o.name != ""
	case "iam":
		f := queryForm(r)
		o := operation{service: "iam", name: f.Get("Action"), resource: "*"}
		acct := "arn:aws:iam::" + d.cfg.AccountID + ":"
		path := f.Get("Path")
		if path == "" {
			path = "/"
		}
		switch {
		case f.Get("RoleName") != "":
			o.resource = acct + "role" + path + f.Get("RoleName")
			if arn, ok := d.iam.EntityArn(iam.KindRole, f.Get("RoleName")); ok {
				o.resource = arn
			}
		case f.Get("UserName") != "":
			o.resource = acct + "user" + path + f.Get("UserName")
			if arn, ok := d.iam.EntityArn(iam.KindUser, f.Get("UserName")); ok {
				o.resource = arn
			}
		case f.Get("GroupName") != "":
			o.resource = acct + "group" + path + f.Get("GroupName")
			if arn, ok := d.iam.EntityArn(iam.KindGroup, f.Get("GroupName")); ok {
				o.resource = arn
			}
		case f.Get("PolicyArn") != "":
			o.resource = f.Get("PolicyArn")
		case f.Get("PolicyName") != "" && o.name == "CreatePolicy":
			o.resource = acct + "policy" + path + f.Get("PolicyName")
		}
		return o, o.name != ""
	}
	// A service whose operations this table does not name one by one
	// (DynamoDB, KMS, and the services landing beside this one): the
	// operation from X-Amz-Target or the query Action, the resource from
	// the parameters AWS's APIs name it by (genericResource), else "*".
	if opFromTarget != "" {
		if route == "dynamodb" {
			if acc, ok := dynamodb.Accesses(opFromTarget, peekBody(r)); ok {
				return d.tableOperation(opFromTarget, acc), true
			}
		}
		if route == "kinesis" {
			if res := kinesis.Resource(d.cfg.Region, d.cfg.AccountID, peekBody(r)); res != "" {
				return operation{service: route, name: opFromTarget, resource: res}, true
			}
		}
		m := jsonFields(peekBody(r))
		if route == "kms" && opFromTarget == "ReEncrypt" {
			return d.reEncryptOperation(r.Context(), m), true
		}
		res := d.genericResources(route, m)
		o := operation{service: route, name: opFromTarget, resource: res[0]}
		for _, extra := range res[1:] {
			// A member the operation may not even read must not pick the
			// resource IAM judges: every one named is judged.
			o.also = append(o.also, check{resource: extra})
		}
		if route == "states" && (opFromTarget == "CreateStateMachine" || opFromTarget == "UpdateStateMachine") {
			// The machine's Tasks act as its role: handing it over needs
			// iam:PassRole, as AWS asks.
			o.passRole, o.passTo = str(m, "roleArn"), "states.amazonaws.com"
		}
		return o, true
	}
	if f := queryForm(r); f.Get("Action") != "" {
		m := map[string]any{}
		for k, v := range f {
			m[k] = v[0]
		}
		return operation{service: route, name: f.Get("Action"), resource: d.genericResource(route, m)}, true
	}
	return operation{}, false
}

// tableOperation is a DynamoDB request that names its tables in its body
// (PartiQL statements, transactions, batches): each statement's or
// item's action on its table (or index), all needed. None (a statement
// that does not parse): the operation's own refusal answers.
func (d *Daemon) tableOperation(op string, acc []dynamodb.Access) operation {
	o := operation{service: "dynamodb", name: op}
	seen := map[check]bool{}
	for _, a := range acc {
		arn := "arn:aws:dynamodb:" + d.cfg.Region + ":" + d.cfg.AccountID + ":table/" + a.Table
		if a.Index != "" {
			arn += "/index/" + a.Index
		}
		if a.ARN != "" {
			arn = a.ARN
		}
		c := check{a.Action, arn}
		if seen[c] {
			continue
		}
		seen[c] = true
		if o.action == "" {
			o.action, o.resource = c.action, c.resource
		} else {
			o.also = append(o.also, c)
		}
	}
	return o
}

// isDomainPath is API Gateway's custom domain names and their mappings
// (REST /domainnames..., v2 /v2/domainnames...).
func isDomainPath(p string) bool {
	return strings.HasPrefix(p, "/domainnames") || strings.HasPrefix(p, "/v2/domainnames")
}

// foldedTwins returns two top-level member names of a JSON object body
// that are equal without regard to case ("" when there are none, or the
// body is not an object).
func foldedTwins(body []byte) (string, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", ""
	}
	seen := map[string]string{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", ""
		}
		k, _ := t.(string)
		f := foldKey(k)
		if prev, ok := seen[f]; ok && prev != k {
			return prev, k
		}
		seen[f] = k
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", ""
		}
	}
	return "", ""
}

// foldKey maps every rune of k to the least rune of its Unicode simple
// folding orbit, so foldKey(a) == foldKey(b) exactly when
// strings.EqualFold(a, b), which is how encoding/json matches names
// (the Kelvin sign matches k, the long s matches s).
func foldKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// writeSerializationError answers a JSON-protocol request its protocol's
// SerializationException (400).
func writeSerializationError(w http.ResponseWriter, r *http.Request, msg string) {
	proto := awsapi.ProtocolJSON11
	if t := r.Header.Get("X-Amz-Target"); strings.HasPrefix(t, "DynamoDB") || strings.HasPrefix(t, "AWSStepFunctions") ||
		strings.HasPrefix(t, "AmazonSQS") {
		proto = awsapi.ProtocolJSON10
	}
	awsapi.WriteProtocolError(w, proto, awsapi.ProtocolError{Error: &awsapi.Error{Status: http.StatusBadRequest,
		Code: "SerializationException", Type: "User", Message: msg}})
}

// genericResource finds an operation's resource ARN among the request
// parameters AWS's APIs use for it: an ARN parameter as it is, a DynamoDB
// TableName, a KMS key id, an SSM parameter name; "*" when none.
func (d *Daemon) genericResource(service string, m map[string]any) string {
	return d.genericResources(service, m)[0]
}

// genericResources is every resource the request's parameters name, the
// one genericResource picks first: a body may carry members its operation
// does not read (an ARN beside the name the operation uses), and each is
// judged so that none can stand in for another.
func (d *Daemon) genericResources(service string, m map[string]any) []string {
	var out []string
	add := func(r string) {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, k := range []string{"TopicArn", "TargetArn", "stateMachineArn", "executionArn", "mapRunArn", "activityArn", "TableArn", "StreamArn",
		"ResourceArn", "SecretId", "KeyId", "Name", "StreamName"} {
		if v := str(m, k); strings.HasPrefix(v, "arn:") {
			add(v)
		}
	}
	add(d.namedResource(service, m))
	if len(out) == 0 {
		out = append(out, "*")
	}
	return out
}

// namedResource is the resource a service's name parameter names (a
// DynamoDB TableName, a KMS key id or alias, an SSM parameter, a secret);
// "" when there is none.
func (d *Daemon) namedResource(service string, m map[string]any) string {
	acct := d.cfg.Region + ":" + d.cfg.AccountID + ":"
	switch service {
	case "dynamodb":
		if t := str(m, "TableName"); t != "" {
			return "arn:aws:dynamodb:" + acct + "table/" + t
		}
	case "kms":
		if k := str(m, "KeyId"); k != "" && !strings.HasPrefix(k, "arn:") {
			if strings.HasPrefix(k, "alias/") {
				return "arn:aws:kms:" + acct + k
			}
			return "arn:aws:kms:" + acct + "key/" + k
		}
	case "ssm":
		if n := str(m, "Name"); n != "" && !strings.HasPrefix(n, "arn:") {
			return "arn:aws:ssm:" + acct + "parameter/" + strings.TrimPrefix(n, "/")
		}
	case "secretsmanager":
		if n := str(m, "SecretId"); n != "" && !strings.HasPrefix(n, "arn:") {
			return "arn:aws:secretsmanager:" + acct + "secret:" + n + "-??????"
		}
	}
	return ""
}

// authorized wraps a SigV4 route's handler with IAM evaluation.
func (d *Daemon) authorized(route string, p auth.Protocol, next http.Handler) http.Handler {
	mode := d.cfg.IAMMode()
	if mode == config.IAMOff || d.iam == nil || route == "sts" {
		// STS evaluates AssumeRole itself (the role's trust policy with
		// the caller's), and GetCallerIdentity is always allowed.
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok || id.Root || id.Insecure {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("X-Amz-Target") != "" {
			// encoding/json matches member names without regard to case,
			// last one winning, while IAM reads the resource from the exact
			// name: {"QueueUrl": mine, "queueurl": theirs} would be judged
			// on mine and act on theirs. AWS's JSON protocols are case
			// sensitive and no client sends such a pair: refuse it.
			if a, b := foldedTwins(peekBody(r)); a != "" {
				writeSerializationError(w, r, "the request has members "+strconv.Quote(a)+" and "+strconv.Quote(b)+
					", which differ only in case; member names are case sensitive")
				return
			}
		}
		action, resource, denied := d.evaluate(route, r, id)
		if route == "apigateway" && r.Method != http.MethodGet && isDomainPath(r.URL.Path) {
			// A custom domain name takes over every request to its host on
			// this node, including the AWS API calls of clients that reach
			// the node by that name (AWS asks for a certificate proving the
			// name is yours; Nimbus has no such proof): the operator's
			// root credentials only.
			action, resource = "apigateway:"+r.Method, "arn:aws:apigateway:"+d.cfg.Region+"::"+r.URL.Path
			denied = "User: " + id.Principal + " is not authorized to perform: " + action + " on resource: " + resource +
				": a custom domain name takes over requests to its host on this node, so Nimbus lets only the account's root credentials create, change or delete one"
		}
		if denied == "" {
			next.ServeHTTP(w, r)
			return
		}
		if mode == config.IAMAudit {
			d.log.Warn("iam audit: would deny", "principal", id.Principal, "action", action, "resource", resource,
				"reason", denied)
			next.ServeHTTP(w, r)
			return
		}
		d.log.Info("iam: denied", "principal", id.Principal, "action", action, "resource", resource)
		writeAccessDenied(w, r, route, p, denied)
	})
}

// evaluate decides one request; denied is AWS's message ("" if allowed).
func (d *Daemon) evaluate(route string, r *http.Request, id auth.Identity) (action, resource, denied string) {
	op, ok := d.operationOf(route, r)
	switch {
	case !ok:
		// An operation the front door cannot name is refused to every
		// caller but root (fail closed): a route whose operations this
		// table does not name would otherwise let any caller do anything
		// its handler serves (Scheduler's API was open that way). Root
		// still gets the handler's own answer (UnknownOperationException
		// and the like).
		return "", "*", "User: " + id.Principal + " is not authorized to perform this operation: Nimbus cannot name it " +
			"for IAM evaluation, so only the account's root credentials may call it"
	case op.action != "":
		action = op.action
	default:
		action = iamAction(op.service, op.name)
	}
	if action == "" {
		return "", "", ""
	}
	resource = op.resource
	if resource == "" {
		resource = iamResource(action, d.cfg.Region, d.cfg.AccountID, op.params)
	}
	if resource == "" {
		resource = "*"
	}
	resource = d.kmsResource(r, action, resource) // kmsauth.go
	req := &policy.Request{Action: action, Resource: resource}
	now := time.Now().UTC()
	req.Set("aws:CurrentTime", now.Format(time.RFC3339))
	req.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	req.Set("aws:SecureTransport", strconv.FormatBool(r.TLS != nil))
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Set("aws:SourceIp", host)
	}
	req.Set("aws:RequestedRegion", d.cfg.Region)
	d.resourceKeys(r.Context(), action, resource, req)
	for k, v := range op.keys {
		req.Set(k, v)
	}
	req.Resolve = d.iam.TagResolver(r.Context(), d.tagSource(route, op.name, r, resource)) // iam_tags.go
	if id.FunctionArn != "" {
		req.Set("lambda:SourceFunctionArn", id.FunctionArn)
	}
	if !id.Expiration.IsZero() {
		req.Set("aws:MultiFactorAuthPresent", "false")
	}
	caller := callerOf(id)
	prefix, _, _ := strings.Cut(action, ":")
	res, err := d.iam.ResourcePolicy(r.Context(), prefix, resource)
	if err != nil {
		d.log.Warn("iam: read resource policy", "resource", resource, "err", err)
	}
	dec := d.iam.Authorize(caller, req, res)
	if prefix == "kms" {
		dec = kmsKeyPolicy(dec, req, res, d.cfg.AccountID) // a key policy is KMS's primary control
	}
	if !dec.Allowed {
		return action, resource, dec.Message(id.Principal, action, resource)
	}
	for _, c := range op.also {
		if c.action == "" {
			c.action = action // the same action on another resource
		}
		req.Action, req.Resource = c.action, c.resource
		forgetResourceTags(req)
		req.Resolve = d.iam.TagResolver(r.Context(), d.tagSource(route, op.name, r, c.resource))
		res, err := d.iam.ResourcePolicy(r.Context(), prefix, c.resource)
		if err != nil {
			d.log.Warn("iam: read resource policy", "resource", c.resource, "err", err)
		}
		dec := d.iam.Authorize(caller, req, res)
		if prefix == "kms" {
			dec = kmsKeyPolicy(dec, req, res, d.cfg.AccountID)
		}
		if !dec.Allowed {
			return c.action, c.resource, dec.Message(id.Principal, c.action, c.resource)
		}
	}
	for _, role := range append([]string{op.passRole}, op.morePass...) {
		if role == "" {
			continue
		}
		pr := &policy.Request{Action: "iam:PassRole", Resource: role, Keys: maps.Clone(req.Keys)}
		forgetResourceTags(pr)
		pr.Resolve = d.iam.TagResolver(r.Context(), iam.TagSource{Resource: role}) // the role's tags
		to := op.passTo
		if to == "" {
			to = "lambda.amazonaws.com"
		}
		pr.Set("iam:PassedToService", to)
		if dec := d.iam.Authorize(caller, pr); !dec.Allowed {
			return "iam:PassRole", role, dec.Message(id.Principal, "iam:PassRole", role)
		}
	}
	return action, resource, ""
}

// writeAccessDenied answers a denial as the route's service does:
// AccessDeniedException (403) for Lambda and the REST-JSON services,
// AccessDeniedException (400, as their models leave it) for CloudWatch
// Logs, EventBridge, DynamoDB (and its Streams) and Kinesis, SQS's AccessDenied (403, query code too),
// AccessDenied (403) for the query services, AuthorizationError (403) for
// SNS, S3's AccessDenied (403, XML).
func writeAccessDenied(w http.ResponseWriter, r *http.Request, route string, p auth.Protocol, msg string) {
	e := &awsapi.Error{Status: http.StatusForbidden, Code: "AccessDeniedException", Type: "User", Message: msg}
	pe := awsapi.ProtocolError{Error: e}
	proto := awsapi.ProtocolRESTJSON
	target := r.Header.Get("X-Amz-Target")
	switch {
	case route == "sns":
		e.Code, proto = "AuthorizationError", awsapi.ProtocolQuery
	case route == "s3":
		e.Code, proto = "AccessDenied", awsapi.ProtocolRESTXML
	case route == "sqs" && target != "":
		proto, pe.QueryCode = awsapi.ProtocolJSON10, "AccessDenied"
	case route == "cloudwatch":
		e.Code, pe.QueryCode = "AccessDenied", "AccessDenied"
		switch {
		case cloudwatch.IsCBOR(r):
			proto = awsapi.ProtocolRPCv2CBOR
			w.Header().Set("x-amzn-query-error", "AccessDenied;Sender")
		case target != "":
			proto = awsapi.ProtocolJSON10
		default:
			proto = awsapi.ProtocolQuery
		}
	case route == "logs" || route == "events":
		e.Status, proto = http.StatusBadRequest, awsapi.ProtocolJSON11
	case target != "":
		proto = awsapi.ProtocolJSON11
		if strings.HasPrefix(target, "DynamoDB") || strings.HasPrefix(target, "AWSStepFunctions") {
			proto = awsapi.ProtocolJSON10
		}
		if strings.HasPrefix(target, "DynamoDB") || strings.HasPrefix(target, "Kinesis_") {
			// DynamoDB's error table lists AccessDeniedException under
			// 400; Kinesis's model leaves its status to the default, 400.
			e.Status = http.StatusBadRequest
		}
	case p == auth.Query || auth.ProtocolOf(r) == auth.Query || route == "iam" || route == "cloudformation":
		e.Code, proto = "AccessDenied", awsapi.ProtocolQuery
	}
	awsapi.WriteProtocolError(w, proto, pe)
}

// userKey resolves an IAM user's access key for the authenticator.
func (d *Daemon) userKey(akid string) (name, arn string, ok bool) {
	if d.iam == nil {
		return "", "", false
	}
	name, ok = d.iam.AccessKeyOwner(akid)
	if !ok {
		return "", "", false
	}
	arn, ok = d.iam.UserArn(name)
	return name, arn, ok
}

// registerResourcePolicies gives the IAM service the resource policies of
// the services this node serves: Lambda's function permissions
// (AddPermission), SQS queue policies, S3 bucket policies, SNS topic
// policies and Secrets Manager resource policies. The services created
// after this call are read through d when a call is evaluated.
func (d *Daemon) registerResourcePolicies(queues *sqs.Service) {
	d.iam.RegisterResourcePolicies("s3", iam.ResourcePolicyFunc(func(ctx context.Context, arn string) (string, error) {
		rest, ok := strings.CutPrefix(arn, "arn:aws:s3:::")
		if !ok || d.s3 == nil {
			return "", nil
		}
		bucket, _, _ := strings.Cut(rest, "/")
		return d.s3.BucketPolicy(ctx, bucket), nil
	}))
	d.iam.RegisterResourcePolicies("sns", iam.ResourcePolicyFunc(func(ctx context.Context, arn string) (string, error) {
		if d.sns == nil {
			return "", nil
		}
		return d.sns.AccessPolicy(ctx, arn), nil // the default policy when none is set
	}))
	d.iam.RegisterResourcePolicies("secretsmanager", iam.ResourcePolicyFunc(func(ctx context.Context, arn string) (string, error) {
		if d.secrets == nil {
			return "", nil
		}
		// A secret named by its name is evaluated on name-?????? (the
		// random suffix AWS adds): look it up by the name.
		return d.secrets.ResourcePolicy(ctx, strings.TrimSuffix(arn, "-??????")), nil
	}))
	d.iam.RegisterResourcePolicies("lambda", iam.ResourcePolicyFunc(func(ctx context.Context, arn string) (string, error) {
		parts := strings.Split(arn, ":")
		if len(parts) < 7 || parts[5] != "function" {
			return "", nil
		}
		q := ""
		if len(parts) == 8 {
			q = parts[7]
		}
		stmts, _, err := d.reg.Policy(ctx, parts[6], q)
		if err != nil || len(stmts) == 0 {
			return "", nil // no function, or no policy: nothing granted by it
		}
		doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": stmts})
		return string(doc), err
	}))
	d.iam.RegisterResourcePolicies("execute-api", d.apiPolicies())
	d.iam.RegisterResourcePolicies("sqs", iam.ResourcePolicyFunc(func(ctx context.Context, arn string) (string, error) {
		parts := strings.Split(arn, ":")
		if len(parts) != 6 {
			return "", nil
		}
		attrs, err := queues.Attributes(ctx, parts[4], parts[5], []string{"Policy"})
		if err != nil {
			return "", nil // no queue: the handler answers that
		}
		return attrs["Policy"], nil
	}))
}

// s3Operation names an S3 request's operation from its method, bucket
// (virtual host or first path segment), key and subresource, without
// reading its body (S3 verifies bodies as they stream).
func s3Operation(r *http.Request) operation {
	bucket, ok := s3.VirtualHostBucket(r.Host)
	key := strings.TrimPrefix(r.URL.Path, "/")
	if !ok {
		bucket, key, _ = strings.Cut(key, "/")
	}
	q := r.URL.Query()
	o := operation{service: "s3", params: map[string]string{"bucket": bucket, "key": key}}
	m := r.Method
	switch {
	case bucket == "":
		o.name = "ListBuckets"
	case key != "":
		switch {
		case q.Has("acl") && (m == http.MethodGet || m == http.MethodPut):
			o.name = map[string]string{http.MethodGet: "Get", http.MethodPut: "Put"}[m] + "ObjectAcl"
			if q.Has("versionId") {
				o.name = strings.Replace(o.name, "Object", "ObjectVersion", 1)
			}
		case q.Has("tagging") && (m == http.MethodGet || m == http.MethodPut || m == http.MethodDelete):
			// Tag sets have their own actions (a PutObject grant does not
			// let a caller retag an object that tag conditions judge by).
			o.name = map[string]string{http.MethodGet: "Get", http.MethodPut: "Put", http.MethodDelete: "Delete"}[m] + "ObjectTagging"
			if q.Has("versionId") {
				o.name = strings.Replace(o.name, "Object", "ObjectVersion", 1)
			}
		case q.Has("attributes") && m == http.MethodGet:
			// As on AWS: s3:GetObjectAttributes and s3:GetObject (the
			// Version forms for a version).
			o.name, o.also = "GetObjectAttributes", []check{{action: "s3:GetObject", resource: "arn:aws:s3:::" + bucket + "/" + key}}
			if q.Has("versionId") {
				o.name, o.also[0].action = "GetObjectVersionAttributes", "s3:GetObjectVersion"
			}
		case m == http.MethodGet && q.Has("uploadId"):
			o.name = "ListParts"
		case (m == http.MethodGet || m == http.MethodHead) && q.Has("versionId"):
			o.name = "GetObjectVersion"
		case m == http.MethodGet || m == http.MethodHead:
			o.name = "GetObject"
		case m == http.MethodPut && r.Header.Get("x-amz-copy-source") != "":
			o.name = "CopyObject"
			if q.Has("uploadId") {
				o.name = "UploadPartCopy"
			}
			o.also = copySourceCheck(r.Header.Get("x-amz-copy-source"))
			if setsACL(r.Header) {
				o.also = append(o.also, check{action: "s3:PutObjectAcl", resource: "arn:aws:s3:::" + bucket + "/" + key})
			}
		case m == http.MethodPut:
			o.name = "PutObject"
			if setsACL(r.Header) {
				// As on AWS, a write that sets an ACL needs s3:PutObjectAcl too.
				o.also = append(o.also, check{action: "s3:PutObjectAcl", resource: "arn:aws:s3:::" + bucket + "/" + key})
			}
		case m == http.MethodDelete && q.Has("uploadId"):
			o.name = "AbortMultipartUpload"
		case m == http.MethodDelete && q.Has("versionId"):
			o.name = "DeleteObjectVersion"
		case m == http.MethodDelete:
			o.name = "DeleteObject"
		default: // POST ?uploads, ?uploadId: multipart, authorised as PutObject
			o.name = "PutObject"
		}
	default:
		sub := ""
		for _, s := range []string{"policy", "notification", "versioning", "tagging", "cors", "lifecycle", "acl", "location",
			"encryption", "website", "uploads", "versions", "delete", "ownershipControls", "publicAccessBlock"} {
			if q.Has(s) {
				sub = s
				break
			}
		}
		switch {
		case sub == "delete":
			o.name = "DeleteObjects"
		case sub == "uploads":
			o.name = "ListMultipartUploads"
		case sub == "versions":
			o.name = "ListObjectVersions"
		case sub == "location":
			o.name = "GetBucketLocation"
		case sub == "notification" && m == http.MethodPut:
			o.name = "PutBucketNotificationConfiguration"
		case sub == "notification":
			o.name = "GetBucketNotificationConfiguration"
		case sub == "publicAccessBlock":
			// IAM names them s3:Get/PutBucketPublicAccessBlock (rename);
			// the delete is authorised as the put.
			o.name = map[string]string{http.MethodPut: "Put", http.MethodDelete: "Delete"}[m] + "PublicAccessBlock"
			if o.name == "PublicAccessBlock" {
				o.name = "GetPublicAccessBlock"
			}
		case sub == "cors" || sub == "lifecycle" || sub == "acl" || sub == "encryption" || sub == "website" || sub == "policy" ||
			sub == "versioning" || sub == "tagging" || sub == "ownershipControls":
			verb := map[string]string{http.MethodPut: "Put", http.MethodDelete: "Delete"}[m]
			if verb == "" {
				verb = "Get"
			}
			if verb == "Delete" && (sub == "cors" || sub == "lifecycle" || sub == "encryption" || sub == "ownershipControls") {
				verb = "Put" // IAM has no Delete action for these: S3 authorises the delete as the Put
			}
			name := map[string]string{"cors": "BucketCORS", "lifecycle": "LifecycleConfiguration", "acl": "BucketAcl",
				"encryption": "EncryptionConfiguration", "website": "BucketWebsite", "policy": "BucketPolicy",
				"versioning": "BucketVersioning", "tagging": "BucketTagging", "ownershipControls": "BucketOwnershipControls"}[sub]
			o.name = verb + name
		case m == http.MethodPut:
			o.name = "CreateBucket"
			// As on AWS, a create that sets an ACL or the Object Ownership
			// needs those permissions too.
			if setsACL(r.Header) {
				o.also = append(o.also, check{action: "s3:PutBucketAcl", resource: "arn:aws:s3:::" + bucket})
			}
			if r.Header.Get("x-amz-object-ownership") != "" {
				o.also = append(o.also, check{action: "s3:PutBucketOwnershipControls", resource: "arn:aws:s3:::" + bucket})
			}
		case m == http.MethodDelete:
			o.name = "DeleteBucket"
		default:
			o.name = "ListObjectsV2"
		}
	}
	if key != "" && (m == http.MethodPut || m == http.MethodPost) && r.Header.Get("X-Amz-Tagging") != "" && !q.Has("tagging") {
		// As on AWS, a write that tags its object needs s3:PutObjectTagging too.
		o.also = append(o.also, check{action: "s3:PutObjectTagging", resource: "arn:aws:s3:::" + bucket + "/" + key})
	}
	return o
}

// setsACL reports whether an S3 write names an ACL (x-amz-acl or an
// x-amz-grant-* header).
func setsACL(h http.Header) bool {
	if h.Get("x-amz-acl") != "" {
		return true
	}
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-grant-") {
			return true
		}
	}
	return false
}

// copySourceCheck is what a copy needs of its source beside s3:PutObject
// on its destination, as AWS judges it: s3:GetObject (GetObjectVersion
// for a version) on the source object, its bucket's policy included. A
// source that does not parse needs nothing here: S3 refuses it.
func copySourceCheck(v string) []check {
	bucket, key, vid, ok := s3.CopySource(v)
	if !ok {
		return nil
	}
	action := "s3:GetObject"
	if vid != "" {
		action = "s3:GetObjectVersion"
	}
	return []check{{action: action, resource: "arn:aws:s3:::" + bucket + "/" + key}}
}

// warnMissingRoles says, at start under --iam enforce, which functions
// name a role that does not exist in IAM: they still run, but every AWS
// call they make with their own credentials is denied (a data directory
// from before enforce became the default has such functions).
func (d *Daemon) warnMissingRoles(ctx context.Context) {
	if d.iam == nil || d.cfg.IAMMode() != config.IAMEnforce {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	missing := d.missingRoles(ctx)
	if len(missing) == 0 {
		return
	}
	shown := missing
	if len(shown) > 10 {
		shown = shown[:10]
	}
	d.log.Warn("iam: functions whose role does not exist: their own AWS calls are denied under --iam enforce (the default); "+
		"create each role with the policies it needs (aws iam create-role, put-role-policy), or run with --iam audit to log instead",
		"count", len(missing), "functions", strings.Join(shown, ", "))
}

// missingRoles names the functions whose role does not exist in IAM.
func (d *Daemon) missingRoles(ctx context.Context) []string {
	fns, err := d.reg.ListFunctions(ctx, false)
	if err != nil {
		return nil
	}
	var missing []string
	for _, f := range fns {
		if d.iam.Role(f.Role) == nil {
			missing = append(missing, f.FunctionName)
		}
	}
	return missing
}

// callerOf is the IAM caller an authenticated identity is: its ARN, the
// role behind a session, the user behind a key, and an AssumeRole session
// policy (one that does not parse limits nothing more: STS checked it).
func callerOf(id auth.Identity) iam.Caller {
	c := iam.Caller{ARN: id.Principal, RoleArn: id.RoleArn, UserName: id.UserName}
	if id.SessionPolicy != "" {
		if sp, err := policy.Parse([]byte(id.SessionPolicy), policy.Identity); err == nil {
			c.SessionPolicy = sp
		}
	}
	return c
}

// liveTailOperation: StartLiveTail is allowed on every log group it tails
// (logGroupIdentifiers, names or ARNs).
func liveTailOperation(o operation, m map[string]any, arnPrefix string) operation {
	ids, _ := m["logGroupIdentifiers"].([]any)
	for _, v := range ids {
		g, _ := v.(string)
		if _, rest, ok := strings.Cut(g, ":log-group:"); ok && strings.HasPrefix(g, "arn:") {
			g = strings.TrimSuffix(rest, ":*")
		}
		c := check{"logs:StartLiveTail", arnPrefix + g + ":*"}
		if o.action == "" {
			o.action, o.resource = c.action, c.resource
		} else {
			o.also = append(o.also, c)
		}
	}
	return o
}
