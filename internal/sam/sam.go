// Package sam is the AWS::Serverless-2016-10-31 transform: it expands
// AWS::Serverless::* resources, Globals and the implicit APIs into the plain
// CloudFormation resources aws-sam-translator produces, with the same
// logical IDs, so Outputs and references written against SAM's generated
// names (HelloFunctionRole, ServerlessRestApi, ServerlessHttpApi, ...)
// resolve. Event sources whose services Nimbus does not have yet fail the
// transform with an error naming each of them.
//
// The steps follow samtranslator's: default API definitions, the implicit
// REST and HTTP APIs, Globals, policy templates, then each SAM resource in
// turn (functions first, because their API events edit the APIs'
// definitions), then the rewriting of references to generated names
// (MyLayer → MyLayer<hash>, MyFunction.Alias → MyFunctionAliaslive).
// Logical IDs with hash suffixes use samtranslator's hashes where they can
// be reproduced (function versions, layers); a REST API deployment's hash
// is Nimbus's own (samtranslator hashes Python's repr of the definition).
//
// Event sources of services Nimbus lacks (UnsupportedEvents) fail the
// transform; SQS, Kinesis, DynamoDB, Schedule, ScheduleV2,
// EventBridgeRule, CloudWatchEvent, SNS and CloudWatchLogs events and
// SimpleTable resources are nonetheless translated as samtranslator does,
// so that removing a type from UnsupportedEvents or UnsupportedResources is
// all it takes once its service lands.
//
// Where Nimbus differs from samtranslator, on purpose: lists built from
// maps (Tags, an OpenAPI body's tags) are ordered by key, since the
// template model keeps no key order; a conditional event-invoke
// destination's Fn::And is written in the form CloudFormation accepts
// (samtranslator wraps its conditions twice); and features that need what
// Nimbus does not have are refused with a clear error instead of being
// translated: a custom domain's Route53 records and PRIVATE domains
// (domain.go), REST API resource policies
// (Auth.ResourcePolicy, which Nimbus would not enforce), CodeDeploy
// (DeploymentPreference), container images and Lambda managed instances.
//
// It imports cfn only; the stack engine calls Transform, and the cli
// (deploy) asks it what a template uses that Nimbus lacks.
package sam

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// Options are the values the transform needs that are not in the template.
type Options struct {
	Region, AccountID, StackName, Partition string
	// TranslateUnsupported translates the SAM resources of services Nimbus
	// lacks that have a plain CloudFormation form (SimpleTable ->
	// AWS::DynamoDB::Table was the one, until DynamoDB was served)
	// instead of refusing them, for a deploy with
	// --skip-unsupported: the engine then leaves the plain resource out,
	// with a warning event. Unsupported events are refused regardless.
	TranslateUnsupported bool
}

// TransformName is the value of Transform that marks a SAM template.
const TransformName = "AWS::Serverless-2016-10-31"

// UnsupportedEvents maps each SAM event type whose service Nimbus does not
// have yet to the service it needs. Remove an entry when its service lands
// and the translation of the event is written.
var UnsupportedEvents = map[string]string{
	"Kinesis":          "Amazon Kinesis",
	"MSK":              "Amazon MSK",
	"MQ":               "Amazon MQ",
	"DocumentDB":       "Amazon DocumentDB",
	"SelfManagedKafka": "self-managed Apache Kafka event sources",
	"IoTRule":          "AWS IoT Core",
	"AlexaSkill":       "Alexa Skills Kit",
	"Cognito":          "Amazon Cognito",
	"CloudWatchLogs":   "Amazon CloudWatch Logs subscription filters",
}

// UnsupportedResources maps each AWS::Serverless::* type whose service
// Nimbus does not have yet to the service it needs.
var UnsupportedResources = map[string]string{
	"AWS::Serverless::GraphQLApi":       "AWS AppSync",
	"AWS::Serverless::Connector":        "SAM connectors (IAM policies between resources)",
	"AWS::Serverless::WebSocketApi":     "API Gateway WebSocket APIs",
	"AWS::Serverless::CapacityProvider": "Lambda managed instances",
}

// unsupportedProperties maps function properties that need a missing
// service to that service.
var unsupportedProperties = map[string]string{
	"DeploymentPreference":   "AWS CodeDeploy",
	"CapacityProviderConfig": "Lambda managed instances",
	"DurableConfig":          "Lambda durable functions",
}

// UnsupportedError lists every part of a template that needs a service
// Nimbus does not have yet, one line each.
type UnsupportedError struct {
	Lines []string
}

func (e *UnsupportedError) Error() string { return strings.Join(e.Lines, "\n") }

// Error is an invalid SAM document: samtranslator's "Invalid Serverless
// Application Specification document" with every cause it found.
type Error struct {
	Causes []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("Invalid Serverless Application Specification document. Number of errors found: %d. %s",
		len(e.Causes), strings.Join(e.Causes, " "))
}

// HasTransform reports whether t declares the SAM transform.
func HasTransform(t *cfn.Template) bool {
	for _, name := range t.Transform {
		if name == TransformName {
			return true
		}
	}
	return false
}

// Transform returns a new template in which every AWS::Serverless::*
// resource is replaced by plain CloudFormation resources. params are the
// resolved parameter values (cfn.Template.ResolveParameters), needed where
// SAM resolves a property at transform time (AutoPublishAlias, say). A
// template without the SAM transform is returned unchanged.
func Transform(t *cfn.Template, params map[string]any, opts Options) (*cfn.Template, error) {
	if t == nil {
		return nil, errors.New("sam: no template")
	}
	if !HasTransform(t) {
		return t, nil
	}
	if err := checkSupported(t, opts.TranslateUnsupported); err != nil {
		return nil, err
	}
	tr := newTranslator(t, params, opts)
	return tr.run()
}

// CheckSupported is the check Transform makes first, for a client to make
// before it builds anything: every resource, event and property of a SAM
// template that needs a service Nimbus does not have, as one
// *UnsupportedError. translate is Options.TranslateUnsupported. A template
// without the SAM transform passes.
func CheckSupported(t *cfn.Template, translate bool) error {
	if !HasTransform(t) {
		return nil
	}
	return checkSupported(t, translate)
}

// checkSupported lists every resource, event and property of t that needs
// a service Nimbus does not have.
func checkSupported(t *cfn.Template, translate bool) error {
	var lines []string
	globalFn, _ := t.Globals["Function"].(map[string]any)
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if r == nil {
			continue
		}
		if svc, ok := UnsupportedResources[r.Type]; ok && (!translate || r.Type != typeSimpleTable) {
			line := fmt.Sprintf("Resources of type %s (resource %s) need %s, which Nimbus does not have yet", r.Type, id, svc)
			if r.Type == typeSimpleTable {
				line += " (--skip-unsupported leaves it out)"
			}
			lines = append(lines, line)
			continue
		}
		if sarLocation(r) {
			lines = append(lines, sarLine(id))
			continue
		}
		if r.Type != typeFunction {
			continue
		}
		for _, p := range sortedKeys(unsupportedProperties) {
			_, local := r.Properties[p]
			_, global := globalFn[p]
			if local || global {
				lines = append(lines, fmt.Sprintf("Property %s (function %s) needs %s, which Nimbus does not have yet", p, id, unsupportedProperties[p]))
			}
		}
		pt := r.Properties["PackageType"]
		if pt == nil {
			pt = globalFn["PackageType"]
		}
		if pt == "Image" {
			lines = append(lines, fmt.Sprintf("PackageType Image (function %s) needs container image functions, which Nimbus does not have yet; use a Zip package", id))
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for _, ev := range sortedKeys(events) {
			e, _ := events[ev].(map[string]any)
			typ, _ := e["Type"].(string)
			if svc, ok := UnsupportedEvents[typ]; ok {
				lines = append(lines, fmt.Sprintf("Events of type %s (function %s, event %s) need %s, which Nimbus does not have yet", typ, id, ev, svc))
			}
		}
	}
	if len(lines) > 0 {
		return &UnsupportedError{Lines: lines}
	}
	return nil
}

const (
	typeFunction = "AWS::Serverless::Function"
	typeAPI      = "AWS::Serverless::Api"
	typeHTTPAPI  = "AWS::Serverless::HttpApi"
	typeLayer    = "AWS::Serverless::LayerVersion"
)

// translator holds one transform's state.
type translator struct {
	opts      Options
	partition string
	res       resolver
	src       *cfn.Template
	// sam holds the SAM view of every resource as the plugins leave it;
	// functions' API events edit the APIs' definitions here before the
	// APIs are translated.
	sam map[string]*cfn.Resource
	// managed are the APIs whose definition SAM writes (__MANAGE_SWAGGER).
	managed    map[string]bool
	conditions map[string]any
	out        map[string]*cfn.Resource
	errs       []string
	changedIDs map[string]string
	// refs maps a SAM resource and a referable property (Alias, Stage, ...)
	// to the generated resource's logical ID.
	refs map[string]map[string]string
	// shared is the SHARED usage plan's state across REST APIs.
	shared *sharedUsagePlan
}

func newTranslator(t *cfn.Template, params map[string]any, opts Options) *translator {
	if opts.Partition == "" {
		opts.Partition = "aws"
	}
	p := map[string]any{}
	for name, decl := range t.Parameters {
		if decl != nil && decl.Default != nil {
			p[name] = decl.Default
		}
	}
	for k, v := range params {
		// samtranslator knows only these two pseudo parameters.
		if strings.HasPrefix(k, "AWS::") && k != "AWS::Region" && k != "AWS::Partition" {
			continue
		}
		p[k] = deepCopy(v)
	}
	if _, ok := p["AWS::Region"]; !ok && opts.Region != "" {
		p["AWS::Region"] = opts.Region
	}
	if _, ok := p["AWS::Partition"]; !ok {
		p["AWS::Partition"] = opts.Partition
	}
	return &translator{
		opts:       opts,
		partition:  opts.Partition,
		res:        resolver{params: p},
		src:        t,
		managed:    map[string]bool{},
		out:        map[string]*cfn.Resource{},
		changedIDs: map[string]string{},
		refs:       map[string]map[string]string{},
	}
}

func copyResource(r *cfn.Resource) *cfn.Resource {
	c := *r
	c.Properties = copyMap(r.Properties)
	c.Metadata = copyMap(r.Metadata)
	c.CreationPolicy = copyMap(r.CreationPolicy)
	c.UpdatePolicy = copyMap(r.UpdatePolicy)
	c.IgnoreGlobals = deepCopy(r.IgnoreGlobals)
	c.DependsOn = append([]string(nil), r.DependsOn...)
	if len(c.DependsOn) == 0 {
		c.DependsOn = nil
	}
	return &c
}

func (tr *translator) errorf(id, format string, args ...any) {
	tr.errs = append(tr.errs, fmt.Sprintf("Resource with id [%s] is invalid. %s", id, fmt.Sprintf(format, args...)))
}

func (tr *translator) fail() error {
	if len(tr.errs) == 0 {
		return nil
	}
	return &Error{Causes: tr.errs}
}

// invalid is an error found while translating one resource.
type invalid struct{ msg string }

func (e *invalid) Error() string { return e.msg }

func invalidf(format string, args ...any) error {
	return &invalid{msg: fmt.Sprintf(format, args...)}
}

// eventErr is samtranslator's InvalidEventException message.
func eventErr(event, format string, args ...any) error {
	return invalidf("Event with id [%s] is invalid. %s", event, fmt.Sprintf(format, args...))
}

func (tr *translator) run() (*cfn.Template, error) {
	if len(tr.src.Resources) == 0 {
		return nil, &Error{Causes: []string{"'Resources' section is required"}}
	}
	tr.sam = make(map[string]*cfn.Resource, len(tr.src.Resources))
	for id, r := range tr.src.Resources {
		if r == nil {
			return nil, &Error{Causes: []string{"All 'Resources' must be Objects. If you're using YAML, this may be an indentation issue."}}
		}
		c := copyResource(r)
		if strings.HasPrefix(c.Type, "AWS::Serverless::") && c.Properties == nil {
			c.Properties = map[string]any{}
		}
		tr.sam[id] = c
	}
	tr.conditions = copyMap(tr.src.Conditions)

	// Plugins, in samtranslator's order.
	tr.defaultDefinitionBodies()
	tr.implicitAPIs(restKind)
	tr.implicitAPIs(httpKind)
	if err := tr.fail(); err != nil {
		return nil, err
	}
	if err := tr.applyGlobals(tr.src.Globals); err != nil {
		return nil, err
	}
	tr.fixOpenAPIVersions()
	tr.expandPolicyTemplates()
	if err := tr.fail(); err != nil {
		return nil, err
	}

	for id, r := range tr.sam {
		if !strings.HasPrefix(r.Type, "AWS::Serverless::") {
			c := copyResource(r)
			c.IgnoreGlobals = nil
			tr.out[id] = c
		}
	}
	for _, id := range tr.order() {
		r := tr.sam[id]
		gen, err := tr.translate(id, r)
		if err != nil {
			var inv *invalid
			if errors.As(err, &inv) {
				tr.errorf(id, "%s", inv.msg)
				continue
			}
			return nil, err
		}
		for _, g := range gen {
			if existing, ok := tr.sam[g.id]; ok && g.id != id && !strings.HasPrefix(existing.Type, "AWS::Serverless::") {
				tr.errs = append(tr.errs, fmt.Sprintf("Transforming resource with id [%s] attempts to create a new resource with id [%s] and type \"%s\". A resource with that id already exists within this template. Please use a different id for that resource.", id, g.id, g.r.Type))
				continue
			}
			tr.out[g.id] = g.r
		}
	}
	if err := tr.fail(); err != nil {
		return nil, err
	}
	return tr.finish(), nil
}

// order lists the SAM resources in samtranslator's processing order:
// functions, then APIs, then the rest, each by logical ID.
func (tr *translator) order() []string {
	var fns, apis, others []string
	for _, id := range sortedKeys(tr.sam) {
		switch tr.sam[id].Type {
		case typeFunction:
			fns = append(fns, id)
		case typeAPI, typeHTTPAPI:
			apis = append(apis, id)
		default:
			if strings.HasPrefix(tr.sam[id].Type, "AWS::Serverless::") {
				others = append(others, id)
			}
		}
	}
	return append(append(fns, apis...), others...)
}

type generated struct {
	id string
	r  *cfn.Resource
}

// knownProperties are the properties samtranslator accepts on each type.
var knownProperties = map[string][]string{
	typeFunction: {"FunctionName", "Handler", "Runtime", "CodeUri", "ImageUri", "PackageType", "InlineCode",
		"DeadLetterQueue", "Description", "MemorySize", "Timeout", "VpcConfig", "Role", "AssumeRolePolicyDocument",
		"Policies", "RolePath", "PermissionsBoundary", "Environment", "Events", "Tags", "PropagateTags", "Tracing",
		"KmsKeyArn", "DeploymentPreference", "ReservedConcurrentExecutions", "Layers", "EventInvokeConfig",
		"EphemeralStorage", "AutoPublishAlias", "AutoPublishCodeSha256", "AutoPublishAliasAllProperties",
		"VersionDescription", "ProvisionedConcurrencyConfig", "FileSystemConfigs", "ImageConfig",
		"CodeSigningConfigArn", "Architectures", "SnapStart", "FunctionUrlConfig", "RuntimeManagementConfig",
		"LoggingConfig", "RecursiveLoop", "SourceKMSKeyArn", "CapacityProviderConfig", "FunctionScalingConfig",
		"VersionDeletionPolicy", "PublishToLatestPublished", "TenancyConfig", "DurableConfig"},
	typeAPI: {"Name", "StageName", "Tags", "PropagateTags", "DefinitionBody", "DefinitionUri", "MergeDefinitions",
		"CacheClusterEnabled", "CacheClusterSize", "Variables", "EndpointConfiguration", "MethodSettings",
		"BinaryMediaTypes", "MinimumCompressionSize", "Cors", "Auth", "GatewayResponses", "AccessLogSetting",
		"CanarySetting", "TracingEnabled", "OpenApiVersion", "Models", "Domain", "FailOnWarnings", "Description",
		"Mode", "DisableExecuteApiEndpoint", "ApiKeySourceType", "AlwaysDeploy", "Policy", "SecurityPolicy",
		"EndpointAccessMode"},
	typeHTTPAPI: {"Name", "StageName", "Tags", "PropagateTags", "DefinitionBody", "DefinitionUri", "StageVariables",
		"CorsConfiguration", "AccessLogSettings", "DefaultRouteSettings", "Auth", "RouteSettings", "Domain",
		"FailOnWarnings", "Description", "DisableExecuteApiEndpoint"},
	typeLayer:        layerProperties,
	typeStateMachine: stateMachineProperties,
	typeApplication:  applicationProperties,
	typeSimpleTable: {"PointInTimeRecoverySpecification", "PrimaryKey", "ProvisionedThroughput", "TableName", "Tags",
		"SSESpecification"},
}

func (tr *translator) translate(id string, r *cfn.Resource) ([]generated, error) {
	known, ok := knownProperties[r.Type]
	if !ok {
		return nil, invalidf("Resource type %s is not one Nimbus can transform.", r.Type)
	}
	for _, k := range sortedKeys(r.Properties) {
		if !contains(known, k) {
			return nil, invalidf("property %s not defined for resource of type %s", k, r.Type)
		}
	}
	switch r.Type {
	case typeFunction:
		return tr.function(id, r)
	case typeAPI:
		return tr.restAPI(id, r)
	case typeHTTPAPI:
		return tr.httpAPI(id, r)
	case typeLayer:
		return tr.layer(id, r)
	case typeSimpleTable:
		return tr.simpleTable(id, r)
	case typeStateMachine:
		return tr.stateMachine(id, r)
	case typeApplication:
		return tr.application(id, r)
	}
	return nil, invalidf("Resource type %s is not one Nimbus can transform.", r.Type)
}

func (tr *translator) addRef(samID, property, generatedID string) {
	m := tr.refs[samID]
	if m == nil {
		m = map[string]string{}
		tr.refs[samID] = m
	}
	m[property] = generatedID
}

// passthrough are the attributes samtranslator copies from a SAM resource
// to everything generated from it.
func passthrough(r *cfn.Resource, typ string) *cfn.Resource {
	return &cfn.Resource{
		Type:                typ,
		Properties:          map[string]any{},
		Condition:           r.Condition,
		DeletionPolicy:      r.DeletionPolicy,
		UpdateReplacePolicy: r.UpdateReplacePolicy,
	}
}

// finish builds the output template and rewrites references to SAM
// resources' generated names.
func (tr *translator) finish() *cfn.Template {
	src := tr.src
	t := &cfn.Template{
		FormatVersion: src.FormatVersion,
		Description:   src.Description,
		Metadata:      copyMap(src.Metadata),
		Parameters:    src.Parameters,
		Mappings:      copyMap(src.Mappings),
		Rules:         copyMap(src.Rules),
		Conditions:    tr.conditions,
		Resources:     tr.out,
	}
	for _, name := range src.Transform {
		if name != TransformName {
			t.Transform = append(t.Transform, name)
		}
	}
	if src.Outputs != nil {
		t.Outputs = make(map[string]*cfn.Output, len(src.Outputs))
		for k, o := range src.Outputs {
			if o == nil {
				continue
			}
			c := *o
			c.Value = deepCopy(o.Value)
			if o.Export != nil {
				c.Export = &cfn.Export{Name: deepCopy(o.Export.Name)}
			}
			t.Outputs[k] = &c
		}
	}
	rewrite := func(v any) any {
		v = rewriteIDRefs(v, tr.changedIDs)
		return rewriteSAMRefs(v, tr.refs)
	}
	for _, r := range t.Resources {
		r.Properties, _ = rewrite(r.Properties).(map[string]any)
		r.Metadata, _ = rewrite(r.Metadata).(map[string]any)
		for i, d := range r.DependsOn {
			if n, ok := tr.changedIDs[d]; ok {
				r.DependsOn[i] = n
			}
		}
		if len(r.Properties) == 0 {
			r.Properties = nil
		}
	}
	for _, o := range t.Outputs {
		o.Value = rewrite(o.Value)
		if o.Export != nil {
			o.Export.Name = rewrite(o.Export.Name)
		}
	}
	if t.Conditions != nil {
		t.Conditions, _ = rewrite(t.Conditions).(map[string]any)
	}
	return t
}

// rewriteIDRefs points Ref, Fn::GetAtt and Fn::Sub references at
// resources whose logical ID the transform changed (layers).
func rewriteIDRefs(v any, changed map[string]string) any {
	if len(changed) == 0 {
		return v
	}
	return walkIntrinsics(v, func(fn string, arg any) (any, bool) {
		switch fn {
		case "Ref":
			s, ok := arg.(string)
			if !ok || strings.Contains(s, ".") {
				return nil, false
			}
			if n, ok := changed[s]; ok {
				return n, true
			}
		case "Fn::GetAtt":
			parts, ok := getAttParts(arg)
			if !ok {
				return nil, false
			}
			if n, ok := changed[parts[0]]; ok {
				return toAnyList(append([]string{n}, parts[1:]...)), true
			}
		case "Fn::Sub":
			return subReplace(arg, func(full, name string) string {
				id := strings.SplitN(name, ".", 2)[0]
				if n, ok := changed[id]; ok {
					return strings.Replace(full, id, n, 1)
				}
				return full
			})
		}
		return nil, false
	})
}

// rewriteSAMRefs resolves references to SAM resources' referable
// properties: MyFunction.Alias, MyFunction.Version, MyApi.Stage, ...
func rewriteSAMRefs(v any, refs map[string]map[string]string) any {
	if len(refs) == 0 {
		return v
	}
	lookup := func(id, prop string) (string, bool) {
		n, ok := refs[id][prop]
		return n, ok
	}
	return walkIntrinsics(v, func(fn string, arg any) (any, bool) {
		switch fn {
		case "Ref":
			s, ok := arg.(string)
			if !ok {
				return nil, false
			}
			id, prop, ok := strings.Cut(s, ".")
			if !ok || id == "" || prop == "" {
				return nil, false
			}
			if n, ok := lookup(id, prop); ok {
				return n, true
			}
		case "Fn::GetAtt":
			parts, ok := getAttParts(arg)
			if !ok || len(parts) < 2 {
				return nil, false
			}
			if n, ok := lookup(parts[0], parts[1]); ok {
				return toAnyList(append([]string{n}, parts[2:]...)), true
			}
		case "Fn::Sub":
			return subReplace(arg, func(full, name string) string {
				parts := strings.Split(name, ".")
				if len(parts) < 2 {
					return full
				}
				if n, ok := lookup(parts[0], parts[1]); ok {
					return strings.Replace(full, parts[0]+"."+parts[1], n, 1)
				}
				return full
			})
		}
		return nil, false
	})
}

// getAttParts joins and re-splits an Fn::GetAtt's string items at dots,
// as samtranslator does (the CLI splits !GetAtt a.b.c at the first dot).
func getAttParts(arg any) ([]string, bool) {
	l, ok := arg.([]any)
	if !ok || len(l) < 2 {
		return nil, false
	}
	strs := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		strs[i] = s
	}
	return strings.Split(strings.Join(strs, "."), "."), true
}

func toAnyList(s []string) []any {
	l := make([]any, len(s))
	for i, e := range s {
		l[i] = e
	}
	return l
}

// subReplace applies f to every ${name} of an Fn::Sub's string.
func subReplace(arg any, f func(full, name string) string) (any, bool) {
	repl := func(s string) string {
		return subRefPattern().ReplaceAllStringFunc(s, func(full string) string {
			return f(full, full[2:len(full)-1])
		})
	}
	switch x := arg.(type) {
	case string:
		return repl(x), true
	case []any:
		if len(x) > 0 {
			if s, ok := x[0].(string); ok {
				c := append([]any(nil), x...)
				c[0] = repl(s)
				return c, true
			}
		}
	}
	return nil, false
}

// walkIntrinsics rebuilds v, replacing the argument of every single-key
// intrinsic map for which f returns true, then descending into the result.
func walkIntrinsics(v any, f func(fn string, arg any) (any, bool)) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				if fn == "Ref" || strings.HasPrefix(fn, "Fn::") {
					if n, ok := f(fn, arg); ok {
						x = map[string]any{fn: n}
					}
				}
			}
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = walkIntrinsics(e, f)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = walkIntrinsics(e, f)
		}
		return l
	default:
		return v
	}
}

// sortedEvents returns a function's events in samtranslator's order: by
// Path (so HttpApi's $default comes first), else by event name.
func sortedEvents(events map[string]any) []string {
	keys := sortedKeys(events)
	key := func(id string) string {
		e, ok := events[id].(map[string]any)
		if !ok {
			return id
		}
		p, _ := e["Properties"].(map[string]any)
		if s, ok := p["Path"].(string); ok {
			return s
		}
		return id
	}
	sort.SliceStable(keys, func(i, j int) bool { return key(keys[i]) < key(keys[j]) })
	return keys
}
