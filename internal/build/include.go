package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/yamldoc"
)

// InlineIncludes replaces each AWS::Include whose Location is a local
// file ({"Fn::Transform": {"Name": "AWS::Include", "Parameters":
// {"Location": "./api.yaml"}}}) with the document the file holds, as
// `sam deploy` would upload the file and CloudFormation include it. The
// snippet is read as CloudFormation reads one: JSON or YAML, without the
// short forms (!Ref); long-form intrinsics in it are evaluated with the
// template. Includes from a bucket and other macros are left for the
// node, which refuses them before creating anything.
func InlineIncludes(t *cfn.Template, templateDir string) error {
	var err error
	inline := func(v any) any {
		if err != nil {
			return v
		}
		var out any
		out, err = inlineValue(v, templateDir)
		return out
	}
	for id, r := range t.Resources {
		if r == nil {
			continue
		}
		if v, ok := inline(map[string]any(r.Properties)).(map[string]any); ok {
			r.Properties = v
		}
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
	}
	if v, ok := inline(t.Globals).(map[string]any); ok && t.Globals != nil {
		t.Globals = v
	}
	for name, o := range t.Outputs {
		if o != nil {
			o.Value = inline(o.Value)
		}
		if err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
	}
	return err
}

// maxIncludeDepth bounds includes within included documents.
const maxIncludeDepth = 8

func inlineValue(v any, dir string) (any, error) { return inlineAt(v, dir, 0) }

func inlineAt(v any, dir string, depth int) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if loc, ok := localInclude(x); ok {
			if depth >= maxIncludeDepth {
				return nil, fmt.Errorf("AWS::Include nests more than %d levels deep", maxIncludeDepth)
			}
			path := loc
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, filepath.FromSlash(loc))
			}
			b, err := os.ReadFile(path) //nolint:gosec // a file the user's own template names, as CodeUri does
			if err != nil {
				return nil, fmt.Errorf("AWS::Include Location %s: %w", loc, err)
			}
			doc, err := yamldoc.Decode(b, yamldoc.Options{Noun: "snippet"})
			if err != nil {
				return nil, fmt.Errorf("AWS::Include Location %s: %w", loc, err)
			}
			return inlineAt(doc, filepath.Dir(path), depth+1)
		}
		for k, e := range x {
			n, err := inlineAt(e, dir, depth)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case []any:
		for i, e := range x {
			n, err := inlineAt(e, dir, depth)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	}
	return v, nil
}

// localInclude reports the Location of a map that is exactly an
// AWS::Include of a local file.
func localInclude(m map[string]any) (string, bool) {
	if len(m) != 1 {
		return "", false
	}
	tr, ok := m["Fn::Transform"].(map[string]any)
	if !ok || tr["Name"] != "AWS::Include" {
		return "", false
	}
	params, _ := tr["Parameters"].(map[string]any)
	loc, _ := params["Location"].(string)
	if loc == "" || strings.Contains(loc, "://") {
		return "", false
	}
	return loc, true
}
