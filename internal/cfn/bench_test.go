package cfn_test

import (
	"os"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

func BenchmarkParseYAML(b *testing.B) { benchmarkParse(b, "testdata/conditions.yaml") }

func BenchmarkParseJSON(b *testing.B) { benchmarkParse(b, "testdata/sam-restapi.template.json") }

func benchmarkParse(b *testing.B, file string) {
	src, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := cfn.Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeploy resolves a whole template as the stack engine does:
// parameters, conditions, order, and every resource's properties.
func BenchmarkDeploy(b *testing.B) {
	src, err := os.ReadFile("testdata/sam-httpapi.template.json")
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := cfn.Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := deploy(tmpl, nil); err != nil {
			b.Fatal(err)
		}
	}
}
