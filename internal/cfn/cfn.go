// Package cfn is the CloudFormation template language: it parses YAML
// (with the short forms !Ref, !Sub, !GetAtt a.b, ...) and JSON templates
// into one data model, validates parameters against their declarations,
// evaluates conditions and the intrinsic functions, and orders resources
// by the references between them.
//
// Values are the JSON data model: map[string]any, []any, string,
// float64, bool and nil. YAML short forms become their long forms
// ({"Ref": x}, {"Fn::GetAtt": [a, b]}, ...) when parsed, so nothing after
// Parse sees YAML. Plain YAML scalars take the types YAML 1.1 gives them,
// as in CloudFormation and samtranslator (yes/no/on/off are booleans),
// except that timestamps stay the text written.
//
// Templates are untrusted input: every parser and the evaluator are fuzzed.
// Of Nimbus it imports only yamldoc (its document reader); sam, stack and
// the CLI import it.
package cfn

// Template is a parsed template. Sections keep their values as parsed;
// nothing is evaluated.
type Template struct {
	FormatVersion string                `json:"AWSTemplateFormatVersion,omitempty"`
	Description   string                `json:"Description,omitempty"`
	Transform     []string              `json:"Transform,omitempty"`
	Metadata      map[string]any        `json:"Metadata,omitempty"`
	Globals       map[string]any        `json:"Globals,omitempty"`
	Parameters    map[string]*Parameter `json:"Parameters,omitempty"`
	Mappings      map[string]any        `json:"Mappings,omitempty"`
	Rules         map[string]any        `json:"Rules,omitempty"`
	Conditions    map[string]any        `json:"Conditions,omitempty"`
	Resources     map[string]*Resource  `json:"Resources"`
	Outputs       map[string]*Output    `json:"Outputs,omitempty"`
}

// Parameter is one declared parameter.
type Parameter struct {
	Type                  string   `json:"Type"`
	Default               any      `json:"Default,omitempty"`
	AllowedValues         []any    `json:"AllowedValues,omitempty"`
	AllowedPattern        string   `json:"AllowedPattern,omitempty"`
	MinLength             *int     `json:"MinLength,omitempty"`
	MaxLength             *int     `json:"MaxLength,omitempty"`
	MinValue              *float64 `json:"MinValue,omitempty"`
	MaxValue              *float64 `json:"MaxValue,omitempty"`
	NoEcho                bool     `json:"NoEcho,omitempty"`
	Description           string   `json:"Description,omitempty"`
	ConstraintDescription string   `json:"ConstraintDescription,omitempty"`
}

// Resource is one entry of the Resources section.
type Resource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties,omitempty"`
	DependsOn           []string       `json:"DependsOn,omitempty"`
	Condition           string         `json:"Condition,omitempty"`
	DeletionPolicy      string         `json:"DeletionPolicy,omitempty"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy,omitempty"`
	Metadata            map[string]any `json:"Metadata,omitempty"`
	CreationPolicy      map[string]any `json:"CreationPolicy,omitempty"`
	UpdatePolicy        map[string]any `json:"UpdatePolicy,omitempty"`
	// IgnoreGlobals is SAM's resource attribute ("*" or a list of
	// property names); plain CloudFormation refuses it.
	IgnoreGlobals any `json:"IgnoreGlobals,omitempty"`
}

// Output is one entry of the Outputs section.
type Output struct {
	Description string  `json:"Description,omitempty"`
	Value       any     `json:"Value"`
	Export      *Export `json:"Export,omitempty"`
	Condition   string  `json:"Condition,omitempty"`
}

// Export names an output other stacks may import (Fn::ImportValue).
type Export struct {
	Name any `json:"Name"`
}

// Pseudo holds the pseudo parameters' values (AWS::Region, ...).
// Partition defaults to "aws" and URLSuffix to "amazonaws.com" when empty.
type Pseudo struct {
	Region, AccountID, StackName, StackID, Partition, URLSuffix string
	NotificationARNs                                            []string
}

// ResourceResolver answers Ref and Fn::GetAtt on resources; the stack
// engine implements it over the resources it has created.
type ResourceResolver interface {
	Ref(logicalID string) (any, error)
	GetAtt(logicalID, attribute string) (any, error)
}

// Env is what evaluation needs besides the value itself.
type Env struct {
	Pseudo     Pseudo
	Params     map[string]any  // resolved values: string, or []string for list types
	Conditions map[string]bool // evaluated conditions
	Mappings   map[string]any
	// Resources answers Ref/GetAtt on resources; nil makes them errors.
	Resources ResourceResolver
	// ImportValue answers Fn::ImportValue; nil makes it an error.
	ImportValue func(name string) (string, error)
	// Dynamic answers dynamic references ({{resolve:...}}); nil refuses
	// them.
	Dynamic DynamicResolver
}
