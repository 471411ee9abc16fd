package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Protection is one isolation layer and whether environments get it on
// this machine.
type Protection struct {
	Name   string
	Active bool
	// Detail says how it applies, or why it does not.
	Detail string
}

// Protections lists the isolation layers and which are active for the
// environments this process starts (for the server's startup log and
// `nimbus doctor`).
func Protections() []Protection { return protections(probe()) }

// Verify starts one environment with every layer this machine allows
// (running /bin/true), to prove that they really apply here, not only that
// the kernel advertises them.
func Verify(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "nimbus-doctor-")
	if err != nil {
		return fmt.Errorf("verify sandbox: %w", err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // a temporary directory
	for _, d := range []string{"code", "runtime"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("verify sandbox: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := Start(ctx, Spec{
		ID: "doctor", Argv: []string{"/bin/true"}, Env: []string{"PATH=/usr/bin:/bin"},
		CodeDir: filepath.Join(dir, "code"), RuntimeDir: filepath.Join(dir, "runtime"),
		TmpDir: filepath.Join(dir, "code"), MemoryMB: 128, TmpMB: 16,
		Listeners: []Listener{{Port: 9001}},
	})
	if err != nil {
		return fmt.Errorf("verify sandbox: %w", err)
	}
	for _, ln := range p.Listeners() {
		_ = ln.Close()
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		_ = p.Kill()
		return fmt.Errorf("verify sandbox: %w", ctx.Err())
	}
	if err := p.ExitErr(); err != nil {
		return fmt.Errorf("verify sandbox: /bin/true in an environment: %w", err)
	}
	return nil
}
