package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// initChildren counts this process's children that are sandbox inits.
func initChildren() int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStat(pid)
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) && string(bytes.TrimRight(cmd, "\x00")) == initArg0 {
			n++
		}
	}
	return n
}

func TestLauncherSpares(t *testing.T) {
	// Not parallel: it counts this process's init children.
	l := NewLauncher(2)
	for i := range 4 {
		e := newEnv(t, "probe")
		p, err := l.Start(context.Background(), e.spec)
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		if p.cg != nil {
			for _, d := range p.cg.dirs() {
				if filepath.Base(d) != e.spec.ID {
					t.Errorf("cgroup %s not named after the environment %s", d, e.spec.ID)
				}
			}
		}
		waitDone(t, p)
		var r probeReport
		if err := json.Unmarshal([]byte(e.out.String()), &r); err != nil || p.ExitErr() != nil {
			t.Fatalf("start %d: exit %v, output %q", i, p.ExitErr(), e.out.String())
		}
		if probe().namespaces && !strings.Contains(r.WriteTask, "read-only") {
			t.Errorf("start %d: /var/task writable: %q", i, r.WriteTask)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := initChildren(); n != 0 {
		t.Errorf("%d spare inits left after Close", n)
	}
	// A closed Launcher still starts environments, without spares.
	e := newEnv(t, "hello")
	p, err := l.Start(context.Background(), e.spec)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	if n := initChildren(); n != 0 {
		t.Errorf("%d inits after the last environment ended", n)
	}
}
