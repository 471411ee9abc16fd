package build

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

type entry struct {
	mode os.FileMode
	data string
}

func readZip(t *testing.T, name string) map[string]entry {
	t.Helper()
	zr, err := zip.OpenReader(name)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]entry{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !f.Modified.Equal(zipTime) {
			t.Errorf("%s: modified %v, want the fixed %v", f.Name, f.Modified, zipTime)
		}
		out[f.Name] = entry{f.Mode(), string(b)}
	}
	return out
}

func write(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
}

func fn(props map[string]any, metadata map[string]any) *cfn.Resource {
	return &cfn.Resource{Type: TypeServerlessFunction, Properties: props, Metadata: metadata}
}

func buildAll(t *testing.T, tpl *cfn.Template, dir string, opts Options) []Artifact {
	t.Helper()
	arts, err := Template(context.Background(), tpl, dir, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return arts
}

// A Go module with the function in fn/ and a package it imports in lib/,
// outside the CodeUri.
func goModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "go.mod", "module example.com/app\n\ngo 1.22\n")
	write(t, dir, "lib/lib.go", "package lib\n\nconst Greeting = \"hello\"\n")
	write(t, dir, "cmd/fn/main.go", "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/app/lib\"\n)\n\nfunc main() { fmt.Println(lib.Greeting) }\n")
	return dir
}

func goTemplate() *cfn.Template {
	return &cfn.Template{Resources: map[string]*cfn.Resource{
		"Hello": fn(map[string]any{"CodeUri": "cmd/fn/", "Handler": "bootstrap", "Runtime": "provided.al2023"},
			map[string]any{"BuildMethod": "go1.x"}),
	}}
}

func TestGoFunctionBuildsABootstrapAndCachesIt(t *testing.T) {
	requireTool(t, "go")
	dir := goModule(t)
	arts := buildAll(t, goTemplate(), dir, Options{})
	if len(arts) != 1 || arts[0].Cached || arts[0].LogicalID != "Hello" || len(arts[0].SHA256) != 64 {
		t.Fatalf("artifacts = %+v", arts)
	}
	a := arts[0]
	if !strings.HasPrefix(a.Zip, filepath.Join(dir, ".nimbus", "build")) {
		t.Errorf("zip %s is not in the template's .nimbus/build", a.Zip)
	}
	files := readZip(t, a.Zip)
	boot, ok := files["bootstrap"]
	if len(files) != 1 || !ok || boot.mode.Perm() != 0o755 || !strings.HasPrefix(boot.data, "\x7fELF") {
		t.Fatalf("zip entries: %d, bootstrap mode %v, ELF %v", len(files), boot.mode, strings.HasPrefix(boot.data, "\x7fELF"))
	}
	if sum, _, _ := fileSHA256(a.Zip); sum != a.SHA256 {
		t.Errorf("SHA256 %s, zip's is %s", a.SHA256, sum)
	}

	again := buildAll(t, goTemplate(), dir, Options{})
	if !again[0].Cached || again[0].SHA256 != a.SHA256 {
		t.Errorf("second build: cached %v sha %s, want a cache hit with %s", again[0].Cached, again[0].SHA256, a.SHA256)
	}
	// Another cache: built again, to the same bytes.
	fresh := buildAll(t, goTemplate(), dir, Options{CacheDir: t.TempDir()})
	if fresh[0].Cached || fresh[0].SHA256 != a.SHA256 {
		t.Errorf("rebuild in a new cache: cached %v sha %s, want a build with the same sha %s", fresh[0].Cached, fresh[0].SHA256, a.SHA256)
	}

	// A change in a package of the module outside CodeUri is a change.
	write(t, dir, "lib/lib.go", "package lib\n\nconst Greeting = \"bonjour\"\n")
	changed := buildAll(t, goTemplate(), dir, Options{})
	if changed[0].Cached || changed[0].SHA256 == a.SHA256 {
		t.Errorf("after changing lib: cached %v, sha unchanged %v", changed[0].Cached, changed[0].SHA256 == a.SHA256)
	}
}

func TestGoFunctionCompileErrorIsReported(t *testing.T) {
	requireTool(t, "go")
	dir := goModule(t)
	write(t, dir, "cmd/fn/main.go", "package main\n\nfunc main() { undefinedThing() }\n")
	_, err := Template(context.Background(), goTemplate(), dir, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "build Hello") || !strings.Contains(err.Error(), "undefined: undefinedThing") {
		t.Fatalf("err = %v", err)
	}
}

func TestOtherArchitectureIsAClearError(t *testing.T) {
	dir := goModule(t)
	tpl := goTemplate()
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "x86_64"
	}
	tpl.Resources["Hello"].Properties["Architectures"] = []any{other}
	_, err := Template(context.Background(), tpl, dir, nil, Options{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "architecture "+other) {
		t.Fatalf("err = %v", err)
	}
}

func TestGlobalsAndParametersAreUsed(t *testing.T) {
	requireTool(t, "go")
	dir := goModule(t)
	tpl := &cfn.Template{
		Parameters: map[string]*cfn.Parameter{"Arch": {Type: "String", Default: "arm64"}},
		Globals: map[string]any{"Function": map[string]any{
			"CodeUri": "cmd/fn", "Runtime": "provided.al2023", "Architectures": []any{map[string]any{"Ref": "Arch"}},
		}},
		Resources: map[string]*cfn.Resource{
			"A": fn(map[string]any{"Handler": "bootstrap"}, map[string]any{"BuildMethod": "go1.x"}),
			"B": fn(map[string]any{"Handler": "bootstrap"}, map[string]any{"BuildMethod": "go1.x"}),
			"C": fn(map[string]any{"InlineCode": "x", "Runtime": "python3.12", "Handler": "index.h"}, nil),
			"D": fn(map[string]any{"CodeUri": "s3://bucket/key.zip", "Handler": "bootstrap"}, nil),
		},
	}
	units, err := Plan(tpl, dir, map[string]string{"Arch": LambdaArch(runtime.GOARCH)})
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 2 || units[0].LogicalID != "A" || units[1].LogicalID != "B" ||
		units[0].Source != filepath.Join(dir, "cmd", "fn") || units[0].Arch != LambdaArch(runtime.GOARCH) || units[0].Runtime != "provided.al2023" {
		t.Fatalf("units = %+v", units)
	}
	arts, err := Template(context.Background(), tpl, dir, map[string]string{"Arch": LambdaArch(runtime.GOARCH)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if arts[0].Cached || !arts[1].Cached || arts[0].SHA256 != arts[1].SHA256 {
		t.Errorf("two functions of one CodeUri: built %v/%v, shas %s %s; want one build shared", !arts[0].Cached, !arts[1].Cached, arts[0].SHA256, arts[1].SHA256)
	}
	if err := Package(tpl, dir, arts); err != nil {
		t.Fatal(err)
	}
	if got := tpl.Resources["A"].Properties["CodeUri"]; got != "s3://nimbus-artifacts/"+arts[0].SHA256 {
		t.Errorf("A CodeUri = %v", got)
	}
	if _, ok := tpl.Globals["Function"].(map[string]any)["CodeUri"]; ok {
		t.Error("the local Globals CodeUri is still there")
	}
	if got := tpl.Resources["D"].Properties["CodeUri"]; got != "s3://bucket/key.zip" {
		t.Errorf("D CodeUri = %v", got)
	}
}

func TestBootstrapIsPackagedAsIs(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "code/README.txt", "hi")
	if err := os.WriteFile(filepath.Join(dir, "code", "bootstrap"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "code", ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "code/.git/HEAD", "ref")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": fn(map[string]any{"CodeUri": "code", "Handler": "x", "Runtime": "provided.al2"}, nil),
	}}
	arts := buildAll(t, tpl, dir, Options{})
	files := readZip(t, arts[0].Zip)
	if len(files) != 2 || files["bootstrap"].mode.Perm() != 0o755 || files["README.txt"].mode.Perm() != 0o644 || files["README.txt"].data != "hi" {
		t.Errorf("zip = %v", files)
	}

	// Without bootstrap, and without a BuildMethod, it cannot be built.
	if err := os.Remove(filepath.Join(dir, "code", "bootstrap")); err != nil {
		t.Fatal(err)
	}
	if _, err := Template(context.Background(), tpl, dir, nil, Options{}); err == nil || !strings.Contains(err.Error(), "no executable bootstrap") {
		t.Errorf("err = %v", err)
	}
}

func TestUnsupportedBuilds(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "code/build.gradle", "plugins { id 'java' }\n")
	for name, tc := range map[string]struct {
		r    *cfn.Resource
		want string
	}{
		"image":  {fn(map[string]any{"PackageType": "Image", "ImageUri": "x"}, nil), "PackageType Image"},
		"gradle": {fn(map[string]any{"CodeUri": "code", "Runtime": "java21", "Handler": "x"}, nil), "building java21 code with Gradle"},
		"dotnet": {fn(map[string]any{"CodeUri": "code", "Runtime": "dotnet8", "Handler": "x"}, map[string]any{"BuildMethod": "dotnet8"}), "BuildMethod dotnet8"},
		"rust": {fn(map[string]any{"CodeUri": "code", "Runtime": "provided.al2023", "Handler": "x"}, map[string]any{"BuildMethod": "rust-cargolambda"}),
			"BuildMethod rust-cargolambda"},
		"esbuild property": {fn(map[string]any{"CodeUri": "code", "Runtime": "nodejs20.x", "Handler": "x"},
			map[string]any{"BuildMethod": "esbuild", "BuildProperties": map[string]any{"EntryPoints": []any{"a.ts"}, "Tsconfig": "x"}}), "BuildProperties Tsconfig"},
	} {
		t.Run(name, func(t *testing.T) {
			tpl := &cfn.Template{Resources: map[string]*cfn.Resource{"Fn": tc.r}}
			_, err := Template(context.Background(), tpl, dir, nil, Options{})
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Fn") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestMissingCodeUriIsAnError(t *testing.T) {
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": fn(map[string]any{"CodeUri": "nowhere", "Runtime": "python3.12", "Handler": "x"}, nil),
	}}
	if _, err := Plan(tpl, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("err = %v", err)
	}
}

// tgz writes an npm package tarball holding files under package/.
func tgz(t *testing.T, name string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for n, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNodeFunctionInstallsProductionDependencies(t *testing.T) {
	requireTool(t, "npm")
	dir := t.TempDir()
	write(t, dir, "src/index.mjs", "export const handler = async () => 'ok';\n")
	write(t, dir, "src/node_modules/stale/index.js", "left behind")
	tgz(t, filepath.Join(dir, "src", "greet-1.0.0.tgz"), map[string]string{
		"package.json": `{"name":"greet","version":"1.0.0","main":"index.js"}`,
		"index.js":     "module.exports = 'hi';\n",
	})
	tgz(t, filepath.Join(dir, "src", "devtool-1.0.0.tgz"), map[string]string{
		"package.json": `{"name":"devtool","version":"1.0.0","main":"index.js"}`,
		"index.js":     "module.exports = 'dev';\n",
	})
	write(t, dir, "src/package.json", `{"name":"app","version":"1.0.0","dependencies":{"greet":"file:greet-1.0.0.tgz"},"devDependencies":{"devtool":"file:devtool-1.0.0.tgz"}}`)
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": fn(map[string]any{"CodeUri": "src/", "Runtime": "nodejs20.x", "Handler": "index.handler"}, nil),
	}}
	env := append(os.Environ(), "npm_config_offline=true", "npm_config_cache="+t.TempDir())
	arts := buildAll(t, tpl, dir, Options{Env: env})
	files := readZip(t, arts[0].Zip)
	if files["node_modules/greet/index.js"].data != "module.exports = 'hi';\n" {
		t.Errorf("greet not installed; entries: %v", keys(files))
	}
	if _, ok := files["node_modules/devtool/index.js"]; ok {
		t.Error("a dev dependency was installed")
	}
	if _, ok := files["node_modules/stale/index.js"]; ok {
		t.Error("the source's node_modules was copied")
	}
	if _, ok := files["index.mjs"]; !ok {
		t.Errorf("source not copied: %v", keys(files))
	}
}

func TestNodeWithoutDependenciesNeedsNoNpm(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "index.js", "exports.handler = async () => 1;\n")
	write(t, dir, "package.json", `{"name":"x"}`)
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": fn(map[string]any{"Runtime": "nodejs22.x", "Handler": "index.handler"}, nil), // CodeUri defaults to "."
	}}
	arts := buildAll(t, tpl, dir, Options{Env: []string{"PATH=/nonexistent"}})
	if files := readZip(t, arts[0].Zip); len(files) != 2 {
		t.Errorf("entries: %v (the cache must not be zipped)", keys(files))
	}
}

func keys(m map[string]entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// wheel writes a minimal pure-Python wheel of package name.
func wheel(t *testing.T, dir, name string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name+"-1.0-py3-none-any.whl"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for n, c := range map[string]string{
		name + "/__init__.py":                 "VALUE = 42\n",
		name + "-1.0.dist-info/METADATA":      "Metadata-Version: 2.1\nName: " + name + "\nVersion: 1.0\n",
		name + "-1.0.dist-info/WHEEL":         "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		name + "-1.0.dist-info/RECORD":        "",
		name + "-1.0.dist-info/top_level.txt": name + "\n",
	} {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPythonFunctionInstallsRequirements(t *testing.T) {
	requireTool(t, "python3")
	if exec.Command("python3", "-m", "pip", "--version").Run() != nil {
		t.Skip("pip not installed")
	}
	dir, wheels := t.TempDir(), t.TempDir()
	wheel(t, wheels, "tinylib")
	write(t, dir, "app/app.py", "import tinylib\ndef handler(e, c):\n    return tinylib.VALUE\n")
	write(t, dir, "app/__pycache__/app.cpython-311.pyc", "junk")
	write(t, dir, "app/requirements.txt", "# deps\ntinylib==1.0  # pinned\n")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": fn(map[string]any{"CodeUri": "app", "Runtime": "python3.12", "Handler": "app.handler"}, nil),
	}}
	env := withEnv(os.Environ(), "PIP_NO_INDEX=1", "PIP_FIND_LINKS="+wheels)
	arts := buildAll(t, tpl, dir, Options{Env: env})
	files := readZip(t, arts[0].Zip)
	if files["tinylib/__init__.py"].data != "VALUE = 42\n" || files["app.py"].data == "" {
		t.Errorf("entries: %v", keys(files))
	}
	if _, ok := files["__pycache__/app.cpython-311.pyc"]; ok {
		t.Error("__pycache__ was packaged")
	}

	// A requirement no index has: the error names it and carries pip's words.
	write(t, dir, "app/requirements.txt", "tinylib==1.0\nnot-a-package-anywhere>=2\n")
	_, err := Template(context.Background(), tpl, dir, nil, Options{Env: env})
	if err == nil || !strings.Contains(err.Error(), "not-a-package-anywhere>=2") || !strings.Contains(err.Error(), "No matching distribution") ||
		!strings.Contains(err.Error(), "PIP_INDEX_URL") {
		t.Errorf("err = %v", err)
	}
}

func TestPythonLayerGoesUnderPython(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "layer/shared.py", "X = 1\n")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Shared": {Type: TypeServerlessLayer, Properties: map[string]any{"ContentUri": "layer"}, Metadata: map[string]any{"BuildMethod": "python3.12"}},
		"Raw":    {Type: TypeLambdaLayer, Properties: map[string]any{"Content": "layer"}},
	}}
	arts := buildAll(t, tpl, dir, Options{})
	byID := map[string]Artifact{}
	for _, a := range arts {
		byID[a.LogicalID] = a
	}
	if f := readZip(t, byID["Shared"].Zip); f["python/shared.py"].data != "X = 1\n" {
		t.Errorf("Shared: %v", keys(f))
	}
	if f := readZip(t, byID["Raw"].Zip); f["shared.py"].data != "X = 1\n" {
		t.Errorf("Raw: %v", keys(f))
	}
	if err := Package(tpl, dir, arts); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"S3Bucket": "nimbus-artifacts", "S3Key": byID["Raw"].SHA256}
	if got, _ := tpl.Resources["Raw"].Properties["Content"].(map[string]any); got["S3Bucket"] != want["S3Bucket"] || got["S3Key"] != want["S3Key"] {
		t.Errorf("Raw Content = %v", tpl.Resources["Raw"].Properties["Content"])
	}
	if got := tpl.Resources["Shared"].Properties["ContentUri"]; got != "s3://nimbus-artifacts/"+byID["Shared"].SHA256 {
		t.Errorf("Shared ContentUri = %v", got)
	}
}

func TestZipFileIsUsedAsIs(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "fn.zip", "PK fake")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": {Type: TypeLambdaFunction, Properties: map[string]any{"Code": "fn.zip", "Runtime": "python3.12", "Handler": "a.b"}},
	}}
	arts := buildAll(t, tpl, dir, Options{})
	if arts[0].Zip != filepath.Join(dir, "fn.zip") || arts[0].Size != 7 {
		t.Errorf("artifact = %+v", arts[0])
	}
}

func TestDefinitionUriIsInlined(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "api.yaml", "openapi: 3.0.1\npaths:\n  /hi:\n    get: {}\n")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Api": {Type: "AWS::Serverless::HttpApi", Properties: map[string]any{"DefinitionUri": "api.yaml"}},
	}}
	if err := Package(tpl, dir, nil); err != nil {
		t.Fatal(err)
	}
	body, _ := tpl.Resources["Api"].Properties["DefinitionBody"].(map[string]any)
	if body["openapi"] != "3.0.1" || tpl.Resources["Api"].Properties["DefinitionUri"] != nil {
		t.Errorf("properties = %v", tpl.Resources["Api"].Properties)
	}
}

// TestStateMachineDefinitionUriIsInlined: a SAM state machine's local
// Amazon States Language file (YAML here) becomes its Definition.
func TestStateMachineDefinitionUriIsInlined(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "flow.asl.yaml", "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Result: ${Greeting}\n    End: true\n")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Flow":   {Type: "AWS::Serverless::StateMachine", Properties: map[string]any{"DefinitionUri": "flow.asl.yaml"}},
		"Remote": {Type: "AWS::Serverless::StateMachine", Properties: map[string]any{"DefinitionUri": "s3://b/flow.json"}},
	}}
	if err := Package(tpl, dir, nil); err != nil {
		t.Fatal(err)
	}
	def, _ := tpl.Resources["Flow"].Properties["Definition"].(map[string]any)
	if def["StartAt"] != "A" || tpl.Resources["Flow"].Properties["DefinitionUri"] != nil {
		t.Errorf("properties = %v", tpl.Resources["Flow"].Properties)
	}
	if tpl.Resources["Remote"].Properties["DefinitionUri"] != "s3://b/flow.json" {
		t.Errorf("an s3:// DefinitionUri was changed: %v", tpl.Resources["Remote"].Properties)
	}
	write(t, dir, "bad.json", "[1, 2]")
	tpl = &cfn.Template{Resources: map[string]*cfn.Resource{
		"Bad": {Type: "AWS::Serverless::StateMachine", Properties: map[string]any{"DefinitionUri": "bad.json"}}}}
	if err := Package(tpl, dir, nil); err == nil || !strings.Contains(err.Error(), "not a state machine definition") {
		t.Errorf("a definition that is not an object: %v", err)
	}
}

func TestSymlinkedFilesAreFollowed(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "shared/util.py", "U = 1\n")
	write(t, dir, "app/app.py", "x")
	if err := os.Symlink(filepath.Join(dir, "shared"), filepath.Join(dir, "app", "shared")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "app"), filepath.Join(dir, "app", "loop")); err != nil {
		t.Fatal(err)
	}
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": fn(map[string]any{"CodeUri": "app", "Runtime": "python3.12", "Handler": "app.handler"}, nil),
	}}
	arts := buildAll(t, tpl, dir, Options{})
	if f := readZip(t, arts[0].Zip); f["shared/util.py"].data != "U = 1\n" || len(f) != 2 {
		t.Errorf("entries: %v", keys(f))
	}
}

func TestNoBuildPackagesSourcesAsTheyAre(t *testing.T) {
	dir := goModule(t)
	units, err := Plan(goTemplate(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Build(context.Background(), units[0], Options{NoBuild: true, Env: []string{"PATH=/nonexistent"}})
	if err != nil {
		t.Fatal(err)
	}
	if f := readZip(t, a.Zip); len(f) != 1 || f["main.go"].data == "" {
		t.Errorf("entries: %v, want main.go as it is", keys(f))
	}
}

func TestPruneRemovesUnusedBuilds(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "code/app.py", "x")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": fn(map[string]any{"CodeUri": "code", "Runtime": "python3.12", "Handler": "app.h"}, nil),
	}}
	cache := filepath.Join(dir, ".nimbus", "build")
	old := filepath.Join(cache, "0000old")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-2 * CacheMaxAge)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	a := buildAll(t, tpl, dir, Options{})[0]
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an entry unused for %v is still there: %v", 2*CacheMaxAge, err)
	}
	// An old entry that is hit is used again, and kept.
	entry := filepath.Dir(a.Zip)
	if err := os.Chtimes(entry, long, long); err != nil {
		t.Fatal(err)
	}
	if b := buildAll(t, tpl, dir, Options{})[0]; !b.Cached || b.SHA256 != a.SHA256 {
		t.Errorf("second build: %+v", b)
	}
	if _, err := os.Stat(a.Zip); err != nil {
		t.Errorf("the entry just used was pruned: %v", err)
	}
}

// TestMavenBuild: a Java function with a pom.xml is built with mvn
// package; where Maven or its repository is missing, the error names what
// to provide.
func TestMavenBuild(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "code/pom.xml", `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>ex</groupId><artifactId>h</artifactId><version>1</version>
<properties><maven.compiler.release>17</maven.compiler.release></properties></project>
`)
	write(t, dir, "code/src/main/java/ex/H.java", "package ex; public class H { public String handleRequest(String s) { return s; } }\n")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{"Fn": fn(map[string]any{"CodeUri": "code", "Runtime": "java21", "Handler": "ex.H::handleRequest"}, nil)}}
	arts, err := Template(context.Background(), tpl, dir, nil, Options{CacheDir: filepath.Join(dir, "cache")})
	switch {
	case err == nil:
		if files := readZip(t, arts[0].Zip); files["ex/H.class"].data == "" {
			t.Errorf("zip has no ex/H.class: %v", files)
		}
	case errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "mvn is not installed"):
	case !strings.Contains(err.Error(), "Maven fetches plugins and dependencies from its repository"):
		t.Errorf("err = %v, want the remedy named", err)
	}
}

// TestPythonRequirementsFromTheHost: requirements the host's Python
// already has (here jmespath, a dependency of boto3, and six) are copied
// from it with no index reachable; one it lacks still goes to pip, whose
// failure names the packages and the remedy.
func TestPythonRequirementsFromTheHost(t *testing.T) {
	py := pythonFor(context.Background(), "python3.12", os.Environ())
	if err := exec.Command(py, "-c", "import jmespath, six").Run(); err != nil { //nolint:gosec // test
		t.Skipf("the host's Python has no jmespath and six: %v", err)
	}
	dir := t.TempDir()
	write(t, dir, "app/app.py", "import jmespath\n")
	write(t, dir, "app/requirements.txt", "# from the host\njmespath>=1.0\nsix ; python_version >= '3'\n")
	tpl := &cfn.Template{Resources: map[string]*cfn.Resource{
		"Fn": fn(map[string]any{"CodeUri": "app", "Runtime": "python3.12", "Handler": "app.handler"}, nil),
	}}
	// No index: pip would fail.
	env := withEnv(os.Environ(), "PIP_INDEX_URL=http://127.0.0.1:1/simple", "PIP_NO_INDEX=1")
	var out bytes.Buffer
	arts := buildAll(t, tpl, dir, Options{Env: env, Output: &out})
	files := readZip(t, arts[0].Zip)
	if files["jmespath/__init__.py"].data == "" || files["six.py"].data == "" {
		t.Errorf("entries: %v", keys(files))
	}
	if !strings.Contains(out.String(), "requirements satisfied from the host's Python") || !strings.Contains(out.String(), "jmespath==") {
		t.Errorf("output %q", out.String())
	}

	write(t, dir, "app/requirements.txt", "jmespath\nno-such-package-on-this-host==9.9\n")
	_, err := Template(context.Background(), tpl, dir, nil, Options{Env: env})
	if err == nil || !strings.Contains(err.Error(), "no-such-package-on-this-host==9.9") || !strings.Contains(err.Error(), "PIP_INDEX_URL") {
		t.Errorf("err = %v", err)
	}
}
