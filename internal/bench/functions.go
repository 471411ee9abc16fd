package bench

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The managed-runtime no-op functions: they return null, unless the event
// asks them to hold their environment ("sleep_ms") or to report their own
// proportional set size ("rss"), like examples/noop-go.
const pythonNoop = `import os, time

def _pss_kb():
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def handler(event, context):
    if event and event.get("sleep_ms"):
        started = time.time_ns()
        time.sleep(event["sleep_ms"] / 1000)
        return {"started": started, "env": os.getpid()}
    if event and event.get("rss"):
        return {"pss_kb": _pss_kb()}
    return None
`

const nodeNoop = `import { readFileSync } from "node:fs";

function pssKB() {
  try {
    const m = readFileSync("/proc/self/smaps_rollup", "utf8").match(/^Pss:\s+(\d+)/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export const handler = async (event) => {
  if (event && event.sleep_ms) {
    const started = Date.now() * 1e6;
    await new Promise((r) => setTimeout(r, event.sleep_ms));
    return { started, env: process.pid };
  }
  if (event && event.rss) return { pss_kb: pssKB() };
  return null;
};
`

// zipFiles is a deployment package of files (name -> content, mode).
func zipFiles(files map[string][]byte, exec bool) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if exec {
			h.SetMode(0o755)
		} else {
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", name, err)
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("zip %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	return buf.Bytes(), nil
}

// goNoopZip builds examples/noop-go (found under src, or under the module
// root of the current directory) with the local Go toolchain, as it would
// be built for AWS, and zips the bootstrap.
func goNoopZip(ctx context.Context, src string) ([]byte, error) {
	if src == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		if err != nil || gomod == "" || gomod == os.DevNull {
			return nil, errors.New("build the Go no-op function: run nimbus bench inside the nimbus source tree, or pass --go-source")
		}
		src = filepath.Join(filepath.Dir(gomod), "examples", "noop-go")
	}
	dir, err := os.MkdirTemp("", "nimbus-bench-build-")
	if err != nil {
		return nil, fmt.Errorf("build the Go no-op function: %w", err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // temporary
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", bin, ".") // #nosec G204 -- fixed arguments
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the Go no-op function in %s: %w\n%s", src, err, out)
	}
	data, err := os.ReadFile(bin) // #nosec G304 -- our temp file
	if err != nil {
		return nil, fmt.Errorf("build the Go no-op function: %w", err)
	}
	return zipFiles(map[string][]byte{"bootstrap": data}, true)
}

// javaNoop is the Java no-op function, a Class::method handler of maps
// that needs no library (aws-lambda-java-core is only needed for Context).
const javaNoop = `package bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

public class Noop {
    public Map<String, Object> handle(Map<String, Object> event) throws Exception {
        if (event != null && event.get("sleep_ms") instanceof Number) {
            long started = System.currentTimeMillis() * 1_000_000L;
            Thread.sleep(((Number) event.get("sleep_ms")).longValue());
            return Map.of("started", started, "env", ProcessHandle.current().pid());
        }
        if (event != null && Boolean.TRUE.equals(event.get("rss"))) {
            long pss = 0;
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/smaps_rollup"))) {
                    if (line.startsWith("Pss:")) {
                        pss = Long.parseLong(line.split("\\s+")[1]);
                    }
                }
            } catch (Exception e) {
                // not Linux
            }
            return Map.of("pss_kb", pss);
        }
        return null;
    }
}
`

// javaNoopZip compiles javaNoop with the javac of the oldest JDK that has
// one; "" with a nil error when this host has none.
func javaNoopZip(ctx context.Context, jdks []string) ([]byte, error) {
	var javac string
	for _, home := range jdks {
		if p := filepath.Join(home, "bin", "javac"); fileExists(p) {
			javac = p
			break
		}
	}
	if javac == "" {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "nimbus-bench-java-")
	if err != nil {
		return nil, fmt.Errorf("build the Java no-op function: %w", err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // temporary
	src := filepath.Join(dir, "Noop.java")
	if err := os.WriteFile(src, []byte(javaNoop), 0o600); err != nil {
		return nil, fmt.Errorf("build the Java no-op function: %w", err)
	}
	out, err := exec.CommandContext(ctx, javac, "--release", "17", "-d", filepath.Join(dir, "classes"), src).CombinedOutput() // #nosec G204 -- the host's javac, fixed arguments
	if err != nil {
		return nil, fmt.Errorf("build the Java no-op function: %w\n%s", err, out)
	}
	class, err := os.ReadFile(filepath.Join(dir, "classes", "bench", "Noop.class")) // #nosec G304 -- our temp file
	if err != nil {
		return nil, fmt.Errorf("build the Java no-op function: %w", err)
	}
	return zipFiles(map[string][]byte{"bench/Noop.class": class}, false)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
