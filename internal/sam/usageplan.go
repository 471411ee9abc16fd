package sam

import (
	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// sharedUsagePlan is samtranslator's SharedApiUsagePlan: what the REST APIs
// with CreateUsagePlan SHARED contribute to ServerlessUsagePlan.
type sharedUsagePlan struct {
	stageKeys, apiStages []any
	dependsOn            []string
	conditions           []string
	anyWithoutCondition  bool
	deletionPolicy       string
	replacePolicy        string
}

const sharedUsagePlanCondition = "SharedUsagePlanCondition"

func (tr *translator) sharedAttributes(r *cfn.Resource) *cfn.Resource {
	s := tr.shared
	if d := r.DeletionPolicy; d != "" && (s.deletionPolicy == "" || d == "Retain") {
		s.deletionPolicy = d
	}
	if u := r.UpdateReplacePolicy; u != "" {
		if s.replacePolicy == "" || u == "Retain" || (u == "Snapshot" && s.replacePolicy == "Delete") {
			s.replacePolicy = u
		}
	}
	if !s.anyWithoutCondition {
		switch c := r.Condition; {
		case c == "":
			s.anyWithoutCondition = true
			delete(tr.conditions, sharedUsagePlanCondition)
		case !contains(s.conditions, c):
			s.conditions = append(s.conditions, c)
			if len(s.conditions) == 1 {
				// samtranslator writes the condition's name as the value.
				tr.setCondition(sharedUsagePlanCondition, c)
			} else {
				or := make([]any, 0, len(s.conditions))
				for _, name := range sortedKeys(setOf(s.conditions)) {
					or = append(or, map[string]any{"Condition": name})
				}
				tr.setCondition(sharedUsagePlanCondition, map[string]any{"Fn::Or": or})
			}
		}
	}
	out := &cfn.Resource{Properties: map[string]any{}, DeletionPolicy: s.deletionPolicy, UpdateReplacePolicy: s.replacePolicy}
	if len(s.conditions) > 0 && !s.anyWithoutCondition {
		out.Condition = sharedUsagePlanCondition
	}
	return out
}

func setOf(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

func containsValue(l []any, v any) bool {
	for _, e := range l {
		if pyJSON(e) == pyJSON(v) {
			return true
		}
	}
	return false
}

var usagePlanKeys = []string{"CreateUsagePlan", "Description", "Quota", "Tags", "Throttle", "UsagePlanName"}

// usagePlan is ApiGenerator._construct_usage_plan: Auth.UsagePlan makes a
// usage plan, an API key and the key's link to the plan, for this API
// (PER_API) or for every API that asks for the SHARED one.
func (tr *translator) usagePlan(id string, r *cfn.Resource, auth map[string]any, stageID string) ([]generated, error) {
	v, ok := auth["UsagePlan"]
	if !ok || v == nil {
		return nil, nil
	}
	up, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf("'UsagePlan' must be a dictionary")
	}
	for k := range up {
		if !contains(usagePlanKeys, k) {
			return nil, invalidf("Invalid property for 'UsagePlan'")
		}
	}
	create := up["CreateUsagePlan"]
	if create == nil {
		return nil, invalidf("'CreateUsagePlan' is a required field for UsagePlan.")
	}
	if create != "SHARED" && create != "PER_API" && create != "NONE" {
		return nil, invalidf("'CreateUsagePlan' accepts one of ['SHARED', 'PER_API', 'NONE'].")
	}
	if create == "NONE" {
		return nil, nil
	}
	apiStage := map[string]any{"ApiId": ref(id), "Stage": ref(stageID)}
	stageKey := map[string]any{"RestApiId": ref(id), "StageName": ref(stageID)}
	var plan, key, planKey *cfn.Resource
	var planID, keyID, planKeyID string
	if create == "PER_API" {
		planID, keyID, planKeyID = id+"UsagePlan", id+"ApiKey", id+"UsagePlanKey"
		plan, key, planKey = passthrough(r, ""), passthrough(r, ""), passthrough(r, "")
		plan.Properties["ApiStages"] = []any{apiStage}
		key.Properties["StageKeys"] = []any{stageKey}
		plan.DependsOn = []string{id}
	} else {
		if tr.shared == nil {
			tr.shared = &sharedUsagePlan{}
		}
		s := tr.shared
		planID, keyID, planKeyID = "ServerlessUsagePlan", "ServerlessApiKey", "ServerlessUsagePlanKey"
		if !contains(s.dependsOn, id) {
			s.dependsOn = append(s.dependsOn, id)
		}
		plan = tr.sharedAttributes(r)
		if !containsValue(s.apiStages, apiStage) {
			s.apiStages = append(s.apiStages, apiStage)
		}
		plan.Properties["ApiStages"] = deepCopy(s.apiStages)
		plan.DependsOn = append([]string(nil), s.dependsOn...)
		key = tr.sharedAttributes(r)
		if !containsValue(s.stageKeys, stageKey) {
			s.stageKeys = append(s.stageKeys, stageKey)
		}
		key.Properties["StageKeys"] = deepCopy(s.stageKeys)
		planKey = tr.sharedAttributes(r)
	}
	plan.Type, key.Type, planKey.Type = "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey"
	key.DependsOn = []string{planID}
	key.Properties["Enabled"] = true
	planKey.DependsOn = []string{keyID}
	planKey.Properties["KeyId"] = ref(keyID)
	planKey.Properties["KeyType"] = "API_KEY"
	planKey.Properties["UsagePlanId"] = ref(planID)
	for _, k := range []string{"UsagePlanName", "Description", "Quota", "Tags", "Throttle"} {
		if truthy(up[k]) {
			plan.Properties[k] = up[k]
		}
	}
	tr.addRef(id, "UsagePlan", planID)
	tr.addRef(id, "UsagePlanKey", planKeyID)
	tr.addRef(id, "ApiKey", keyID)
	return []generated{{planID, plan}, {keyID, key}, {planKeyID, planKey}}, nil
}
