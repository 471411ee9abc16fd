package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Python requirements the host's Python already has are taken from it,
// without reaching a package index: a machine without one (air-gapped, or
// with no PIP_INDEX_URL) still builds an application whose packages it
// has. hostPython resolves each requirement of requirements.txt and its
// dependencies (with their markers and extras) against the interpreter's
// installed distributions; when every one is there at a version the
// requirement allows, it copies their files (as their RECORD lists them)
// into the code and says so. Otherwise (a missing package or version, a
// requirement that is a URL, a path or an option, a compiled package whose
// interpreter is not the runtime's version) nothing is copied and pip
// installs as before.

// hostPyScript is run by the interpreter: argv[1] the target directory,
// argv[2] the runtime (python3.12), stdin the requirements as JSON. It
// prints the distributions it copied as JSON and exits 0, or exits 3
// (with the reason on stdout) when the host cannot satisfy them.
const hostPyScript = `
import json, os, shutil, sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:
    try:
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.utils import canonicalize_name
    except ImportError:
        print("no packaging library"); sys.exit(3)

target, runtime = sys.argv[1], sys.argv[2]
same_version = runtime == "python%d.%d" % sys.version_info[:2]
try:
    todo = [(Requirement(r), "") for r in json.load(sys.stdin)]
except Exception as e:
    print("unreadable requirement: %s" % e); sys.exit(3)
found = {}
while todo:
    req, extra = todo.pop()
    if req.marker is not None and not req.marker.evaluate({"extra": extra}):
        continue
    key = canonicalize_name(req.name)
    try:
        dist = found.get(key) or metadata.distribution(req.name)
    except metadata.PackageNotFoundError:
        print("%s is not installed" % req.name); sys.exit(3)
    if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
        print("%s %s does not satisfy %s" % (req.name, dist.version, req)); sys.exit(3)
    if key in found:
        continue
    found[key] = dist
    for dep in dist.requires or []:
        d = Requirement(dep)
        extras = sorted(req.extras) or [""]
        for x in extras:
            if d.marker is None or d.marker.evaluate({"extra": x}):
                todo.append((d, x))
                break
copies = []
for key, dist in sorted(found.items()):
    for f in dist.files or []:
        rel = str(f)
        if rel.startswith("..") or os.path.isabs(rel) or "__pycache__" in rel:
            continue
        if not same_version and (rel.endswith(".so") or rel.endswith(".pyd")):
            print("%s is compiled for this interpreter, not %s" % (dist.metadata["Name"], runtime)); sys.exit(3)
        copies.append((str(dist.locate_file(f)), os.path.join(target, rel)))
for src, dst in copies:
    if not os.path.isfile(src):
        continue
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(src, dst)
print(json.dumps(["%s==%s" % (d.metadata["Name"], d.version) for _, d in sorted(found.items())]))
`

// hostPyInventory lists the interpreter's distributions, for the cache
// key: a package upgraded on the host changes what a build would copy.
const hostPyInventory = `
from importlib import metadata
print(sorted("%s==%s" % (d.metadata["Name"], d.version) for d in metadata.distributions()))
`

// errHostLacks means the host's Python cannot satisfy the requirements.
var errHostLacks = errors.New("the host's Python lacks them")

// fromHostPython copies the requirements from the host's interpreter py
// into target; errHostLacks (wrapped with the reason) when it cannot.
func (b *builder) fromHostPython(ctx context.Context, py, target string, reqs []string) ([]string, error) {
	in, err := json.Marshal(reqs)
	if err != nil {
		return nil, err
	}
	runtime := b.u.Runtime
	if runtime == "" {
		runtime = b.u.BuildMethod
	}
	cmd := command(ctx, b.opts.Env, b.u.Source, py, "-c", hostPyScript, target, runtime)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			return nil, fmt.Errorf("%w: %s", errHostLacks, strings.TrimSpace(string(out)))
		}
		return nil, fmt.Errorf("read the host's Python packages: %w: %s", err, lastLines(stderr.String(), 5))
	}
	var dists []string
	if err := json.Unmarshal(bytes.TrimSpace(out), &dists); err != nil {
		return nil, fmt.Errorf("read the host's Python packages: %w", err)
	}
	return dists, nil
}

// hostPyKey adds the interpreter's distributions to the cache key.
func hostPyKey(ctx context.Context, env []string, py string) (string, error) {
	out, err := command(ctx, env, "", py, "-c", hostPyInventory).Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", py, toolError(py, err))
	}
	return string(bytes.TrimSpace(out)), nil
}
