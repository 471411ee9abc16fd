package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// BuildMethod: makefile, as `sam build` runs it: the target
// build-<LogicalId> of the Makefile in the code directory, run by make in
// a scratch copy of that directory with ARTIFACTS_DIR naming the
// (empty) directory whose content becomes the code.
func (b *builder) makeBuild(ctx context.Context, files []file, code string) error {
	if _, err := os.Stat(filepath.Join(b.u.Source, "Makefile")); err != nil {
		return fmt.Errorf("BuildMethod makefile needs a Makefile in %s %s", b.u.Property, b.u.Source)
	}
	scratch, err := os.MkdirTemp(filepath.Dir(code), "make-src-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := copyTree(files, scratch); err != nil {
		return err
	}
	abs, err := filepath.Abs(code)
	if err != nil {
		return err
	}
	env := withEnv(b.opts.Env, "ARTIFACTS_DIR="+abs)
	return b.runTool(ctx, scratch, env, "make", "--no-print-directory", "build-"+b.u.LogicalID, "ARTIFACTS_DIR="+abs)
}

// mavenBuild is sam build's java_maven workflow: `mvn package` in a
// scratch copy, then the compiled classes at the root of the code and the
// runtime dependencies in lib/. Maven needs its repository (Maven Central,
// or a mirror in ~/.m2/settings.xml, or what ~/.m2 already holds); the
// error says so when it is unreachable.
func (b *builder) mavenBuild(ctx context.Context, files []file, code string) error {
	scratch, err := os.MkdirTemp(filepath.Dir(code), "maven-src-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := copyTree(files, scratch); err != nil {
		return err
	}
	abs, err := filepath.Abs(code)
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"-B", "-q", "package", "-DskipTests"},
		{"-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory=" + filepath.Join(abs, "lib")},
	} {
		if err := b.runTool(ctx, scratch, b.opts.Env, "mvn", args...); err != nil {
			return fmt.Errorf("%w\nMaven fetches plugins and dependencies from its repository: make Maven Central or a mirror (~/.m2/settings.xml) reachable, or fill ~/.m2 beforehand", err)
		}
	}
	classes := filepath.Join(scratch, "target", "classes")
	built, err := walkTree(classes)
	if err != nil {
		return fmt.Errorf("mvn package left no target/classes: %w", err)
	}
	return copyTree(built, abs)
}
