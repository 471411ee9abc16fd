package pool

import (
	"context"
	"log/slog"
	"net"
)

// Host ports a function may reach (Options.AllowHosts, the server's
// --function-allow-host): each environment gets a listener on the same
// address inside its own network namespace (127.0.0.1:5432 there), and
// the node forwards each connection to the host's port. Nothing else of
// the host is reachable: the environment's network namespace has no route
// to it, whatever its network policy (see docs/design/sandbox.md). A
// function cannot widen the list: it is a server setting, not a tag.

// startHostProxy forwards the connections accepted on one environment's
// listener to one host address.
func startHostProxy(ln net.Listener, target string, log *slog.Logger) *relay {
	return startRelay(ln, func(ctx context.Context) (net.Conn, <-chan struct{}, error) {
		var d net.Dialer
		up, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			log.Debug("allowed host port unreachable", "target", target, "err", err)
		}
		return up, nil, err
	})
}
