package apigw

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Which endpoints HTTP and HTTP_PROXY integrations (REST's, restexec.go,
// and HTTP APIs', httpinteg.go) may call: loopback addresses and names,
// and the host names the server's --apigw-http-hosts allows; checked when
// an integration is written and again, on the address dialed, when it is
// called.

// checkEndpointHost refuses, at CreateIntegration, PutIntegration,
// UpdateIntegration and import, an HTTP or HTTP_PROXY integration whose
// endpoint host is written out and is not one allowedHost accepts. A host
// taken from a stage variable is judged when the integration is called.
func (g *Gateway) checkEndpointHost(uri string) error {
	rest, ok := strings.CutPrefix(uri, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(uri, "https://"); !ok {
			return nil // the type's own check refuses it
		}
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if strings.Contains(rest, "$") {
		return nil
	}
	u, err := url.Parse("http://" + rest)
	if err != nil || u.Hostname() == "" || g.allowedHost(u.Hostname()) {
		return nil
	}
	return badRequest("%s", hostRefusal(strings.ToLower(u.Hostname())))
}

// checkIntegrationHost is checkEndpointHost for an integration of type
// typ (only HTTP and HTTP_PROXY call endpoints).
func (g *Gateway) checkIntegrationHost(typ, uri string) error {
	if typ != "HTTP" && typ != "HTTP_PROXY" {
		return nil
	}
	return g.checkEndpointHost(uri)
}

// hostRefusal names a refused HTTP integration host and how to allow it.
func hostRefusal(host string) string {
	return fmt.Sprintf("Nimbus calls HTTP integrations on loopback addresses and the hosts the server's --apigw-http-hosts flag (NIMBUS_APIGW_HTTP_HOSTS) names; %s is not one of them.", host)
}

// allowedHost reports whether an HTTP integration may call host: loopback
// addresses and names, and the hosts the node allows.
func (g *Gateway) allowedHost(host string) bool {
	if slices.Contains(g.httpHosts, strings.ToLower(host)) {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient dials only what allowedHost accepts, checking the address
// it connects to, not only the name it was given.
func (g *Gateway) httpClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if !slices.Contains(g.httpHosts, strings.ToLower(host)) {
					ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
					if err != nil {
						return nil, err
					}
					for _, ip := range ips {
						if !ip.IP.IsLoopback() {
							return nil, fmt.Errorf("%s resolves to %s, which is not a loopback address", host, ip.IP)
						}
					}
				}
				return dialer.DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
