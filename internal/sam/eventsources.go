package sam

import (
	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// Event sources of services Nimbus does not have yet. Transform refuses
// them while their type is in UnsupportedEvents; these translations (as
// samtranslator's) are what they become once it is removed.

var pullProperties = []string{"BatchSize", "StartingPosition", "StartingPositionTimestamp", "Enabled",
	"MaximumBatchingWindowInSeconds", "MaximumRetryAttempts", "BisectBatchOnFunctionError",
	"MaximumRecordAgeInSeconds", "DestinationConfig", "ParallelizationFactor", "Topics", "Queues",
	"SourceAccessConfigurations", "SecretsManagerKmsKeyId", "TumblingWindowInSeconds", "FunctionResponseTypes",
	"KafkaBootstrapServers", "FilterCriteria", "KmsKeyArn", "ConsumerGroupId", "ScalingConfig",
	"ProvisionedPollerConfig", "SchemaRegistryConfig", "MetricsConfig", "LoggingConfig"}

// eventProperties are the properties each translated event type accepts.
var eventProperties = map[string][]string{
	"SQS":             append([]string{"Queue"}, pullProperties...),
	"Kinesis":         append([]string{"Stream"}, pullProperties...),
	"DynamoDB":        append([]string{"Stream"}, pullProperties...),
	"Schedule":        {"Schedule", "RuleName", "Input", "Enabled", "State", "Name", "Description", "DeadLetterConfig", "RetryPolicy"},
	"CloudWatchEvent": {"EventBusName", "RuleName", "Pattern", "DeadLetterConfig", "RetryPolicy", "Input", "InputPath", "Target", "Enabled", "State", "InputTransformer"},
	"SNS":             {"Topic", "Region", "FilterPolicy", "FilterPolicyScope", "SqsSubscription", "RedrivePolicy"},
}

func init() { eventProperties["EventBridgeRule"] = eventProperties["CloudWatchEvent"] }

func checkEventProperties(evID, typ string, props map[string]any, required ...string) error {
	for _, k := range sortedKeys(props) {
		if !contains(eventProperties[typ], k) {
			return eventErr(evID, "property %s not defined for resource of type %s", k, typ)
		}
	}
	for _, k := range required {
		if _, ok := props[k]; !ok {
			return eventErr(evID, "Missing required property '%s'.", k)
		}
	}
	return nil
}

// addManagedPolicy and addRolePolicy are PullEventSource._link_policy.
func (s *fnState) addManagedPolicy(arn string) {
	if s.role == nil {
		return
	}
	l, _ := s.role.Properties["ManagedPolicyArns"].([]any)
	if !containsValue(l, arn) {
		s.role.Properties["ManagedPolicyArns"] = append(l, arn)
	}
}

func (s *fnState) addRolePolicy(policy map[string]any) {
	if s.role == nil || policy == nil {
		return
	}
	l, _ := s.role.Properties["Policies"].([]any)
	for _, p := range l {
		pm, _ := p.(map[string]any)
		if pyJSON(pm["PolicyDocument"]) == pyJSON(policy["PolicyDocument"]) {
			return
		}
	}
	s.role.Properties["Policies"] = append(l, policy)
}

var pullPolicies = map[string]string{
	"SQS":      "service-role/AWSLambdaSQSQueueExecutionRole",
	"Kinesis":  "service-role/AWSLambdaKinesisExecutionRole",
	"DynamoDB": "service-role/AWSLambdaDynamoDBExecutionRole",
}

// pullEvent is PullEventSource for SQS, Kinesis and DynamoDB streams: an
// AWS::Lambda::EventSourceMapping and the managed policy for the role.
func (tr *translator) pullEvent(s *fnState, evID, typ string, props map[string]any) error {
	source := "Queue"
	required := []string{"Queue"}
	if typ != "SQS" {
		source = "Stream"
		required = []string{"Stream", "StartingPosition"}
	}
	if err := checkEventProperties(evID, typ, props, required...); err != nil {
		return err
	}
	id := s.id + evID
	return tr.eventSourceMapping(s, id, typ, props[source], props)
}

func (tr *translator) eventSourceMapping(s *fnState, id, typ string, sourceArn any, props map[string]any) error {
	esm := tr.eventResource(s, "AWS::Lambda::EventSourceMapping")
	_, _, name := s.target()
	esm.Properties["FunctionName"] = name
	esm.Properties["EventSourceArn"] = sourceArn
	for _, k := range []string{"StartingPosition", "StartingPositionTimestamp", "BatchSize", "Enabled",
		"MaximumBatchingWindowInSeconds", "MaximumRetryAttempts", "BisectBatchOnFunctionError", "MaximumRecordAgeInSeconds",
		"ParallelizationFactor", "Topics", "Queues", "SourceAccessConfigurations", "TumblingWindowInSeconds",
		"FunctionResponseTypes", "FilterCriteria", "KmsKeyArn", "ScalingConfig", "ProvisionedPollerConfig",
		"MetricsConfig", "LoggingConfig"} {
		if v, ok := props[k]; ok && v != nil {
			esm.Properties[k] = v
		}
	}
	if fc, ok := props["FilterCriteria"].(map[string]any); ok && !isIntrinsic(fc) {
		for k := range fc {
			if k != "Filters" {
				return invalidf("Event with id [%s] is invalid. FilterCriteria field has a wrong format", id)
			}
		}
	}
	if truthy(props["ConsumerGroupId"]) {
		return invalidf("Event with id [%s] is invalid. Property ConsumerGroupId not defined for resource of type %s.", id, typ)
	}
	var destPolicy map[string]any
	if dc := props["DestinationConfig"]; truthy(dc) {
		dcm, ok := dc.(map[string]any)
		if !ok {
			return invalidf("Event with id [%s] is invalid. Property 'DestinationConfig' should be a map.", id)
		}
		onFailure, ok := dcm["OnFailure"].(map[string]any)
		if !ok {
			return invalidf("Event with id [%s] is invalid. Property 'DestinationConfig.OnFailure' should be a map.", id)
		}
		dcm = copyMap(dcm)
		onFailure = copyMap(onFailure)
		dcm["OnFailure"] = onFailure
		if dt, ok := onFailure["Type"]; ok && truthy(dt) {
			delete(onFailure, "Type")
			dest := onFailure["Destination"]
			stmt := func(suffix, action string) map[string]any {
				return map[string]any{"PolicyName": id + suffix, "PolicyDocument": map[string]any{"Statement": []any{
					map[string]any{"Action": action, "Effect": "Allow", "Resource": dest}}}}
			}
			switch dt {
			case "SQS":
				destPolicy = stmt("SQSPolicy", "sqs:SendMessage")
			case "SNS":
				destPolicy = stmt("SNSPolicy", "sns:publish")
			case "S3":
				destPolicy = map[string]any{"PolicyName": id + "S3Policy", "PolicyDocument": map[string]any{"Statement": []any{
					map[string]any{"Action": "s3:PutObject", "Effect": "Allow", "Resource": map[string]any{"Fn::Join": []any{"/", []any{dest, "*"}}}},
					map[string]any{"Action": "s3:ListBucket", "Effect": "Allow", "Resource": dest}}}}
			case "Kafka":
			default:
				return invalidf("Event with id [%s] is invalid. The only valid values for 'Type' are 'SQS', 'SNS', 'S3', and 'Kafka'", id)
			}
		}
		esm.Properties["DestinationConfig"] = dcm
	}
	s.out = append(s.out, generated{id, esm})
	s.addManagedPolicy(tr.awsManagedPolicy(pullPolicies[typ]))
	s.addRolePolicy(destPolicy)
	return nil
}

// eventResource is a resource generated for an event: it carries the
// invoked function's (or alias's) passthrough attributes.
func (tr *translator) eventResource(s *fnState, typ string) *cfn.Resource {
	src := s.fn
	if s.alias != nil {
		src = s.alias
	}
	return &cfn.Resource{Type: typ, Properties: map[string]any{}, Condition: src.Condition,
		DeletionPolicy: src.DeletionPolicy, UpdateReplacePolicy: src.UpdateReplacePolicy}
}

func targetID(id string) string {
	const suffix, maxLen = "LambdaTarget", 64
	if len(id)+len(suffix) <= maxLen {
		return id + suffix
	}
	return id[:maxLen-len(suffix)] + suffix
}

// ruleEvent is the Schedule and CloudWatchEvent/EventBridgeRule event
// sources: an AWS::Events::Rule targeting the function, its permission,
// and a dead-letter queue when DeadLetterConfig asks SAM to make one.
func (tr *translator) ruleEvent(s *fnState, evID, typ string, props map[string]any) error {
	var required []string
	if typ == "Schedule" {
		required = []string{"Schedule"}
	}
	if err := checkEventProperties(evID, typ, props, required...); err != nil {
		return err
	}
	for _, k := range []string{"Pattern", "DeadLetterConfig", "RetryPolicy", "Target", "InputTransformer"} {
		if _, err := optMap(props, k); err != nil {
			return eventErr(evID, "%s", err.Error())
		}
	}
	id := s.id + evID
	rule := tr.eventResource(s, "AWS::Events::Rule")
	rp := rule.Properties
	if typ == "Schedule" {
		rp["ScheduleExpression"] = props["Schedule"]
	} else {
		for k, v := range map[string]string{"EventBusName": "EventBusName", "Pattern": "EventPattern", "RuleName": "Name"} {
			if x, ok := props[k]; ok && x != nil {
				rp[v] = x
			}
		}
	}
	arn := getAtt(id, "Arn")
	var out []generated
	var dlqArn any
	if dlc, ok := props["DeadLetterConfig"].(map[string]any); ok {
		hasArn, err := checkDeadLetterConfig(id, dlc)
		if err != nil {
			return err
		}
		if hasArn {
			dlqArn = dlc["Arn"]
		} else {
			qid, err := deadLetterQueueID(id, dlc)
			if err != nil {
				return err
			}
			queue := tr.eventResource(s, "AWS::SQS::Queue")
			policy := tr.eventResource(s, "AWS::SQS::QueuePolicy")
			dlqArn = getAtt(qid, "Arn")
			policy.Properties["PolicyDocument"] = map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Action": "sqs:SendMessage", "Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"},
				"Resource": dlqArn, "Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": arn}}}}}
			policy.Properties["Queues"] = []any{ref(qid)}
			out = append(out, generated{qid, queue}, generated{id + "QueuePolicy", policy})
		}
	}
	state, enabled := props["State"], props["Enabled"]
	if truthy(state) && enabled != nil {
		return eventErr(evID, "State and Enabled Properties cannot both be specified.")
	}
	if truthy(state) {
		rp["State"] = state
	}
	if enabled != nil {
		if truthy(enabled) {
			rp["State"] = "ENABLED"
		} else {
			rp["State"] = "DISABLED"
		}
	}
	if typ == "Schedule" {
		for _, k := range []string{"Name", "Description"} {
			if v, ok := props[k]; ok && v != nil {
				rp[k] = v
			}
		}
	}
	tid := any(targetID(id))
	if t, ok := props["Target"].(map[string]any); ok && typ != "Schedule" {
		if v, ok := t["Id"]; ok {
			tid = v
		}
	}
	_, fnArn, _ := s.target()
	target := map[string]any{"Arn": fnArn, "Id": tid}
	keys := []string{"Input", "RetryPolicy"}
	if typ != "Schedule" {
		keys = append(keys, "InputPath", "InputTransformer")
	}
	for _, k := range keys {
		if v, ok := props[k]; ok && v != nil {
			target[k] = v
		}
	}
	if _, ok := props["DeadLetterConfig"]; ok && props["DeadLetterConfig"] != nil {
		target["DeadLetterConfig"] = map[string]any{"Arn": dlqArn}
	}
	rp["Targets"] = []any{target}
	perm := tr.permission(s, id, "", arn)
	perm.r.Properties["Principal"] = "events.amazonaws.com"
	if typ == "Schedule" {
		s.out = append(s.out, generated{id, rule})
		s.out = append(s.out, out...)
	} else {
		s.out = append(s.out, out...)
		s.out = append(s.out, generated{id, rule})
	}
	s.out = append(s.out, perm)
	return nil
}

// snsEvent is the SNS event source: a subscription of the function (or,
// with SqsSubscription, of a queue the function polls) to the topic.
func (tr *translator) snsEvent(s *fnState, evID string, props map[string]any) error {
	if err := checkEventProperties(evID, "SNS", props, "Topic"); err != nil {
		return err
	}
	id := s.id + evID
	topic := props["Topic"]
	subscription := func(protocol string, endpoint any) generated {
		sub := tr.eventResource(s, "AWS::SNS::Subscription")
		sub.Properties["Protocol"] = protocol
		sub.Properties["Endpoint"] = endpoint
		sub.Properties["TopicArn"] = topic
		for _, k := range []string{"Region", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"} {
			if v, ok := props[k]; ok && v != nil {
				sub.Properties[k] = v
			}
		}
		return generated{id, sub}
	}
	queuePolicy := func(pid string, queueArn, queueURL any) generated {
		p := tr.eventResource(s, "AWS::SQS::QueuePolicy")
		p.Properties["PolicyDocument"] = map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Action": "sqs:SendMessage", "Effect": "Allow", "Principal": "*", "Resource": queueArn,
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": topic}}}}}
		p.Properties["Queues"] = []any{queueURL}
		return generated{pid, p}
	}
	sqsSub := props["SqsSubscription"]
	if !truthy(sqsSub) {
		_, arn, _ := s.target()
		perm := tr.permission(s, id, "", topic)
		perm.r.Properties["Principal"] = "sns.amazonaws.com"
		s.out = append(s.out, perm, subscription("lambda", arn))
		return nil
	}
	if _, ok := sqsSub.(bool); ok {
		queue := tr.eventResource(s, "AWS::SQS::Queue")
		if topicID, ok := apiID(topic).(string); ok {
			if t := tr.src.Resources[topicID]; t != nil && t.Properties != nil {
				if fifo, err := tr.res.resolve(deepCopy(t.Properties["FifoTopic"])); err == nil && truthy(fifo) {
					queue.Properties["FifoQueue"] = fifo
				}
			}
		}
		qid := id + "Queue"
		queueArn := getAtt(qid, "Arn")
		if err := tr.eventSourceMapping(s, id+"EventSourceMapping", "SQS", queueArn, map[string]any{"BatchSize": 10.0, "Enabled": true}); err != nil {
			return err
		}
		s.out = append(s.out, generated{qid, queue}, queuePolicy(id+"QueuePolicy", queueArn, ref(qid)), subscription("sqs", queueArn))
		return nil
	}
	sm, ok := sqsSub.(map[string]any)
	if !ok {
		return eventErr(evID, "Property 'SqsSubscription' should be a map.")
	}
	queueArn, queueURL := sm["QueueArn"], sm["QueueUrl"]
	if !truthy(queueArn) || !truthy(queueURL) {
		return eventErr(evID, "No QueueARN or QueueURL provided.")
	}
	pid := id + "QueuePolicy"
	if v, ok := sm["QueuePolicyLogicalId"].(string); ok && v != "" {
		pid = v
	}
	batch := sm["BatchSize"]
	if !truthy(batch) {
		batch = 10.0
	}
	if err := tr.eventSourceMapping(s, id+"EventSourceMapping", "SQS", queueArn, map[string]any{"BatchSize": batch, "Enabled": true}); err != nil {
		return err
	}
	s.out = append(s.out, queuePolicy(pid, queueArn, queueURL), subscription("sqs", queueArn))
	return nil
}

var scheduleV2Properties = []string{"PermissionsBoundary", "ScheduleExpression", "FlexibleTimeWindow", "Name", "State",
	"Description", "StartDate", "EndDate", "ScheduleExpressionTimezone", "GroupName", "KmsKeyArn", "Input", "RoleArn",
	"DeadLetterConfig", "RetryPolicy", "OmitName"}

// scheduleV2Event is the ScheduleV2 event source: an
// AWS::Scheduler::Schedule invoking the function through a role SAM makes
// unless RoleArn names one.
func (tr *translator) scheduleV2Event(s *fnState, evID string, props map[string]any) error {
	for _, k := range sortedKeys(props) {
		if !contains(scheduleV2Properties, k) {
			return eventErr(evID, "property %s not defined for resource of type ScheduleV2", k)
		}
	}
	if _, ok := props["ScheduleExpression"]; !ok {
		return eventErr(evID, "Missing required property 'ScheduleExpression'.")
	}
	for _, k := range []string{"FlexibleTimeWindow", "DeadLetterConfig", "RetryPolicy"} {
		if _, err := optMap(props, k); err != nil {
			return eventErr(evID, "%s", err.Error())
		}
	}
	id := s.id + evID
	sched := tr.eventResource(s, "AWS::Scheduler::Schedule")
	sp := sched.Properties
	sp["ScheduleExpression"] = props["ScheduleExpression"]
	if truthy(props["State"]) {
		sp["State"] = props["State"]
	}
	if omit, _ := props["OmitName"].(bool); omit {
		if truthy(props["Name"]) {
			return invalidf("Event with id [%s] is invalid. Name cannot be set when OmitName is True", id)
		}
	} else if truthy(props["Name"]) {
		sp["Name"] = props["Name"]
	} else {
		sp["Name"] = id
	}
	for _, k := range []string{"Description", "StartDate", "EndDate", "ScheduleExpressionTimezone", "GroupName", "KmsKeyArn"} {
		if v, ok := props[k]; ok && v != nil {
			sp[k] = v
		}
	}
	if ftw := props["FlexibleTimeWindow"]; truthy(ftw) {
		sp["FlexibleTimeWindow"] = ftw
	} else {
		sp["FlexibleTimeWindow"] = map[string]any{"Mode": "OFF"}
	}
	out := []generated{{id, sched}}
	var dlqArn any
	if dlc, ok := props["DeadLetterConfig"].(map[string]any); ok {
		hasArn, err := checkDeadLetterConfig(id, dlc)
		if err != nil {
			return err
		}
		if hasArn && dlc["Arn"] != nil {
			dlqArn = dlc["Arn"]
		} else {
			qid, err := deadLetterQueueID(id, dlc)
			if err != nil {
				return err
			}
			out = append(out, generated{qid, tr.eventResource(s, "AWS::SQS::Queue")})
			dlqArn = getAtt(qid, "Arn")
		}
	}
	_, fnArn, _ := s.target()
	roleArn := props["RoleArn"]
	if !truthy(roleArn) {
		role := tr.eventResource(s, "AWS::IAM::Role")
		role.Properties["AssumeRolePolicyDocument"] = map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Action": []any{"sts:AssumeRole"}, "Effect": "Allow", "Principal": map[string]any{"Service": []any{"scheduler.amazonaws.com"}}}}}
		policies := []any{map[string]any{"PolicyName": id + "LambdaPolicy", "PolicyDocument": map[string]any{"Statement": []any{
			map[string]any{"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": fnArn}}}}}
		if dlqArn != nil {
			policies = append(policies, map[string]any{"PolicyName": id + "SQSPolicy", "PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": dlqArn}}}})
		}
		role.Properties["Policies"] = policies
		if pb := props["PermissionsBoundary"]; truthy(pb) {
			role.Properties["PermissionsBoundary"] = pb
		}
		out = append(out, generated{id + "Role", role})
		roleArn = getAtt(id+"Role", "Arn")
	}
	target := map[string]any{"Arn": fnArn, "RoleArn": roleArn}
	if v, ok := props["Input"]; ok && v != nil {
		target["Input"] = v
	}
	if _, ok := props["DeadLetterConfig"]; ok && props["DeadLetterConfig"] != nil {
		target["DeadLetterConfig"] = map[string]any{"Arn": dlqArn}
	}
	if v, ok := props["RetryPolicy"]; ok && v != nil {
		target["RetryPolicy"] = v
	}
	sp["Target"] = target
	s.out = append(s.out, out...)
	return nil
}

// logsEvent is the CloudWatchLogs event source: a subscription filter on
// the log group delivering to the function, and its permission.
func (tr *translator) logsEvent(s *fnState, evID string, props map[string]any) error {
	for _, k := range sortedKeys(props) {
		if k != "LogGroupName" && k != "FilterPattern" {
			return eventErr(evID, "property %s not defined for resource of type CloudWatchLogs", k)
		}
	}
	for _, k := range []string{"LogGroupName", "FilterPattern"} {
		if _, ok := props[k]; !ok {
			return eventErr(evID, "Missing required property '%s'.", k)
		}
	}
	id := s.id + evID
	perm := tr.permission(s, id, "", fnSub("arn:"+tr.partition+":logs:${AWS::Region}:${AWS::AccountId}:log-group:${__LogGroupName__}:*",
		map[string]any{"__LogGroupName__": props["LogGroupName"]}))
	perm.r.Properties["Principal"] = "logs.amazonaws.com"
	filter := tr.eventResource(s, "AWS::Logs::SubscriptionFilter")
	filter.DependsOn = []string{perm.id}
	filter.Properties["LogGroupName"] = props["LogGroupName"]
	filter.Properties["FilterPattern"] = props["FilterPattern"]
	_, arn, _ := s.target()
	filter.Properties["DestinationArn"] = arn
	s.out = append(s.out, perm, generated{id, filter})
	return nil
}

// checkDeadLetterConfig checks an event's DeadLetterConfig as samtranslator
// does: it names either an Arn (hasArn) or Type SQS, for which the
// transform makes a queue (deadLetterQueueID).
func checkDeadLetterConfig(id string, dlc map[string]any) (hasArn bool, err error) {
	_, hasArn = dlc["Arn"]
	_, hasType := dlc["Type"]
	switch {
	case hasArn && hasType:
		return false, invalidf("Event with id [%s] is invalid. You can either define 'Arn' or 'Type' property of DeadLetterConfig.", id)
	case hasType && dlc["Type"] != "SQS":
		return false, invalidf("Event with id [%s] is invalid. The only valid value for 'Type' property of DeadLetterConfig is 'SQS'.", id)
	case !hasArn && !hasType:
		return false, invalidf("Event with id [%s] is invalid. No 'Arn' or 'Type' property provided for DeadLetterConfig.", id)
	}
	return hasArn, nil
}

// deadLetterQueueID is the logical id of the dead-letter queue the
// transform makes for an event: QueueLogicalId, else the event's id +
// "Queue".
func deadLetterQueueID(id string, dlc map[string]any) (string, error) {
	v, ok := dlc["QueueLogicalId"]
	if !ok || v == nil {
		return id + "Queue", nil
	}
	q, isStr := v.(string)
	if !isStr {
		return "", invalidf("Event with id [%s] is invalid. QueueLogicalId must be a string", id)
	}
	return q, nil
}

// s3Event is the S3 event source (samtranslator's push.S3): a permission
// for s3.amazonaws.com from this account, and one LambdaConfigurations
// entry per event type on the bucket, which must be declared in the same
// template and comes to depend on the permission.
func (tr *translator) s3Event(s *fnState, evID string, props map[string]any) error {
	for _, k := range sortedKeys(props) {
		if !contains([]string{"Bucket", "Events", "Filter"}, k) {
			return eventErr(evID, "property %s not defined for resource of type S3", k)
		}
	}
	for _, k := range []string{"Bucket", "Events"} {
		if v, ok := props[k]; !ok || v == nil {
			return eventErr(evID, "Missing required property '%s'.", k)
		}
	}
	bucketID, ok := apiID(props["Bucket"]).(string)
	bucket := tr.out[bucketID]
	if !ok || bucket == nil || bucket.Type != "AWS::S3::Bucket" {
		return eventErr(evID, "S3 events must reference an S3 bucket in the same template.")
	}
	var events []any
	switch e := props["Events"].(type) {
	case string:
		events = []any{e}
	case []any:
		events = e
	default:
		return eventErr(evID, "Type of property 'Events' is invalid.")
	}
	perm := tr.permission(s, s.id+evID, "", nil)
	perm.r.Properties["Principal"] = "s3.amazonaws.com"
	delete(perm.r.Properties, "SourceArn")
	perm.r.Properties["SourceAccount"] = map[string]any{"Ref": "AWS::AccountId"}
	if !contains(bucket.DependsOn, perm.id) {
		bucket.DependsOn = append(bucket.DependsOn, perm.id)
	}
	if bucket.Properties == nil {
		bucket.Properties = map[string]any{}
	}
	nc, _ := bucket.Properties["NotificationConfiguration"].(map[string]any)
	if nc == nil {
		if bucket.Properties["NotificationConfiguration"] != nil {
			return invalidf("Resource with id [%s] is invalid. Invalid type for NotificationConfiguration. Must be a map.", bucketID)
		}
		nc = map[string]any{}
		bucket.Properties["NotificationConfiguration"] = nc
	}
	lcs, ok := nc["LambdaConfigurations"].([]any)
	if !ok && nc["LambdaConfigurations"] != nil {
		return invalidf("Resource with id [%s] is invalid. Invalid type for LambdaConfigurations. Must be a list.", bucketID)
	}
	_, arn, _ := s.target()
	for _, e := range events {
		m := map[string]any{"Event": e, "Function": arn}
		if f, ok := props["Filter"]; ok && f != nil {
			m["Filter"] = deepCopy(f)
		}
		lcs = append(lcs, m)
	}
	nc["LambdaConfigurations"] = lcs
	s.out = append(s.out, perm)
	return nil
}
