package sam

import (
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

var layerProperties = []string{"LayerName", "Description", "PublishLambdaVersion", "ContentUri",
	"CompatibleArchitectures", "CompatibleRuntimes", "LicenseInfo", "RetentionPolicy"}

// layer is SamLayerVersion.to_cloudformation: AWS::Lambda::LayerVersion
// under <Layer><hash of the SAM resource>, retained by default, so a
// changed layer publishes a new version; references to the layer are
// rewritten to the new logical ID.
func (tr *translator) layer(id string, r *cfn.Resource) ([]generated, error) {
	p := r.Properties
	if _, ok := p["ContentUri"]; !ok {
		return nil, invalidf("Missing required property 'ContentUri'.")
	}
	for _, name := range []string{"LayerName", "LicenseInfo", "Description", "RetentionPolicy"} {
		v := p[name]
		if !truthy(v) {
			continue
		}
		res, err := tr.res.resolve(v)
		if err != nil {
			return nil, err
		}
		switch res.(type) {
		case string, map[string]any:
		default:
			return nil, invalidf("Could not resolve parameter for '%s' or parameter is not a String.", name)
		}
		p[name] = res
	}
	deletion := r.DeletionPolicy
	if deletion == "" {
		deletion = "Retain"
	}
	if rp, ok := p["RetentionPolicy"]; ok && rp != nil {
		if isIntrinsic(rp) {
			return nil, invalidf("'RetentionPolicy' does not accept intrinsic functions, please use one of the following options: ['Retain', 'Delete']")
		}
		s, ok := rp.(string)
		if !ok {
			return nil, invalidf("Invalid 'RetentionPolicy' type, please use one of the following options: ['Retain', 'Delete']")
		}
		switch strings.ToLower(s) {
		case "retain":
			deletion = "Retain"
		case "delete":
			deletion = "Delete"
		default:
			return nil, invalidf("'RetentionPolicy' must be one of the following options: ['Retain', 'Delete'].")
		}
	}

	hashProps := map[string]any{}
	for _, k := range layerProperties {
		if v, ok := p[k]; ok && v != nil {
			hashProps[k] = v
		}
	}
	entry := map[string]any{"Type": r.Type, "Properties": hashProps}
	if len(r.DependsOn) > 0 {
		entry["DependsOn"] = toAnyList(r.DependsOn)
	}
	if r.Condition != "" {
		entry["Condition"] = r.Condition
	}
	newID := logicalID(id, map[string]any{id: entry})

	lv := &cfn.Resource{Type: "AWS::Lambda::LayerVersion", Properties: map[string]any{},
		DependsOn: r.DependsOn, Condition: r.Condition, DeletionPolicy: deletion,
		UpdateReplacePolicy: r.UpdateReplacePolicy, Metadata: r.Metadata, UpdatePolicy: r.UpdatePolicy}
	name := p["LayerName"]
	if !truthy(name) {
		name = id
	}
	lv.Properties["LayerName"] = name
	if v := p["Description"]; v != nil {
		lv.Properties["Description"] = v
	}
	content, err := s3Location(p["ContentUri"], "ContentUri")
	if err != nil {
		return nil, err
	}
	lv.Properties["Content"] = content
	if v := p["CompatibleArchitectures"]; v != nil {
		l, ok := v.([]any)
		if !ok && !isIntrinsic(v) {
			return nil, invalidf("Property 'CompatibleArchitectures' should be a list.")
		}
		for _, a := range l {
			if !isIntrinsic(a) && a != "x86_64" && a != "arm64" {
				return nil, invalidf("CompatibleArchitectures needs to be a list of 'x86_64' or 'arm64'")
			}
		}
		lv.Properties["CompatibleArchitectures"] = v
	}
	for _, k := range []string{"CompatibleRuntimes", "LicenseInfo"} {
		if v := p[k]; v != nil {
			lv.Properties[k] = v
		}
	}
	tr.changedIDs[id] = newID
	return []generated{{newID, lv}}, nil
}
