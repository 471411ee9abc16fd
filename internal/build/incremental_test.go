package build

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIncrementalGoBuild: with Options.Incremental a Go unit is built in
// place: an edit gives new code, an unchanged tree the same SHA-256 (so
// dev skips the update), and the zip holds the bootstrap as a deploy's
// does.
func TestIncrementalGoBuild(t *testing.T) {
	requireTool(t, "go")
	dir := goModule(t)
	inc := filepath.Join(dir, ".nimbus", "dev")
	opts := Options{Incremental: inc}
	a := buildAll(t, goTemplate(), dir, opts)[0]
	if !strings.HasPrefix(a.Zip, inc) || a.Cached {
		t.Fatalf("artifact %+v: want a build under %s", a, inc)
	}
	files := readZip(t, a.Zip)
	boot, ok := files["bootstrap"]
	if len(files) != 1 || !ok || boot.mode.Perm() != 0o755 || !strings.HasPrefix(boot.data, "\x7fELF") {
		t.Fatalf("zip entries: %d, bootstrap mode %v", len(files), boot.mode)
	}
	if sum, _, _ := fileSHA256(a.Zip); sum != a.SHA256 {
		t.Errorf("SHA256 %s, zip's is %s", a.SHA256, sum)
	}
	// Nothing changed: the same bytes.
	if again := buildAll(t, goTemplate(), dir, opts)[0]; again.SHA256 != a.SHA256 {
		t.Errorf("unchanged tree: sha %s, want %s", again.SHA256, a.SHA256)
	}
	// A change in a package the function imports is a change.
	write(t, dir, "lib/lib.go", "package lib\n\nconst Greeting = \"bonjour\"\n")
	changed := buildAll(t, goTemplate(), dir, opts)[0]
	if changed.SHA256 == a.SHA256 || !strings.Contains(readZip(t, changed.Zip)["bootstrap"].data, "bonjour") {
		t.Errorf("after changing lib: sha unchanged %v", changed.SHA256 == a.SHA256)
	}
	// A compile error is reported as without Incremental.
	write(t, dir, "lib/lib.go", "package lib\n\nconst Greeting = \n")
	if _, err := Template(context.Background(), goTemplate(), dir, nil, opts); err == nil || !strings.Contains(err.Error(), "lib.go") {
		t.Errorf("compile error: %v", err)
	}
}

// TestIncrementalGoDebugBuild: a unit named in Options.Debug is built
// for a debugger (DWARF, no optimisation: the build info records the
// flags); the others without DWARF.
func TestIncrementalGoDebugBuild(t *testing.T) {
	requireTool(t, "go")
	dir := goModule(t)
	opts := Options{Incremental: filepath.Join(dir, ".nimbus", "dev")}
	a := buildAll(t, goTemplate(), dir, opts)[0]
	plain := readZip(t, a.Zip)["bootstrap"].data // the zip is rewritten in place
	opts.Debug = map[string]bool{a.LogicalID: true}
	debug := readZip(t, buildAll(t, goTemplate(), dir, opts)[0].Zip)["bootstrap"].data
	for _, c := range []struct {
		bootstrap string
		dwarf     bool
	}{{plain, false}, {debug, true}} {
		boot := []byte(c.bootstrap)
		f, err := elf.NewFile(bytes.NewReader(boot))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil; got != c.dwarf {
			t.Errorf("debug %v: DWARF %v", c.dwarf, got)
		}
		bi, err := buildinfo.Read(bytes.NewReader(boot))
		if err != nil {
			t.Fatal(err)
		}
		gcflags := ""
		for _, s := range bi.Settings {
			if s.Key == "-gcflags" {
				gcflags = s.Value
			}
		}
		if (gcflags == "all=-N -l") != c.dwarf {
			t.Errorf("debug %v: -gcflags %q", c.dwarf, gcflags)
		}
	}
}

// BenchmarkGoRebuild is a Go function's rebuild after an edit of its
// code, as deploy's build does it (the cache's key, a fresh go build,
// default compression) and as `nimbus dev` does it (Incremental), beside
// go build alone of the same function with dev's flags (dev's own cost is
// the difference: plan, zip, hash) and two floors with those flags: go
// build of an unchanged hello-world main (the go command's own cost: load,
// hash, no compile or link) and of an edited one (compile and link of a
// minimal program). (GOGC=200, 400 or off for the go tools made no
// difference beyond the noise.) Each iteration runs every way once, one after the
// other, so a load that changes during the run weighs on all alike; each
// is reported as <way>-ms/op:
//
//	go test -run '^$' -bench GoRebuild -benchtime 10x ./internal/build/
func BenchmarkGoRebuild(b *testing.B) {
	app := map[string]string{
		"go.mod":         "module example.com/app\n\ngo 1.22\n",
		"lib/lib.go":     "package lib\n\nconst Greeting = \"hello\"\n",
		"cmd/fn/main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\n\t\"example.com/app/lib\"\n)\n\nfunc main() { fmt.Println(lib.Greeting, http.DefaultClient) }\n",
	}
	type way struct {
		name  string
		build func(i int) // edit (for i > 0) and build
		total time.Duration
	}
	var ways []*way
	for _, mode := range []string{"deploy", "dev", "gobuild"} {
		dir := b.TempDir()
		for name, content := range app {
			write(b, dir, name, content)
		}
		opts := Options{}
		if strings.HasPrefix(mode, "dev") {
			opts.Incremental = filepath.Join(dir, ".nimbus", "dev")
		}
		args := append(append([]string{"build"}, goBuildFlags(false)...), goTags...)
		args = append(args, "-o", filepath.Join(dir, "bootstrap"), ".")
		ways = append(ways, &way{name: mode, build: func(i int) {
			if i > 0 {
				write(b, dir, "lib/lib.go", fmt.Sprintf("package lib\n\nconst Greeting = \"hello %d\"\n", i))
			}
			if mode == "gobuild" {
				goBuildIn(b, filepath.Join(dir, "cmd", "fn"), args)
				return
			}
			if _, err := Template(context.Background(), goTemplate(), dir, nil, opts); err != nil {
				b.Fatal(err)
			}
		}})
	}
	for _, mode := range []string{"floor-unchanged", "floor-edit"} {
		dir := b.TempDir()
		write(b, dir, "go.mod", "module example.com/hello\n\ngo 1.22\n")
		args := append(append([]string{"build"}, goBuildFlags(false)...), goTags...)
		args = append(args, "-o", filepath.Join(dir, "bootstrap"), ".")
		ways = append(ways, &way{name: mode, build: func(i int) {
			if i == 0 || mode == "floor-edit" {
				write(b, dir, "main.go", fmt.Sprintf("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello %d\") }\n", i))
			}
			goBuildIn(b, dir, args)
		}})
	}
	for _, w := range ways {
		w.build(0)
	}
	i := 0
	for b.Loop() {
		i++
		for _, w := range ways {
			t0 := time.Now()
			w.build(i)
			w.total += time.Since(t0)
		}
	}
	for _, w := range ways {
		b.ReportMetric(float64(w.total.Milliseconds())/float64(i), w.name+"-ms/op")
	}
}

// goBuildIn runs go with args in dir as the builder does (linux, no cgo).
func goBuildIn(b *testing.B, dir string, args []string) {
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, withEnv(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goArch(LambdaArch(runtime.GOARCH)))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
}
