package runtimes

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Minimum host interpreter versions the embedded clients work with.
var (
	minPython = []int{3, 8}
	minNode   = []int{16}
)

// Interpreter is the host program that runs one runtime family.
type Interpreter struct {
	Family  string // FamilyPython or FamilyNode
	Path    string // absolute path of the real executable (not a shim)
	Version string // e.g. "3.11.7", "20.20.2"
	// Err says why the family cannot run on this host; nil if it can. Its
	// text is phrased for API clients.
	Err error
}

var (
	hostOnce   sync.Once
	hostPython Interpreter
	hostNode   Interpreter
)

// Interpreters reports the host interpreters the managed runtimes use,
// detected once per process: python3 and node as found in PATH, resolved to
// the real executables (pyenv/asdf shims are scripts that need their own
// environment, so the shim is run once to ask the interpreter where it is).
func Interpreters() []Interpreter {
	detectHost()
	return []Interpreter{hostPython, hostNode}
}

func interpreterFor(family string) *Interpreter {
	detectHost()
	switch family {
	case FamilyPython:
		return &hostPython
	case FamilyNode:
		return &hostNode
	}
	return nil
}

func interpreterPath(family string) string {
	if ip := interpreterFor(family); ip != nil && ip.Path != "" {
		return ip.Path
	}
	// Not runnable; Lookup refuses such runtimes. Let the start fail clearly.
	if family == FamilyPython {
		return "python3"
	}
	return "node"
}

func detectHost() {
	hostOnce.Do(func() {
		hostPython = probe(FamilyPython, "python3", minPython,
			"-c", "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])")
		hostNode = probe(FamilyNode, "node", minNode,
			"-e", "console.log(process.execPath); console.log(process.versions.node)")
	})
}

// probe finds program in PATH and asks it for its real path and version.
func probe(family, program string, minVersion []int, args ...string) Interpreter {
	ip := Interpreter{Family: family}
	found, err := exec.LookPath(program)
	if err != nil {
		ip.Err = fmt.Errorf("no %s interpreter found on this host", program)
		return ip
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, found, args...).Output() //nolint:gosec // found is python3/node from PATH, args are constants
	if err != nil {
		ip.Err = fmt.Errorf("the host's %s interpreter does not start", program)
		return ip
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] == "" {
		ip.Err = fmt.Errorf("the host's %s interpreter does not report its location", program)
		return ip
	}
	ip.Path, ip.Version = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
	if compareVersions(versionKey(ip.Version), minVersion) < 0 {
		ip.Err = fmt.Errorf("the host's %s is version %s, older than the %s the runtime client needs",
			program, ip.Version, joinVersion(minVersion))
	}
	return ip
}

func compareVersions(a, b []int) int {
	for i := range max(len(a), len(b)) {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func joinVersion(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ".")
}
