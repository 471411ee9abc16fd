package lambdaapi

import (
	"net/url"
	"strings"
)

// route is one operation: its method, its path with {param} segments, and
// its handler. Each operation keeps its own date prefix.
type route struct {
	method  string
	pattern string
	op      string
	handle  func(*Handler, *call) error
	segs    []string
}

// opGetCode is the code download link's operation, the only one served
// without SigV4 (see Handler.CodeDownloads).
const opGetCode = "GetCode"

var routes = compile([]route{
	{method: "POST", pattern: "/2015-03-31/functions", op: "CreateFunction", handle: (*Handler).createFunction},
	{method: "GET", pattern: "/2015-03-31/functions", op: "ListFunctions", handle: (*Handler).listFunctions},
	{method: "GET", pattern: "/2015-03-31/functions/{fn}", op: "GetFunction", handle: (*Handler).getFunction},
	{method: "DELETE", pattern: "/2015-03-31/functions/{fn}", op: "DeleteFunction", handle: (*Handler).deleteFunction},
	{method: "GET", pattern: "/2015-03-31/functions/{fn}/configuration", op: "GetFunctionConfiguration", handle: (*Handler).getFunctionConfiguration},
	{method: "PUT", pattern: "/2015-03-31/functions/{fn}/configuration", op: "UpdateFunctionConfiguration", handle: (*Handler).updateFunctionConfiguration},
	{method: "PUT", pattern: "/2015-03-31/functions/{fn}/code", op: "UpdateFunctionCode", handle: (*Handler).updateFunctionCode},
	{method: "POST", pattern: "/2015-03-31/functions/{fn}/invocations", op: "Invoke", handle: (*Handler).invoke},
	{method: "POST", pattern: "/2015-03-31/functions/{fn}/versions", op: "PublishVersion", handle: (*Handler).publishVersion},
	{method: "GET", pattern: "/2015-03-31/functions/{fn}/versions", op: "ListVersionsByFunction", handle: (*Handler).listVersions},
	{method: "POST", pattern: "/2015-03-31/functions/{fn}/aliases", op: "CreateAlias", handle: (*Handler).createAlias},
	{method: "GET", pattern: "/2015-03-31/functions/{fn}/aliases", op: "ListAliases", handle: (*Handler).listAliases},
	{method: "GET", pattern: "/2015-03-31/functions/{fn}/aliases/{alias}", op: "GetAlias", handle: (*Handler).getAlias},
	{method: "PUT", pattern: "/2015-03-31/functions/{fn}/aliases/{alias}", op: "UpdateAlias", handle: (*Handler).updateAlias},
	{method: "DELETE", pattern: "/2015-03-31/functions/{fn}/aliases/{alias}", op: "DeleteAlias", handle: (*Handler).deleteAlias},
	{method: "POST", pattern: "/2014-11-13/functions/{fn}/invoke-async", op: "InvokeAsync", handle: (*Handler).invokeAsync},
	{method: "PUT", pattern: "/2019-09-25/functions/{fn}/event-invoke-config", op: "PutFunctionEventInvokeConfig", handle: (*Handler).putEventInvokeConfig},
	{method: "POST", pattern: "/2019-09-25/functions/{fn}/event-invoke-config", op: "UpdateFunctionEventInvokeConfig", handle: (*Handler).updateEventInvokeConfig},
	{method: "GET", pattern: "/2019-09-25/functions/{fn}/event-invoke-config", op: "GetFunctionEventInvokeConfig", handle: (*Handler).getEventInvokeConfig},
	{method: "DELETE", pattern: "/2019-09-25/functions/{fn}/event-invoke-config", op: "DeleteFunctionEventInvokeConfig", handle: (*Handler).deleteEventInvokeConfig},
	{method: "GET", pattern: "/2019-09-25/functions/{fn}/event-invoke-config/list", op: "ListFunctionEventInvokeConfigs", handle: (*Handler).listEventInvokeConfigs},
	{method: "PUT", pattern: "/2017-10-31/functions/{fn}/concurrency", op: "PutFunctionConcurrency", handle: (*Handler).putFunctionConcurrency},
	{method: "GET", pattern: "/2019-09-30/functions/{fn}/concurrency", op: "GetFunctionConcurrency", handle: (*Handler).getFunctionConcurrency},
	{method: "DELETE", pattern: "/2017-10-31/functions/{fn}/concurrency", op: "DeleteFunctionConcurrency", handle: (*Handler).deleteFunctionConcurrency},
	{method: "PUT", pattern: "/2019-09-30/functions/{fn}/provisioned-concurrency", op: "PutProvisionedConcurrencyConfig", handle: (*Handler).putProvisionedConcurrency},
	{method: "GET", pattern: "/2019-09-30/functions/{fn}/provisioned-concurrency", op: "GetProvisionedConcurrencyConfig", handle: (*Handler).getProvisionedConcurrency},
	{method: "DELETE", pattern: "/2019-09-30/functions/{fn}/provisioned-concurrency", op: "DeleteProvisionedConcurrencyConfig", handle: (*Handler).deleteProvisionedConcurrency},
	{method: "GET", pattern: "/2016-08-19/account-settings", op: "GetAccountSettings", handle: (*Handler).getAccountSettings},
	{method: "POST", pattern: "/2017-03-31/tags/{arn}", op: "TagResource", handle: (*Handler).tagResource},
	{method: "GET", pattern: "/2017-03-31/tags/{arn}", op: "ListTags", handle: (*Handler).listTags},
	{method: "DELETE", pattern: "/2017-03-31/tags/{arn}", op: "UntagResource", handle: (*Handler).untagResource},
	{method: "POST", pattern: "/2021-11-15/functions/{fn}/response-streaming-invocations", op: "InvokeWithResponseStream", handle: (*Handler).invokeWithResponseStream},
	{method: "POST", pattern: "/2015-03-31/functions/{fn}/policy", op: "AddPermission", handle: (*Handler).addPermission},
	{method: "GET", pattern: "/2015-03-31/functions/{fn}/policy", op: "GetPolicy", handle: (*Handler).getPolicy},
	{method: "DELETE", pattern: "/2015-03-31/functions/{fn}/policy/{sid}", op: "RemovePermission", handle: (*Handler).removePermission},
	{method: "POST", pattern: "/2021-10-31/functions/{fn}/url", op: "CreateFunctionUrlConfig", handle: (*Handler).createFunctionURLConfig},
	{method: "GET", pattern: "/2021-10-31/functions/{fn}/url", op: "GetFunctionUrlConfig", handle: (*Handler).getFunctionURLConfig},
	{method: "PUT", pattern: "/2021-10-31/functions/{fn}/url", op: "UpdateFunctionUrlConfig", handle: (*Handler).updateFunctionURLConfig},
	{method: "DELETE", pattern: "/2021-10-31/functions/{fn}/url", op: "DeleteFunctionUrlConfig", handle: (*Handler).deleteFunctionURLConfig},
	{method: "GET", pattern: "/2021-10-31/functions/{fn}/urls", op: "ListFunctionUrlConfigs", handle: (*Handler).listFunctionURLConfigs},
	{method: "POST", pattern: "/2018-10-31/layers/{layer}/versions", op: "PublishLayerVersion", handle: (*Handler).publishLayerVersion},
	{method: "GET", pattern: "/2018-10-31/layers/{layer}/versions", op: "ListLayerVersions", handle: (*Handler).listLayerVersions},
	{method: "GET", pattern: "/2018-10-31/layers/{layer}/versions/{version}", op: "GetLayerVersion", handle: (*Handler).getLayerVersion},
	{method: "DELETE", pattern: "/2018-10-31/layers/{layer}/versions/{version}", op: "DeleteLayerVersion", handle: (*Handler).deleteLayerVersion},
	{method: "POST", pattern: "/2018-10-31/layers/{layer}/versions/{version}/policy", op: "AddLayerVersionPermission", handle: (*Handler).addLayerVersionPermission},
	{method: "GET", pattern: "/2018-10-31/layers/{layer}/versions/{version}/policy", op: "GetLayerVersionPolicy", handle: (*Handler).getLayerVersionPolicy},
	{method: "DELETE", pattern: "/2018-10-31/layers/{layer}/versions/{version}/policy/{sid}", op: "RemoveLayerVersionPermission", handle: (*Handler).removeLayerVersionPermission},
	// ListLayers, and GetLayerVersionByArn with ?find=LayerVersion.
	{method: "GET", pattern: "/2018-10-31/layers", op: "ListLayers", handle: (*Handler).listLayersOrFind},
	{method: "GET", pattern: codeRoutePrefix + "{key}", op: opGetCode, handle: (*Handler).getCode},
	{method: "GET", pattern: costPath, op: "GetCostReport", handle: (*Handler).getCostReport},
})

func compile(rs []route) []route {
	for i := range rs {
		rs[i].segs = strings.Split(strings.TrimPrefix(rs[i].pattern, "/"), "/")
	}
	return rs
}

// match finds the route of method and escapedPath (trailing slashes
// ignored) and its parameters, each path-unescaped. nil if none.
func match(method, escapedPath string) (*route, map[string]string) {
	p := strings.TrimRight(escapedPath, "/")
	if !strings.HasPrefix(p, "/") {
		return nil, nil
	}
	raw := strings.Split(p[1:], "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, nil
		}
		segs[i] = u
	}
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		var params map[string]string
		ok := true
		for j, want := range rt.segs {
			if strings.HasPrefix(want, "{") {
				if params == nil {
					params = map[string]string{}
				}
				params[want[1:len(want)-1]] = segs[j]
				continue
			}
			if want != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

// Operation names the Lambda operation of a request by its method and
// escaped path, with its path parameters ("fn", "alias", "layer",
// "version", "arn", "sid"), for the front door's IAM evaluation. ok is
// false for a path no operation serves.
func Operation(method, escapedPath string) (op string, params map[string]string, ok bool) {
	rt, ps := match(method, escapedPath)
	if rt == nil {
		return "", nil, false
	}
	return rt.op, ps, true
}
