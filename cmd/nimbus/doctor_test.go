package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// `nimbus doctor` lists the protections and proves them by starting an
// environment.
func TestDoctor(t *testing.T) {
	t.Parallel()
	out, stderr, err := run(t, os.Environ(), "", nimbusBin, "doctor")
	if err != nil || !strings.Contains(out, "check: ok") {
		t.Fatalf("nimbus doctor: %v\n%s%s", err, out, stderr)
	}
	for _, name := range []string{"namespaces", "minimal root", "seccomp", "cgroup", "memory limit", "pids limit", "rlimits"} {
		if !regexp.MustCompile(`(?m)^  (on|off) +` + name + `  `).MatchString(out) {
			t.Errorf("no %q line in\n%s", name, out)
		}
	}
	if os.Geteuid() == 0 && strings.Contains(out, "sandbox: namespaces") {
		for _, name := range []string{"namespaces", "network", "minimal root", "unprivileged uid", "capabilities", "no_new_privs", "seccomp", "sealed init binary"} {
			if !regexp.MustCompile(`(?m)^  on +` + name + `  `).MatchString(out) {
				t.Errorf("as root, %q is not on:\n%s", name, out)
			}
		}
	}
}
