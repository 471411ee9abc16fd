package cli

import (
	"net"
	"net/url"
	"regexp"
	"sync"
)

// awsURLHost matches the hosts of AWS URLs a template's outputs commonly
// spell out by hand: API Gateway's execute-api endpoints and function URLs.
var awsURLHost = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([a-z0-9]+)\.(execute-api|lambda-url)\.([a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|on\.aws)$`)
})

// nodeURLHost matches the same doors under the node's own *.localhost
// names, which GetAtt answers (an HTTP API's ApiEndpoint, a function URL).
var nodeURLHost = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([a-z0-9]+)\.(execute-api|lambda-url)\.([a-z0-9-]+)\.localhost$`)
})

// localURL maps an AWS URL in a stack output to the same API on the node
// at endpoint, for printing beside the output: SAM templates write
// https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/
// by hand, and Nimbus serves that API at
// http://<id>.execute-api.<region>.localhost:<port>/Prod/. Only a node on
// loopback has such names (*.localhost resolves to loopback); for any
// other value, or a remote node, ok is false.
func localURL(value, endpoint string) (string, bool) {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", false
	}
	m := awsURLHost().FindStringSubmatch(u.Hostname())
	if m == nil {
		return "", false
	}
	e, err := url.Parse(endpoint)
	if err != nil {
		return "", false
	}
	if ip := net.ParseIP(e.Hostname()); e.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", false
	}
	port := e.Port()
	if port == "" {
		port = "80"
	}
	local := *u
	local.Scheme = "http"
	local.Host = net.JoinHostPort(m[1]+"."+m[2]+"."+m[3]+".localhost", port)
	return local.String(), true
}

// pathStyleURL is localURL's path-style form, which needs no *.localhost
// name (Node's fetch and Python's urllib cannot resolve those):
// <endpoint>/_aws/execute-api/<id>/Prod/ or <endpoint>/_aws/lambda-url/<id>/.
// It works on any node, loopback or not, for an AWS URL and for a URL
// under the node's own *.localhost names alike.
func pathStyleURL(value, endpoint string) (string, bool) {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", false
	}
	m := awsURLHost().FindStringSubmatch(u.Hostname())
	if m == nil {
		m = nodeURLHost().FindStringSubmatch(u.Hostname())
	}
	if m == nil {
		return "", false
	}
	e, err := url.Parse(endpoint)
	if err != nil || e.Host == "" {
		return "", false
	}
	p := *u
	p.Scheme, p.Host = e.Scheme, e.Host
	p.Path = "/_aws/" + m[2] + "/" + m[1] + u.Path
	if u.RawPath != "" {
		p.RawPath = "/_aws/" + m[2] + "/" + m[1] + u.RawPath
	}
	if u.Path == "" {
		p.Path += "/"
	}
	return p.String(), true
}
