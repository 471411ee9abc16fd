package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/yamldoc"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// ArtifactBucket is the bucket name the rewritten template gives uploaded
// code (the node's stack engine reads it from its artifact store).
const ArtifactBucket = "nimbus-artifacts"

// Plan lists the units of t that have local code, in logical-id order.
// Code already in S3, inline code and intrinsic functions are left alone.
// A function whose PackageType is Image is an error.
func Plan(t *cfn.Template, templateDir string, params map[string]string) ([]Unit, error) {
	dir, err := filepath.Abs(templateDir)
	if err != nil {
		return nil, err
	}
	p := planner{t: t, dir: dir, params: params}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var units []Unit
	var errs []error
	for _, id := range ids {
		u, err := p.unit(id, t.Resources[id])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		if u != nil {
			units = append(units, *u)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return units, nil
}

type planner struct {
	t      *cfn.Template
	dir    string
	params map[string]string
}

// global is Globals.<section>.<key>.
func (p *planner) global(section, key string) any {
	s, _ := p.t.Globals[section].(map[string]any)
	return s[key]
}

// prop is a resource's property, else its Globals value for SAM types.
func (p *planner) prop(r *cfn.Resource, section, key string) any {
	if v, ok := r.Properties[key]; ok {
		return v
	}
	if section != "" {
		return p.global(section, key)
	}
	return nil
}

// str resolves v to a string: a literal, or a Ref to a parameter (its
// override, else its default). Anything else is "".
func (p *planner) str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		name, ok := v["Ref"].(string)
		if !ok || len(v) != 1 {
			return ""
		}
		if o, ok := p.params[name]; ok {
			return o
		}
		if decl := p.t.Parameters[name]; decl != nil {
			if s, ok := decl.Default.(string); ok {
				return s
			}
		}
	}
	return ""
}

// localPath returns the absolute path of a code location that is a local
// path, or "" for S3 URIs, maps and intrinsics.
func (p *planner) localPath(v any) string {
	s, ok := v.(string)
	if !ok || s == "" || strings.HasPrefix(s, "s3://") || strings.HasPrefix(s, "https://") {
		return ""
	}
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(p.dir, filepath.FromSlash(s))
}

func (p *planner) unit(id string, r *cfn.Resource) (*Unit, error) {
	if r == nil {
		return nil, nil
	}
	buildMethod, _ := r.Metadata["BuildMethod"].(string)
	buildProps, _ := r.Metadata["BuildProperties"].(map[string]any)
	u := &Unit{LogicalID: id, Type: r.Type, BuildMethod: buildMethod, BuildProperties: buildProps}
	var section string
	switch r.Type {
	case TypeServerlessFunction:
		section, u.Property = "Function", "CodeUri"
		if p.str(p.prop(r, section, "PackageType")) == "Image" {
			return nil, fmt.Errorf("PackageType Image is %w: Nimbus runs zip functions only", ErrUnsupported)
		}
		if _, inline := r.Properties["InlineCode"]; inline {
			return nil, nil
		}
	case TypeLambdaFunction:
		u.Property = "Code"
		if p.str(r.Properties["PackageType"]) == "Image" {
			return nil, fmt.Errorf("PackageType Image is %w: Nimbus runs zip functions only", ErrUnsupported)
		}
	case TypeServerlessLayer:
		section, u.Property = "LayerVersion", "ContentUri"
	case TypeLambdaLayer:
		u.Property = "Content"
	default:
		return nil, nil
	}
	loc := p.prop(r, section, u.Property)
	if loc == nil && r.Type == TypeServerlessFunction {
		loc = "." // sam build's default: the template's directory
	}
	if ref, ok := loc.(map[string]any); ok && len(ref) == 1 && ref["Ref"] != nil {
		loc = p.str(ref) // a parameter naming the directory
	}
	u.Source = p.localPath(loc)
	if u.Source == "" {
		return nil, nil
	}
	if _, err := os.Stat(u.Source); err != nil {
		return nil, fmt.Errorf("%s %v: %w", u.Property, loc, err)
	}
	if section == "Function" || r.Type == TypeLambdaFunction {
		u.Runtime = p.str(p.prop(r, section, "Runtime"))
		u.Handler = p.str(p.prop(r, section, "Handler"))
		u.Arch = "x86_64"
		if archs, ok := p.prop(r, section, "Architectures").([]any); ok && len(archs) == 1 {
			if a := p.str(archs[0]); a != "" {
				u.Arch = a
			}
		}
		if u.Runtime == "" && !isZip(u.Source) {
			return nil, fmt.Errorf("no Runtime: nimbus deploy needs it to build %s %s", u.Property, u.Source)
		}
	} else {
		u.Arch = "x86_64"
		if archs, ok := r.Properties["CompatibleArchitectures"].([]any); ok && len(archs) == 1 {
			if a := p.str(archs[0]); a != "" {
				u.Arch = a
			}
		}
	}
	return u, nil
}

func isZip(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && !fi.IsDir()
}

// Package rewrites t for deployment: each built unit's code location names
// its artifact (s3://nimbus-artifacts/<sha256> for SAM types,
// {S3Bucket: nimbus-artifacts, S3Key: <sha256>} for AWS::Lambda types), a
// local Globals CodeUri is removed (every function that used it now has
// its own), each local DefinitionUri of an AWS::Serverless::Api or
// HttpApi is read and inlined as DefinitionBody, and each local
// DefinitionUri of an AWS::Serverless::StateMachine (an Amazon States
// Language file, JSON or YAML) as Definition, which samtranslator turns
// into the same DefinitionString `sam package`'s upload would give.
func Package(t *cfn.Template, templateDir string, arts []Artifact) error {
	dir, err := filepath.Abs(templateDir)
	if err != nil {
		return err
	}
	p := planner{t: t, dir: dir}
	for _, a := range arts {
		r := t.Resources[a.LogicalID]
		if r == nil {
			return fmt.Errorf("package: no resource %s", a.LogicalID)
		}
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		switch a.Type {
		case TypeServerlessFunction, TypeServerlessLayer:
			r.Properties[a.Property] = "s3://" + ArtifactBucket + "/" + a.SHA256
		default:
			r.Properties[a.Property] = map[string]any{"S3Bucket": ArtifactBucket, "S3Key": a.SHA256}
		}
	}
	if fn, ok := t.Globals["Function"].(map[string]any); ok && p.localPath(fn["CodeUri"]) != "" {
		delete(fn, "CodeUri")
	}
	for id, r := range t.Resources {
		if r != nil && r.Type == "AWS::Serverless::StateMachine" {
			if err := p.inlineStateMachine(id, r); err != nil {
				return err
			}
			continue
		}
		if r == nil || r.Type != "AWS::Serverless::Api" && r.Type != "AWS::Serverless::HttpApi" {
			continue
		}
		path := p.localPath(r.Properties["DefinitionUri"])
		if path == "" {
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s DefinitionUri: %w", id, err)
		}
		// Read as API Gateway reads an uploaded definition: no short forms.
		body, err := yamldoc.Decode(raw, yamldoc.Options{Noun: "definition"})
		if err != nil {
			return fmt.Errorf("%s DefinitionUri %s: %w", id, path, err)
		}
		if _, ok := body.(map[string]any); !ok {
			return fmt.Errorf("%s DefinitionUri %s is not an OpenAPI document", id, path)
		}
		delete(r.Properties, "DefinitionUri")
		r.Properties["DefinitionBody"] = body
	}
	return nil
}

// inlineStateMachine inlines a state machine's local DefinitionUri as
// its Definition.
func (p *planner) inlineStateMachine(id string, r *cfn.Resource) error {
	path := p.localPath(r.Properties["DefinitionUri"])
	if path == "" {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s DefinitionUri: %w", id, err)
	}
	def, err := yamldoc.Decode(raw, yamldoc.Options{Noun: "definition"})
	if err != nil {
		return fmt.Errorf("%s DefinitionUri %s: %w", id, path, err)
	}
	if _, ok := def.(map[string]any); !ok {
		return fmt.Errorf("%s DefinitionUri %s is not a state machine definition (an object)", id, path)
	}
	delete(r.Properties, "DefinitionUri")
	r.Properties["Definition"] = def
	return nil
}
