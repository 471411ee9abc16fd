package runtimes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The AWS SDKs the managed runtimes provide, as Lambda's do: the AWS SDK
// for JavaScript v3 at /var/runtime/node_modules (on NODE_PATH, and found
// by ES module imports through /node_modules), and boto3/botocore on the
// Python path after the function's own code and layers. Both live under the
// runtime directory (LAMBDA_RUNTIME_DIR, mounted read-only):
//
//	node_modules -> sdk/nodejs-<lock hash>/node_modules
//	sdk/nodejs-<lock hash>/          npm ci of sdk/nodejs/package-lock.json
//	sdk/python -> python-<boto3 version>
//	sdk/python-<boto3 version>/      boto3, botocore and their imports
//
// Each version is built in a hidden directory and renamed into place, then
// the link is swapped with a rename, so a half-done install is never seen
// and environments that run meanwhile keep a complete tree.
//
// The JavaScript SDK is pinned by the package-lock.json committed beside
// this file and installed from the npm registry with `npm ci`. The Python
// SDK cannot come from PyPI on the machines this project targets, so it is
// copied from a host interpreter that has boto3 (pip's, or Debian's
// python3-boto3): its pure-Python packages run on every python3.x. The
// copy is preferred over the interpreter's own site-packages, so every
// function sees the same boto3 whatever interpreter runs it.
const (
	NodeSDKLink   = "node_modules"
	PythonSDKLink = "sdk/python"
	sdkDir        = "sdk"
	completeFile  = ".nimbus-complete" // holds the installed version
)

//go:embed sdk/nodejs/package.json sdk/nodejs/package-lock.json
var nodeSDKFiles embed.FS

// SDK is one runtime SDK and its state under a runtime directory.
type SDK struct {
	Family  string // FamilyNode or FamilyPython
	Name    string // "@aws-sdk (JavaScript v3)" or "boto3"
	Pinned  string // the version the repository records ("" for boto3: the host's)
	Version string // the installed version, "" when not installed
}

// NodeSDKVersion is the pinned version of @aws-sdk/client-lambda, which
// names the JavaScript SDK release Nimbus provides.
func NodeSDKVersion() string {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, _ := nodeSDKFiles.ReadFile("sdk/nodejs/package.json")
	_ = json.Unmarshal(b, &pkg)
	return pkg.Dependencies["@aws-sdk/client-lambda"]
}

// NodeSDKPackages lists the packages of the pinned JavaScript SDK.
func NodeSDKPackages() []string {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, _ := nodeSDKFiles.ReadFile("sdk/nodejs/package.json")
	_ = json.Unmarshal(b, &pkg)
	names := make([]string, 0, len(pkg.Dependencies))
	for n := range pkg.Dependencies {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// SDKs reports the SDKs installed under runtimeDir.
func SDKs(runtimeDir string) []SDK {
	return []SDK{
		{Family: FamilyNode, Name: "@aws-sdk (JavaScript v3)", Pinned: NodeSDKVersion(),
			Version: installedVersion(filepath.Join(runtimeDir, sdkDir, "nodejs-"+nodeLockHash()))},
		{Family: FamilyPython, Name: "boto3",
			Version: installedVersion(filepath.Join(runtimeDir, PythonSDKLink))},
	}
}

func installedVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, completeFile)) //nolint:gosec // under the runtime dir
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func nodeLockHash() string {
	b, _ := nodeSDKFiles.ReadFile("sdk/nodejs/package-lock.json")
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// ErrRegistry marks an install that failed because the package registry
// could not be reached or refused.
var ErrRegistry = errors.New("package registry unreachable")

// InstallNodeSDK installs the pinned AWS SDK for JavaScript v3 under
// runtimeDir with npm (nothing to do when it is there already). npm's
// output goes to out.
func InstallNodeSDK(ctx context.Context, runtimeDir string, out io.Writer) error {
	hash := nodeLockHash()
	final := filepath.Join(runtimeDir, sdkDir, "nodejs-"+hash)
	if installedVersion(final) == "" {
		npm, err := exec.LookPath("npm")
		if err != nil {
			return errors.New("npm is not installed on this host (Debian: apt-get install npm); the Node.js runtimes run without the AWS SDK until 'nimbus runtimes install' succeeds")
		}
		if err := os.MkdirAll(filepath.Join(runtimeDir, sdkDir), 0o755); err != nil { //nolint:gosec // sandbox users read the SDK
			return fmt.Errorf("create sdk directory: %w", err)
		}
		stage, err := os.MkdirTemp(filepath.Join(runtimeDir, sdkDir), ".nodejs-*")
		if err != nil {
			return fmt.Errorf("create sdk staging directory: %w", err)
		}
		defer os.RemoveAll(stage) //nolint:errcheck // gone after a successful rename
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, _ := nodeSDKFiles.ReadFile("sdk/nodejs/" + f)
			if err := os.WriteFile(filepath.Join(stage, f), b, 0o644); err != nil { //nolint:gosec // sandbox users read the SDK
				return fmt.Errorf("write %s: %w", f, err)
			}
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		var tail bytes.Buffer
		cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund", //nolint:gosec // npm from PATH, constant arguments
			"--no-update-notifier", "--loglevel=error", "--fetch-retries=1", "--fetch-timeout=30000")
		cmd.Dir = stage
		cmd.Stdout = out
		cmd.Stderr = io.MultiWriter(out, &tail)
		if err := cmd.Run(); err != nil {
			msg := lastLines(tail.String(), 3)
			if ctx.Err() != nil {
				msg = "timed out"
			}
			return fmt.Errorf("%w: npm ci of the AWS SDK for JavaScript %s failed (%w): %s", ErrRegistry, NodeSDKVersion(), err, msg)
		}
		if err := os.WriteFile(filepath.Join(stage, completeFile), []byte(NodeSDKVersion()+"\n"), 0o644); err != nil { //nolint:gosec // sandbox users read the SDK
			return fmt.Errorf("mark sdk complete: %w", err)
		}
		if err := readableTree(stage); err != nil {
			return err
		}
		if err := os.Rename(stage, final); err != nil {
			return fmt.Errorf("install sdk: %w", err)
		}
	}
	if err := swapLink(filepath.Join(runtimeDir, NodeSDKLink), filepath.Join(sdkDir, "nodejs-"+hash, "node_modules")); err != nil {
		return err
	}
	removeOthers(filepath.Join(runtimeDir, sdkDir), "nodejs-", "nodejs-"+hash)
	return nil
}

// pythonSDKProbe imports boto3 with what it needs and prints its version,
// whether botocore reads AWS_ENDPOINT_URL, and the files of every
// top-level module imported from outside the standard library.
const pythonSDKProbe = `
import json, os, sys
import boto3, boto3.session, boto3.s3.transfer, boto3.dynamodb.conditions, boto3.dynamodb.types
import botocore, botocore.session, botocore.configprovider as cp
import s3transfer, jmespath, dateutil.parser, dateutil.tz, urllib3
files = {}
for name, mod in list(sys.modules.items()):
    f = getattr(mod, "__file__", None)
    if not f or "." in name or name == "_distutils_hack":
        continue
    f = os.path.realpath(f)
    if os.sep + "site-packages" + os.sep not in f and os.sep + "dist-packages" + os.sep not in f:
        continue
    files[name] = os.path.dirname(f) if os.path.basename(f).startswith("__init__.") else f
print(json.dumps({"version": boto3.__version__, "botocore": botocore.__version__,
    "endpoint_url": "ignore_configured_endpoint_urls" in cp.BOTOCORE_DEFAUT_SESSION_VARIABLES,
    "files": sorted(files.values())}))
`

type pythonSDKSource struct {
	Interpreter string
	Version     string   `json:"version"`
	Botocore    string   `json:"botocore"`
	EndpointURL bool     `json:"endpoint_url"`
	Files       []string `json:"files"`
}

// InstallPythonSDK copies boto3 and its dependencies from a host
// interpreter that has them under runtimeDir (nothing to do when that
// version is there already). It prefers a boto3 that reads
// AWS_ENDPOINT_URL, then the newest. Notes go to out.
func InstallPythonSDK(ctx context.Context, runtimeDir string, out io.Writer) error {
	src, err := findPythonSDK(ctx)
	if err != nil {
		return err
	}
	if !src.EndpointURL {
		fmt.Fprintf(out, "warning: boto3 %s (from %s) ignores AWS_ENDPOINT_URL: functions must pass endpoint_url themselves to reach Nimbus; install a newer boto3 (pip install boto3) and run 'nimbus runtimes install' again\n", src.Version, src.Interpreter)
	}
	name := "python-" + src.Version
	final := filepath.Join(runtimeDir, sdkDir, name)
	if installedVersion(final) == "" {
		if err := os.MkdirAll(filepath.Join(runtimeDir, sdkDir), 0o755); err != nil { //nolint:gosec // sandbox users read the SDK
			return fmt.Errorf("create sdk directory: %w", err)
		}
		stage, err := os.MkdirTemp(filepath.Join(runtimeDir, sdkDir), ".python-*")
		if err != nil {
			return fmt.Errorf("create sdk staging directory: %w", err)
		}
		defer os.RemoveAll(stage) //nolint:errcheck // gone after a successful rename
		for _, f := range src.Files {
			if err := copyTree(f, filepath.Join(stage, filepath.Base(f))); err != nil {
				return fmt.Errorf("copy %s: %w", f, err)
			}
		}
		compilePython(ctx, stage, src.Interpreter)
		if err := os.WriteFile(filepath.Join(stage, completeFile), []byte(src.Version+"\n"), 0o644); err != nil { //nolint:gosec // sandbox users read the SDK
			return fmt.Errorf("mark sdk complete: %w", err)
		}
		if err := readableTree(stage); err != nil {
			return err
		}
		if err := os.Rename(stage, final); err != nil {
			return fmt.Errorf("install sdk: %w", err)
		}
	}
	if err := swapLink(filepath.Join(runtimeDir, PythonSDKLink), name); err != nil {
		return err
	}
	removeOthers(filepath.Join(runtimeDir, sdkDir), "python-", name)
	fmt.Fprintf(out, "boto3 %s (botocore %s) from %s\n", src.Version, src.Botocore, src.Interpreter)
	return nil
}

// compilePython writes the bytecode of dir for every Python interpreter
// this host runs runtimes on: environments see the SDK read-only, so
// without it each cold start would compile botocore again. A failure only
// costs that time.
func compilePython(ctx context.Context, dir, also string) {
	paths := []string{also}
	for _, r := range Catalogue() {
		if strings.HasPrefix(r.Name, FamilyPython) && r.Interpreter != "" && !slices.Contains(paths, r.Interpreter) {
			paths = append(paths, r.Interpreter)
		}
	}
	for _, p := range paths {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		_ = exec.CommandContext(cctx, p, "-m", "compileall", "-q", "-j", "0", "-d", "/var/runtime/"+PythonSDKLink, dir).Run() //nolint:gosec // a host interpreter, constant arguments
		cancel()
	}
}

// findPythonSDK asks each host Python interpreter for its boto3.
func findPythonSDK(ctx context.Context) (*pythonSDKSource, error) {
	var candidates []string
	for _, ip := range Interpreters() {
		if ip.Family == FamilyPython && ip.Path != "" {
			candidates = append(candidates, ip.Path)
		}
	}
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if found, err := exec.LookPath(p); err == nil {
			candidates = append(candidates, found)
		}
	}
	var best *pythonSDKSource
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		b, err := exec.CommandContext(pctx, c, "-I", "-c", pythonSDKProbe).Output() //nolint:gosec // a host interpreter, constant script
		cancel()
		if err != nil {
			continue
		}
		src := &pythonSDKSource{Interpreter: c}
		if json.Unmarshal(b, src) != nil || src.Version == "" || len(src.Files) == 0 {
			continue
		}
		if best == nil || src.EndpointURL && !best.EndpointURL ||
			src.EndpointURL == best.EndpointURL && compareVersions(versionKey(src.Version), versionKey(best.Version)) > 0 {
			best = src
		}
	}
	if best == nil {
		return nil, errors.New("no Python interpreter on this host has boto3: install it (Debian: apt-get install python3-boto3; or pip install boto3) and run 'nimbus runtimes install'")
	}
	return best, nil
}

// swapLink points link at target (relative to link's directory) with a
// rename, so readers see the old or the new target, never none.
func swapLink(link, target string) error {
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	tmp := link + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link sdk: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link sdk: %w", err)
	}
	return nil
}

// removeOthers deletes the versions of one SDK other than keep (and
// staging directories a crash left behind).
func removeOthers(dir, prefix, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if n != keep && e.IsDir() && (strings.HasPrefix(n, prefix) || strings.HasPrefix(n, "."+prefix)) {
			_ = os.RemoveAll(filepath.Join(dir, n))
		}
	}
}

// copyTree copies a file or directory (without __pycache__), following
// no symlinks out of it.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && d.Name() == "__pycache__":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o755) //nolint:gosec // sandbox users read the SDK
		case d.Type().IsRegular():
			b, err := os.ReadFile(p) //nolint:gosec // a host package file
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644) //nolint:gosec // sandbox users read the SDK
		}
		return nil
	})
}

// readableTree makes dir readable by every user (environments run under
// uids of their own), whatever the umask was.
func readableTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm() | 0o444
		if d.IsDir() || fi.Mode().Perm()&0o100 != 0 {
			mode |= 0o111
		}
		if mode != fi.Mode().Perm() {
			return os.Chmod(p, mode) //nolint:gosec // p is in a staging directory only this process writes
		}
		return nil
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
