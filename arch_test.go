// Package nimbus_test holds repository-wide checks: every package has a doc
// comment, imports respect the boundaries docs/ARCHITECTURE.md draws, and
// the package docs say what the boundaries are (tailscale's deptest).
package nimbus_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/nimbus-serverless/nimbus/"

type pkgInfo struct {
	hasDoc     bool
	doc        string          // the package doc comment's text
	imports    map[string]bool // module-internal imports of non-test files
	thirdParty map[string]bool // imports outside the module and the standard library
}

// loadPackages reads the packages under cmd, internal and examples of the
// module rooted at root.
func loadPackages(t *testing.T, root string) map[string]*pkgInfo {
	t.Helper()
	pkgs := map[string]*pkgInfo{}
	for _, top := range []string{"cmd", "internal", "examples"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && path == filepath.Join(root, top) {
					return filepath.SkipDir
				}
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
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			dir := filepath.ToSlash(rel)
			p := pkgs[dir]
			if p == nil {
				p = &pkgInfo{imports: map[string]bool{}, thirdParty: map[string]bool{}}
				pkgs[dir] = p
			}
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				p.hasDoc = true
				p.doc += f.Doc.Text()
			}
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				if rest, ok := strings.CutPrefix(ip, module); ok {
					p.imports[rest] = true
				} else if first, _, _ := strings.Cut(ip, "/"); strings.Contains(first, ".") {
					p.thirdParty[ip] = true
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
	for dir, p := range loadPackages(t, ".") {
		if !p.hasDoc {
			t.Errorf("package %s has no doc comment saying what it owns and who may import it", dir)
		}
	}
}

// rule is what a package's doc comment claims about its place.
type rule struct {
	// imports are the only module-internal packages it may import.
	imports []string
	// importers, when set, are the only packages that may import it; its
	// doc comment names each of them (by last path element).
	importers []string
	// thirdParty, when set, are the only modules outside the standard
	// library it may import (path prefixes); empty means none.
	thirdParty []string
	// anyThirdParty: its third-party imports are not checked.
	anyThirdParty bool
}

var (
	aws       = "github.com/aws/aws-sdk-go-v2"
	nats      = "github.com/nats-io/"
	xsys      = "golang.org/x/sys"
	uuid      = "github.com/google/uuid"
	noImports = []string{}
)

// rules holds every package's boundary. A package missing from it fails
// TestImportBoundaries: a new package says where it stands.
var rules = map[string]rule{
	"cmd/nimbus":               {imports: []string{"internal/cli", "internal/sandbox"}, anyThirdParty: true},
	"internal/awsapi":          {imports: noImports, thirdParty: []string{uuid}},
	"internal/errdefs":         {imports: noImports, thirdParty: noImports},
	"internal/function":        {imports: noImports, thirdParty: noImports},
	"internal/invoke":          {imports: []string{"internal/function", "internal/awsapi"}, thirdParty: noImports},
	"internal/trace":           {imports: noImports, thirdParty: noImports},
	"internal/httpevent":       {imports: noImports, thirdParty: noImports, importers: []string{"internal/apigw", "internal/funcurl", "internal/daemon"}},
	"internal/sigv4":           {imports: noImports, thirdParty: noImports},
	"internal/sigv4/sigv4test": {imports: noImports, anyThirdParty: true},
	"internal/config":          {imports: noImports, thirdParty: noImports, importers: []string{"internal/cli", "internal/daemon", "internal/bench"}},
	"internal/code":            {imports: []string{"internal/awsapi", "internal/function"}, thirdParty: []string{xsys}, importers: []string{"internal/lambdaapi", "internal/pool"}},
	"internal/runtimeapi": {imports: noImports, thirdParty: noImports,
		importers: []string{"internal/pool", "internal/daemon"}},
	"internal/runtimes":     {imports: []string{"internal/awsapi"}, thirdParty: noImports},
	"internal/eventpattern": {imports: noImports, thirdParty: noImports},
	"internal/vtl":          {imports: noImports, thirdParty: noImports, importers: []string{"internal/apigw"}},
	"internal/policy":       {imports: noImports, thirdParty: noImports},
	"internal/iam": {imports: []string{"internal/auth", "internal/awsapi", "internal/policy", "internal/store"}, thirdParty: noImports,
		importers: []string{"internal/daemon"}},
	"internal/deliver": {imports: noImports, thirdParty: noImports},
	"internal/cfn":     {imports: []string{"internal/yamldoc"}, anyThirdParty: true},
	"internal/yamldoc": {imports: noImports, anyThirdParty: true},
	"internal/sandbox": {imports: noImports,
		thirdParty: []string{xsys, "github.com/elastic/go-seccomp-bpf", "github.com/google/nftables", "github.com/vishvananda/netlink"},
		importers:  []string{"internal/pool", "internal/daemon", "internal/cli", "cmd/nimbus", "internal/bench", "internal/sandbox/initbin"}},
	"internal/sandbox/initbin": {imports: []string{"internal/sandbox"}, thirdParty: noImports},
	"internal/store": {imports: []string{"internal/tlscert"}, thirdParty: []string{nats, "github.com/synadia-io/orbit.go/jetstreamext"},
		importers: []string{"internal/registry", "internal/daemon", "internal/apigw", "internal/stack", "internal/store/storetest",
			"internal/kms", "internal/secretsmanager", "internal/ssm", "internal/s3", "internal/iam", "internal/sqs", "internal/events"}},
	"internal/store/storetest": {imports: []string{"internal/store"}, anyThirdParty: true},
	"internal/secretsmanager":  {imports: []string{"internal/awsapi", "internal/events", "internal/kms", "internal/store"}, thirdParty: []string{uuid}, importers: []string{"internal/daemon", "internal/ssm"}},
	"internal/secretsext":      {imports: noImports, thirdParty: []string{aws}},
	"internal/logstore":        {imports: noImports, thirdParty: []string{nats}, importers: []string{"internal/daemon", "internal/logsapi"}},
	"internal/logsapi":         {imports: []string{"internal/awsapi", "internal/logstore"}, thirdParty: []string{aws + "/aws/protocol/eventstream"}, importers: []string{"internal/daemon"}},
	"internal/registry": {imports: []string{"internal/awsapi", "internal/errdefs", "internal/function", "internal/store"},
		thirdParty: []string{uuid}, importers: []string{"internal/lambdaapi", "internal/daemon"}},
	"internal/lambdaapi": {imports: []string{"internal/awsapi", "internal/errdefs", "internal/function", "internal/code", "internal/invoke", "internal/registry", "internal/runtimes", "internal/trace", "internal/async"},
		thirdParty: []string{aws + "/aws/protocol/eventstream"}, importers: []string{"internal/daemon"}},
	"internal/telemetry": {imports: []string{"internal/function", "internal/invoke", "internal/trace"}, anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/apigw": {imports: []string{"internal/awsapi", "internal/function", "internal/invoke", "internal/httpevent", "internal/store", "internal/trace", "internal/vtl", "internal/yamldoc"},
		anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/cost": {imports: []string{"internal/function", "internal/invoke"}, thirdParty: []string{nats}, importers: []string{"internal/daemon", "internal/cli"}},
	"internal/funcurl": {imports: []string{"internal/awsapi", "internal/errdefs", "internal/function", "internal/httpevent", "internal/invoke", "internal/trace"},
		thirdParty: noImports, importers: []string{"internal/daemon"}},
	"internal/async": {imports: []string{"internal/awsapi", "internal/deliver", "internal/errdefs", "internal/function", "internal/invoke"},
		thirdParty: []string{nats}, importers: []string{"internal/daemon", "internal/lambdaapi", "internal/events"}},
	"internal/bench": {imports: []string{"internal/config", "internal/daemon", "internal/eventpattern", "internal/runtimes", "internal/sandbox"}, anyThirdParty: true, importers: []string{"internal/cli"}},
	"internal/build": {imports: []string{"internal/cfn", "internal/yamldoc"}, anyThirdParty: true, importers: []string{"internal/cli"}},
	"internal/sam":   {imports: []string{"internal/cfn"}, thirdParty: noImports, importers: []string{"internal/stack", "internal/cli"}},
	"internal/stack": {imports: []string{"internal/awsapi", "internal/cfn", "internal/sam", "internal/store", "internal/yamldoc"}, thirdParty: []string{uuid},
		importers: []string{"internal/cfnapi", "internal/daemon", "internal/resource"}},
	"internal/resource":   {imports: []string{"internal/stack", "internal/awsapi", "internal/yamldoc"}, anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/auth":       {imports: []string{"internal/awsapi", "internal/sigv4"}, thirdParty: noImports},
	"internal/console":    {imports: []string{"internal/auth"}, thirdParty: []string{aws}, importers: []string{"internal/daemon"}},
	"internal/cfnapi":     {imports: []string{"internal/awsapi", "internal/cfn", "internal/stack"}, thirdParty: noImports, importers: []string{"internal/daemon"}},
	"internal/cloudwatch": {imports: []string{"internal/awsapi"}, anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/sqs":        {imports: []string{"internal/auth", "internal/awsapi", "internal/store"}, anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/dynamodb": {imports: []string{"internal/awsapi", "internal/lease"}, thirdParty: []string{nats, uuid, "go.etcd.io/bbolt", "github.com/cockroachdb/apd"},
		importers: []string{"internal/daemon"}},
	"internal/s3":          {imports: []string{"internal/auth", "internal/awsapi", "internal/sigv4", "internal/store"}, thirdParty: []string{"go.etcd.io/bbolt", nats}, importers: []string{"internal/daemon"}},
	"internal/kinesis":     {imports: []string{"internal/awsapi"}, thirdParty: []string{nats}, importers: []string{"internal/daemon"}},
	"internal/sns":         {imports: []string{"internal/awsapi", "internal/deliver", "internal/eventpattern"}, anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/esm":         {imports: []string{"internal/awsapi", "internal/errdefs", "internal/eventpattern", "internal/function", "internal/invoke", "internal/lease"}, anyThirdParty: true},
	"internal/events":      {imports: []string{"internal/async", "internal/awsapi", "internal/deliver", "internal/errdefs", "internal/eventpattern", "internal/function", "internal/store"}, anyThirdParty: true, importers: []string{"internal/daemon", "internal/scheduler", "internal/secretsmanager", "internal/pipes"}},
	"internal/kms":         {imports: []string{"internal/awsapi", "internal/store"}, thirdParty: []string{uuid}, importers: []string{"internal/daemon", "internal/secretsmanager", "internal/ssm"}},
	"internal/sfn":         {imports: []string{"internal/awsapi"}, thirdParty: []string{nats, "github.com/theory/jsonpath", "github.com/blues/jsonata-go"}, importers: []string{"internal/daemon"}},
	"internal/scheduler":   {imports: []string{"internal/awsapi", "internal/deliver", "internal/events"}, anyThirdParty: true, importers: []string{"internal/daemon", "internal/cli"}},
	"internal/pipes":       {imports: []string{"internal/awsapi", "internal/deliver", "internal/esm", "internal/eventpattern", "internal/events"}, anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/ssm":         {imports: []string{"internal/awsapi", "internal/kms", "internal/store"}, anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/ingress":     {imports: noImports, anyThirdParty: true, importers: []string{"internal/daemon"}},
	"internal/lease":       {imports: noImports, anyThirdParty: true},
	"internal/tlscert":     {imports: noImports, thirdParty: noImports, importers: []string{"internal/daemon", "internal/cli", "internal/store"}},
	"internal/clustertest": {imports: nil, anyThirdParty: true},
	"internal/crashtest":   {imports: noImports, thirdParty: noImports},
	"internal/fakeclock":   {imports: noImports, thirdParty: noImports},
	"internal/cluster":     {imports: nil, anyThirdParty: true},
	"internal/pool": {imports: []string{"internal/awsapi", "internal/errdefs", "internal/function", "internal/code", "internal/invoke", "internal/runtimeapi", "internal/runtimes", "internal/sandbox"},
		thirdParty: []string{xsys}, importers: []string{"internal/daemon"}},
	"internal/cli":    {imports: nil, anyThirdParty: true, importers: []string{"cmd/nimbus"}},
	"internal/daemon": {imports: nil, anyThirdParty: true, importers: []string{"internal/cli", "internal/bench"}},
}

// leafClaim is how a package doc says the package imports nothing of the
// module.
var leafClaim = regexp.MustCompile(`(?i)imports nothing (of Nimbus|from this module)|imports no other internal package|knows nothing of Nimbus|imports only the standard library`)

// stdlibOnlyClaim is how a doc says it imports nothing outside the
// standard library either.
var stdlibOnlyClaim = regexp.MustCompile(`(?i)imports only the standard library`)

// checkBoundaries returns every way pkgs break rules or their docs
// contradict them.
func checkBoundaries(pkgs map[string]*pkgInfo, rules map[string]rule) []string {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	for dir, p := range pkgs {
		r, ok := rules[dir]
		if !ok && strings.HasPrefix(dir, "examples/") {
			r, ok = rule{imports: noImports, anyThirdParty: true}, true // a user's function: nothing of Nimbus
		}
		if !ok {
			add("package %s has no entry in arch_test.go's rules: say what it may import and who may import it", dir)
			continue
		}
		if r.imports != nil {
			for imp := range p.imports {
				if !slices.Contains(r.imports, imp) {
					add("%s imports %s, which its boundary does not allow (allowed: %v)", dir, imp, r.imports)
				}
			}
		}
		if !r.anyThirdParty {
			for imp := range p.thirdParty {
				if !slices.ContainsFunc(r.thirdParty, func(prefix string) bool { return strings.HasPrefix(imp, prefix) }) {
					add("%s imports %s, a third-party package its boundary does not allow (allowed: %v)", dir, imp, r.thirdParty)
				}
			}
		}
		for _, imp := range r.importers {
			name := imp[strings.LastIndexByte(imp, '/')+1:]
			if dir != imp && !regexp.MustCompile(`(?i)\b`+regexp.QuoteMeta(name)+`\b`).MatchString(p.doc) {
				add("%s's doc comment does not name %s, which may import it (the doc says who may import a package)", dir, name)
			}
		}
		if r.importers != nil {
			for other, q := range pkgs {
				if q.imports[dir] && !slices.Contains(r.importers, other) {
					add("%s imports %s; only %v may", other, dir, r.importers)
				}
			}
		}
		if leafClaim.MatchString(p.doc) && len(r.imports) > 0 {
			add("%s's doc says it imports nothing of Nimbus, but its boundary allows %v", dir, r.imports)
		}
		if leafClaim.MatchString(p.doc) && len(p.imports) > 0 {
			add("%s's doc says it imports nothing of Nimbus, but it imports %v", dir, keys(p.imports))
		}
		if stdlibOnlyClaim.MatchString(p.doc) && len(p.thirdParty) > 0 {
			add("%s's doc says it imports only the standard library, but it imports %v", dir, keys(p.thirdParty))
		}
	}
	for dir := range rules {
		if pkgs[dir] == nil {
			add("package %s listed in rules does not exist", dir)
		}
	}
	sort.Strings(bad)
	return bad
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestImportBoundaries(t *testing.T) {
	for _, msg := range checkBoundaries(loadPackages(t, "."), rules) {
		t.Error(msg)
	}
}

// TestImportBoundariesCatchAWrongImport is the test of the test: a module
// whose leaf imports the pool, whose pool is imported by a stranger and
// whose doc lies must each be reported.
func TestImportBoundariesCatchAWrongImport(t *testing.T) {
	root := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("internal/awsapi/a.go", "// Package awsapi: any package may import it; it imports nothing of Nimbus.\npackage awsapi\n\nimport _ \""+module+"internal/pool\"\n")
	write("internal/pool/p.go", "// Package pool runs environments. Only daemon imports it.\npackage pool\n\nimport _ \"github.com/evil/dependency\"\n")
	write("internal/stranger/s.go", "// Package stranger is nobody the pool knows.\npackage stranger\n\nimport _ \""+module+"internal/pool\"\n")
	fake := map[string]rule{
		"internal/awsapi":   {imports: noImports, thirdParty: noImports},
		"internal/pool":     {imports: noImports, thirdParty: []string{xsys}, importers: []string{"internal/daemon"}},
		"internal/stranger": {imports: []string{"internal/pool"}, anyThirdParty: true},
	}
	got := strings.Join(checkBoundaries(loadPackages(t, root), fake), "\n")
	for _, want := range []string{
		"internal/awsapi imports internal/pool, which its boundary does not allow",
		"internal/awsapi's doc says it imports nothing of Nimbus, but it imports [internal/pool]",
		"internal/pool imports github.com/evil/dependency, a third-party package its boundary does not allow",
		"internal/stranger imports internal/pool; only [internal/daemon] may",
		"internal/awsapi imports internal/pool; only [internal/daemon] may",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("checkBoundaries missed %q; it reported:\n%s", want, got)
		}
	}
	// And the real rules hold nothing the fake module breaks by accident:
	// the same packages laid out correctly pass.
	write("internal/awsapi/a.go", "// Package awsapi: any package may import it; it imports nothing of Nimbus.\npackage awsapi\n")
	write("internal/pool/p.go", "// Package pool runs environments. Only daemon imports it.\npackage pool\n")
	write("internal/stranger/s.go", "// Package stranger imports nothing.\npackage stranger\n")
	if bad := checkBoundaries(loadPackages(t, root), fake); len(bad) != 0 {
		t.Errorf("a module within its boundaries was refused: %v", bad)
	}
}
