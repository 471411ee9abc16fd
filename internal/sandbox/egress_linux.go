package sandbox

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Egress (Spec.Network == NetworkEgress): the environment's network
// namespace gets, besides its loopback, one end of a veth pair whose other
// end stays on the host; each pair is a point-to-point /30 of
// egressRange. The host routes and masquerades what comes out of it, with
// nftables rules (table ip nimbus, shared by every nimbus process, the
// same rules for all) that drop:
//
//   - anything addressed to the host itself (its API and NATS ports,
//     other environments' listeners, anything else it serves): the input
//     hook accepts only replies on connections the environment did not
//     open towards the host;
//   - traffic to other environments (egressRange) and to link-local
//     addresses (169.254.0.0/16: cloud metadata services);
//
// and let the rest out with the host's address. The host must forward
// IPv4 (net.ipv4.ip_forward is set to 1 when egress is first used).

// egressRange holds every environment's link; hostIfPrefix names the
// host ends of the links (nbh + 12 hex digits).
var egressRange = netip.MustParsePrefix("10.200.0.0/13")

const (
	hostIfPrefix = "nbh"
	envIfPrefix  = "nbe"
	envIfName    = "eth0"
)

// egressLink is one environment's veth pair, host side.
type egressLink struct {
	hostIf string
	cfg    egressConfig
}

// egressConfig is what init configures inside the namespace.
type egressConfig struct {
	IfName  string `json:"if_name"` // the pair's end moved into the namespace
	Addr    string `json:"addr"`    // 10.200.x.y/30
	Gateway string `json:"gateway"` // the host end's address
}

var (
	natOnce sync.Once
	natErr  error
)

// setupEgress creates the veth pair of the environment whose init is pid,
// moves one end into its network namespace and configures the host end.
func setupEgress(pid int) (*egressLink, error) {
	natOnce.Do(func() { natErr = ensureNAT() })
	if natErr != nil {
		return nil, natErr
	}
	hostIP, envIP, err := freeLink()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	l := &egressLink{hostIf: hostIfPrefix + suffix}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.hostIf}, PeerName: envIfPrefix + suffix}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			l.remove()
		}
	}()
	peer, err := netlink.LinkByName(veth.PeerName)
	if err != nil {
		return nil, fmt.Errorf("find veth peer: %w", err)
	}
	if err := netlink.LinkSetNsPid(peer, pid); err != nil {
		return nil, fmt.Errorf("move veth into the environment: %w", err)
	}
	host, err := netlink.LinkByName(l.hostIf)
	if err != nil {
		return nil, fmt.Errorf("find veth: %w", err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: hostIP.AsSlice(), Mask: net.CIDRMask(30, 32)}}
	if err := netlink.AddrAdd(host, addr); err != nil {
		return nil, fmt.Errorf("address veth: %w", err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return nil, fmt.Errorf("bring veth up: %w", err)
	}
	l.cfg = egressConfig{IfName: veth.PeerName, Addr: envIP.String() + "/30", Gateway: hostIP.String()}
	ok = true
	return l, nil
}

// remove deletes the pair (it also goes when the namespace does).
func (l *egressLink) remove() {
	if link, err := netlink.LinkByName(l.hostIf); err == nil {
		_ = netlink.LinkDel(link)
	}
}

// freeLink picks a /30 of egressRange that no interface on the host uses:
// .1 for the host end, .2 for the environment.
func freeLink() (host, env netip.Addr, err error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return host, env, fmt.Errorf("list addresses: %w", err)
	}
	used := map[netip.Prefix]bool{}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && egressRange.Contains(ip) {
			used[netip.PrefixFrom(ip, 30).Masked()] = true
		}
	}
	base := binary.BigEndian.Uint32(egressRange.Addr().AsSlice())
	links := uint32(1) << (32 - egressRange.Bits() - 2)
	for range 64 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		n := binary.BigEndian.Uint32(b[:]) % links
		var ipb [4]byte
		binary.BigEndian.PutUint32(ipb[:], base+n*4)
		p := netip.PrefixFrom(netip.AddrFrom4(ipb), 30)
		if used[p] {
			continue
		}
		host = p.Addr().Next()
		return host, host.Next(), nil
	}
	return host, env, errors.New("no free address for the environment's link")
}

// ensureNAT turns IPv4 forwarding on and (re)writes the nimbus table in
// one nftables transaction (concurrent nimbus processes write the same
// rules, so the result is the same whoever wins).
func ensureNAT() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil { // #nosec G306 -- a sysctl
		return fmt.Errorf("enable ip forwarding: %w", err)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "nimbus"})
	c.FlushTable(t)
	accept := nftables.ChainPolicyAccept
	input := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	forward := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})

	fromEnv := ifPrefix(expr.MetaKeyIIFNAME, hostIfPrefix)
	// input: an environment may answer the host, never call it.
	c.AddRule(&nftables.Rule{Table: t, Chain: input, Exprs: concat(fromEnv, ctEstablished(), verdict(expr.VerdictAccept))})
	c.AddRule(&nftables.Rule{Table: t, Chain: input, Exprs: concat(fromEnv, verdict(expr.VerdictDrop))})
	// forward: the host's name servers on port 53, even on a private
	// address; then nothing to other environments, link-local addresses,
	// loopback or private ranges.
	for _, ns := range egressResolvers() {
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			c.AddRule(&nftables.Rule{Table: t, Chain: forward, Exprs: concat(fromEnv, daddrIn(netip.PrefixFrom(ns, 32)),
				dport(proto, 53), verdict(expr.VerdictAccept))})
		}
	}
	for _, p := range egressRefused() {
		c.AddRule(&nftables.Rule{Table: t, Chain: forward, Exprs: concat(fromEnv, daddrIn(p), verdict(expr.VerdictDrop))})
	}
	// postrouting: out with the host's address.
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(saddrIn(egressRange),
		ifPrefixNot(expr.MetaKeyOIFNAME, hostIfPrefix), []expr.Any{&expr.Masq{}})})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("write nftables rules: %w", err)
	}
	return nil
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ifPrefix(key expr.MetaKey, prefix string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(prefix)},
	}
}

func ifPrefixNot(key expr.MetaKey, prefix string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte(prefix)},
	}
}

func ctEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryLE(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: binaryLE(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryLE(0)},
	}
}

func binaryLE(v uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return b
}

// addrIn matches the IPv4 address at offset (12 source, 16 destination)
// of the network header against p.
func addrIn(offset uint32, p netip.Prefix) []expr.Any {
	mask := net.CIDRMask(p.Bits(), 32)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// dport matches a transport protocol and destination port.
func dport(proto byte, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}

// egressRefused is where egress never goes: other environments, loopback,
// link-local addresses (metadata services), the private and shared
// address ranges (the host's LAN and its provider's network) and
// "this network".
func egressRefused() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{egressRange.String(), "169.254.0.0/16", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
		"192.168.0.0/16", "100.64.0.0/10", "0.0.0.0/8"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// The host's resolver configuration; a host whose resolv.conf names only
// loopback servers (systemd-resolved's 127.0.0.53 stub, which an
// environment cannot reach) has its upstream servers in resolvedConf.
var (
	hostResolvConf = "/etc/resolv.conf"
	resolvedConf   = "/run/systemd/resolve/resolv.conf"
)

// egressResolvConf is the resolv.conf an environment gets: the host's,
// or systemd-resolved's upstream list when the host's names loopback
// servers only.
func egressResolvConf(host []byte) []byte {
	ns := nameservers(host)
	if len(ns) == 0 {
		return host
	}
	for _, a := range ns {
		if !a.IsLoopback() {
			return host
		}
	}
	if b, err := os.ReadFile(resolvedConf); err == nil && len(nameservers(b)) > 0 { // #nosec G304 -- a fixed system path
		return b
	}
	return host
}

// egressResolvers are the IPv4 name servers an environment's resolv.conf
// names: the forward rules let them through on port 53.
func egressResolvers() []netip.Addr {
	b, err := os.ReadFile(hostResolvConf)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range nameservers(egressResolvConf(b)) {
		if a.Is4() && !a.IsLoopback() {
			out = append(out, a)
		}
	}
	return out
}

// nameservers parses the nameserver lines of a resolv.conf.
func nameservers(conf []byte) []netip.Addr {
	var out []netip.Addr
	for line := range strings.SplitSeq(string(conf), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		host, _, _ := strings.Cut(f[1], "%") // a zone
		if a, err := netip.ParseAddr(host); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

func saddrIn(p netip.Prefix) []expr.Any { return addrIn(12, p) }
func daddrIn(p netip.Prefix) []expr.Any { return addrIn(16, p) }

func verdict(k expr.VerdictKind) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: k}}
}

// EgressAvailable says whether NetworkEgress works here: as root with
// namespaces, once the nftables table is written (which also turns IPv4
// forwarding on). Rootless, egress would be the host's network unfiltered.
func EgressAvailable() error {
	h := probe()
	switch {
	case !h.namespaces:
		return errors.New("no network namespaces (" + h.mode + ")")
	case h.userns:
		return errors.New("rootless: a veth pair needs root, and the host's network would be unfiltered")
	}
	natOnce.Do(func() { natErr = ensureNAT() })
	return natErr
}

// configureEgress runs in init, inside the namespace: it names its end of
// the pair eth0, addresses it and routes everything through the host.
func configureEgress(cfg *egressConfig) error {
	link, err := netlink.LinkByName(cfg.IfName)
	if err != nil {
		return stage("find "+cfg.IfName, err)
	}
	if err := netlink.LinkSetName(link, envIfName); err != nil {
		return stage("rename "+cfg.IfName, err)
	}
	addr, err := netlink.ParseAddr(cfg.Addr)
	if err != nil {
		return stage("parse "+cfg.Addr, err)
	}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return stage("address "+envIfName, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return stage("bring "+envIfName+" up", err)
	}
	gw := net.ParseIP(cfg.Gateway)
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw, Scope: unix.RT_SCOPE_UNIVERSE}); err != nil {
		return stage("add default route", err)
	}
	return nil
}
