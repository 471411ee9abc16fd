package pool

import (
	"bytes"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// A function whose connection is refused or whose name lookup fails
// because of its environment's network policy should learn why from its
// own log: after the first line of its output that reports such a failure
// (in any runtime's wording), the environment's log gets one platform line
// naming the settings that control the network. It is found by the
// failure's text, so an error a function swallows without printing leaves
// no line.

// netFailures are how runtimes and libraries report a refused connection
// or a failed lookup: glibc/Python, Node, Go, botocore, the AWS SDK for
// JavaScript.
var netFailures = [][]byte{
	[]byte("Temporary failure in name resolution"),
	[]byte("Name or service not known"),
	[]byte("EAI_AGAIN"),
	[]byte("ENOTFOUND"),
	[]byte("Network is unreachable"),
	[]byte("network is unreachable"),
	[]byte("ENETUNREACH"),
	[]byte("Connection refused"),
	[]byte("connection refused"),
	[]byte("ECONNREFUSED"),
	[]byte("no such host"),
	[]byte("Could not connect to the endpoint URL"),
}

// netHint is the line an environment of network policy network gets; ""
// when there is nothing to say (the host's network, unfiltered).
func (m *Manager) netHint(network string) string {
	allow := ""
	if len(m.opts.AllowHosts) > 0 {
		allow = " (allowed now:"
		for _, ap := range m.opts.AllowHosts {
			allow += " " + ap.String()
		}
		allow += ")"
	}
	switch {
	case m.opts.Unhardened || strings.HasPrefix(sandbox.Mode(), "process-group"),
		strings.HasPrefix(sandbox.Mode(), "rootless") && network == sandbox.NetworkEgress:
		return "" // the host's network, unfiltered
	case network == sandbox.NetworkEgress:
		return "[nimbus] A connection or lookup failed. This function's network is egress (--function-network, or the tag nimbus:network): the internet and the host's name servers are reachable, but the Nimbus host, other environments, 169.254.0.0/16 and private ranges (10/8, 172.16/12, 192.168/16, 100.64/10) are refused; host ports are reachable only at 127.0.0.1 when the server lists them in --function-allow-host" + allow + "."
	default:
		return "[nimbus] A connection or lookup failed. This function has no network (--function-network none, the default where egress cannot be filtered (rootless), or the tag nimbus:network=none): only the Nimbus API (AWS_ENDPOINT_URL) and host ports listed in --function-allow-host" + allow + " are reachable, at 127.0.0.1. Start the server with --function-network egress, or tag the function nimbus:network=egress, for outbound access."
	}
}

// noteNetFailureLocked adds the hint after line, once per environment.
func (c *logCapture) noteNetFailureLocked(line []byte) {
	if c.netHint == "" || c.netHinted || bytes.HasPrefix(line, []byte("[nimbus] ")) {
		return
	}
	for _, f := range netFailures {
		if bytes.Contains(line, f) {
			c.netHinted = true
			c.lineLocked([]byte(c.netHint), &platformEvent{typ: "platform.network", text: c.netHint})
			return
		}
	}
}
