package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
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
