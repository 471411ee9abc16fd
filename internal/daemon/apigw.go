package daemon

import (
	"net"
	"strconv"
)

// listenPort is the port of the listener, for the URLs the gateway prints.
func listenPort(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return strconv.Itoa(ta.Port)
	}
	_, p, _ := net.SplitHostPort(a.String())
	return p
}
