package runtimes

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// interpreterFor is the family's default interpreter (python3, node).
func interpreterFor(family string) *Interpreter {
	detectHost()
	hostMu.Lock()
	defer hostMu.Unlock()
	switch family {
	case FamilyPython:
		return hostPython
	case FamilyNode:
		return hostNode
	}
	return nil
}

func hostCan(family string) bool {
	if family == FamilyJava {
		return hostErr(Runtime{Name: "java25", Family: FamilyJava}) == nil
	}
	ip := interpreterFor(family)
	return ip == nil || ip.Err == nil
}

func TestSupportedIsSortedAndMatchesHost(t *testing.T) {
	got := Supported()
	if !slices.IsSorted(got) {
		t.Errorf("Supported() not sorted: %v", got)
	}
	for _, want := range []string{"provided", "provided.al2", "provided.al2023"} {
		if !slices.Contains(got, want) {
			t.Errorf("Supported() lacks %s: %v", want, got)
		}
	}
	for _, r := range catalogue {
		if slices.Contains(got, r.Name) != hostCan(r.Family) {
			t.Errorf("Supported() has %s = %v, host can run %s = %v", r.Name, slices.Contains(got, r.Name), r.Family, hostCan(r.Family))
		}
	}
}

func TestLookupCatalogue(t *testing.T) {
	for _, tc := range []struct{ name, family, version string }{
		{"provided.al2023", FamilyProvided, ""},
		{"provided.al2", FamilyProvided, ""},
		{"provided", FamilyProvided, ""},
		{"python3.9", FamilyPython, "3.9"},
		{"python3.10", FamilyPython, "3.10"},
		{"python3.11", FamilyPython, "3.11"},
		{"python3.12", FamilyPython, "3.12"},
		{"python3.13", FamilyPython, "3.13"},
		{"python3.14", FamilyPython, "3.14"},
		{"nodejs18.x", FamilyNode, "18"},
		{"nodejs20.x", FamilyNode, "20"},
		{"nodejs22.x", FamilyNode, "22"},
		{"nodejs24.x", FamilyNode, "24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !hostCan(tc.family) {
				t.Skipf("host has no %s interpreter", tc.family)
			}
			r, err := Lookup(tc.name)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if r.Name != tc.name || r.Family != tc.family || r.Version() != tc.version {
				t.Errorf("Lookup = %+v version %q, want family %s version %q", r, r.Version(), tc.family, tc.version)
			}
			env := r.Env()
			if tc.family == FamilyProvided {
				if len(env) != 0 {
					t.Errorf("Env() = %v, want nothing for provided runtimes", env)
				}
			} else if env["AWS_EXECUTION_ENV"] != "AWS_Lambda_"+tc.name {
				t.Errorf("AWS_EXECUTION_ENV = %q", env["AWS_EXECUTION_ENV"])
			}
		})
	}
}

func lookupErr(t *testing.T, name string) *awsapi.Error {
	t.Helper()
	r, err := Lookup(name)
	if err == nil {
		t.Fatalf("Lookup(%q) = %+v, want an error", name, r)
	}
	var ae *awsapi.Error
	if !errors.As(err, &ae) {
		t.Fatalf("Lookup(%q) error %T %v, want *awsapi.Error", name, err, err)
	}
	if ae.Code != awsapi.CodeInvalidParameterValue || ae.Status != http.StatusBadRequest {
		t.Errorf("Lookup(%q) = %s %d, want InvalidParameterValueException 400", name, ae.Code, ae.Status)
	}
	return ae
}

func TestLookupUnknownListsSupported(t *testing.T) {
	for _, name := range []string{"cobol85", "", "python3.99", "nodejs21.x", "PYTHON3.12", "python3.12 "} {
		ae := lookupErr(t, name)
		want := "Value '" + name + "' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [" + strings.Join(Supported(), ", ") + "]"
		if ae.Message != want {
			t.Errorf("Lookup(%q) message\n got %q\nwant %q", name, ae.Message, want)
		}
	}
}

func TestLookupDeprecated(t *testing.T) {
	for _, tc := range []struct{ name, recommend string }{
		{"python2.7", "python3.14"},
		{"python3.8", "python3.14"},
		{"nodejs12.x", "nodejs24.x"},
		{"nodejs16.x", "nodejs24.x"},
		{"go1.x", "provided.al2023"},
		{"java8", "java25"},
		{"dotnetcore3.1", ""},
		{"ruby2.7", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := lookupErr(t, tc.name)
			prefix := "The runtime parameter of " + tc.name + " is no longer supported for creating or updating AWS Lambda functions. We recommend you use "
			if !strings.HasPrefix(ae.Message, prefix) {
				t.Errorf("message %q, want prefix %q", ae.Message, prefix)
			}
			advice := "a supported runtime"
			if tc.recommend != "" && hostCan(familyOf(tc.recommend)) {
				advice = "the new runtime (" + tc.recommend + ")"
			}
			if !strings.Contains(ae.Message, advice+" while creating or updating functions.") {
				t.Errorf("message %q does not recommend %q", ae.Message, advice)
			}
			if !strings.HasSuffix(ae.Message, "["+strings.Join(Supported(), ", ")+"]") {
				t.Errorf("message %q does not list the supported runtimes", ae.Message)
			}
		})
	}
}

func TestLookupCurrentAWSRuntimeThisHostCannotRun(t *testing.T) {
	for _, name := range []string{"java11", "java8.al2", "dotnet8", "ruby3.3"} {
		ae := lookupErr(t, name)
		if !strings.Contains(ae.Message, "The runtime parameter of "+name+" is not supported on this Nimbus server") ||
			!strings.HasSuffix(ae.Message, "Member must satisfy enum value set: ["+strings.Join(Supported(), ", ")+"]") {
			t.Errorf("Lookup(%q) message %q", name, ae.Message)
		}
	}
}

func TestLookupMissingInterpreter(t *testing.T) {
	detectHost()
	hostMu.Lock()
	saved, savedExact := hostPython, hostExact
	hostPython = &Interpreter{Family: FamilyPython, Err: errors.New("no python3 interpreter found on this host")}
	hostExact = nil
	hostMu.Unlock()
	t.Cleanup(func() {
		hostMu.Lock()
		hostPython, hostExact = saved, savedExact
		hostMu.Unlock()
	})

	ae := lookupErr(t, "python3.12")
	if !strings.Contains(ae.Message, "python3.12 is not supported on this Nimbus server: no python3 interpreter found on this host") {
		t.Errorf("message %q", ae.Message)
	}
	if slices.ContainsFunc(Supported(), func(s string) bool { return strings.HasPrefix(s, "python") }) {
		t.Errorf("Supported() = %v lists python runtimes without an interpreter", Supported())
	}
	if !strings.Contains(ae.Message, "nodejs20.x") && hostCan(FamilyNode) {
		t.Errorf("message %q does not list what the host can run", ae.Message)
	}
}

func TestCommand(t *testing.T) {
	detectHost()
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"provided.al2023", []string{"/var/task/bootstrap"}},
		{"provided", []string{"/var/task/bootstrap"}},
		{"python3.12", []string{interpreterOf(&Runtime{Name: "python3.12", Family: FamilyPython}).Path, "/var/runtime/python/bootstrap.py"}},
		{"nodejs20.x", []string{interpreterOf(&Runtime{Name: "nodejs20.x", Family: FamilyNode}).Path, "--expose-gc", "--max-http-header-size=81920", "/var/runtime/nodejs/bootstrap.js"}},
	} {
		r := &Runtime{Name: tc.name, Family: familyOf(tc.name)}
		if !hostCan(r.Family) {
			continue
		}
		if got := r.Command("/var/runtime", "/var/task", "app.handler", 128); !slices.Equal(got, tc.want) {
			t.Errorf("%s Command = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEnvNodePath(t *testing.T) {
	r := &Runtime{Name: "nodejs22.x", Family: FamilyNode}
	want := "/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"
	if got := r.Env()["NODE_PATH"]; got != want {
		t.Errorf("NODE_PATH = %q, want %q", got, want)
	}
}

func TestInterpretersAreRealExecutables(t *testing.T) {
	for _, ip := range Interpreters() {
		if ip.Err != nil {
			t.Logf("%s: %v", ip.Family, ip.Err)
			continue
		}
		if !filepath.IsAbs(ip.Path) || ip.Version == "" {
			t.Errorf("%s interpreter %+v: want an absolute path and a version", ip.Family, ip)
		}
		// A shim is a script; the resolved interpreter must be a binary.
		data, err := os.ReadFile(ip.Path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(data), "#!") {
			t.Errorf("%s interpreter %s is a script, not the real executable", ip.Family, ip.Path)
		}
	}
}

func TestWriteFilesIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runtime")
	if err := WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{PythonBootstrap, NodeBootstrap} {
		want, err := clients.ReadFile("clients/" + name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		got, err := os.ReadFile(p) //nolint:gosec // test temp dir
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from the embedded file", name)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", name, fi.Mode().Perm())
		}
		// A damaged copy is repaired by the next call.
		if err := os.WriteFile(p, []byte("broken"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "python"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("python dir holds %d entries, want only bootstrap.py (no temp files left)", len(entries))
	}
	for _, name := range []string{PythonBootstrap, NodeBootstrap} {
		got, err := os.ReadFile(filepath.Join(dir, name)) //nolint:gosec // test temp dir
		if err != nil {
			t.Fatal(err)
		}
		want, _ := clients.ReadFile("clients/" + name)
		if string(got) != string(want) {
			t.Errorf("%s not repaired", name)
		}
		fi, _ := os.Stat(filepath.Join(dir, name))
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v after repair, want 0644", name, fi.Mode().Perm())
		}
	}
}

// FuzzLookup: any name either resolves to the catalogue entry of that exact
// name or is refused with InvalidParameterValueException naming it.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"python3.12", "nodejs20.x", "provided", "go1.x", "java21", "", "python3.", "nodejs.x", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, err := Lookup(name)
		if err == nil {
			if r.Name != name || !slices.ContainsFunc(catalogue, func(c Runtime) bool { return c == *r }) {
				t.Fatalf("Lookup(%q) = %+v", name, r)
			}
			return
		}
		var ae *awsapi.Error
		if !errors.As(err, &ae) || ae.Code != awsapi.CodeInvalidParameterValue || !strings.Contains(ae.Message, name) {
			t.Fatalf("Lookup(%q) error %v", name, err)
		}
	})
}
