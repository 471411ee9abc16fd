package runtimes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Runtime families.
const (
	FamilyProvided = "provided"
	FamilyPython   = "python"
	FamilyNode     = "nodejs"
)

// Runtime is one managed runtime of the catalogue.
type Runtime struct {
	Name   string // e.g. "python3.12"
	Family string // FamilyProvided, FamilyPython, FamilyNode or FamilyJava
}

// catalogue is every runtime Nimbus knows how to run, given an interpreter.
var catalogue = []Runtime{
	{"provided.al2023", FamilyProvided},
	{"provided.al2", FamilyProvided},
	{"provided", FamilyProvided},
	{"python3.9", FamilyPython},
	{"python3.10", FamilyPython},
	{"python3.11", FamilyPython},
	{"python3.12", FamilyPython},
	{"python3.13", FamilyPython},
	{"python3.14", FamilyPython},
	{"nodejs18.x", FamilyNode},
	{"nodejs20.x", FamilyNode},
	{"nodejs22.x", FamilyNode},
	{"nodejs24.x", FamilyNode},
	{"java17", FamilyJava},
	{"java21", FamilyJava},
	{"java25", FamilyJava},
}

// deprecated are AWS runtime identifiers AWS no longer lets functions be
// created or updated with; the value is the family whose newest runtime AWS
// would recommend instead ("" when Nimbus runs none of that family).
var deprecated = map[string]string{
	"python2.7": FamilyPython, "python3.6": FamilyPython, "python3.7": FamilyPython, "python3.8": FamilyPython,
	"nodejs": FamilyNode, "nodejs4.3": FamilyNode, "nodejs4.3-edge": FamilyNode, "nodejs6.10": FamilyNode,
	"nodejs8.10": FamilyNode, "nodejs10.x": FamilyNode, "nodejs12.x": FamilyNode, "nodejs14.x": FamilyNode,
	"nodejs16.x": FamilyNode,
	"go1.x":      FamilyProvided,
	"java8":      FamilyJava, "dotnetcore1.0": "", "dotnetcore2.0": "", "dotnetcore2.1": "", "dotnetcore3.1": "",
	"dotnet5.0": "", "dotnet6": "", "dotnet7": "", "ruby2.5": "", "ruby2.7": "",
}

// unsupported are current AWS runtimes whose languages Nimbus does not run.
var unsupported = []string{
	"java8.al2", "java11",
	"dotnet8", "dotnet9", "dotnet10",
	"ruby3.2", "ruby3.3", "ruby3.4",
}

// Lookup returns the runtime called name if this host can run it. Anything
// else is an InvalidParameterValueException whose message says why and lists
// the runtimes this host can run.
func Lookup(name string) (*Runtime, error) {
	i := slices.IndexFunc(catalogue, func(r Runtime) bool { return r.Name == name })
	if i >= 0 && hostErr(catalogue[i]) == nil {
		rt := catalogue[i]
		return &rt, nil
	}
	supported := Supported()
	list := "[" + strings.Join(supported, ", ") + "]"
	if i >= 0 {
		return nil, awsapi.InvalidParameter("The runtime parameter of %s is not supported on this Nimbus server: %v. Value '%s' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %s", name, hostErr(catalogue[i]), name, list)
	}
	if family, ok := deprecated[name]; ok {
		advice := "a supported runtime"
		if newest := newestOf(supported, family); newest != "" {
			advice = "the new runtime (" + newest + ")"
		}
		return nil, awsapi.InvalidParameter("The runtime parameter of %s is no longer supported for creating or updating AWS Lambda functions. We recommend you use %s while creating or updating functions. Runtimes supported on this Nimbus server: %s", name, advice, list)
	}
	if slices.Contains(unsupported, name) {
		return nil, awsapi.InvalidParameter("The runtime parameter of %s is not supported on this Nimbus server, which runs only the provided, python, nodejs and java17/java21/java25 runtimes. Value '%s' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %s", name, name, list)
	}
	return nil, awsapi.InvalidParameter("Value '%s' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %s", name, list)
}

// Supported lists the runtimes this host can run, sorted.
func Supported() []string {
	var names []string
	for _, r := range catalogue {
		if hostErr(r) != nil {
			continue
		}
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names
}

// hostErr says why this host cannot run r; nil if it can.
func hostErr(r Runtime) error {
	if r.Family == FamilyJava {
		_, err := jdkFor(r.Name)
		return err
	}
	if ip := interpreterOf(&r); ip != nil {
		return ip.Err
	}
	return nil
}

// newestOf returns the newest runtime of family among names, "" if none.
func newestOf(names []string, family string) string {
	var best string
	var bestKey []int
	if family == "" {
		return ""
	}
	for _, n := range names {
		if !strings.HasPrefix(n, family) {
			continue
		}
		if family == FamilyProvided {
			return "provided.al2023"
		}
		key := versionKey(strings.TrimSuffix(strings.TrimPrefix(n, family), ".x"))
		if best == "" || slices.Compare(key, bestKey) > 0 {
			best, bestKey = n, key
		}
	}
	return best
}

// versionKey turns "3.12" into [3 12] for comparison.
func versionKey(v string) []int {
	var key []int
	for f := range strings.SplitSeq(v, ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			break
		}
		key = append(key, n)
	}
	return key
}

// Version is the language version the runtime name declares: "3.12" for
// python3.12, "20" for nodejs20.x, "" for provided runtimes. The host's
// interpreter may be another version (see Interpreters).
func (r *Runtime) Version() string {
	switch r.Family {
	case FamilyPython:
		return strings.TrimPrefix(r.Name, "python")
	case FamilyNode:
		return strings.TrimSuffix(strings.TrimPrefix(r.Name, "nodejs"), ".x")
	case FamilyJava:
		return strings.TrimPrefix(r.Name, FamilyJava)
	}
	return ""
}

// Client file locations under the runtime directory (see WriteFiles).
const (
	PythonBootstrap = "python/bootstrap.py"
	NodeBootstrap   = "nodejs/bootstrap.js"
)

// Command is the argv that starts the runtime inside an environment whose
// runtime directory (LAMBDA_RUNTIME_DIR, filled by WriteFiles) is runtimeDir
// and whose code is at taskRoot. The process should start with its working
// directory at taskRoot, as on AWS. handler is the function's Handler; the
// clients read it from _HANDLER, so it does not appear in the argv.
// memoryMB is the function's memory, which sizes the Java heap.
func (r *Runtime) Command(runtimeDir, taskRoot, handler string, memoryMB int) []string {
	_ = handler
	switch r.Family {
	case FamilyJava:
		return javaCommand(r.Name, runtimeDir, memoryMB)
	case FamilyPython:
		return []string{interpreterPath(r), strings.TrimSuffix(runtimeDir, "/") + "/" + PythonBootstrap}
	case FamilyNode:
		// The flags are those of AWS's own /var/runtime/bootstrap for Node.
		return []string{interpreterPath(r), "--expose-gc", "--max-http-header-size=81920",
			strings.TrimSuffix(runtimeDir, "/") + "/" + NodeBootstrap}
	}
	return []string{strings.TrimSuffix(taskRoot, "/") + "/bootstrap"}
}

// Env is the runtime's own environment, added to the usual Lambda variables:
// AWS_EXECUTION_ENV for managed runtimes (never for provided*), and NODE_PATH
// for Node.js as AWS sets it. The clients need nothing else.
func (r *Runtime) Env() map[string]string {
	env := map[string]string{}
	switch r.Family {
	case FamilyPython:
		env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + r.Name
	case FamilyJava:
		env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + r.Name
	case FamilyNode:
		env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + r.Name
		env["NODE_PATH"] = fmt.Sprintf("/opt/nodejs/node%s/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task", r.Version())
	}
	return env
}
