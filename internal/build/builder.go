package build

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// cacheVersion changes when the layout of a build changes, so old cache
// entries are not reused.
const cacheVersion = "nimbus-build-1"

// builder builds one unit.
type builder struct {
	u    Unit
	opts *Options
	kind kind
	out  string // Go: the executable's name
	// prefix is the directory of the zip the code goes in: python or
	// nodejs for layers built with a runtime BuildMethod, else empty.
	prefix string
}

func newBuilder(u Unit, opts *Options) (*builder, error) {
	k, out, err := classify(u, opts.HostArch)
	if opts.NoBuild {
		if fi, serr := os.Stat(u.Source); serr == nil && fi.IsDir() {
			k, out, err = kindAsIs, "", nil
		}
	}
	if err != nil {
		return nil, err
	}
	b := &builder{u: u, opts: opts, kind: k, out: out}
	if isLayer(u.Type) {
		switch k {
		case kindPython:
			b.prefix = "python"
		case kindNode:
			b.prefix = "nodejs"
		}
	}
	return b, nil
}

func (b *builder) run(ctx context.Context) (*Artifact, error) {
	if b.kind == kindZip {
		sum, size, err := fileSHA256(b.u.Source)
		if err != nil {
			return nil, err
		}
		return &Artifact{Unit: b.u, Zip: b.u.Source, SHA256: sum, Size: size}, nil
	}
	if b.kind == kindGo && b.opts.Incremental != "" {
		return b.incrementalGo(ctx)
	}
	key, files, err := b.key(ctx)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.opts.CacheDir, key)
	if a, ok := b.cached(dir); ok {
		b.opts.Logger.Debug("build cache hit", "logical_id", b.u.LogicalID, "key", key)
		return a, nil
	}
	if err := os.MkdirAll(b.opts.CacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(b.opts.CacheDir, "tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "root")
	code := filepath.Join(root, b.prefix)
	if err := os.MkdirAll(code, 0o755); err != nil {
		return nil, err
	}
	switch b.kind {
	case kindAsIs:
		err = copyTree(files, code)
	case kindGo:
		err = b.goBuild(ctx, code, false)
	case kindNode:
		err = b.nodeBuild(ctx, files, code)
	case kindPython:
		err = b.pythonBuild(ctx, files, code)
	case kindEsbuild:
		err = b.esbuildBuild(ctx, files, code)
	case kindMake:
		err = b.makeBuild(ctx, files, code)
	case kindMaven:
		err = b.mavenBuild(ctx, files, code)
	}
	if err != nil {
		return nil, err
	}
	if err := writeZip(filepath.Join(tmp, "code.zip"), root); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	// The zip is the build; the tree it was made of would double the
	// cache's size.
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	sum, size, err := fileSHA256(filepath.Join(tmp, "code.zip"))
	if err != nil {
		return nil, err
	}
	// The sha256 file is written last: its presence marks a whole entry.
	if err := os.WriteFile(filepath.Join(tmp, "sha256"), []byte(sum+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another build of the same key won the race: use its entry.
		if a, ok := b.cached(dir); ok {
			return a, nil
		}
		return nil, err
	}
	return &Artifact{Unit: b.u, Zip: filepath.Join(dir, "code.zip"), SHA256: sum, Size: size}, nil
}

// cached returns the artifact of a complete cache entry.
func (b *builder) cached(dir string) (*Artifact, bool) {
	sum, err := os.ReadFile(filepath.Join(dir, "sha256"))
	if err != nil {
		return nil, false
	}
	fi, err := os.Stat(filepath.Join(dir, "code.zip"))
	if err != nil {
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(dir, now, now) // used: not pruned for another CacheMaxAge
	return &Artifact{Unit: b.u, Zip: filepath.Join(dir, "code.zip"), SHA256: strings.TrimSpace(string(sum)), Size: fi.Size(), Cached: true}, true
}

// key hashes everything that goes into the build: the source files, how
// they are built, for which runtime and architecture, and with which
// tools. It returns the source files too (nil for Go, which reads its
// own).
func (b *builder) key(ctx context.Context) (string, []file, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nkind %s\nout %s\nprefix %s\nruntime %s\nmethod %s\narch %s\n",
		cacheVersion, b.kind, b.out, b.prefix, b.u.Runtime, b.u.BuildMethod, b.u.Arch)
	var files []file
	var err error
	switch b.kind {
	case kindGo:
		err = b.goKey(ctx, h)
	case kindNode:
		files, err = walkTree(b.u.Source, "node_modules")
		if err == nil && needsNpm(b.u.Source) {
			err = toolVersions(ctx, h, b.opts.Env, []string{"node", "--version"}, []string{"npm", "--version"})
		}
	case kindPython:
		files, err = walkTree(b.u.Source, ".venv", "venv")
		files = dropPycache(files)
		if err == nil && len(requirements(b.u.Source)) > 0 {
			py := pythonFor(ctx, b.u.Runtime, b.opts.Env)
			err = toolVersions(ctx, h, b.opts.Env, []string{py, "--version"}, []string{py, "-m", "pip", "--version"})
			if err == nil {
				var inv string
				inv, err = hostPyKey(ctx, b.opts.Env, py)
				fmt.Fprintf(h, "host packages %s\n", inv)
			}
		}
	case kindEsbuild:
		files, err = walkTree(b.u.Source, "node_modules")
		if err == nil {
			err = b.esbuildKey(ctx, h)
		}
	case kindMake:
		files, err = walkTree(b.u.Source)
		if err == nil {
			err = toolVersions(ctx, h, b.opts.Env, []string{"make", "--version"})
		}
	case kindMaven:
		files, err = walkTree(b.u.Source, "target")
		if err == nil {
			err = toolVersions(ctx, h, b.opts.Env, []string{"mvn", "--version"})
		}
	default:
		files, err = walkTree(b.u.Source)
	}
	if err != nil {
		return "", nil, err
	}
	if err := hashFiles(h, files); err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(h.Sum(nil)), files, nil
}

// toolVersions adds each command's output to h.
func toolVersions(ctx context.Context, h io.Writer, env []string, cmds ...[]string) error {
	for _, c := range cmds {
		out, err := command(ctx, env, "", c[0], c[1:]...).Output()
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(c, " "), toolError(c[0], err))
		}
		fmt.Fprintf(h, "tool %q %s\n", strings.Join(c, " "), bytes.TrimSpace(out))
	}
	return nil
}

func command(ctx context.Context, env []string, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = env, dir
	return cmd
}

// toolError says clearly that a tool is missing.
func toolError(name string, err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%s is not installed (not found on PATH)", name)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, lastLines(string(ee.Stderr), 5))
	}
	return err
}

// runTool runs a build tool, its output going to opts.Output and, on
// failure, its last lines into the error.
func (b *builder) runTool(ctx context.Context, dir string, env []string, name string, args ...string) error {
	var tail bytes.Buffer
	cmd := command(ctx, env, dir, name, args...)
	w := &lockedWriter{w: io.MultiWriter(b.opts.Output, &tail)}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return toolError(name, err)
		}
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, lastLines(tail.String(), 15))
	}
	return nil
}

// lockedWriter serialises the writes of a tool's stdout and stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func withEnv(env []string, kv ...string) []string {
	out := make([]string, 0, len(env)+len(kv))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		drop := false
		for _, n := range kv {
			if strings.HasPrefix(n, k+"=") {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, e)
		}
	}
	return append(out, kv...)
}

// ---- Go ----

func (b *builder) goEnv() []string {
	return withEnv(b.opts.Env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goArch(b.u.Arch))
}

// goArgs are the flags of both go list and go build, so they see the
// same packages.
var goTags = []string{"-tags", "lambda.norpc"}

// goKey hashes the Go toolchain's version, the main module's go.mod and
// go.sum, and the package's dependencies: each module-cache dependency by
// its path and version (immutable), each dependency in the main module or
// a replacement directory by its files.
func (b *builder) goKey(ctx context.Context, h io.Writer) error {
	env := b.goEnv()
	if err := toolVersions(ctx, h, env, []string{"go", "version"}); err != nil {
		return err
	}
	out, err := command(ctx, env, b.u.Source, "go", "env", "GOMOD", "GOWORK", "GOFLAGS").Output()
	if err != nil {
		return fmt.Errorf("go env: %w", toolError("go", err))
	}
	fmt.Fprintf(h, "goenv %s\n", out)
	for _, f := range strings.Fields(string(out)) {
		if strings.HasSuffix(f, ".mod") || strings.HasSuffix(f, ".work") {
			for _, name := range []string{f, strings.TrimSuffix(f, ".mod") + ".sum", f + ".sum"} {
				if err := hashFile(h, name); err == nil {
					fmt.Fprintf(h, "hashed %s\n", filepath.Base(name))
				}
			}
		}
	}
	args := append([]string{"list", "-deps", "-json=ImportPath,Dir,Module,GoFiles,SFiles,EmbedFiles,Standard,Error,DepsErrors"}, goTags...)
	out, err = command(ctx, env, b.u.Source, "go", append(args, ".")...).Output()
	if err != nil {
		return fmt.Errorf("go list: %w", toolError("go", err))
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath, Dir string
			Standard        bool
			Module          *struct{ Path, Version, Dir string }
			GoFiles         []string
			SFiles          []string
			EmbedFiles      []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("go list: %w", err)
		}
		if p.Standard {
			continue
		}
		if p.Module != nil && p.Module.Version != "" {
			fmt.Fprintf(h, "pkg %s %s@%s\n", p.ImportPath, p.Module.Path, p.Module.Version)
			continue
		}
		fmt.Fprintf(h, "pkg %s local\n", p.ImportPath)
		for _, group := range [][]string{p.GoFiles, p.SFiles, p.EmbedFiles} {
			for _, f := range group {
				fmt.Fprintf(h, "file %s\n", f)
				if err := hashFile(h, filepath.Join(p.Dir, f)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// goBuildFlags are go build's flags: a deploy's and dev's builds drop the
// symbol table and DWARF (-s -w: much less for the linker to write, the
// larger part of a rebuild after an edit), the host's paths and the VCS
// stamp; a debug build keeps DWARF and the paths and turns off
// optimisation and inlining, for a debugger.
func goBuildFlags(debug bool) []string {
	if debug {
		return []string{"-buildvcs=false", "-gcflags=all=-N -l"}
	}
	return []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w"}
}

func (b *builder) goBuild(ctx context.Context, code string, debug bool) error {
	out, err := filepath.Abs(filepath.Join(code, b.out))
	if err != nil {
		return err
	}
	args := append(append([]string{"build"}, goBuildFlags(debug)...), goTags...)
	args = append(args, "-o", out, ".")
	return b.runTool(ctx, b.u.Source, b.goEnv(), "go", args...)
}

// incrementalGo builds a Go unit in place under Options.Incremental.
func (b *builder) incrementalGo(ctx context.Context) (*Artifact, error) {
	dir, err := filepath.Abs(filepath.Join(b.opts.Incremental, b.u.LogicalID))
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := b.goBuild(ctx, root, b.opts.Debug[b.u.LogicalID]); err != nil {
		return nil, err
	}
	zipPath := filepath.Join(dir, "code.zip")
	if err := writeZipLevel(zipPath+".tmp", root, flate.BestSpeed); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	if err := os.Rename(zipPath+".tmp", zipPath); err != nil {
		return nil, err
	}
	sum, size, err := fileSHA256(zipPath)
	if err != nil {
		return nil, err
	}
	return &Artifact{Unit: b.u, Zip: zipPath, SHA256: sum, Size: size}, nil
}

// ---- Node ----

// needsNpm reports whether package.json declares dependencies to install.
func needsNpm(dir string) bool {
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return false
	}
	var pkg struct {
		Dependencies map[string]any `json:"dependencies"`
	}
	if json.Unmarshal(raw, &pkg) != nil {
		return true // let npm report what is wrong with it
	}
	return len(pkg.Dependencies) > 0
}

func (b *builder) nodeBuild(ctx context.Context, files []file, code string) error {
	if err := copyTree(files, code); err != nil {
		return err
	}
	if !needsNpm(b.u.Source) {
		return nil
	}
	verb := "install"
	if _, err := os.Stat(filepath.Join(code, "package-lock.json")); err == nil {
		verb = "ci"
	}
	return b.runTool(ctx, code, b.opts.Env, "npm", verb, "--omit=dev", "--no-audit", "--no-fund", "--no-update-notifier")
}

// ---- Python ----

func dropPycache(files []file) []file {
	out := files[:0]
	for _, f := range files {
		if strings.Contains("/"+f.rel, "/__pycache__/") || strings.HasSuffix(f.rel, ".pyc") {
			continue
		}
		out = append(out, f)
	}
	return out
}

// requirements lists the requirements of dir's requirements.txt: each
// line that is not blank, a comment or an option.
func requirements(dir string) []string {
	raw, err := os.ReadFile(filepath.Join(dir, "requirements.txt"))
	if err != nil {
		return nil
	}
	var reqs []string
	for _, line := range strings.Split(string(raw), "\n") {
		line, _, _ = strings.Cut(line, " #")
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "-e") {
			continue
		}
		reqs = append(reqs, line)
	}
	return reqs
}

// pythonFor is the interpreter for a runtime: python3.12 when it is on
// PATH and runs (a pyenv shim may not), else python3.
func pythonFor(ctx context.Context, runtime string, env []string) string {
	if strings.HasPrefix(runtime, "python3.") {
		if p, err := lookPath(runtime, env); err == nil && command(ctx, env, "", p, "--version").Run() == nil {
			return runtime
		}
	}
	return "python3"
}

// lookPath finds name on env's PATH.
func lookPath(name string, env []string) (string, error) {
	for i := len(env) - 1; i >= 0; i-- {
		if p, ok := strings.CutPrefix(env[i], "PATH="); ok {
			for _, d := range filepath.SplitList(p) {
				c := filepath.Join(d, name)
				if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
					return c, nil
				}
			}
			return "", fs.ErrNotExist
		}
	}
	return exec.LookPath(name)
}

func (b *builder) pythonBuild(ctx context.Context, files []file, code string) error {
	if err := copyTree(files, code); err != nil {
		return err
	}
	reqs := requirements(b.u.Source)
	if len(reqs) == 0 {
		return nil
	}
	py := pythonFor(ctx, b.u.Runtime, b.opts.Env)
	target, err := filepath.Abs(code)
	if err != nil {
		return err
	}
	dists, err := b.fromHostPython(ctx, py, target, reqs)
	if err == nil {
		fmt.Fprintf(b.opts.Output, "%s: requirements satisfied from the host's Python, no index reached (%s)\n", b.u.LogicalID, strings.Join(dists, ", "))
		return nil
	}
	if !errors.Is(err, errHostLacks) {
		return err
	}
	b.opts.Logger.Debug("host python cannot satisfy requirements", "logical_id", b.u.LogicalID, "reason", err.Error())
	var tail bytes.Buffer
	cmd := command(ctx, b.opts.Env, b.u.Source, py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
		"--no-warn-script-location", "-r", filepath.Join(b.u.Source, "requirements.txt"), "-t", target)
	w := &lockedWriter{w: io.MultiWriter(b.opts.Output, &tail)}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return toolError(py, err)
		}
		return fmt.Errorf("pip could not install %s from %s (%w); pip said:\n%s\n"+
			"Set PIP_INDEX_URL or PIP_FIND_LINKS to a package index or directory that has them, or put the packages in the code directory",
			strings.Join(reqs, ", "), filepath.Join(b.u.Property+" "+b.u.Source, "requirements.txt"), err, pipError(tail.String()))
	}
	return nil
}

// pipError keeps the lines of pip's output that say what went wrong.
func pipError(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ERROR:") {
			keep = append(keep, line)
		}
	}
	if len(keep) == 0 {
		return lastLines(out, 5)
	}
	return strings.Join(keep, "\n")
}
