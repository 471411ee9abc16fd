package clustertest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// Every test cluster runs the command line of the systemd unit shipped in
// deploy/systemd (nimbus.service's ExecStart, its ${VAR}s filled in as
// nimbus.env does on a real node, the secret as the LoadCredential file),
// so the unit's flags and files are what the cluster tests exercise.

// deployDir is the repository's deploy/ directory (beside this source
// file's package, whichever package's test runs).
func deployDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy")
}

var unitVarRE = regexp.MustCompile(`\$\{([A-Z_]+)\}`)

// UnitCommand reads deploy/systemd/nimbus.service: its ExecStart's words
// after the binary, and the name of the credential it loads.
func UnitCommand() (args []string, credential string, err error) {
	b, err := os.ReadFile(filepath.Join(deployDir(), "systemd", "nimbus.service"))
	if err != nil {
		return nil, "", fmt.Errorf("read the systemd unit: %w", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			words := strings.Fields(v)
			if len(words) < 2 || filepath.Base(words[0]) != "nimbus" {
				return nil, "", fmt.Errorf("the unit's ExecStart %q does not run nimbus", v)
			}
			args = words[1:]
		}
		if v, ok := strings.CutPrefix(line, "LoadCredential="); ok {
			credential, _, _ = strings.Cut(v, ":")
		}
	}
	if args == nil {
		return nil, "", errors.New("the systemd unit has no ExecStart")
	}
	return args, credential, nil
}

// UnitEnvKeys are the variables deploy/systemd/nimbus.env sets.
func UnitEnvKeys() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(deployDir(), "systemd", "nimbus.env"))
	if err != nil {
		return nil, fmt.Errorf("read the unit's environment file: %w", err)
	}
	var keys []string
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("nimbus.env line %q is not NAME=value", l)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// expandUnit fills in the unit's ${VAR}s; a variable vars lacks is an
// error (the unit and the harness went out of step).
func expandUnit(args []string, vars map[string]string) ([]string, error) {
	out := make([]string, len(args))
	var missing []string
	for i, a := range args {
		out[i] = unitVarRE.ReplaceAllStringFunc(a, func(m string) string {
			name := unitVarRE.FindStringSubmatch(m)[1]
			v, ok := vars[name]
			if !ok {
				missing = append(missing, name)
			}
			return v
		})
	}
	if missing != nil {
		return nil, fmt.Errorf("the systemd unit uses %v, which the harness does not set", missing)
	}
	return out, nil
}
