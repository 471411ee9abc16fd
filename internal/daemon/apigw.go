package daemon

import (
	"net"
	"net/http"
	"strconv"

	"github.com/nimbus-serverless/nimbus/internal/apigw"
)

// executeAPIHosts sends requests for <api-id>.execute-api.<region>.localhost
// to the API Gateway APIs themselves, ahead of every other route and
// outside SigV4 (API Gateway checks its own authorizers); the rest goes to
// next.
func (d *Daemon) executeAPIHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := apigw.InvokeHost(r.Host); ok {
			d.gw.ServeInvoke(w, r, id)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiGatewayManagement sends the API Gateway management APIs (/v2/apis...,
// /restapis...) to the gateway and everything else to api. The management
// APIs are AWS APIs: they must stay behind the SigV4 wrapper with the
// Lambda API (unlike executeAPIHosts, which sits in front of it).
func (d *Daemon) apiGatewayManagement(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if apigw.IsManagement(r) {
			d.gw.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// listenPort is the port of the listener, for the URLs the gateway prints.
func listenPort(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return strconv.Itoa(ta.Port)
	}
	_, p, _ := net.SplitHostPort(a.String())
	return p
}
