package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// hostProc is a process identified across pid reuse: pid and start time.
type hostProc struct{ pid, start string }

func statFields(pid string) []string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:])) // [0] state, [1] ppid, [19] start time
}

// alive is false for a zombie: dead, waiting for a parent (here pid 1,
// which may not reap) to collect its status.
func (p hostProc) alive() bool {
	f := statFields(p.pid)
	return len(f) > 19 && f[19] == p.start && f[0] != "Z"
}

// children lists the processes whose parent is pid.
func children(pid string) []hostProc {
	var out []hostProc
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if f := statFields(e.Name()); len(f) > 19 && f[1] == pid {
			out = append(out, hostProc{e.Name(), f[19]})
		}
	}
	return out
}

// environments returns the process trees the server started (its sandbox
// inits, spares included, and their children: the function runtimes) and
// the inits that have a runtime.
func environments(srv *server) (all, envs []hostProc) {
	for _, init := range children(strconv.Itoa(srv.cmd.Process.Pid)) {
		kids := children(init.pid)
		all = append(append(all, init), kids...)
		if len(kids) > 0 {
			envs = append(envs, init)
		}
	}
	return all, envs
}

// frozen reports whether the cgroup freezer holds process pid (v1
// freezer.state or v2 cgroup.events, at the usual mount points).
func frozen(pid string) bool {
	b, _ := os.ReadFile("/proc/" + pid + "/cgroup")
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if strings.Contains(","+parts[1]+",", ",freezer,") {
			s, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", parts[2], "freezer.state"))
			return strings.TrimSpace(string(s)) == "FROZEN"
		}
		if parts[1] == "" && strings.HasPrefix(parts[2], "/nimbus/") {
			for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
				if s, err := os.ReadFile(filepath.Join(mnt, parts[2], "cgroup.events")); err == nil {
					return strings.Contains(string(s), "frozen 1")
				}
			}
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two live servers share the host; one is killed with SIGKILL while its
// environment is frozen, as idle environments are most of their life; a
// third server, with a data directory of its own, starts: the dead
// server's environment (init and function process) is gone, the live
// server's is untouched and still serves.
func TestKill9LeavesNoEnvironments(t *testing.T) {
	requireTool(t, "python3")
	if os.Geteuid() != 0 {
		t.Skip("needs root: environments in cgroups")
	}
	a, b := startServer2(t), startServer2(t)
	if !strings.Contains(strings.Join(a.preamble, "\n"), "cgroup-v") {
		t.Skip("no cgroups here: environments are not frozen")
	}
	ctx := context.Background()
	zip := pyZip(t, "hello", "def handler(event, context):\n    return {'pid': __import__('os').getpid()}\n")
	for _, s := range []*server{a, b} {
		c := sdkClient(s.endpoint)
		if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String("hello"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
			Role: aws.String("arn:aws:iam::000000000000:role/lambda"), Code: &types.FunctionCode{ZipFile: zip},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	var aAll, bAll []hostProc
	waitFor(t, "both servers' environments are frozen", func() bool {
		var aEnvs, bEnvs []hostProc
		aAll, aEnvs = environments(a)
		bAll, bEnvs = environments(b)
		if len(aEnvs) != 1 || len(bEnvs) != 1 {
			return false
		}
		return frozen(aEnvs[0].pid) && frozen(bEnvs[0].pid)
	})

	a.kill9(t)
	stillThere := 0
	for _, p := range aAll {
		if p.alive() {
			stillThere++
		}
	}
	t.Logf("after kill -9: %d of the dead server's %d sandbox processes remain (the frozen environment's)", stillThere, len(aAll))

	c := startServer2(t)
	if !strings.Contains(strings.Join(c.preamble, "\n"), "removed environments") {
		t.Errorf("the new server did not report removing the dead server's environments:\n%s", strings.Join(c.preamble, "\n"))
	}
	for _, p := range aAll {
		if p.alive() {
			cmdline, _ := os.ReadFile("/proc/" + p.pid + "/cmdline")
			cg, _ := os.ReadFile("/proc/" + p.pid + "/cgroup")
			t.Errorf("process %s of the killed server's environments survived the next server's start: %q %v\n%s",
				p.pid, cmdline, statFields(p.pid), cg)
		}
	}
	for _, p := range bAll {
		if !p.alive() {
			t.Errorf("process %s of the live server's environments was killed", p.pid)
		}
	}
	out, err := sdkClient(b.endpoint).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello")})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("live server's invoke after the sweep: %v %v", err, out)
	}
	if _, envs := environments(b); len(envs) != 1 || !envs[0].alive() || !bAll[0].alive() {
		t.Errorf("live server's environment was replaced: %v", envs)
	}
}

func startServer2(t *testing.T) *server {
	t.Helper()
	return startServerAt(t, t.TempDir())
}
