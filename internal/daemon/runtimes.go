package daemon

import (
	"log/slog"
	"path/filepath"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/runtimes"
)

// runtimeCatalog adapts package runtimes to the small interfaces the pool
// and the Lambda API define for themselves. The Lambda API's copy checks
// the interpreter's version (--runtime-version-check): a runtime whose
// interpreter is older than the language version it declares is logged
// (warn) or refused (refuse) when a function is created or its runtime
// changed; the pool's copy runs what exists.
type runtimeCatalog struct {
	versionCheck string // "", "warn" or "refuse"
	log          *slog.Logger
}

func (c runtimeCatalog) Lookup(name string) (*runtimes.Runtime, error) {
	r, err := runtimes.Lookup(name)
	if err != nil || c.versionCheck == "" {
		return r, err
	}
	if msg := r.OlderInterpreter(); msg != "" {
		if c.versionCheck == "refuse" {
			return nil, awsapi.InvalidParameter("%s This server refuses such functions (--runtime-version-check refuse).", msg)
		}
		c.log.Warn("runtime interpreter older than the runtime", "runtime", name, "detail", msg)
	}
	return r, nil
}

func (runtimeCatalog) WriteFiles(dir string) error { return runtimes.WriteFiles(dir) }

// RuntimeDir is where a node whose data directory is dataDir keeps the
// runtime files environments see at /var/runtime (the pool's runtime
// directory under its worker directory), the runtime SDKs among them.
func RuntimeDir(dataDir string) string {
	return filepath.Join(workerDir(dataDir), "runtime")
}

func workerDir(dataDir string) string { return filepath.Join(dataDir, "worker") }
