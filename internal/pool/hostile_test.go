package pool

// Hostile functions at the pool level (the sandbox package has the
// process-level ones): what a function leaves behind or takes from its
// neighbours.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// hostPids lists host processes whose environment holds marker.
func hostPids(marker string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(b, []byte(marker)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitExit blocks until pid has exited (pidfd readable), or fails the test
// after a generous bound.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)                                       //nolint:errcheck // test fd
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}} // #nosec G115 -- small fd
	for {
		n, err := unix.Poll(fds, 60_000)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			t.Fatalf("process %d still runs a minute after its environment's timeout (%v)", pid, err)
		}
		return
	}
}

// A function that starts a background daemon and then times out leaves
// nothing running: the timeout kills the whole environment.
func TestTimeoutKillsBackgroundProcesses(t *testing.T) {
	if !strings.HasPrefix(sandbox.Mode(), "namespaces") {
		t.Skipf("sandbox mode %q: a process that starts its own session escapes a process group", sandbox.Mode())
	}
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("leaver", nil)
	fn.Timeout = 1
	marker := "POOL_TEST_DAEMON=" + randHex(8)
	res, _ := h.call(t, fn, map[string]any{"action": "daemon", "url": strings.TrimPrefix(marker, "POOL_TEST_DAEMON=")})
	wantError(t, res, "Sandbox.Timedout", "")
	if !bytes.Contains(res.LogTail, []byte("daemon started")) {
		t.Fatalf("the daemon did not start:\n%s", res.LogTail)
	}
	for _, pid := range hostPids(marker) {
		waitExit(t, pid)
	}
	if left := hostPids(marker); len(left) != 0 {
		t.Fatalf("processes %v left behind after the timeout", left)
	}
}

// A function spinning on the CPU does not stop a latency-sensitive
// neighbour from being served.
func TestCPUSpinnerBesideLatencySensitive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spinner := h.fn("spinner", nil)
	spinner.Timeout = 120
	spinning := h.fnLog.waitFor("spinning")
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		// It spins until Close ends it (a platform error, not a result).
		req := &invoke.Request{RequestID: newRequestID(), Payload: []byte(`{"action":"spin"}`)}
		if res, err := h.m.Invoke(context.Background(), spinner, req); err == nil {
			t.Errorf("the spinner returned: %s", res.Payload)
		}
	})
	select {
	case <-spinning:
	case <-time.After(60 * time.Second):
		t.Fatal("the spinner did not start")
	}
	victim := h.fn("victim", nil)
	for i := range 5 {
		res, m := h.call(t, victim, map[string]any{"action": "echo", "value": i})
		wantOK(t, res)
		if m["value"] != float64(i) {
			t.Fatalf("echo %d answered %v", i, m)
		}
	}
	// Still spinning: the neighbour was served beside it, not after it.
	select {
	case <-done:
		t.Error("the spinner ended before the neighbour's invocations")
	default:
	}
	if err := h.m.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
}

// A function's network follows its nimbus:network tag (Resolve's
// Network), else the server's default: egress adds eth0 beside lo.
func TestFunctionNetwork(t *testing.T) {
	if !strings.HasPrefix(sandbox.Mode(), "namespaces") {
		t.Skipf("sandbox mode %q: no network namespace per environment", sandbox.Mode())
	}
	t.Parallel()
	for _, c := range []struct {
		serverDefault, tag string
		wantEth0           bool
	}{
		{"", "", false},
		{"", function.NetworkEgress, true},
		{function.NetworkEgress, "", true},
		{function.NetworkEgress, function.NetworkNone, false},
	} {
		h := newHarness(t, func(o *Options) { o.Network = c.serverDefault })
		fn := h.fn("net", nil)
		fn.Network = c.tag
		res, m := h.call(t, fn, map[string]any{"action": "netifs"})
		wantOK(t, res)
		ifs := fmt.Sprint(m["interfaces"])
		if got := strings.Contains(ifs, "eth0"); got != c.wantEth0 || !strings.Contains(ifs, "lo") {
			t.Errorf("server %q tag %q: interfaces %s, want eth0 %v", c.serverDefault, c.tag, ifs, c.wantEth0)
		}
	}
}
