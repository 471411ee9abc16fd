package apigw

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// HTTP API parameter mapping, as API Gateway defines it for HTTP APIs
// (not REST's integration.request.* ← method.request.*):
//
//	request:  "append|overwrite|remove:header.<name>",
//	          "append|overwrite|remove:querystring.<name>", "overwrite:path"
//	response: by status code, "append|overwrite|remove:header.<name>",
//	          "overwrite:statuscode"
//
// A value is one expression ($request.header.x) or text with ${...}
// expressions in it ("Bearer ${request.header.token}"): $request.header,
// .querystring, .body (a JSON path, no recursive descent or filters),
// .path (below the stage) and .path.<param>, $context.<var>,
// $stageVariables.<name>, and on the response side $response.header and
// $response.body. Service integrations (integrationSubtype) map the same
// values onto the action's parameters (QueueUrl, MessageBody, ...).
// Everything is checked at create time; a bad key or value is
// BadRequestException naming it.

// maxMappings bounds a mapping's entries (API Gateway's documented
// quota is 50 per map).
const maxMappings = 50

// mapPiece is literal text or an expression (without "$" and braces).
type mapPiece struct {
	lit  string
	expr string
}

// mapValue is a parsed mapping value.
type mapValue []mapPiece

// mapKey is a parsed mapping key: op is append, overwrite or remove;
// where is header, querystring, path or statuscode.
type mapKey struct {
	op, where, name string
}

// reservedHeader reports whether API Gateway forbids mapping a header
// (HTTP APIs' "reserved headers").
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	for _, p := range []string{"access-control-", "apigw-", "x-amz-", "x-amzn-"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	switch n {
	case "authorization", "connection", "content-encoding", "content-length", "content-location", "forwarded",
		"keep-alive", "origin", "proxy-authenticate", "proxy-authorization", "te", "trailers", "transfer-encoding",
		"upgrade", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "via", "host":
		return true
	}
	return false
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func mappingKeyError(k, why string) error {
	return badRequest("Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping key %s: %s]", k, why)
}

// parseMapKey parses a request (response false) or response mapping key.
func parseMapKey(k string, response bool) (mapKey, error) {
	op, rest, ok := strings.Cut(k, ":")
	if !ok || (op != "append" && op != "overwrite" && op != "remove") {
		return mapKey{}, mappingKeyError(k, "a key is append|overwrite|remove:header.<name>"+map[bool]string{false: ", append|overwrite|remove:querystring.<name> or overwrite:path", true: " or overwrite:statuscode"}[response])
	}
	switch {
	case !response && rest == "path":
		if op != "overwrite" {
			return mapKey{}, mappingKeyError(k, "the path can only be overwritten")
		}
		return mapKey{op: op, where: "path"}, nil
	case response && rest == "statuscode":
		if op != "overwrite" {
			return mapKey{}, mappingKeyError(k, "the status code can only be overwritten")
		}
		return mapKey{op: op, where: "statuscode"}, nil
	}
	where, name, ok := strings.Cut(rest, ".")
	if !ok || (where != "header" && (response || where != "querystring")) {
		return mapKey{}, mappingKeyError(k, "unknown location "+where)
	}
	if where == "header" {
		if !validHeaderName(name) {
			return mapKey{}, mappingKeyError(k, "invalid header name")
		}
		if reservedHeader(name) {
			return mapKey{}, badRequest("Invalid mapping expression specified: Validation Result: warnings : [], errors : [Operations on header %s are restricted]", name)
		}
	} else if name == "" || len(name) > 256 {
		return mapKey{}, mappingKeyError(k, "invalid query string name")
	}
	return mapKey{op: op, where: where, name: name}, nil
}

// parseMapValue parses a mapping value; response selects the sources a
// response mapping may read.
func parseMapValue(v string, response bool) (mapValue, error) {
	if len(v) > 4096 {
		return nil, badRequest("Invalid mapping expression specified: a value is at most 4096 characters.")
	}
	if strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "${") {
		e := v[1:]
		if err := checkMapExpr(e, response); err != nil {
			return nil, err
		}
		return mapValue{{expr: e}}, nil
	}
	var out mapValue
	for v != "" {
		i := strings.Index(v, "${")
		if i < 0 {
			out = append(out, mapPiece{lit: v})
			break
		}
		if i > 0 {
			out = append(out, mapPiece{lit: v[:i]})
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			return nil, badRequest("Invalid mapping expression specified: %s has an unterminated ${.", v)
		}
		e := v[i+2 : i+j]
		if err := checkMapExpr(e, response); err != nil {
			return nil, err
		}
		out = append(out, mapPiece{expr: e})
		v = v[i+j+1:]
	}
	return out, nil
}

func validVarName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// checkMapExpr checks one expression (without "$" and braces).
func checkMapExpr(e string, response bool) error {
	bad := func(why string) error {
		return badRequest("Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping expression parameter specified: $%s: %s]", e, why)
	}
	src := "request."
	if response {
		src = "response."
	}
	switch {
	case strings.HasPrefix(e, "context."):
		if !validVarName(strings.TrimPrefix(e, "context.")) {
			return bad("a context variable name has letters, digits, . and _")
		}
		return nil
	case strings.HasPrefix(e, "stageVariables."):
		if !validVarName(strings.TrimPrefix(e, "stageVariables.")) {
			return bad("invalid stage variable name")
		}
		return nil
	case !strings.HasPrefix(e, src):
		return bad("a value reads $" + src + "header, $" + src + "body" + map[bool]string{false: ", $request.querystring, $request.path", true: ""}[response] + ", $context or $stageVariables")
	}
	rest := strings.TrimPrefix(e, src)
	where, name, _ := strings.Cut(rest, ".")
	switch where {
	case "header":
		if !validHeaderName(name) {
			return bad("invalid header name")
		}
	case "querystring":
		if response || name == "" {
			return bad("invalid query string name")
		}
	case "path":
		if response || (rest != "path" && !validVarName(name)) {
			return bad("invalid path parameter")
		}
	case "body":
		if rest == "body" {
			return nil
		}
		if strings.Contains(name, "..") || strings.Contains(name, "?(") || strings.HasPrefix(name, ".") {
			return bad("recursive descent and filter expressions are not supported")
		}
		if _, _, err := jsonPathString([]byte("{}"), "$."+name); err != nil {
			return bad("invalid JSON path")
		}
	default:
		return bad("unknown source " + where)
	}
	return nil
}

// checkRequestMapping checks an HTTP_PROXY or Lambda integration's
// requestParameters.
func checkRequestMapping(m map[string]string) error {
	if len(m) > maxMappings {
		return badRequest("Invalid requestParameters: at most %d mappings.", maxMappings)
	}
	for k, v := range m {
		key, err := parseMapKey(k, false)
		if err != nil {
			return err
		}
		if key.op == "remove" {
			continue // the value of a removal is not read
		}
		if _, err := parseMapValue(v, false); err != nil {
			return err
		}
	}
	return nil
}

// checkResponseMapping checks responseParameters: by status code.
func checkResponseMapping(m map[string]map[string]string) error {
	if len(m) > maxMappings {
		return badRequest("Invalid responseParameters: at most %d status codes.", maxMappings)
	}
	for code, params := range m {
		if n, err := strconv.Atoi(code); err != nil || n < 200 || n > 599 {
			return badRequest("Invalid responseParameters: %s is not a status code between 200 and 599.", code)
		}
		if len(params) > maxMappings {
			return badRequest("Invalid responseParameters: at most %d mappings for %s.", maxMappings, code)
		}
		for k, v := range params {
			key, err := parseMapKey(k, true)
			if err != nil {
				return err
			}
			if key.op == "remove" {
				continue
			}
			val, err := parseMapValue(v, true)
			if err != nil {
				return err
			}
			if key.where == "statuscode" && len(val) == 1 && val[0].expr == "" {
				if n, err := strconv.Atoi(val[0].lit); err != nil || n < 100 || n > 599 {
					return badRequest("Invalid responseParameters: overwrite:statuscode needs a status code, got %s.", v)
				}
			}
		}
	}
	return nil
}

// mapEnv is what mapping values read.
type mapEnv struct {
	r         *http.Request
	body      []byte
	path      string            // below the stage
	params    map[string]string // path parameters
	context   map[string]string
	stageVars map[string]string
	// response side
	respHeader http.Header
	respBody   []byte
}

// maxMappedBody is how much of a body a JSON path reads (API Gateway
// truncates at 100 KB before applying a selection).
const maxMappedBody = 100 << 10

func (e *mapEnv) eval(v mapValue) string {
	if len(v) == 1 && v[0].expr == "" {
		return v[0].lit
	}
	var b strings.Builder
	for _, p := range v {
		if p.expr == "" {
			b.WriteString(p.lit)
			continue
		}
		b.WriteString(e.expr(p.expr))
	}
	return b.String()
}

func (e *mapEnv) expr(x string) string {
	switch {
	case strings.HasPrefix(x, "context."):
		return e.context[strings.TrimPrefix(x, "context.")]
	case strings.HasPrefix(x, "stageVariables."):
		return e.stageVars[strings.TrimPrefix(x, "stageVariables.")]
	case strings.HasPrefix(x, "request.header."):
		return strings.Join(e.r.Header.Values(strings.TrimPrefix(x, "request.header.")), ",")
	case strings.HasPrefix(x, "request.querystring."):
		return strings.Join(e.r.URL.Query()[strings.TrimPrefix(x, "request.querystring.")], ",")
	case x == "request.path":
		return e.path
	case strings.HasPrefix(x, "request.path."):
		return e.params[strings.TrimPrefix(x, "request.path.")]
	case x == "request.body":
		return string(e.body)
	case strings.HasPrefix(x, "request.body."):
		return bodyPath(e.body, strings.TrimPrefix(x, "request.body."))
	case strings.HasPrefix(x, "response.header."):
		return strings.Join(e.respHeader.Values(strings.TrimPrefix(x, "response.header.")), ",")
	case x == "response.body":
		return string(e.respBody)
	case strings.HasPrefix(x, "response.body."):
		return bodyPath(e.respBody, strings.TrimPrefix(x, "response.body."))
	}
	return ""
}

func bodyPath(body []byte, p string) string {
	if len(body) > maxMappedBody {
		body = body[:maxMappedBody]
	}
	s, _, err := jsonPathString(body, "$."+p)
	if err != nil {
		return ""
	}
	return s
}

// mappedRequest is the request an HTTP_PROXY or Lambda integration
// receives after requestParameters.
type mappedRequest struct {
	header http.Header
	query  url.Values
	path   string // "" when not overwritten
}

// applyRequestMapping evaluates every value against the original request
// first, then applies them, as API Gateway does.
func applyRequestMapping(m map[string]string, env *mapEnv, out *mappedRequest) {
	type change struct {
		key mapKey
		val string
	}
	changes := make([]change, 0, len(m))
	for k, v := range m {
		key, err := parseMapKey(k, false)
		if err != nil {
			continue // checked at create time
		}
		var val string
		if key.op != "remove" {
			pv, err := parseMapValue(v, false)
			if err != nil {
				continue
			}
			val = env.eval(pv)
		}
		changes = append(changes, change{key, val})
	}
	for _, c := range changes {
		switch c.key.where {
		case "path":
			out.path = c.val
		case "header":
			switch c.key.op {
			case "overwrite":
				out.header.Set(c.key.name, c.val)
			case "append":
				out.header.Add(c.key.name, c.val)
			case "remove":
				out.header.Del(c.key.name)
			}
		case "querystring":
			switch c.key.op {
			case "overwrite":
				out.query[c.key.name] = []string{c.val}
			case "append":
				out.query[c.key.name] = append(out.query[c.key.name], c.val)
			case "remove":
				delete(out.query, c.key.name)
			}
		}
	}
}

// applyResponseMapping applies the responseParameters of the answer's
// status code to its headers and status.
func applyResponseMapping(m map[string]map[string]string, env *mapEnv, status int, header http.Header) int {
	params := m[strconv.Itoa(status)]
	if len(params) == 0 {
		return status
	}
	out := status
	type change struct {
		key mapKey
		val string
	}
	var changes []change
	for k, v := range params {
		key, err := parseMapKey(k, true)
		if err != nil {
			continue
		}
		var val string
		if key.op != "remove" {
			pv, err := parseMapValue(v, true)
			if err != nil {
				continue
			}
			val = env.eval(pv)
		}
		changes = append(changes, change{key, val})
	}
	for _, c := range changes {
		switch {
		case c.key.where == "statuscode":
			if n, err := strconv.Atoi(strings.TrimSpace(c.val)); err == nil && n >= 100 && n <= 599 {
				out = n
			}
		case c.key.op == "overwrite":
			header.Set(c.key.name, c.val)
		case c.key.op == "append":
			header.Add(c.key.name, c.val)
		case c.key.op == "remove":
			header.Del(c.key.name)
		}
	}
	return out
}
