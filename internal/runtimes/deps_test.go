package runtimes

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The package may import only the standard library and awsapi.
func TestImportBoundary(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var doc bool
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		doc = doc || f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package runtimes ")
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			std := !strings.Contains(strings.Split(path, "/")[0], ".")
			if !std && path != "github.com/nimbus-serverless/nimbus/internal/awsapi" {
				t.Errorf("%s imports %s; runtimes may import only the standard library and awsapi", name, path)
			}
		}
	}
	if !doc {
		t.Error("no package doc comment starting \"Package runtimes \"")
	}
}
