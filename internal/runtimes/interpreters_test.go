package runtimes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A mapped interpreter runs its runtime and is reported with its real
// version; one older than the runtime is named as such.
func TestSetInterpretersReportsRealVersion(t *testing.T) {
	host := interpreterFor(FamilyPython)
	if host.Err != nil {
		t.Skip(host.Err)
	}
	// A wrapper named for a newer version that runs the host's python3.
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "python3.14")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+host.Path+" \"$@\"\n"), 0o755); err != nil { //nolint:gosec // test program
		t.Fatal(err)
	}
	if err := SetInterpreters(map[string]string{"python3.14": wrapper}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = SetInterpreters(nil) })
	r, err := Lookup("python3.14")
	if err != nil {
		t.Fatal(err)
	}
	ip := r.Interpreter()
	if ip == nil || ip.Path != host.Path || ip.Version != host.Version {
		t.Fatalf("python3.14 interpreter %+v, want the real %s %s", ip, host.Path, host.Version)
	}
	if got := r.Command("/var/runtime", "/var/task", "app.handler", 128)[0]; got != host.Path {
		t.Errorf("Command runs %s", got)
	}
	if msg := r.OlderInterpreter(); !strings.Contains(msg, "python3.14 runs on Python "+host.Version) {
		t.Errorf("OlderInterpreter = %q", msg)
	}
	var found bool
	for _, info := range Catalogue() {
		if info.Name == "python3.14" {
			found = info.InterpreterVersion == host.Version && info.Note == "interpreter older than the runtime"
		}
	}
	if !found {
		t.Errorf("Catalogue does not report python3.14 on %s: %+v", host.Version, Catalogue())
	}
}

func TestSetInterpretersRefusesBadEntries(t *testing.T) {
	for _, m := range []map[string]string{
		{"provided.al2023": "/bin/sh"},
		{"java21": "/usr/bin/java"},
		{"python3.12": "/nonexistent/python3.12"},
	} {
		if err := SetInterpreters(m); err == nil {
			t.Errorf("SetInterpreters(%v) accepted", m)
		}
	}
}

// A runtime on an interpreter of its own version (or newer) is not older.
func TestOlderInterpreter(t *testing.T) {
	host := interpreterFor(FamilyNode)
	if host.Err != nil {
		t.Skip(host.Err)
	}
	major := strings.SplitN(host.Version, ".", 2)[0]
	r, err := Lookup("nodejs18.x")
	if err != nil {
		t.Fatal(err)
	}
	if major >= "18" && r.OlderInterpreter() != "" && r.Interpreter().Path == host.Path {
		t.Errorf("nodejs18.x on node %s reported older: %s", host.Version, r.OlderInterpreter())
	}
}
