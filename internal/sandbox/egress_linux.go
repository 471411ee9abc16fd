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
	"runtime"
	"strconv"
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
	envIfName    = "eth0"
)

// egressLink is one environment's veth pair, host side.
type egressLink struct {
	hostIf string
}

var (
	natOnce sync.Once
	natErr  error
)

// setupEgress creates the veth pair of the environment whose init is pid
// and configures both ends: the host end here, the other inside the
// environment's network namespace, created there as eth0 with its
// address, up, and the default route through the host end. Init has
// nothing left to do for it, so a spare that got its pair ahead of its
// claim (Launcher.SpareNetwork) makes no netlink call on the cold start:
// every one of them takes the kernel's rtnl lock, which bursts and
// namespace teardown elsewhere hold for milliseconds.
func setupEgress(pid int) (*egressLink, error) {
	natOnce.Do(func() { natErr = ensureNAT() })
	if natErr != nil {
		return nil, natErr
	}
	nsfd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the environment's network namespace: %w", err)
	}
	defer unix.Close(nsfd) //nolint:errcheck // read-only
	hostIP, envIP, err := freeLink()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	l := &egressLink{hostIf: hostIfPrefix + hex.EncodeToString(b)}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.hostIf}, PeerName: envIfName, PeerNamespace: netlink.NsFd(nsfd)}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			l.remove()
		}
	}()
	host, err := netlink.LinkByName(l.hostIf)
	if err != nil {
		return nil, fmt.Errorf("find veth: %w", err)
	}
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: hostIP.AsSlice(), Mask: net.CIDRMask(30, 32)}}); err != nil {
		return nil, fmt.Errorf("address veth: %w", err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return nil, fmt.Errorf("bring veth up: %w", err)
	}
	h, err := netlinkIn(nsfd)
	if err != nil {
		return nil, fmt.Errorf("netlink in the environment's namespace: %w", err)
	}
	defer h.Close()
	if err := configureEnvEnd(h, envIP, hostIP); err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

// configureEnvEnd addresses the environment's end (eth0, through h, a
// handle in its namespace), brings it up and routes everything through
// the host end.
func configureEnvEnd(h *netlink.Handle, envIP, hostIP netip.Addr) error {
	link, err := h.LinkByName(envIfName)
	if err != nil {
		return fmt.Errorf("find %s: %w", envIfName, err)
	}
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: envIP.AsSlice(), Mask: net.CIDRMask(30, 32)}}); err != nil {
		return fmt.Errorf("address %s: %w", envIfName, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring %s up: %w", envIfName, err)
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: hostIP.AsSlice(), Scope: unix.RT_SCOPE_UNIVERSE}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route: %w", err)
	}
	return nil
}

// netlinkIn returns a netlink (route) handle whose socket lives in the
// network namespace nsfd: it is opened on a thread moved there for the
// moment, which then moves back (a thread that cannot is never reused:
// its goroutine ends locked to it, and Go discards it).
func netlinkIn(nsfd int) (*netlink.Handle, error) {
	type result struct {
		h   *netlink.Handle
		err error
	}
	out := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			out <- result{err: err}
			return
		}
		defer unix.Close(self) //nolint:errcheck // read-only
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			out <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		h, herr := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			if h != nil {
				h.Close()
			}
			out <- result{err: fmt.Errorf("setns back: %w", err)} // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		out <- result{h: h, err: herr}
	}()
	r := <-out
	return r.h, r.err
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
	// A dump that links created or deleted meanwhile interrupted (other
	// environments start and stop all the time) is taken again; after a
	// few tries its partial list is used, which the random pick below
	// makes safe enough (one /30 of 131,072).
	var addrs []netlink.Addr
	for try := 0; ; try++ {
		addrs, err = netlink.AddrList(nil, netlink.FAMILY_V4)
		if err == nil || (errors.Is(err, netlink.ErrDumpInterrupted) && try == 4) {
			break
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return host, env, fmt.Errorf("list addresses: %w", err)
		}
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
