// Package nimbus_test holds repository-wide checks: every package has a doc
// comment, and imports respect the boundaries docs/ARCHITECTURE.md draws.
package nimbus_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/nimbus-serverless/nimbus/"

type pkgInfo struct {
	hasDoc  bool
	imports map[string]bool // module-internal imports of non-test files
}

func loadPackages(t *testing.T) map[string]*pkgInfo {
	t.Helper()
	pkgs := map[string]*pkgInfo{}
	for _, root := range []string{"cmd", "internal", "examples"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.ParseComments)
			if err != nil {
				return err
			}
			dir := filepath.ToSlash(filepath.Dir(path))
			p := pkgs[dir]
			if p == nil {
				p = &pkgInfo{imports: map[string]bool{}}
				pkgs[dir] = p
			}
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				p.hasDoc = true
			}
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				if rest, ok := strings.CutPrefix(ip, module); ok {
					p.imports[rest] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return pkgs
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for dir, p := range loadPackages(t) {
		if !p.hasDoc {
			t.Errorf("package %s has no doc comment saying what it owns and who may import it", dir)
		}
	}
}

// allowed lists, for the packages whose place matters most, the only
// module-internal packages they may import.
var allowed = map[string][]string{
	"internal/awsapi":     {},
	"internal/function":   {"internal/awsapi"},
	"internal/invoke":     {"internal/function", "internal/awsapi"},
	"internal/code":       {"internal/awsapi", "internal/function"},
	"internal/config":     {},
	"internal/store":      {},
	"internal/logstore":   {},
	"internal/logsapi":    {"internal/awsapi", "internal/logstore"},
	"internal/runtimeapi": {"internal/awsapi"},
	"internal/runtimes":   {"internal/awsapi"},
	"internal/sandbox":    {},
	"internal/registry":   {"internal/awsapi", "internal/function", "internal/code", "internal/store"},
	"internal/lambdaapi":  {"internal/awsapi", "internal/function", "internal/code", "internal/invoke", "internal/registry", "internal/runtimes", "internal/trace", "internal/async"},
	"internal/trace":      {},
	"internal/httpevent":  {},
	"internal/telemetry":  {"internal/function", "internal/invoke", "internal/trace"},
	"internal/apigw":      {"internal/awsapi", "internal/function", "internal/invoke", "internal/httpevent", "internal/store", "internal/trace", "internal/yamldoc"},
	"internal/cost":       {"internal/function", "internal/invoke"},
	"internal/funcurl":    {"internal/awsapi", "internal/function", "internal/httpevent", "internal/invoke", "internal/trace"},
	"internal/async":      {"internal/awsapi", "internal/function", "internal/invoke"},
	"internal/bench":      {"internal/config", "internal/daemon", "internal/runtimes", "internal/sandbox"},
	"internal/sigv4":      {},
	"internal/ingress":    {},
	"internal/cfn":        {"internal/yamldoc"},
	"internal/yamldoc":    {},
	"internal/build":      {"internal/cfn", "internal/yamldoc"},
	"internal/sam":        {"internal/cfn"},
	"internal/stack":      {"internal/awsapi", "internal/cfn", "internal/sam", "internal/store"},
	"internal/resource":   {"internal/stack", "internal/awsapi", "internal/yamldoc"},
	"internal/auth":       {"internal/awsapi", "internal/sigv4"},
	"internal/cfnapi":     {"internal/awsapi", "internal/cfn", "internal/stack"},
	"internal/sqs":        {"internal/auth", "internal/awsapi"},
	"internal/esm":        {"internal/awsapi", "internal/eventpattern", "internal/function", "internal/invoke"},
	"internal/events":     {"internal/async", "internal/awsapi", "internal/eventpattern", "internal/function"},
	"internal/pool":       {"internal/awsapi", "internal/function", "internal/code", "internal/invoke", "internal/runtimeapi", "internal/runtimes", "internal/sandbox"},

	// leaves that services import
	"internal/eventpattern": {},
}

// importedOnlyBy lists packages that only the named packages may import.
var importedOnlyBy = map[string][]string{
	"internal/daemon":    {"internal/cli", "internal/bench"},
	"internal/cli":       {"cmd/nimbus"},
	"internal/config":    {"internal/cli", "internal/daemon", "internal/bench"},
	"internal/bench":     {"internal/cli"},
	"internal/telemetry": {"internal/daemon"},
	"internal/cost":      {"internal/daemon", "internal/cli"},
	"internal/logsapi":   {"internal/daemon"},
	"internal/events":    {"internal/daemon"},
	"internal/ingress":   {"internal/daemon"},
	"internal/logstore":  {"internal/daemon", "internal/logsapi"},
}

func TestImportBoundaries(t *testing.T) {
	pkgs := loadPackages(t)
	for pkg, ok := range allowed {
		p := pkgs[pkg]
		if p == nil {
			t.Errorf("package %s listed in allowed does not exist", pkg)
			continue
		}
		for imp := range p.imports {
			if !slices.Contains(ok, imp) {
				t.Errorf("%s imports %s, which its boundary does not allow (allowed: %v)", pkg, imp, ok)
			}
		}
	}
	for pkg, importers := range importedOnlyBy {
		for dir, p := range pkgs {
			if p.imports[pkg] && !slices.Contains(importers, dir) {
				t.Errorf("%s imports %s; only %v may", dir, pkg, importers)
			}
		}
	}
}
