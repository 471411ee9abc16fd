package clustertest

import (
	"slices"
	"testing"
)

// TestSystemdUnit: the unit's ExecStart runs `nimbus server` with the
// cluster flags, every ${VAR} it uses is set by nimbus.env (or is the
// credentials directory systemd gives it), and its secret comes from the
// loaded credential. Start runs exactly that command line.
func TestSystemdUnit(t *testing.T) {
	args, credential, err := UnitCommand()
	if err != nil {
		t.Fatal(err)
	}
	if args[0] != "server" || credential != "cluster-secret" {
		t.Fatalf("ExecStart %v, credential %q: want nimbus server and the cluster-secret credential", args, credential)
	}
	keys, err := UnitEnvKeys()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"CREDENTIALS_DIRECTORY": "/run/credentials/nimbus.service"}
	for _, k := range keys {
		vars[k] = "x"
	}
	expanded, err := expandUnit(args, vars)
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--data-dir", "--listen", "--cluster-name", "--cluster-listen", "--routes", "--node-name", "--cluster-secret-file"} {
		if !slices.Contains(expanded, flag) {
			t.Errorf("ExecStart lacks %s: %v", flag, expanded)
		}
	}
	if i := slices.Index(expanded, "--cluster-secret-file"); i < 0 || i+1 >= len(expanded) || expanded[i+1] != "/run/credentials/nimbus.service/cluster-secret" {
		t.Errorf("the secret file is not the loaded credential: %v", expanded)
	}
	if _, err := expandUnit([]string{"--x", "${NOT_SET}"}, vars); err == nil {
		t.Error("a variable the harness does not set went unnoticed")
	}
}
