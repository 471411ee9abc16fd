package runtimes

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// Which interpreter runs a runtime, in order: the operator's mapping
// (SetInterpreters, --runtime-interpreter), an executable on PATH named for
// the runtime's version (python3.12, node22) that reports that version,
// else the family's default (python3, node on PATH).
var (
	hostMu      sync.Mutex
	hostDone    bool                    // guarded by hostMu
	hostPython  *Interpreter            // guarded by hostMu; never changed once published
	hostNode    *Interpreter            // guarded by hostMu; never changed once published
	hostExact   map[string]*Interpreter // runtime name -> interpreter; guarded by hostMu
	hostMapping map[string]string       // runtime name -> path (SetInterpreters); guarded by hostMu
)

// SetInterpreters maps runtimes to interpreter executables (runtime name ->
// absolute path), over those found on PATH. Each is started once to ask
// its real path and version; an entry that is not a python or nodejs
// runtime of the catalogue, or whose program does not answer, is an error.
// The mapping applies to environments started afterwards.
func SetInterpreters(m map[string]string) error {
	var errs []error
	for name, path := range m {
		i := slices.IndexFunc(catalogue, func(r Runtime) bool { return r.Name == name })
		if i < 0 || catalogue[i].Family == FamilyProvided {
			errs = append(errs, fmt.Errorf("--runtime-interpreter %s: not a python or nodejs runtime Nimbus runs", name))
			continue
		}
		if ip := probeFamily(catalogue[i].Family, path); ip.Err != nil {
			errs = append(errs, fmt.Errorf("--runtime-interpreter %s=%s: %w", name, path, ip.Err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	hostMu.Lock()
	defer hostMu.Unlock()
	hostMapping = m
	hostDone = false
	return nil
}

// Interpreters reports the family default interpreters (python3 and node
// as found in PATH), detected once per process, resolved to the real
// executables (pyenv/asdf shims are scripts that need their own
// environment, so the shim is run once to ask the interpreter where it is).
func Interpreters() []Interpreter {
	detectHost()
	hostMu.Lock()
	defer hostMu.Unlock()
	out := []Interpreter{*hostPython, *hostNode}
	for _, name := range slices.Sorted(maps.Keys(hostExact)) {
		out = append(out, *hostExact[name])
	}
	return out
}

// interpreterOf is the interpreter that runs the runtime called name (nil
// for provided runtimes).
func interpreterOf(r *Runtime) *Interpreter {
	detectHost()
	hostMu.Lock()
	defer hostMu.Unlock()
	if ip, ok := hostExact[r.Name]; ok {
		return ip
	}
	switch r.Family {
	case FamilyPython:
		return hostPython
	case FamilyNode:
		return hostNode
	}
	return nil
}

func interpreterPath(r *Runtime) string {
	if ip := interpreterOf(r); ip != nil && ip.Path != "" {
		return ip.Path
	}
	// Not runnable; Lookup refuses such runtimes. Let the start fail clearly.
	if r.Family == FamilyPython {
		return "python3"
	}
	return "node"
}

var (
	pythonNameRE = regexp.MustCompile(`^python3\.(\d+)$`)
	nodeNameRE   = regexp.MustCompile(`^node(\d+)$`)
)

func detectHost() {
	hostMu.Lock()
	if hostDone {
		hostMu.Unlock()
		return
	}
	mapping := hostMapping
	hostMu.Unlock()

	py := probe(FamilyPython, "python3")
	node := probe(FamilyNode, "node")
	exact := map[string]*Interpreter{}
	// Executables on PATH named for a version: python3.12 -> python3.12,
	// node22 -> nodejs22.x, if they report that version.
	seen := map[string]bool{}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			var runtime, family, want string
			if m := pythonNameRE.FindStringSubmatch(name); m != nil {
				runtime, family, want = "python3."+m[1], FamilyPython, "3."+m[1]
			} else if m := nodeNameRE.FindStringSubmatch(name); m != nil {
				runtime, family, want = "nodejs"+m[1]+".x", FamilyNode, m[1]
			} else {
				continue
			}
			if seen[runtime] || !slices.ContainsFunc(catalogue, func(r Runtime) bool { return r.Name == runtime }) {
				continue
			}
			ip := probeFamily(family, filepath.Join(dir, name))
			if ip.Err != nil || !sameVersion(ip.Version, want) {
				continue // a pyenv shim for a version not selected, or a misnamed program
			}
			seen[runtime] = true
			exact[runtime] = &ip
		}
	}
	for name, path := range mapping {
		i := slices.IndexFunc(catalogue, func(r Runtime) bool { return r.Name == name })
		if i < 0 {
			continue
		}
		ip := probeFamily(catalogue[i].Family, path)
		exact[name] = &ip
	}

	hostMu.Lock()
	defer hostMu.Unlock()
	hostPython, hostNode, hostExact, hostDone = &py, &node, exact, true
}

// sameVersion reports whether version ("3.12.1") is of want ("3.12").
func sameVersion(version, want string) bool {
	return version == want || strings.HasPrefix(version, want+".")
}

// probe finds program in PATH and asks it for its real path and version.
func probe(family, program string) Interpreter {
	found, err := exec.LookPath(program)
	if err != nil {
		return Interpreter{Family: family, Err: fmt.Errorf("no %s interpreter found on this host", program)}
	}
	return probeFamily(family, found)
}

// probeFamily asks the interpreter at path for its real path and version.
func probeFamily(family, path string) Interpreter {
	ip := Interpreter{Family: family}
	args, minVersion := []string{"-c", "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"}, minPython
	if family == FamilyNode {
		args, minVersion = []string{"-e", "console.log(process.execPath); console.log(process.versions.node)"}, minNode
	}
	program := filepath.Base(path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).Output() //nolint:gosec // an interpreter from PATH or the operator's mapping, constant args
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

// Interpreter is the host interpreter that runs r (nil for provided
// runtimes).
func (r *Runtime) Interpreter() *Interpreter {
	ip := interpreterOf(r)
	if ip == nil {
		return nil
	}
	c := *ip
	return &c
}

// OlderInterpreter returns, when r runs on an interpreter older than the
// language version its name declares (python3.12 on Python 3.11), a
// sentence saying so; "" otherwise.
func (r *Runtime) OlderInterpreter() string {
	ip := interpreterOf(r)
	if ip == nil || ip.Version == "" {
		return ""
	}
	want := versionKey(r.Version())
	have := versionKey(ip.Version)
	if len(have) > len(want) {
		have = have[:len(want)]
	}
	if compareVersions(have, want) >= 0 {
		return ""
	}
	lang := "Python"
	if r.Family == FamilyNode {
		lang = "Node.js"
	}
	return fmt.Sprintf("The runtime %s runs on %s %s on this Nimbus server (%s), older than the %s %s it declares; code that needs %s %s may fail. Map an interpreter with --runtime-interpreter %s=/path/to/interpreter.",
		r.Name, lang, ip.Version, ip.Path, lang, r.Version(), lang, r.Version(), r.Name)
}

// RuntimeInfo describes one runtime of the catalogue on this host.
type RuntimeInfo struct {
	Name               string
	Interpreter        string // path; "" for provided runtimes
	InterpreterVersion string
	Note               string // why it cannot run, or that its interpreter is older
}

// Catalogue lists every runtime of the catalogue with the interpreter that
// runs it here.
func Catalogue() []RuntimeInfo {
	out := make([]RuntimeInfo, 0, len(catalogue))
	for i := range catalogue {
		r := &catalogue[i]
		info := RuntimeInfo{Name: r.Name}
		if r.Family == FamilyJava {
			if j, err := jdkFor(r.Name); err != nil {
				info.Note = "cannot run: " + err.Error()
			} else {
				info.Interpreter, info.InterpreterVersion = filepath.Join(j.Home, "bin", "java"), j.Version
			}
		} else if ip := interpreterOf(r); ip != nil {
			info.Interpreter, info.InterpreterVersion = ip.Path, ip.Version
			switch {
			case ip.Err != nil:
				info.Note = "cannot run: " + ip.Err.Error()
			case r.OlderInterpreter() != "":
				info.Note = "interpreter older than the runtime"
			}
		} else {
			info.Note = "runs the function's ./bootstrap"
		}
		out = append(out, info)
	}
	return out
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
