package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// ParseAllowHosts parses --function-allow-host: comma-separated
// 127.0.0.1:PORT addresses of the host's loopback. Other addresses are
// refused: a function reaches them (or not) through its network policy,
// never through this list.
func ParseAllowHosts(s string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(f)
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("--function-allow-host %q is not a loopback address and port like 127.0.0.1:5432", f)
		}
		if ap.Addr() != netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
			return nil, fmt.Errorf("--function-allow-host %q: only ports on the host's 127.0.0.1 can be allowed (a function reaches them at the same address)", f)
		}
		if ap.Port() == 9001 || ap.Port() == 4566 {
			return nil, fmt.Errorf("--function-allow-host %q: port %d is the Runtime API's or the node API's inside every environment", f, ap.Port())
		}
		out = append(out, ap)
	}
	return out, nil
}

// ParseDebugPorts parses --debug-port: comma-separated FUNCTION=PORT
// entries, each the host loopback port (127.0.0.1:PORT) where the
// function's runtime debugger is published. It returns function name →
// host address.
func ParseDebugPorts(s string) (map[string]string, error) {
	out := map[string]string{}
	ports := map[string]bool{}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, port, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(port)
		if !ok || !functionName().MatchString(name) || err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--debug-port %q is not FUNCTION=PORT (a function name and a port of the host's 127.0.0.1, like my-fn=9229)", f)
		}
		if _, dup := out[name]; dup || ports[port] {
			return nil, fmt.Errorf("--debug-port %q: the function or the port is named twice", f)
		}
		out[name], ports[port] = "127.0.0.1:"+port, true
	}
	return out, nil
}

// functionName is a Lambda function name (not an ARN).
var functionName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`) })

// ParseInterpreters parses --runtime-interpreter: comma-separated
// RUNTIME=/absolute/path entries.
func ParseInterpreters(s string) (map[string]string, error) {
	out := map[string]string{}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || !filepath.IsAbs(path) {
			return nil, fmt.Errorf("--runtime-interpreter %q is not RUNTIME=/absolute/path like python3.12=/usr/bin/python3.12", f)
		}
		out[name] = path
	}
	return out, nil
}
