//go:build linux

package sandbox

import (
	"context"
	"testing"
	"time"
)

// BenchmarkStart starts an environment running /bin/true and waits for it
// to be torn down: the platform's share of a cold start. The unhardened
// variants leave out the isolation layers (network namespace, minimal
// root, uid, capabilities, seccomp), which gives their cost in the same
// run.
func BenchmarkStart(b *testing.B) {
	b.Run("namespaces-spares", func(b *testing.B) { benchSpares(b, false) })
	b.Run("unhardened-spares", func(b *testing.B) { benchSpares(b, true) })
	for _, mode := range []string{"namespaces", "unhardened", "process-group"} {
		if mode != "process-group" && !probe().namespaces {
			continue
		}
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			spec := Spec{
				ID: "bench", Argv: []string{"/bin/true"}, CodeDir: dir, RuntimeDir: dir,
				TmpDir: dir, MemoryMB: 128, Env: []string{"PATH=/usr/bin:/bin"},
				groupOnly: mode == "process-group", Unhardened: mode == "unhardened",
			}
			for b.Loop() {
				p, err := Start(context.Background(), spec)
				if err != nil {
					b.Fatal(err)
				}
				<-p.Done()
				if err := p.ExitErr(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchSpares(b *testing.B, unhardened bool) {
	if !probe().namespaces {
		b.Skip("needs namespaces")
	}
	l := NewLauncher(1)
	if unhardened {
		l = NewUnhardenedLauncher(1)
	}
	defer l.Close() //nolint:errcheck // always nil
	dir := b.TempDir()
	spec := Spec{
		ID: "bench", Argv: []string{"/bin/true"}, CodeDir: dir, RuntimeDir: dir,
		TmpDir: dir, MemoryMB: 128, Env: []string{"PATH=/usr/bin:/bin"},
		Listeners: []Listener{{Port: 9001, Env: "AWS_LAMBDA_RUNTIME_API"}},
	}
	var startNs int64
	n := 0
	for b.Loop() {
		t0 := time.Now()
		p, err := l.Start(context.Background(), spec)
		if err != nil {
			b.Fatal(err)
		}
		startNs += time.Since(t0).Nanoseconds()
		n++
		<-p.Done()
		closeListeners(p.Listeners())
		if err := p.ExitErr(); err != nil {
			b.Fatal(err)
		}
	}
	// Start alone: until the runtime is exec'd (the cold start's share).
	b.ReportMetric(float64(startNs)/float64(n)/1e6, "start-ms/op")
}

// BenchmarkFreezeThaw freezes and thaws a running environment (the pool
// does both around every idle period).
func BenchmarkFreezeThaw(b *testing.B) {
	if !probe().namespaces || probe().cgroups == nil {
		b.Skip("needs cgroups")
	}
	dir := b.TempDir()
	p, err := Start(context.Background(), Spec{
		ID: "bench", Argv: []string{"/bin/sleep", "1000"}, CodeDir: dir, RuntimeDir: dir,
		MemoryMB: 128, Env: []string{"PATH=/usr/bin:/bin"},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill() //nolint:errcheck // benchmark
	for b.Loop() {
		if err := p.Freeze(); err != nil {
			b.Fatal(err)
		}
		if err := p.Thaw(); err != nil {
			b.Fatal(err)
		}
	}
}
