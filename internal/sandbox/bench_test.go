package sandbox

import (
	"context"
	"testing"
)

// BenchmarkStart starts an environment running /bin/true and waits for it
// to be torn down: the platform's share of a cold start.
func BenchmarkStart(b *testing.B) {
	b.Run("namespaces-spares", func(b *testing.B) {
		if !probe().namespaces {
			b.Skip("needs namespaces")
		}
		l := NewLauncher(1)
		defer l.Close() //nolint:errcheck // always nil
		dir := b.TempDir()
		spec := Spec{
			ID: "bench", Argv: []string{"/bin/true"}, CodeDir: dir, RuntimeDir: dir,
			TmpDir: dir, MemoryMB: 128, Env: []string{"PATH=/usr/bin:/bin"},
		}
		for b.Loop() {
			p, err := l.Start(context.Background(), spec)
			if err != nil {
				b.Fatal(err)
			}
			<-p.Done()
		}
	})
	for _, groupOnly := range []bool{false, true} {
		name := "namespaces"
		if groupOnly {
			name = "process-group"
		} else if !probe().namespaces {
			continue
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			spec := Spec{
				ID: "bench", Argv: []string{"/bin/true"}, CodeDir: dir, RuntimeDir: dir,
				TmpDir: dir, MemoryMB: 128, Env: []string{"PATH=/usr/bin:/bin"}, groupOnly: groupOnly,
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
