package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/yamldoc"
)

// AWS::Include (Fn::Transform {Name: AWS::Include, Parameters: {Location:
// s3://bucket/key}}) replaces the map that holds it with the document in
// the bucket, as CloudFormation does before it creates anything. The
// engine expands includes when a stack or change set is asked for, so an
// unreadable Location refuses the template whole; the stack records the
// expanded template as its processed template, so a resumed or rolled
// back operation never reads the bucket again. Other macros, and a
// Location that is not an s3:// URI, stay refused (refuseMacros).

// IncludeReader reads the object an AWS::Include Location names. ctx
// carries the identity of the caller whose request names it (CreateStack,
// UpdateStack, CreateChangeSet, ExecuteChangeSet, ValidateTemplate): the
// reader reads as that caller, as CloudFormation does, so a template
// cannot include an object its author may not read.
type IncludeReader func(ctx context.Context, bucket, key string) ([]byte, error)

const (
	// maxIncludeBytes bounds one included snippet.
	maxIncludeBytes = 1 << 20
	// maxIncludes bounds the includes of one template, nested ones counted.
	maxIncludes = 100
	// maxIncludeDepth bounds includes within included snippets.
	maxIncludeDepth = 8
	// includeTimeout bounds the reading of one snippet.
	includeTimeout = 30 * time.Second
)

// s3Include reports the bucket and key of a map that is exactly an
// AWS::Include of an s3:// Location.
func s3Include(m map[string]any) (bucket, key string, ok bool) {
	if len(m) != 1 {
		return "", "", false
	}
	tr, _ := m["Fn::Transform"].(map[string]any)
	if tr == nil || tr["Name"] != "AWS::Include" {
		return "", "", false
	}
	params, _ := tr["Parameters"].(map[string]any)
	loc, _ := params["Location"].(string)
	rest, found := strings.CutPrefix(loc, "s3://")
	if !found {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(rest, "/")
	return bucket, key, true
}

// expandIncludes returns t with every AWS::Include of an s3:// Location
// replaced by the snippet it names (t itself if it has none). A snippet
// that cannot be read or parsed refuses the template.
func (s *Service) expandIncludes(ctx context.Context, t *cfn.Template) (*cfn.Template, bool, error) {
	if len(t.Macros()) == 0 {
		return t, false, nil
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, false, fmt.Errorf("encode template: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, false, fmt.Errorf("decode template: %w", err)
	}
	n := 0
	var expand func(v any, depth int) (any, error)
	expand = func(v any, depth int) (any, error) {
		switch x := v.(type) {
		case map[string]any:
			if bucket, key, ok := s3Include(x); ok {
				loc := "s3://" + bucket + "/" + key
				n++
				switch {
				case depth >= maxIncludeDepth:
					return nil, fmt.Errorf("AWS::Include nests more than %d levels deep at %s", maxIncludeDepth, loc)
				case n > maxIncludes:
					return nil, fmt.Errorf("the template includes more than %d snippets", maxIncludes)
				}
				snippet, err := s.readInclude(ctx, bucket, key)
				if err != nil {
					return nil, fmt.Errorf("Location %s: %w", loc, err) //nolint:staticcheck // CloudFormation names the parameter
				}
				return expand(snippet, depth+1)
			}
			for k, e := range x {
				ne, err := expand(e, depth)
				if err != nil {
					return nil, err
				}
				x[k] = ne
			}
		case []any:
			for i, e := range x {
				ne, err := expand(e, depth)
				if err != nil {
					return nil, err
				}
				x[i] = ne
			}
		}
		return v, nil
	}
	for k, v := range doc {
		if k == "Transform" || k == "Parameters" {
			continue // the template's own transforms; parameters take no includes
		}
		nv, err := expand(v, 0)
		if err != nil {
			return nil, false, validationError("Transform AWS::Include failed with: %v", err)
		}
		doc[k] = nv
	}
	if n == 0 {
		return t, false, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, false, fmt.Errorf("encode included template: %w", err)
	}
	nt, err := cfn.Parse(out)
	if err != nil {
		return nil, false, templateError(err)
	}
	return nt, true, nil
}

// readInclude reads and parses one snippet (JSON or YAML, without the
// short forms, as CloudFormation reads a snippet).
func (s *Service) readInclude(caller context.Context, bucket, key string) (any, error) {
	if bucket == "" || key == "" {
		return nil, errors.New("the Location must name an object: s3://bucket/key")
	}
	if s.includes == nil {
		return nil, errors.New("this node reads no buckets")
	}
	if caller == nil {
		caller = s.base
	}
	ctx, cancel := context.WithTimeout(caller, includeTimeout)
	defer cancel()
	b, err := s.includes(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	doc, err := yamldoc.Decode(b, yamldoc.Options{MaxBytes: maxIncludeBytes, Noun: "snippet"})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// checkTypes refuses, for ValidateTemplate, a template with resource
// types Nimbus has no provider for, with the message deploying it would
// give: `nimbus deploy` validates before it builds, so what is missing is
// said before minutes of building. AWS::Serverless::* types are the SAM
// transform's (what they need is checked by the client's SAM check and by
// the transform), and a resource with a Condition is left to the deploy,
// which knows the parameters that decide it.
func (s *Service) checkTypes(t *cfn.Template) error {
	var missing []string
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if r == nil || r.Condition != "" || strings.HasPrefix(r.Type, "AWS::Serverless::") {
			continue
		}
		if _, ok := s.providers[r.Type]; !ok && !slices.Contains(missing, r.Type) {
			missing = append(missing, r.Type)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return unsupportedTypes(missing)
}

// unsupportedTypes refuses a template for the resource types it lists.
func unsupportedTypes(types []string) error {
	slices.Sort(types)
	return validationError("Template contains resource types Nimbus does not support: [%s]. "+
		"Deploy with --skip-unsupported to leave them out.", strings.Join(types, ", "))
}
