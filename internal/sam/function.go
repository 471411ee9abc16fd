package sam

import (
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

const (
	samTagKey   = "lambda:createdBy"
	samTagValue = "SAM"
)

// tagList turns SAM's Tags map into CloudFormation's [{Key, Value}] list,
// ordered by key (the model keeps no key order; samtranslator keeps the
// template's).
func tagList(tags map[string]any) []any {
	l := make([]any, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		v := tags[k]
		if v == nil {
			v = ""
		}
		l = append(l, map[string]any{"Key": k, "Value": v})
	}
	return l
}

func (tr *translator) samTags(id string, tags map[string]any) ([]any, error) {
	if _, ok := tags[samTagKey]; ok {
		return nil, invalidf("%s is a reserved Tag key name and cannot be set on your resource. Please change the tag key in the input.", samTagKey)
	}
	return append([]any{map[string]any{"Key": samTagKey, "Value": samTagValue}}, tagList(tags)...), nil
}

// optMap returns property name as a map; absent is nil, another type an error.
func optMap(p map[string]any, name string) (map[string]any, error) {
	v, ok := p[name]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf("Property '%s' should be a map.", name)
	}
	return m, nil
}

func optList(p map[string]any, name string) ([]any, error) {
	v, ok := p[name]
	if !ok || v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, invalidf("Property '%s' should be a list.", name)
	}
	return l, nil
}

// s3Location is construct_s3_location_object: CodeUri/ContentUri as an
// s3:// URI or {Bucket, Key, Version} becomes {S3Bucket, S3Key,
// S3ObjectVersion}.
func s3Location(v any, prop string) (map[string]any, error) {
	var bucket, key, version any
	hasVersion := false
	switch x := v.(type) {
	case map[string]any:
		if !truthy(x["Bucket"]) || !truthy(x["Key"]) {
			return nil, invalidf("'%s' requires Bucket and Key properties to be specified.", prop)
		}
		bucket, key = x["Bucket"], x["Key"]
		version, hasVersion = x["Version"]
	case string:
		b, k, ver, ok := parseS3URI(x)
		if !ok {
			return nil, invalidf("'%s' is not a valid S3 Uri of the form 's3://bucket/key' with optional versionId query parameter.", prop)
		}
		bucket, key = b, k
		if ver != "" {
			version, hasVersion = ver, true
		}
	default:
		return nil, invalidf("'%s' must be of type dict or string.", prop)
	}
	code := map[string]any{"S3Bucket": bucket, "S3Key": key}
	if hasVersion {
		code["S3ObjectVersion"] = version
	}
	return code, nil
}

var ssmRef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\{\{resolve:(ssm|ssm-secure|secretsmanager):[a-zA-Z0-9_.\-/]+(:\d+)?\}\}`)
})

func parseS3URI(s string) (bucket, key, version string, ok bool) {
	if m := ssmRef().FindString(s); m != "" && strings.Contains(m, "/") {
		return "", "", "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.Path == "" {
		return "", "", "", false
	}
	q, _ := url.ParseQuery(u.RawQuery)
	if v := q["versionId"]; len(v) == 1 {
		version = v[0]
	}
	return u.Host, strings.TrimLeft(u.Path, "/"), version, true
}

// fnState is what one function's translation carries between steps.
type fnState struct {
	id        string
	sam       *cfn.Resource
	p         map[string]any
	fn        *cfn.Resource
	alias     *cfn.Resource
	aliasID   string
	aliasName string
	// role is the generated execution role (also when the template gives
	// its own Role: event sources still add to it, as in samtranslator).
	role *cfn.Resource
	out  []generated
}

// target is what events and URLs invoke: the alias if there is one.
func (s *fnState) target() (id string, arn any, name any) {
	if s.alias != nil {
		return s.aliasID, ref(s.aliasID), ref(s.aliasID)
	}
	return s.id, getAtt(s.id, "Arn"), ref(s.id)
}

var aliasPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9\-_]+$`) })
var allDigits = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+$`) })

// function is SamFunction.to_cloudformation.
func (tr *translator) function(id string, r *cfn.Resource) ([]generated, error) {
	p := r.Properties
	for _, name := range []string{"Events", "Tags", "Environment", "DeadLetterQueue", "EventInvokeConfig", "FunctionUrlConfig", "AssumeRolePolicyDocument", "SnapStart", "DurableConfig"} {
		if _, err := optMap(p, name); err != nil {
			return nil, err
		}
	}
	if _, err := optList(p, "Layers"); err != nil {
		return nil, err
	}
	if dlq := p["DeadLetterQueue"]; dlq != nil {
		m := dlq.(map[string]any)
		typ, isStr := m["Type"].(string)
		if !truthy(m["Type"]) || !truthy(m["TargetArn"]) {
			return nil, invalidf("'DeadLetterQueue' requires Type and TargetArn properties to be specified.")
		}
		if !isStr {
			return nil, invalidf("Property 'DeadLetterQueue.Type' should be a string.")
		}
		if typ != "SQS" && typ != "SNS" {
			return nil, invalidf("'DeadLetterQueue' requires Type of ['SQS', 'SNS']")
		}
	}
	if pt, ok := p["PackageType"]; ok && pt != nil && pt != "Zip" {
		if pt == "Image" {
			return nil, invalidf("PackageType Image is not supported by Nimbus; use a Zip package")
		}
		return nil, invalidf("PackageType needs to be `Zip` or `Image`")
	}

	s := &fnState{id: id, sam: r, p: p}
	if err := tr.lambdaFunction(s); err != nil {
		return nil, err
	}
	s.out = append(s.out, generated{id, s.fn})

	if truthy(p["ProvisionedConcurrencyConfig"]) && !truthy(p["AutoPublishAlias"]) {
		return nil, invalidf("To set ProvisionedConcurrencyConfig AutoPublishALias must be defined on the function")
	}
	if truthy(p["AutoPublishAlias"]) {
		if err := tr.versionAndAlias(s); err != nil {
			return nil, err
		}
	} else if p["VersionDeletionPolicy"] != nil {
		return nil, invalidf("VersionDeletionPolicy requires AutoPublishAlias")
	}
	if cfg, _ := optMap(p, "FunctionUrlConfig"); cfg != nil {
		if err := tr.functionURL(s, cfg); err != nil {
			return nil, err
		}
	}
	var invokePolicies []any
	if cfg, _ := optMap(p, "EventInvokeConfig"); cfg != nil {
		var err error
		if invokePolicies, err = tr.eventInvokeConfig(s, cfg); err != nil {
			return nil, err
		}
	}
	role, err := tr.executionRole(s, invokePolicies)
	if err != nil {
		return nil, err
	}
	s.role = role
	if err := tr.attachRole(s, role); err != nil {
		return nil, err
	}
	if err := tr.functionEvents(s); err != nil {
		return nil, err
	}
	if truthy(p["PropagateTags"]) {
		if tags, _ := optMap(p, "Tags"); len(tags) > 0 {
			for _, g := range s.out {
				if hasTagsProperty(g.r.Type) {
					g.r.Properties["Tags"] = tagList(tags)
				}
			}
		}
	}
	return s.out, nil
}

// hasTagsProperty lists the generated types whose Tags property is a
// [{Key, Value}] list.
func hasTagsProperty(typ string) bool {
	switch typ {
	case "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::ApiGateway::RestApi",
		"AWS::ApiGateway::Stage", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::ApiKey", "AWS::ApiGateway::DomainName":
		return true
	}
	return false
}

func (tr *translator) lambdaFunction(s *fnState) error {
	p, r := s.p, s.sam
	fn := &cfn.Resource{
		Type:                "AWS::Lambda::Function",
		Properties:          map[string]any{},
		DependsOn:           r.DependsOn,
		Condition:           r.Condition,
		DeletionPolicy:      r.DeletionPolicy,
		UpdateReplacePolicy: r.UpdateReplacePolicy,
		Metadata:            r.Metadata,
		UpdatePolicy:        r.UpdatePolicy,
	}
	s.fn = fn
	set := func(k string, v any) {
		if v != nil {
			fn.Properties[k] = v
		}
	}
	if truthy(p["FunctionName"]) {
		if _, ok := p["FunctionName"].(string); !ok && !isIntrinsic(p["FunctionName"]) {
			if _, isMap := p["FunctionName"].(map[string]any); !isMap {
				return invalidf("Property 'FunctionName' should be a string.")
			}
		}
		set("FunctionName", p["FunctionName"])
	}
	for _, k := range []string{"Handler", "Runtime", "Description", "MemorySize", "Timeout", "VpcConfig", "Role", "Environment"} {
		set(k, p[k])
	}
	if role, ok := p["Role"]; ok && role != nil {
		if _, isStr := role.(string); !isStr && !isIntrinsic(role) {
			return invalidf("Property 'Role' should be a string.")
		}
	}
	code, err := codeDict(p)
	if err != nil {
		return err
	}
	set("Code", code)
	set("KmsKeyArn", p["KmsKeyArn"])
	set("ReservedConcurrentExecutions", p["ReservedConcurrentExecutions"])
	tags, _ := optMap(p, "Tags")
	tl, err := tr.samTags(s.id, tags)
	if err != nil {
		return err
	}
	set("Tags", tl)
	for _, k := range []string{"Layers", "FileSystemConfigs", "ImageConfig", "PackageType", "Architectures", "SnapStart", "EphemeralStorage"} {
		set(k, p[k])
	}
	if tracing := p["Tracing"]; truthy(tracing) {
		resolved, err := tr.res.resolve(deepCopy(tracing))
		if err != nil {
			return err
		}
		if resolved != "Disabled" {
			set("TracingConfig", map[string]any{"Mode": tracing})
		}
	}
	if dlq, _ := optMap(p, "DeadLetterQueue"); dlq != nil {
		set("DeadLetterConfig", map[string]any{"TargetArn": dlq["TargetArn"]})
	}
	for _, k := range []string{"CodeSigningConfigArn", "RuntimeManagementConfig", "LoggingConfig", "TenancyConfig", "RecursiveLoop", "DurableConfig"} {
		set(k, p[k])
	}
	if truthy(p["FunctionScalingConfig"]) {
		set("FunctionScalingConfig", p["FunctionScalingConfig"])
	}
	set("PublishToLatestPublished", p["PublishToLatestPublished"])
	if !truthy(fn.Properties["Runtime"]) || !truthy(fn.Properties["Handler"]) {
		return invalidf("Runtime and Handler needs to be present when PackageType is of type `Zip`")
	}
	if img, _ := code["ImageUri"]; truthy(img) || truthy(fn.Properties["ImageConfig"]) {
		return invalidf("ImageUri or ImageConfig cannot be present when PackageType is of type `Zip`")
	}
	return nil
}

// codeDict is _construct_code_dict for Zip packages: InlineCode wins over
// CodeUri.
func codeDict(p map[string]any) (map[string]any, error) {
	var code map[string]any
	switch {
	case p["InlineCode"] != nil:
		code = map[string]any{"ZipFile": p["InlineCode"]}
	case p["CodeUri"] != nil:
		var err error
		if code, err = s3Location(p["CodeUri"], "CodeUri"); err != nil {
			return nil, err
		}
	default:
		return nil, invalidf("Only one of 'InlineCode' or 'CodeUri' can be set.")
	}
	if truthy(p["SourceKMSKeyArn"]) {
		code["SourceKMSKeyArn"] = p["SourceKMSKeyArn"]
	}
	return code, nil
}

func (tr *translator) resolvedString(v any, prop string) (string, error) {
	res, err := tr.res.resolve(deepCopy(v))
	if err != nil {
		return "", err
	}
	s, ok := res.(string)
	if !ok {
		return "", invalidf("'%s' must be a string or a Ref to a template parameter", prop)
	}
	return s, nil
}

// versionAndAlias makes <Fn>Version<hash> and <Fn>Alias<name>.
func (tr *translator) versionAndAlias(s *fnState) error {
	p, fn := s.p, s.fn
	name, err := tr.resolvedString(p["AutoPublishAlias"], "AutoPublishAlias")
	if err != nil {
		return err
	}
	var codeSha string
	if sha, ok := p["AutoPublishCodeSha256"]; ok && sha != nil {
		res, err := tr.res.resolve(deepCopy(sha))
		if err != nil {
			return err
		}
		if codeSha, ok = res.(string); !ok {
			return invalidf("AutoPublishCodeSha256 must be a string")
		}
		desc, err := tr.res.resolve(deepCopy(p["Description"]))
		if err != nil {
			return err
		}
		switch d := desc.(type) {
		case nil:
			fn.Properties["Description"] = codeSha
		case string:
			if d == "" {
				fn.Properties["Description"] = codeSha
			} else {
				fn.Properties["Description"] = d + " " + codeSha
			}
		default:
			fn.Properties["Description"] = map[string]any{"Fn::Join": []any{" ", []any{desc, codeSha}}}
		}
	}

	// Like samtranslator, parameters in Code are resolved in the output too.
	code, err := tr.res.resolve(fn.Properties["Code"])
	if err != nil {
		return err
	}
	fn.Properties["Code"] = code
	var hashData map[string]any
	if b, _ := p["AutoPublishAliasAllProperties"].(bool); b {
		hashData = copyMap(fn.Properties)
		tr.addPublishingLayers(fn, hashData)
	} else {
		hashData = copyMap(code.(map[string]any))
		if env, ok := fn.Properties["Environment"].(map[string]any); ok {
			for k, v := range env {
				hashData[k] = v
			}
		}
		if truthy(fn.Properties["MemorySize"]) {
			hashData["MemorySize"] = fn.Properties["MemorySize"]
		}
		if ss, ok := fn.Properties["SnapStart"].(map[string]any); ok {
			if apply, ok := ss["ApplyOn"]; !ok || apply != "None" {
				if ok {
					hashData["SnapStart"] = ss
				}
			}
		}
	}
	prefix := s.id + "Version"
	versionID := logicalID(prefix, hashData)
	if codeSha != "" {
		versionID = prefix + codeSha[:min(10, len(codeSha))]
	}
	version := passthrough(s.sam, "AWS::Lambda::Version")
	if version.DeletionPolicy == "" {
		version.DeletionPolicy = "Retain"
		if vdp, ok := p["VersionDeletionPolicy"].(string); ok {
			if vdp != "Delete" && vdp != "Retain" {
				return invalidf("VersionDeletionPolicy must be one of ['Delete', 'Retain']")
			}
			version.DeletionPolicy = vdp
		}
	}
	version.Properties["FunctionName"] = ref(s.id)
	if d := p["VersionDescription"]; d != nil {
		version.Properties["Description"] = d
	}

	if !aliasPattern().MatchString(name) || allDigits().MatchString(name) {
		return invalidf("AutoPublishAlias name ('%s') must contain only alphanumeric characters, hyphens, or underscores matching (?!^[0-9]+$)([a-zA-Z0-9-_]+) pattern.", name)
	}
	aliasID := s.id + "Alias" + strings.NewReplacer("-", "D", "_", "U").Replace(name)
	alias := passthrough(s.sam, "AWS::Lambda::Alias")
	alias.Properties["Name"] = name
	alias.Properties["FunctionName"] = ref(s.id)
	alias.Properties["FunctionVersion"] = getAtt(versionID, "Version")
	if pc := p["ProvisionedConcurrencyConfig"]; truthy(pc) {
		alias.Properties["ProvisionedConcurrencyConfig"] = pc
	}
	s.alias, s.aliasID, s.aliasName = alias, aliasID, name
	s.out = append(s.out, generated{versionID, version}, generated{aliasID, alias})
	tr.addRef(s.id, "Version", versionID)
	tr.addRef(s.id, "Alias", aliasID)
	return nil
}

// addPublishingLayers adds, for AutoPublishAliasAllProperties, the
// properties of layers with PublishLambdaVersion to the version's hash.
func (tr *translator) addPublishingLayers(fn *cfn.Resource, data map[string]any) {
	layers, _ := fn.Properties["Layers"].([]any)
	for _, l := range layers {
		m, ok := l.(map[string]any)
		if !ok || len(m) != 1 {
			continue
		}
		var id string
		if r, ok := m["Ref"].(string); ok {
			id = r
		} else if ga, ok := getAttParts(m["Fn::GetAtt"]); ok {
			id = ga[0]
		}
		layer, ok := tr.sam[id]
		if !ok {
			continue
		}
		if b, _ := layer.Properties["PublishLambdaVersion"].(bool); b {
			data[id] = copyMap(layer.Properties)
		}
	}
}

// functionURL makes <Fn>Url and, for AuthType NONE, the public permissions.
func (tr *translator) functionURL(s *fnState, cfg map[string]any) error {
	if !isIntrinsic(cfg) {
		auth := cfg["AuthType"]
		if !isIntrinsic(auth) && auth != "AWS_IAM" && auth != "NONE" {
			return invalidf("AuthType is required to configure function property `FunctionUrlConfig`. Please provide either AWS_IAM or NONE.")
		}
		if cors := cfg["Cors"]; truthy(cors) && !isIntrinsic(cors) {
			cm, ok := cors.(map[string]any)
			if !ok {
				return invalidf("Property 'FunctionUrlConfig.Cors' should be a map.")
			}
			kinds := map[string]string{"AllowOrigins": "list", "AllowMethods": "list", "AllowCredentials": "bool",
				"AllowHeaders": "list", "ExposeHeaders": "list", "MaxAge": "int"}
			for _, k := range sortedKeys(cm) {
				want, ok := kinds[k]
				if !ok {
					return invalidf("%s is not a valid property for configuring Cors.", k)
				}
				v := cm[k]
				if isIntrinsic(v) {
					continue
				}
				good := false
				switch want {
				case "list":
					_, good = v.([]any)
				case "bool":
					_, good = v.(bool)
				case "int":
					f, isNum := v.(float64)
					good = isNum && f == float64(int64(f))
				}
				if !good {
					return invalidf("%s must be of type %s.", k, want)
				}
			}
		}
	}
	_, _, name := s.target()
	target := name
	if s.alias != nil {
		target = ref(s.aliasID)
	}
	u := passthrough(s.sam, "AWS::Lambda::Url")
	if cors := cfg["Cors"]; truthy(cors) {
		u.Properties["Cors"] = cors
	}
	if a := cfg["AuthType"]; a != nil {
		u.Properties["AuthType"] = a
	}
	u.Properties["TargetFunctionArn"] = target
	if m := cfg["InvokeMode"]; m != nil {
		u.Properties["InvokeMode"] = m
	}
	s.out = append(s.out, generated{s.id + "Url", u})
	if cfg["AuthType"] != "NONE" || isIntrinsic(cfg) {
		return nil
	}
	pub := passthrough(s.sam, "AWS::Lambda::Permission")
	pub.Properties["Action"] = "lambda:InvokeFunctionUrl"
	pub.Properties["FunctionName"] = deepCopy(target)
	pub.Properties["Principal"] = "*"
	pub.Properties["FunctionUrlAuthType"] = "NONE"
	inv := passthrough(s.sam, "AWS::Lambda::Permission")
	inv.Properties["Action"] = "lambda:InvokeFunction"
	inv.Properties["Principal"] = "*"
	inv.Properties["FunctionName"] = deepCopy(target)
	inv.Properties["InvokedViaFunctionUrl"] = true
	s.out = append(s.out, generated{s.id + "UrlPublicPermissions", pub}, generated{s.id + "URLInvokeAllowPublicAccess", inv})
	return nil
}

// eventInvokeConfig makes <Fn>EventInvokeConfig and returns the role
// policies its destinations need.
func (tr *translator) eventInvokeConfig(s *fnState, cfg map[string]any) ([]any, error) {
	resolvedAny, err := tr.res.resolve(cfg)
	if err != nil {
		return nil, err
	}
	resolved, _ := resolvedAny.(map[string]any)
	logical := s.id + "EventInvokeConfig"
	eic := passthrough(s.sam, "AWS::Lambda::EventInvokeConfig")
	eic.Metadata = s.sam.Metadata
	if s.alias != nil {
		eic.DependsOn = []string{s.aliasID}
	}
	var policies []any
	dest := map[string]any{}
	if in := resolved["DestinationConfig"]; truthy(in) {
		inm, ok := in.(map[string]any)
		if !ok {
			return nil, invalidf("Property 'EventInvokeConfig.DestinationConfig' should be a map.")
		}
		for _, name := range []string{"OnSuccess", "OnFailure"} {
			v, ok := inm[name]
			if !ok || v == nil {
				continue
			}
			dc, ok := v.(map[string]any)
			if !ok {
				return nil, invalidf("Property 'EventInvokeConfig.DestinationConfig.%s' should be a map.", name)
			}
			destination, policy, res, err := tr.invokeDestination(s, dc, logical+name)
			if err != nil {
				return nil, err
			}
			dest[name] = map[string]any{"Destination": destination}
			if res != nil {
				s.out = append(s.out, *res)
			}
			if policy != nil {
				policies = append(policies, policy)
			}
		}
	}
	eic.Properties["FunctionName"] = ref(s.id)
	if s.aliasName != "" {
		eic.Properties["Qualifier"] = s.aliasName
	} else {
		eic.Properties["Qualifier"] = "$LATEST"
	}
	eic.Properties["DestinationConfig"] = dest
	if v := resolved["MaximumEventAgeInSeconds"]; v != nil {
		eic.Properties["MaximumEventAgeInSeconds"] = v
	}
	if v := resolved["MaximumRetryAttempts"]; v != nil {
		eic.Properties["MaximumRetryAttempts"] = v
	}
	s.out = append(s.out, generated{logical, eic})
	return policies, nil
}

func (tr *translator) invokeDestination(s *fnState, dc map[string]any, logical string) (any, any, *generated, error) {
	typ, _ := dc["Type"].(string)
	switch typ {
	case "SQS", "SNS", "EventBridge", "Lambda", "S3Bucket":
	default:
		return nil, nil, nil, invalidf("'Type: %s' must be one of ['SQS', 'SNS', 'EventBridge', 'Lambda', 'S3Bucket']", pyStr(dc["Type"]))
	}
	destination := dc["Destination"]
	propCond, destArn, err := tr.destinationCondition(destination, s.id+"EventInvokeConfig")
	if err != nil {
		return nil, nil, nil, err
	}
	var res *generated
	if destination == nil || propCond != "" {
		combined := tr.andConditions(s.sam.Condition, propCond, s.id)
		var arn any
		switch typ {
		case "SQS":
			res = &generated{logical + "Queue", passthrough(s.sam, "AWS::SQS::Queue")}
			tr.addRef(s.id, "DestinationQueue", res.id)
			arn = getAtt(res.id, "Arn")
		case "SNS":
			res = &generated{logical + "Topic", passthrough(s.sam, "AWS::SNS::Topic")}
			tr.addRef(s.id, "DestinationTopic", res.id)
			arn = ref(res.id)
		default:
			return nil, nil, nil, invalidf("Destination is required if Type is not ['SQS', 'SNS']")
		}
		if combined != "" {
			res.r.Condition = combined
		}
		destination = arn
		if propCond != "" {
			destination = fnIf(propCond, arn, destArn)
		}
	}
	var policy map[string]any
	stmt := func(suffix, action string, resource any) map[string]any {
		return map[string]any{
			"PolicyName": logical + suffix,
			"PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Action": action, "Effect": "Allow", "Resource": resource},
			}},
		}
	}
	switch typ {
	case "SQS":
		policy = stmt("SQSPolicy", "sqs:SendMessage", destination)
	case "SNS":
		policy = stmt("SNSPolicy", "sns:publish", destination)
	case "EventBridge":
		policy = stmt("EventBridgePolicy", "events:PutEvents", destination)
	case "Lambda":
		policy = stmt("LambdaPolicy", "lambda:InvokeFunction", destination)
	case "S3Bucket":
		policy = map[string]any{
			"PolicyName": logical + "S3Policy",
			"PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Action": "s3:PutObject", "Effect": "Allow", "Resource": map[string]any{"Fn::Join": []any{"/", []any{destination, "*"}}}},
				map[string]any{"Action": "s3:ListBucket", "Effect": "Allow", "Resource": destination},
			}},
		}
	}
	return destination, policy, res, nil
}

// destinationCondition is _get_or_make_condition: for a destination
// !If [C, arn, !Ref AWS::NoValue] SAM creates the queue or topic when C is
// false, under a new condition NOT<C><hash>; for !If [C, NoValue, arn],
// when C is true.
func (tr *translator) destinationCondition(dest any, logical string) (string, any, error) {
	if dest == nil || !isIntrinsicIf(dest) {
		return "", nil, nil
	}
	cond, yes, no, ok := ifItems(dest)
	if !ok {
		return "", nil, invalidf("Resource with id [%s] is invalid. Malformed 'Destination' property: Fn::If requires 3 arguments.", logical)
	}
	switch {
	case isNoValue(yes) && isNoValue(no):
		return "", nil, nil
	case isNoValue(yes):
		return cond, no, nil
	case isNoValue(no):
		name := genConditionName("NOT"+cond, logical)
		tr.setCondition(name, map[string]any{"Fn::Not": []any{map[string]any{"Condition": cond}}})
		return name, yes, nil
	}
	return "", nil, nil
}

// andConditions is _make_and_conditions.
func (tr *translator) andConditions(resourceCond, propCond, fnID string) string {
	if resourceCond == "" {
		return propCond
	}
	if propCond == "" {
		return resourceCond
	}
	name := genConditionName(resourceCond+"AND"+propCond, fnID)
	tr.setCondition(name, map[string]any{"Fn::And": []any{
		map[string]any{"Condition": resourceCond}, map[string]any{"Condition": propCond}}})
	return name
}

// genConditionName is _make_gen_condition_name: name plus a hash of
// hashInput, at most 255 characters.
func genConditionName(name, hashInput string) string {
	n := name + dataHash(hashInput, 10)
	if len(n) > 255 {
		n = n[:255]
	}
	return n
}

func (tr *translator) setCondition(name string, v any) {
	if tr.conditions == nil {
		tr.conditions = map[string]any{}
	}
	tr.conditions[name] = v
}

// executionRole is _construct_role: <Fn>Role with the trust policy, the
// managed policies SAM adds and the function's Policies.
func (tr *translator) executionRole(s *fnState, invokePolicies []any) (*cfn.Resource, error) {
	p := s.p
	role := passthrough(s.sam, "AWS::IAM::Role")
	assume := p["AssumeRolePolicyDocument"]
	if assume == nil {
		assume = map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Action": []any{"sts:AssumeRole"}, "Effect": "Allow",
				"Principal": map[string]any{"Service": []any{"lambda.amazonaws.com"}},
			}},
		}
	}
	role.Properties["AssumeRolePolicyDocument"] = assume
	basic := "service-role/AWSLambdaBasicExecutionRole"
	if truthy(p["DurableConfig"]) {
		basic = "service-role/AWSLambdaBasicDurableExecutionRolePolicy"
	}
	managed := []any{tr.awsManagedPolicy(basic)}
	if _, ok := s.fn.Properties["TracingConfig"]; ok {
		name := "AWSXrayWriteOnlyAccess"
		if tr.partition != "aws" {
			name = "AWSXRayDaemonWriteAccess"
		}
		managed = append(managed, tr.awsManagedPolicy(name))
	}
	if truthy(p["VpcConfig"]) {
		managed = append(managed, tr.awsManagedPolicy("service-role/AWSLambdaVPCAccessExecutionRole"))
	}
	var docs []any
	if dlq, _ := optMap(p, "DeadLetterQueue"); dlq != nil {
		action := "sqs:SendMessage"
		if dlq["Type"] == "SNS" {
			action = "sns:Publish"
		}
		docs = append(docs, map[string]any{
			"PolicyName": "DeadLetterQueuePolicy",
			"PolicyDocument": map[string]any{
				"Version":   "2012-10-17",
				"Statement": []any{map[string]any{"Action": action, "Resource": dlq["TargetArn"], "Effect": "Allow"}},
			},
		})
	}
	docs = append(docs, invokePolicies...)
	roleID := s.id + "Role"
	for i, pol := range policiesList(p["Policies"]) {
		kind, err := policyKind(pol, false)
		if err != nil {
			return nil, err
		}
		switch kind {
		case policyStatement:
			name := roleID + "Policy" + itoa(i)
			if isIntrinsicIf(pol) {
				docs = append(docs, convertIf(pol, func(v any) bool { return !isNoValue(v) }, func(v any) any {
					return map[string]any{"PolicyName": name, "PolicyDocument": v}
				}))
			} else {
				docs = append(docs, map[string]any{"PolicyName": name, "PolicyDocument": pol})
			}
		case policyManaged:
			arn := pol
			if str, ok := pol.(string); ok {
				arn = tr.managedPolicyARN(str)
			} else if isIntrinsicIf(pol) {
				arn = convertIf(pol, func(v any) bool {
					_, isStr := v.(string)
					return isStr && !isNoValue(v)
				}, func(v any) any { return tr.managedPolicyARN(v.(string)) })
			}
			dup := false
			for _, m := range managed {
				if pyJSON(m) == pyJSON(arn) {
					dup = true
				}
			}
			if !dup {
				managed = append(managed, arn)
			}
		default:
			return nil, invalidf("Policy at index %d in the 'Policies' property is not valid", i)
		}
	}
	role.Properties["ManagedPolicyArns"] = managed
	if len(docs) > 0 {
		role.Properties["Policies"] = docs
	}
	if v := p["RolePath"]; v != nil {
		role.Properties["Path"] = v
	}
	if v := p["PermissionsBoundary"]; v != nil {
		role.Properties["PermissionsBoundary"] = v
	}
	tags, _ := optMap(p, "Tags")
	tl, err := tr.samTags(s.id, tags)
	if err != nil {
		return nil, err
	}
	role.Properties["Tags"] = tl
	return role, nil
}

func convertIf(v any, convertible func(any) bool, convert func(any) any) any {
	cond, yes, no, ok := ifItems(v)
	if !ok {
		return v
	}
	if convertible(yes) {
		yes = convert(yes)
	}
	if convertible(no) {
		no = convert(no)
	}
	return fnIf(cond, yes, no)
}

// attachRole sets the function's Role to the generated role unless the
// template gave one; an Fn::If with AWS::NoValue makes the role conditional.
func (tr *translator) attachRole(s *fnState, role *cfn.Resource) error {
	roleID := s.id + "Role"
	arn := getAtt(roleID, "Arn")
	given, ok := s.fn.Properties["Role"]
	if !ok {
		s.fn.Properties["Role"] = arn
		s.out = append(s.out, generated{roleID, role})
		return nil
	}
	if !isIntrinsicIf(given) {
		return nil
	}
	resolved, err := tr.res.resolve(deepCopy(given))
	if err != nil {
		return err
	}
	cond, yes, no, ok := ifItems(resolved)
	if !ok {
		return invalidf("Malformed 'Role' property: Fn::If requires 3 arguments.")
	}
	switch {
	case isNoValue(yes) && isNoValue(no):
		s.fn.Properties["Role"] = arn
	case isNoValue(yes):
		s.fn.Properties["Role"] = fnIf(cond, arn, no)
		role.Condition = cond
	case isNoValue(no):
		s.fn.Properties["Role"] = fnIf(cond, yes, arn)
		role.Condition = "NOT" + cond
		if tr.conditions == nil {
			tr.conditions = map[string]any{}
		}
		tr.conditions["NOT"+cond] = map[string]any{"Fn::Not": []any{map[string]any{"Condition": cond}}}
	default:
		return nil
	}
	s.out = append(s.out, generated{roleID, role})
	return nil
}
