package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// egressHelper is the function of TestEgress: it calls the "remote"
// server and tries the host itself.
func egressHelper() int {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(os.Getenv("REMOTE_URL"))
	if err != nil {
		fmt.Println("remote: unreachable:", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fmt.Printf("remote: %s\n", b)
	}
	if u := os.Getenv("PRIVATE_URL"); u != "" {
		client.Timeout = 2 * time.Second
		resp, err := client.Get(u)
		if err != nil {
			fmt.Println("private: unreachable:", err)
		} else {
			_ = resp.Body.Close()
			fmt.Println("private: reachable")
		}
	}
	if name := os.Getenv("LOOKUP"); name != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := net.DefaultResolver.LookupHost(ctx, name)
		cancel()
		fmt.Println("dns:", err == nil, err)
	}
	c, err := net.DialTimeout("tcp", os.Getenv("HOST_ADDR"), 2*time.Second)
	if err == nil {
		_ = c.Close()
		fmt.Println("host: reachable")
	} else {
		fmt.Println("host: unreachable:", err)
	}
	return 0
}

// remoteHelper plays a machine elsewhere on the network, in a network
// namespace of its own: it reads its interface and address on stdin, then
// serves HTTP on port 8080.
func remoteHelper() int {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return 1
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return 1
	}
	if err := loopbackUp(); err != nil {
		fmt.Println("lo:", err)
		return 1
	}
	link, err := netlink.LinkByName(f[0])
	if err == nil {
		var addr *netlink.Addr
		if addr, err = netlink.ParseAddr(f[1]); err == nil {
			if err = netlink.AddrAdd(link, addr); err == nil {
				err = netlink.LinkSetUp(link)
			}
		}
	}
	if err != nil {
		fmt.Println("configure:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "0.0.0.0:8080")
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	fmt.Println("listening")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from the remote side")
	}), ReadHeaderTimeout: 5 * time.Second}
	_ = srv.Serve(ln)
	return 0
}

// startRemote starts remoteHelper in a new network namespace linked to the
// host by a veth pair on <prefix>.<n>.0/30 (prefix is the first two octets) and
// returns its URL and the host's address on that link.
func startRemote(t *testing.T, prefix string) (url, hostAddr string) {
	t.Helper()
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = []string{helperEnv + "=remote"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	n := 1 + int(randHex(1)[0])%200
	host := "nbt" + randHex(4)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host}, PeerName: "nbr" + randHex(4)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Skipf("cannot create a veth pair here: %v", err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(host); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	peer, err := netlink.LinkByName(veth.PeerName)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetNsPid(peer, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	hl, _ := netlink.LinkByName(host)
	hostIP := prefix + "." + strconv.Itoa(n) + ".1"
	addr, _ := netlink.ParseAddr(hostIP + "/30")
	if err := netlink.AddrAdd(hl, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(hl); err != nil {
		t.Fatal(err)
	}
	remoteIP := prefix + "." + strconv.Itoa(n) + ".2"
	fmt.Fprintf(stdin, "%s %s/30\n", veth.PeerName, remoteIP)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "listening" {
		t.Fatalf("remote: %q %v", line, err)
	}
	return "http://" + remoteIP + ":8080/", hostIP
}

// An environment with egress reaches a machine elsewhere through the
// host, never the host itself; one without egress reaches nothing.
func TestEgress(t *testing.T) {
	requireHardened(t)
	// 198.18.0.0/15 (benchmarking) plays the internet; 10.199.0.0/16 a
	// machine on the host's private network, which egress refuses.
	remoteURL, hostIP := startRemote(t, "198.18")
	privateURL, _ := startRemote(t, "10.199")
	// Something on the host, listening on all addresses.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() //nolint:errcheck // test listener
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	hostAddr := net.JoinHostPort(hostIP, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	// The host's name servers stay reachable (often on a private address):
	// checked where the host itself resolves names.
	const lookup = "proxy.golang.org"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, dnsErr := net.DefaultResolver.LookupHost(ctx, lookup)
	cancel()
	for _, network := range []string{NetworkEgress, NetworkNone} {
		e := newEnv(t, "egress", "REMOTE_URL="+remoteURL, "PRIVATE_URL="+privateURL, "HOST_ADDR="+hostAddr, "LOOKUP="+lookup)
		e.spec.Network = network
		p := start(t, e)
		waitDone(t, p)
		out := e.out.String()
		if p.ExitErr() != nil {
			t.Fatalf("%s: exit %v, output %q", network, p.ExitErr(), out)
		}
		if network == NetworkEgress && !strings.Contains(out, "remote: hello from the remote side") {
			t.Errorf("egress: the remote machine is out of reach: %q", out)
		}
		if network == NetworkNone && !strings.Contains(out, "remote: unreachable") {
			t.Errorf("none: the remote machine is reachable: %q", out)
		}
		if network == NetworkEgress && dnsErr == nil && !strings.Contains(out, "dns: true") {
			t.Errorf("egress: the host resolves %s, the environment does not: %q", lookup, out)
		}
		if network == NetworkNone && !strings.Contains(out, "dns: false") {
			t.Errorf("none: the environment resolves names: %q", out)
		}
		if !strings.Contains(out, "private: unreachable") {
			t.Errorf("%s: a private address (10.199.0.0/16) is reachable from the environment: %q", network, out)
		}
		if !strings.Contains(out, "host: unreachable") {
			t.Errorf("%s: the host itself is reachable from the environment: %q", network, out)
		}
	}
}

func TestEgressResolvConf(t *testing.T) {
	dir := t.TempDir()
	old := resolvedConf
	resolvedConf = dir + "/resolved.conf"
	t.Cleanup(func() { resolvedConf = old })
	stub := []byte("# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n")
	if got := egressResolvConf(stub); string(got) != string(stub) {
		t.Errorf("without systemd-resolved's list the host's file stays: %q", got)
	}
	upstream := []byte("nameserver 10.255.255.53\nnameserver fe80::1%eth0\n")
	if err := os.WriteFile(resolvedConf, upstream, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := egressResolvConf(stub); string(got) != string(upstream) {
		t.Errorf("a loopback-only resolv.conf gives %q, want systemd-resolved's upstream list", got)
	}
	direct := []byte("nameserver 192.168.1.1\nnameserver 127.0.0.1\n")
	if got := egressResolvConf(direct); string(got) != string(direct) {
		t.Errorf("a resolv.conf naming a reachable server changed: %q", got)
	}
	if got := fmt.Sprint(nameservers(upstream)); got != "[10.255.255.53 fe80::1]" {
		t.Errorf("nameservers %s", got)
	}
}

func FuzzNameservers(f *testing.F) {
	f.Add([]byte("nameserver 10.0.0.1\nnameserver ::1%lo\n"))
	f.Add([]byte("nameserver\nnameserver x y\n\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, a := range nameservers(b) {
			if !a.IsValid() {
				t.Fatalf("invalid address from %q", b)
			}
		}
	})
}

// TestEgressFromSpares: a Launcher whose spares are readied for egress
// gives egress to an environment that asks for it, and takes it away from
// one that does not.
func TestEgressFromSpares(t *testing.T) {
	requireHardened(t)
	remoteURL, _ := startRemote(t, "198.18")
	l := NewLauncher(1)
	l.SpareNetwork(NetworkEgress)
	t.Cleanup(func() { _ = l.Close() })
	for i, network := range []string{NetworkEgress, NetworkNone, NetworkEgress, NetworkNone} {
		// Wait for the spare (started in the background) before each claim.
		for range 200 {
			l.mu.Lock()
			ready := len(l.spare) > 0 && l.spare[0].egress != nil
			l.mu.Unlock()
			if ready {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		e := newEnv(t, "egress", "REMOTE_URL="+remoteURL, "HOST_ADDR=127.0.0.1:1")
		e.spec.Network = network
		p, err := l.Start(context.Background(), e.spec)
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		waitDone(t, p)
		out := e.out.String()
		reached := strings.Contains(out, "remote: hello from the remote side")
		if reached != (network == NetworkEgress) {
			t.Errorf("start %d (%s): remote reached %v: %q", i, network, reached, out)
		}
	}
}
