package sam

import (
	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

const typeSimpleTable = "AWS::Serverless::SimpleTable"

// simpleTable is SamSimpleTable.to_cloudformation: an AWS::DynamoDB::Table
// keyed by PrimaryKey (id, a string, by default), on demand unless
// ProvisionedThroughput is given. Transform refuses SimpleTable while it is
// in UnsupportedResources.
func (tr *translator) simpleTable(id string, r *cfn.Resource) ([]generated, error) {
	p := r.Properties
	for _, k := range []string{"PrimaryKey", "ProvisionedThroughput", "Tags", "SSESpecification"} {
		if _, err := optMap(p, k); err != nil {
			return nil, err
		}
	}
	t := &cfn.Resource{Type: "AWS::DynamoDB::Table", Properties: map[string]any{},
		DependsOn: r.DependsOn, Condition: r.Condition, DeletionPolicy: r.DeletionPolicy,
		UpdateReplacePolicy: r.UpdateReplacePolicy, Metadata: r.Metadata, UpdatePolicy: r.UpdatePolicy}
	key := map[string]any{"AttributeName": "id", "AttributeType": "S"}
	if pk, _ := p["PrimaryKey"].(map[string]any); len(pk) > 0 {
		name, typ := pk["Name"], pk["Type"]
		if name == nil {
			return nil, invalidf("Property 'PrimaryKey.Name' is required.")
		}
		if typ == nil {
			return nil, invalidf("Property 'PrimaryKey.Type' is required.")
		}
		ts, _ := typ.(string)
		conv, ok := map[string]string{"String": "S", "Number": "N", "Binary": "B"}[ts]
		if !ok {
			return nil, invalidf("Invalid 'Type' \"%s\".", pyStr(typ))
		}
		key = map[string]any{"AttributeName": name, "AttributeType": conv}
	}
	t.Properties["AttributeDefinitions"] = []any{key}
	t.Properties["KeySchema"] = []any{map[string]any{"AttributeName": key["AttributeName"], "KeyType": "HASH"}}
	if v := p["PointInTimeRecoverySpecification"]; truthy(v) {
		t.Properties["PointInTimeRecoverySpecification"] = v
	}
	if v := p["ProvisionedThroughput"]; truthy(v) {
		t.Properties["ProvisionedThroughput"] = v
	} else {
		t.Properties["BillingMode"] = "PAY_PER_REQUEST"
	}
	if v := p["SSESpecification"]; truthy(v) {
		t.Properties["SSESpecification"] = v
	}
	if v := p["TableName"]; truthy(v) {
		t.Properties["TableName"] = v
	}
	if tags, _ := p["Tags"].(map[string]any); len(tags) > 0 {
		t.Properties["Tags"] = tagList(tags)
	}
	return []generated{{id, t}}, nil
}
