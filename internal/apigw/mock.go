package apigw

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// Mock integrations of REST APIs, as imported from OpenAPI: the OPTIONS
// methods SAM adds for an API's Cors setting are mock integrations whose
// request template picks a status code and whose integration response
// sets the Access-Control-* headers to literal values. Nimbus answers them
// itself, without invoking anything. Mapping templates are not evaluated:
// a response template is sent as it is, and a response parameter must be
// a quoted literal ('value'); other mappings are ignored.

// mockIntegration is the integration of an imported mock operation.
func mockIntegration(cacheNamespace string, timeout int, o oaOp) *restIntegration {
	x := o.op.Integration
	integ := &restIntegration{Type: "MOCK", PassthroughBehavior: "WHEN_NO_MATCH", CacheNamespace: cacheNamespace,
		CacheKeyParameters: []string{}, TimeoutInMillis: timeout, RequestTemplates: x.RequestTemplates}
	if x.PassthroughBehavior != "" {
		integ.PassthroughBehavior = strings.ToUpper(x.PassthroughBehavior)
	}
	for pattern, r := range x.Responses {
		code := strings.Trim(string(r.StatusCode), `"`)
		if code == "" {
			code = "200"
		}
		if integ.IntegrationResponses == nil {
			integ.IntegrationResponses = map[string]*integrationResponse{}
		}
		ir := &integrationResponse{StatusCode: code, ResponseParameters: r.ResponseParameters, ResponseTemplates: r.ResponseTemplates}
		if pattern != "default" {
			ir.SelectionPattern = pattern
		}
		integ.IntegrationResponses[code] = ir
	}
	return integ
}

var mockStatusRE = regexp.MustCompile(`"statusCode"\s*:\s*(\d{3})`)

// mockResponse is what a mock integration answers: the integration
// response whose selection pattern matches the status code of the request
// template (the default one otherwise), with its literal header values and
// template.
func mockResponse(integ *restIntegration, r *http.Request) *httpevent.Response {
	tpl := integ.RequestTemplates["application/json"]
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); integ.RequestTemplates[strings.TrimSpace(ct)] != "" {
		tpl = integ.RequestTemplates[strings.TrimSpace(ct)]
	}
	status := "200"
	if m := mockStatusRE.FindStringSubmatch(tpl); m != nil {
		status = m[1]
	}
	codes := make([]string, 0, len(integ.IntegrationResponses))
	for c := range integ.IntegrationResponses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var chosen *integrationResponse
	for _, c := range codes {
		ir := integ.IntegrationResponses[c]
		if ir.SelectionPattern == "" && chosen == nil {
			chosen = ir
		}
		if ir.SelectionPattern != "" {
			if re, err := regexp.Compile("^(?:" + ir.SelectionPattern + ")$"); err == nil && re.MatchString(status) {
				chosen = ir
				break
			}
		}
	}
	if chosen == nil {
		return httpevent.Message(http.StatusInternalServerError, "Internal server error")
	}
	code, err := strconv.Atoi(chosen.StatusCode)
	if err != nil || code < 100 || code > 599 {
		code = http.StatusOK
	}
	h := http.Header{}
	for k, v := range chosen.ResponseParameters {
		name, ok := strings.CutPrefix(k, "method.response.header.")
		if !ok || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			continue
		}
		h.Set(name, v[1:len(v)-1])
	}
	h.Set("Content-Type", "application/json")
	body := chosen.ResponseTemplates["application/json"]
	if body == "" {
		// API Gateway's passthrough of an empty mock body.
		body = "{}"
	}
	if !json.Valid([]byte(body)) {
		h.Del("Content-Type")
	}
	return &httpevent.Response{StatusCode: code, Header: h, Body: []byte(body)}
}
