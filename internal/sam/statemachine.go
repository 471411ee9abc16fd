package sam

import (
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

const (
	typeStateMachine = "AWS::Serverless::StateMachine"
	smTagKey         = "stateMachine:createdBy"
)

var stateMachineProperties = []string{"Definition", "DefinitionUri", "DefinitionSubstitutions", "Role", "RolePath", "Policies",
	"PermissionsBoundary", "Name", "Type", "Logging", "Tracing", "Tags", "Events", "PropagateTags"}

// stateMachine is StateMachineGenerator.to_cloudformation: an
// AWS::StepFunctions::StateMachine (the definition as samtranslator
// writes it: four-space-indented JSON with sorted keys, joined by
// newlines), its role from Policies unless Role is given, and a rule
// with a role for each Schedule or EventBridgeRule event.
func (tr *translator) stateMachine(id string, r *cfn.Resource) ([]generated, error) {
	p := r.Properties
	sm := passthrough(r, "AWS::StepFunctions::StateMachine")
	sm.DependsOn, sm.Metadata, sm.UpdatePolicy = r.DependsOn, r.Metadata, r.UpdatePolicy
	def, hasDef := p["Definition"]
	uri, hasURI := p["DefinitionUri"]
	switch {
	case hasDef && hasURI:
		return nil, invalidf("Specify either 'Definition' or 'DefinitionUri' property and not both.")
	case hasDef:
		if _, ok := def.(map[string]any); !ok {
			return nil, invalidf("Type of property 'Definition' is invalid.")
		}
		lines := strings.Split(pyJSONIndent(def), "\n")
		parts := make([]any, len(lines))
		for i, l := range lines {
			parts[i] = l
		}
		sm.Properties["DefinitionString"] = map[string]any{"Fn::Join": []any{"\n", parts}}
	case hasURI:
		switch u := uri.(type) {
		case string:
			bucket, key, ok := strings.Cut(strings.TrimPrefix(u, "s3://"), "/")
			if !strings.HasPrefix(u, "s3://") || !ok {
				return nil, invalidf("'DefinitionUri' is not a valid S3 Uri of the form 's3://bucket/key' with optional versionId query parameter.")
			}
			sm.Properties["DefinitionS3Location"] = map[string]any{"Bucket": bucket, "Key": key}
		case map[string]any:
			sm.Properties["DefinitionS3Location"] = u
		default:
			return nil, invalidf("Type of property 'DefinitionUri' is invalid.")
		}
	default:
		return nil, invalidf("Either 'Definition' or 'DefinitionUri' property must be specified.")
	}
	if v, ok := p["DefinitionSubstitutions"]; ok {
		sm.Properties["DefinitionSubstitutions"] = v
	}
	out := []generated{{id, sm}}
	tags, err := optMap(p, "Tags")
	if err != nil {
		return nil, err
	}
	if _, ok := tags[smTagKey]; ok {
		return nil, invalidf("%s is a reserved Tag key name and cannot be set on your resource. Please change the tag key in the input.", smTagKey)
	}
	smTags := append([]any{map[string]any{"Key": smTagKey, "Value": samTagValue}}, tagList(tags)...)
	if role, ok := p["Role"]; ok {
		if truthy(p["Policies"]) {
			return nil, invalidf("Specify either 'Role' or 'Policies' property and not both.")
		}
		sm.Properties["RoleArn"] = role
	} else {
		role, err := tr.stateMachineRole(id, r, smTags)
		if err != nil {
			return nil, err
		}
		out = append(out, generated{id + "Role", role})
		sm.Properties["RoleArn"] = getAtt(id+"Role", "Arn")
	}
	if v, ok := p["Name"]; ok {
		sm.Properties["StateMachineName"] = v
	}
	if v, ok := p["Type"]; ok {
		sm.Properties["StateMachineType"] = v
	}
	sm.Properties["Tags"] = smTags
	if v, ok := p["Tracing"]; ok {
		sm.Properties["TracingConfiguration"] = v
	}
	if v, ok := p["Logging"]; ok {
		sm.Properties["LoggingConfiguration"] = v
	}
	events, err := optMap(p, "Events")
	if err != nil {
		return nil, err
	}
	for _, evID := range sortedKeys(events) {
		gs, err := tr.stateMachineEvent(id, r, evID, events[evID])
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
	}
	return out, nil
}

// stateMachineRole is the role StateMachineGenerator makes from Policies.
func (tr *translator) stateMachineRole(id string, r *cfn.Resource, tags []any) (*cfn.Resource, error) {
	p := r.Properties
	role := passthrough(r, "AWS::IAM::Role")
	role.Properties["AssumeRolePolicyDocument"] = map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Action": []any{"sts:AssumeRole"}, "Effect": "Allow",
			"Principal": map[string]any{"Service": []any{"states.amazonaws.com"}},
		}},
	}
	var managed, docs []any
	for i, pol := range policiesList(p["Policies"]) {
		kind, err := policyKind(pol, false)
		if err != nil {
			return nil, err
		}
		switch kind {
		case policyStatement:
			docs = append(docs, map[string]any{"PolicyName": id + "RolePolicy" + itoa(i), "PolicyDocument": pol})
		case policyManaged:
			arn := pol
			if s, ok := pol.(string); ok {
				arn = tr.managedPolicyARN(s)
			}
			managed = append(managed, arn)
		default:
			return nil, invalidf("Policy at index %d in the 'Policies' property is not valid", i)
		}
	}
	if len(managed) > 0 {
		role.Properties["ManagedPolicyArns"] = managed
	}
	if len(docs) > 0 {
		role.Properties["Policies"] = docs
	}
	if v := p["RolePath"]; v != nil {
		role.Properties["Path"] = v
	}
	if v := p["PermissionsBoundary"]; v != nil {
		role.Properties["PermissionsBoundary"] = v
	}
	role.Properties["Tags"] = tags
	return role, nil
}

// stateMachineEvent is a Schedule or EventBridgeRule event of a state
// machine: a rule whose target starts an execution, and the role the
// rule assumes to do it.
func (tr *translator) stateMachineEvent(id string, r *cfn.Resource, evID string, raw any) ([]generated, error) {
	ev, ok := raw.(map[string]any)
	if !ok {
		return nil, invalidf("Event '%s' is invalid.", evID)
	}
	props, _ := ev["Properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	typ, _ := ev["Type"].(string)
	ruleID := id + evID
	rule := passthrough(r, "AWS::Events::Rule")
	target := map[string]any{"Arn": ref(id), "Id": ruleID + "StepFunctionsTarget", "RoleArn": getAtt(ruleID+"Role", "Arn")}
	switch typ {
	case "Schedule":
		rule.Properties["ScheduleExpression"] = props["Schedule"]
		if v, ok := props["Enabled"]; ok {
			if b, isBool := v.(bool); isBool {
				rule.Properties["State"] = map[bool]string{true: "ENABLED", false: "DISABLED"}[b]
			}
		}
		if v, ok := props["State"]; ok {
			rule.Properties["State"] = v
		}
	case "EventBridgeRule", "CloudWatchEvent":
		rule.Properties["EventPattern"] = props["Pattern"]
		if v, ok := props["EventBusName"]; ok {
			rule.Properties["EventBusName"] = v
		}
		if v, ok := props["State"]; ok {
			rule.Properties["State"] = v
		}
	case "Api":
		return nil, invalidf("Event '%s' of type Api needs API Gateway's Step Functions integration, which Nimbus does not have yet.", evID)
	default:
		return nil, invalidf("Event '%s' of type %s is not one Nimbus supports on a state machine (Schedule, EventBridgeRule).", evID, typ)
	}
	for _, k := range []string{"Name", "Description"} {
		if v, ok := props[k]; ok {
			rule.Properties[k] = v
		}
	}
	for _, k := range []string{"Input", "InputPath"} {
		if v, ok := props[k]; ok {
			target[k] = v
		}
	}
	rule.Properties["Targets"] = []any{target}
	role := passthrough(r, "AWS::IAM::Role")
	role.Properties["AssumeRolePolicyDocument"] = map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Action": []any{"sts:AssumeRole"}, "Effect": "Allow",
			"Principal": map[string]any{"Service": []any{"events.amazonaws.com"}},
		}},
	}
	role.Properties["Policies"] = []any{map[string]any{
		"PolicyName": ruleID + "RoleStartExecutionPolicy",
		"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action": "states:StartExecution", "Effect": "Allow", "Resource": ref(id)}}},
	}}
	return []generated{{ruleID, rule}, {ruleID + "Role", role}}, nil
}

// pyJSONIndent is json.dumps(v, indent=4, sort_keys=True).
func pyJSONIndent(v any) string {
	var b strings.Builder
	writePyJSONIndent(&b, v, 0)
	return b.String()
}

func writePyJSONIndent(b *strings.Builder, v any, depth int) {
	pad := func(d int) { b.WriteString(strings.Repeat("    ", d)) }
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(",\n")
			}
			pad(depth + 1)
			writePyString(b, k)
			b.WriteString(": ")
			writePyJSONIndent(b, x[k], depth+1)
		}
		b.WriteString("\n")
		pad(depth)
		b.WriteString("}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			if i > 0 {
				b.WriteString(",\n")
			}
			pad(depth + 1)
			writePyJSONIndent(b, e, depth+1)
		}
		b.WriteString("\n")
		pad(depth)
		b.WriteString("]")
	default:
		b.WriteString(pyJSON(v))
	}
}
