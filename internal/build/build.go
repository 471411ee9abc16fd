// Package build builds the code of a SAM or CloudFormation template on the
// client, as `sam build` does: Go functions compiled with the local Go
// toolchain, Node functions with their production dependencies installed
// by npm, Python functions with their requirements taken from the host's
// Python when it has them all (hostpy.go), else installed by pip,
// BuildMethod esbuild bundled by esbuild's Go library in process
// (esbuild.go), BuildMethod makefile run as `make build-<LogicalId>` with
// ARTIFACTS_DIR, Java with a pom.xml built by `mvn package` (dotnet,
// rust-cargolambda and Gradle are refused by name), and
// code that needs no build (a bootstrap executable, a zip file, a layer
// directory) packaged as it is. Each result is a deterministic zip and its
// SHA-256, cached by a hash of everything that went into it under
// .nimbus/build/<hash> beside the template (like .aws-sam).
//
// Package rewrites the template so its code locations name the uploaded
// artifacts (s3://nimbus-artifacts/<sha256>) and inlines local OpenAPI
// definitions, as `sam package` does.
//
// Only the command line (internal/cli) imports it; it imports internal/cfn
// for the template model and internal/yamldoc for OpenAPI files.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// Resource types whose code the package builds.
const (
	TypeServerlessFunction = "AWS::Serverless::Function"
	TypeServerlessLayer    = "AWS::Serverless::LayerVersion"
	TypeLambdaFunction     = "AWS::Lambda::Function"
	TypeLambdaLayer        = "AWS::Lambda::LayerVersion"
)

// ErrUnsupported marks code the package cannot build (makefile builds,
// container images, another architecture than the host's).
var ErrUnsupported = errors.New("not supported")

// Unit is one piece of code to build: a function's or a layer's local code
// location.
type Unit struct {
	LogicalID string
	Type      string // resource type, one of the Type* constants
	Property  string // CodeUri, ContentUri, Code or Content
	// Source is the absolute path of the code: a directory or a .zip file.
	Source string
	// Runtime is the function's runtime (empty for a layer without a
	// BuildMethod).
	Runtime string
	// BuildMethod is Metadata.BuildMethod (go1.x, makefile, a runtime
	// name for layers), empty when the template has none.
	BuildMethod string
	Arch        string // x86_64 or arm64
	Handler     string
	// BuildProperties is Metadata.BuildProperties (esbuild's options).
	BuildProperties map[string]any
}

// Artifact is a built unit.
type Artifact struct {
	Unit
	Zip    string // path of the zip under the cache directory
	SHA256 string // hex SHA-256 of the zip
	Size   int64
	// Cached is true when the build was skipped: the cache held it.
	Cached bool
}

// Options configure Build.
type Options struct {
	// CacheDir holds the builds (default <template dir>/.nimbus/build).
	CacheDir string
	// Env is the environment of the tools (go, npm, pip); default
	// os.Environ(). PIP_INDEX_URL, PIP_FIND_LINKS, GOPROXY, npm_config_*
	// and the like pass through to them.
	Env []string
	// Output receives the tools' output (default io.Discard); the tools'
	// errors are reported in the returned error either way.
	Output io.Writer
	// HostArch is the architecture functions must declare, in Lambda's
	// names (default: this process's, x86_64 or arm64).
	HostArch string
	// NoBuild packages each code directory as it is, without compiling or
	// installing anything (the CLI's --no-build, for code built already).
	NoBuild bool
	// Incremental is `nimbus dev`'s: a directory kept across builds where
	// a Go unit is built in place (Incremental/<logical id>), without the
	// cache's key (go list of every dependency) and zipped at the fastest
	// compression. go build then relinks only when the binary changes (an
	// edit elsewhere in the module costs no link), and the zip's SHA-256
	// says whether the code changed. Other kinds build as usual.
	Incremental string
	// Debug names the Go units (by logical id) that an Incremental build
	// makes for a debugger: compiled with -gcflags=all=-N -l (no
	// optimisation or inlining), linked with DWARF, without -trimpath (so
	// the debug info names the files as they are on this machine), as
	// Delve under the server's --debug-port needs. Without Incremental it
	// does nothing: deploy's builds are never debug builds.
	Debug  map[string]bool
	Logger *slog.Logger
}

func (o *Options) defaults(templateDir string) {
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(templateDir, ".nimbus", "build")
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.HostArch == "" {
		o.HostArch = LambdaArch(runtime.GOARCH)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// LambdaArch names a Go architecture as Lambda does (amd64 → x86_64).
func LambdaArch(goarch string) string {
	if goarch == "amd64" {
		return "x86_64"
	}
	return goarch
}

func goArch(lambdaArch string) string {
	if lambdaArch == "x86_64" {
		return "amd64"
	}
	return lambdaArch
}

// Template plans and builds every unit of t, whose file is in templateDir.
// params are the parameter overrides (a Runtime or CodeUri given by Ref to
// a parameter resolves to the override or the parameter's default).
func Template(ctx context.Context, t *cfn.Template, templateDir string, params map[string]string, opts Options) ([]Artifact, error) {
	units, err := Plan(t, templateDir, params)
	if err != nil {
		return nil, err
	}
	opts.defaults(templateDir)
	arts := make([]Artifact, 0, len(units))
	for _, u := range units {
		a, err := Build(ctx, u, opts)
		if err != nil {
			return nil, err
		}
		arts = append(arts, *a)
	}
	if err := Prune(opts.CacheDir, CacheMaxAge); err != nil {
		opts.Logger.Warn("build cache not pruned", "err", err)
	}
	return arts, nil
}

// CacheMaxAge is how long a build stays in the cache unused.
const CacheMaxAge = 7 * 24 * time.Hour

// Prune removes the builds of cacheDir not used for maxAge (a cache hit
// counts as a use), and temporary directories that old.
func Prune(cacheDir string, maxAge time.Duration) error {
	entries, err := os.ReadDir(cacheDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-maxAge)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !e.IsDir() || fi.ModTime().After(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(cacheDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Build builds one unit, or finds it in the cache (by default
// .nimbus/build in the directory above the unit's code: set CacheDir).
func Build(ctx context.Context, u Unit, opts Options) (*Artifact, error) {
	opts.defaults(filepath.Dir(u.Source))
	b, err := newBuilder(u, &opts)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", u.LogicalID, err)
	}
	a, err := b.run(ctx)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", u.LogicalID, err)
	}
	return a, nil
}

// kind is what a unit's build does.
type kind int

const (
	kindAsIs    kind = iota // zip the directory as it is
	kindZip                 // the source is a zip already
	kindGo                  // go build → bootstrap
	kindNode                // copy, npm install
	kindPython              // copy, pip install
	kindEsbuild             // npm install, esbuild bundle (in process)
	kindMake                // make build-<LogicalId> ARTIFACTS_DIR=...
	kindMaven               // mvn package, classes + runtime dependencies in lib/
)

func (k kind) String() string {
	return [...]string{"as-is", "zip", "go", "node", "python", "esbuild", "makefile", "maven"}[k]
}

// classify decides how u is built.
// IsGo reports whether u is a Go function that the build compiles (and
// so can build for a debugger: Options.Debug).
func IsGo(u Unit) bool {
	k, _, err := classify(u, u.Arch)
	return err == nil && k == kindGo
}

func classify(u Unit, hostArch string) (kind, string, error) {
	fi, err := os.Stat(u.Source)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", u.Property, u.Source, err)
	}
	if !fi.IsDir() {
		if strings.EqualFold(filepath.Ext(u.Source), ".zip") || strings.EqualFold(filepath.Ext(u.Source), ".jar") {
			return kindZip, "", nil
		}
		return 0, "", fmt.Errorf("%s %s is neither a directory nor a .zip file", u.Property, u.Source)
	}
	method := u.BuildMethod
	switch lower := strings.ToLower(method); {
	case lower == "makefile":
		return kindMake, "", nil
	case lower == "esbuild":
		if _, err := readEsbuildProps(u.BuildProperties); err != nil {
			return 0, "", err
		}
		return kindEsbuild, "", nil
	case strings.HasPrefix(lower, "dotnet"), lower == "rust-cargolambda":
		return 0, "", fmt.Errorf("BuildMethod %s is %w by nimbus deploy: build the code yourself (as sam build would) and point %s at the output directory or zip", method, ErrUnsupported, u.Property)
	}
	if method == "" && !isLayer(u.Type) {
		method = u.Runtime
	}
	switch {
	case method == "":
		return kindAsIs, "", nil
	case method == "go1.x" || method == "go":
		if u.Arch != hostArch {
			return 0, "", fmt.Errorf("architecture %s is %w on this machine: Nimbus builds and runs functions for the host's architecture, %s; declare Architectures: [%s]",
				u.Arch, ErrUnsupported, hostArch, hostArch)
		}
		if !hasGoFiles(u.Source) && hasExecutable(u.Source, "bootstrap") {
			return kindAsIs, "", nil
		}
		out := "bootstrap"
		if u.Runtime == "go1.x" && u.Handler != "" {
			out = u.Handler // the go1.x runtime runs the executable named by Handler
		}
		return kindGo, out, nil
	case strings.HasPrefix(method, "provided"):
		if !hasExecutable(u.Source, "bootstrap") && !isLayer(u.Type) {
			return 0, "", fmt.Errorf("%s %s holds no executable bootstrap; for a Go function add Metadata: {BuildMethod: go1.x}", u.Property, u.Source)
		}
		return kindAsIs, "", nil
	case strings.HasPrefix(method, "nodejs"):
		return kindNode, "", nil
	case strings.HasPrefix(method, "python"):
		return kindPython, "", nil
	case strings.HasPrefix(method, "java"):
		if _, err := os.Stat(filepath.Join(u.Source, "pom.xml")); err == nil {
			return kindMaven, "", nil
		}
		if _, err := os.Stat(filepath.Join(u.Source, "build.gradle")); err == nil {
			return 0, "", fmt.Errorf("building %s code with Gradle is %w by nimbus deploy (Maven is: a pom.xml); build it yourself and point %s at the zip", method, ErrUnsupported, u.Property)
		}
		return 0, "", fmt.Errorf("%s %s has no pom.xml: nimbus deploy builds %s code with Maven", u.Property, u.Source, method)
	case strings.HasPrefix(method, "dotnet"), strings.HasPrefix(method, "ruby"):
		return 0, "", fmt.Errorf("building %s code is %w by nimbus deploy", method, ErrUnsupported)
	}
	return 0, "", fmt.Errorf("unknown build method %q", method)
}

func isLayer(typ string) bool { return typ == TypeServerlessLayer || typ == TypeLambdaLayer }

func hasGoFiles(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(m) > 0
}

func hasExecutable(dir, name string) bool {
	fi, err := os.Stat(filepath.Join(dir, name))
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
