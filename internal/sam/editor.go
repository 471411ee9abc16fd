package sam

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// editor edits a Swagger 2.0 / OpenAPI 3 definition the way samtranslator's
// SwaggerEditor (REST APIs) and OpenApiEditor (HTTP APIs) do. It works on
// its own copy of the document; doc returns it.
type editor struct {
	doc   map[string]any
	paths map[string]any
	http  bool // OpenApiEditor: HTTP APIs
}

const (
	xIntegration = "x-amazon-apigateway-integration"
	xAnyMethod   = "x-amazon-apigateway-any-method"
	defaultPath  = "$default"
)

var openAPI3 = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\A3(\.\d)(\.\d)?$`) })

// pyStr is Python's str() of a scalar parsed from a template.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		s := pyNumber(x)
		if !strings.ContainsAny(s, ".eEIN") {
			s += ".0"
		}
		return s
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	}
	return true
}

// swaggerValid is SwaggerEditor.is_valid.
func swaggerValid(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return false
	}
	if _, ok := m["paths"].(map[string]any); !ok {
		return false
	}
	if truthy(m["swagger"]) {
		return true
	}
	if truthy(m["openapi"]) {
		return openAPI3().MatchString(pyStr(m["openapi"]))
	}
	return false
}

// openAPIValid is OpenApiEditor.is_valid.
func openAPIValid(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return false
	}
	if _, ok := m["paths"].(map[string]any); !ok || !truthy(m["openapi"]) {
		return false
	}
	return openAPI3().MatchString(pyStr(m["openapi"]))
}

func newEditor(doc any, http bool) (*editor, error) {
	if http && !openAPIValid(doc) {
		return nil, invalidf("Invalid OpenApi document. Invalid values or missing keys for 'openapi' or 'paths' in 'DefinitionBody'.")
	}
	if !http && !swaggerValid(doc) {
		return nil, invalidf("Invalid Swagger document or the Swagger document is not explicitly defined in 'DefinitionBody'.")
	}
	d, _ := deepCopy(doc).(map[string]any)
	e := &editor{doc: d, http: http}
	e.paths, _ = d["paths"].(map[string]any)
	if !http {
		for _, path := range sortedKeys(e.paths) {
			items, err := conditionalContents(e.paths[path])
			if err != nil {
				return nil, err
			}
			for _, item := range items {
				if _, ok := item.(map[string]any); !ok {
					return nil, pathItemErr(path)
				}
			}
		}
	}
	return e, nil
}

func pathItemErr(path string) error {
	return invalidf("Value of '%s' path must be a dictionary according to Swagger spec.", path)
}

func (e *editor) document() map[string]any {
	e.doc["paths"] = e.paths
	return e.doc
}

// conditionalContents returns the then and else items of an Fn::If (those
// that are not AWS::NoValue), or the item itself.
func conditionalContents(item any) ([]any, error) {
	m, ok := item.(map[string]any)
	if !ok {
		return []any{item}, nil
	}
	ifv, ok := m["Fn::If"]
	if !ok {
		return []any{item}, nil
	}
	l, ok := ifv.([]any)
	if !ok {
		return nil, invalidf("Value of Fn::If must be a list.")
	}
	var out []any
	if len(l) > 1 {
		for _, c := range l[1:] {
			if !isNoValue(c) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

func normalizeMethod(m string) string {
	m = strings.ToLower(m)
	if m == "any" {
		return xAnyMethod
	}
	return m
}

func (e *editor) pathItems(path string) ([]map[string]any, error) {
	items, err := conditionalContents(e.paths[path])
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, pathItemErr(path)
		}
		out = append(out, m)
	}
	return out, nil
}

func (e *editor) hasPath(path, method string) bool {
	if _, ok := e.paths[path]; !ok {
		return false
	}
	method = normalizeMethod(method)
	if method == "" {
		return true
	}
	items, err := conditionalContents(e.paths[path])
	if err != nil {
		return false
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m[method]; !ok {
			return false
		}
	}
	return true
}

func hasIntegrationDef(def any) bool {
	m, _ := def.(map[string]any)
	return truthy(m[xIntegration])
}

func (e *editor) hasIntegration(path, method string) (bool, error) {
	method = normalizeMethod(method)
	if !e.hasPath(path, method) {
		return false, nil
	}
	items, err := e.pathItems(path)
	if err != nil {
		return false, err
	}
	for _, it := range items {
		def, ok := it[method].(map[string]any)
		if !ok {
			return false, nil
		}
		defs, err := conditionalContents(def)
		if err != nil {
			return false, err
		}
		found := false
		for _, d := range defs {
			if _, ok := d.(map[string]any); !ok {
				return false, invalidf("Definition of method '%s' for path '%s' should be a map.", method, path)
			}
			if hasIntegrationDef(d) {
				found = true
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

func (e *editor) addPath(path, method string) error {
	method = normalizeMethod(method)
	cur, ok := e.paths[path]
	if !ok {
		cur = map[string]any{}
		e.paths[path] = cur
	}
	if _, ok := cur.(map[string]any); !ok {
		return pathItemErr(path)
	}
	items, err := e.pathItems(path)
	if err != nil {
		return err
	}
	for _, it := range items {
		if _, ok := it[method]; !ok {
			it[method] = map[string]any{}
		}
	}
	return nil
}

// methodDefs yields the definitions of path+method (inside conditionals),
// only those with an integration unless all is set.
func (e *editor) methodDefs(path, method string, all bool) ([]map[string]any, error) {
	method = normalizeMethod(method)
	items, err := e.pathItems(path)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, it := range items {
		defs, err := conditionalContents(it[method])
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			m, ok := d.(map[string]any)
			if !ok {
				return nil, invalidf("Definition of method '%s' for path '%s' should be a map.", method, path)
			}
			if !all && !hasIntegrationDef(m) {
				continue
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// allMethodDefs yields (method, definition) for every method of a path,
// only those with an integration.
func (e *editor) allMethodDefs(path string) ([]string, []map[string]any, error) {
	items, err := e.pathItems(path)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var defs []map[string]any
	for _, it := range items {
		for _, name := range sortedKeys(it) {
			if !e.http && (name == "summary" || name == "description" || name == "parameters") {
				continue
			}
			ds, err := conditionalContents(it[name])
			if err != nil {
				return nil, nil, err
			}
			for _, d := range ds {
				m, ok := d.(map[string]any)
				if !ok {
					return nil, nil, invalidf("Definition of method '%s' for path '%s' should be a map.", name, path)
				}
				if !hasIntegrationDef(m) {
					continue
				}
				names = append(names, normalizeMethod(name))
				defs = append(defs, m)
			}
		}
	}
	return names, defs, nil
}

// addLambdaIntegration adds the aws_proxy integration to path+method.
func (e *editor) addLambdaIntegration(path, method string, uri any, condition string, extra map[string]any) error {
	method = normalizeMethod(method)
	if ok, err := e.hasIntegration(path, method); err != nil {
		return err
	} else if ok {
		if e.http {
			return nil
		}
		return invalidf("Lambda integration already exists on Path=%s, Method=%s", path, method)
	}
	if err := e.addPath(path, method); err != nil {
		return err
	}
	if condition != "" {
		uri = makeConditional(condition, uri)
	}
	items, err := e.pathItems(path)
	if err != nil {
		return err
	}
	for _, it := range items {
		def, ok := it[method].(map[string]any)
		if !ok {
			def = map[string]any{}
			it[method] = def
		}
		integ := map[string]any{"type": "aws_proxy", "httpMethod": "POST", "uri": deepCopy(uri)}
		if e.http {
			integ["payloadFormatVersion"] = "2.0"
		}
		for k, v := range extra {
			integ[k] = v
		}
		def[xIntegration] = integ
		if e.http && path == defaultPath && method == xAnyMethod {
			def["isDefaultRoute"] = true
		}
		if _, ok := def["responses"]; !ok {
			def["responses"] = map[string]any{}
		}
		if condition != "" {
			it[method] = makeConditional(condition, def)
		}
	}
	return nil
}

func (e *editor) makePathConditional(path, condition string) {
	e.paths[path] = makeConditional(condition, e.paths[path])
}

// greedyPath is get_path_without_trailing_slash: path parameters become *.
var (
	greedyREST = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{([a-zA-Z0-9._-]+|[a-zA-Z0-9._-]+\+|proxy\+)\}`) })
	greedyHTTP = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{([a-zA-Z0-9._-]+|proxy\+)\}`) })
	trailing   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(.+)/$`) })
)

func permissionPath(path string, http bool) string {
	path = trailing().ReplaceAllString(path, "$1")
	if http {
		return greedyHTTP().ReplaceAllString(path, "*")
	}
	return greedyREST().ReplaceAllString(path, "*")
}

func (e *editor) addTimeout(path, method string, timeout any) error {
	defs, err := e.methodDefs(path, method, false)
	if err != nil {
		return err
	}
	for _, d := range defs {
		if integ, ok := d[xIntegration].(map[string]any); ok {
			integ["timeoutInMillis"] = timeout
		}
	}
	return nil
}

func swaggerSkeleton() map[string]any {
	return map[string]any{
		"swagger": "2.0",
		"info":    map[string]any{"version": "1.0", "title": ref("AWS::StackName")},
		"paths":   map[string]any{},
	}
}

func openAPISkeleton() map[string]any {
	return map[string]any{
		"openapi": "3.0.1",
		"info":    map[string]any{"version": "1.0", "title": ref("AWS::StackName")},
		"paths":   map[string]any{},
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
