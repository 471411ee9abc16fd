package lambdaapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/registry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path) //nolint:gosec // a golden file of this package
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// wire renders a response as it travels: status, the headers clients
// read, and the body, pretty-printed, with request ids and RevisionIds
// replaced by placeholders.
func wire(r response) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d\n", r.status)
	var keys []string
	for k := range r.header {
		switch k {
		case "Date", "Content-Length":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(r.header[k], ","))
	}
	b.WriteString("\n")
	var pretty bytes.Buffer
	if json.Indent(&pretty, r.body, "", "  ") == nil {
		b.Write(pretty.Bytes())
	} else {
		b.Write(r.body)
	}
	return []byte(uuidRE.ReplaceAllString(b.String(), "<uuid>"))
}

func TestGoldenWireShapes(t *testing.T) {
	fixed := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	e := newEnv(t, func(ro *registry.Options, o *Options) {
		ro.Now = func() time.Time { return fixed }
		o.Now = func() time.Time { return fixed }
		o.CodeURLKey = []byte("golden")
	})
	e.create(t, "golden", func(m map[string]any) {
		m["Description"] = "wire shape"
		m["Environment"] = map[string]any{"Variables": map[string]string{"STAGE": "test"}}
		m["Tags"] = map[string]string{"team": "core"}
	})
	r := e.do(t, "GET", "/2015-03-31/functions/golden", nil, nil)
	// The code link carries the test server's random port.
	r.body = []byte(strings.ReplaceAll(string(r.body), e.srv.URL, "http://HOST"))
	golden(t, "get_function.golden", wire(r))

	r = e.doJSON(t, "POST", "/2015-03-31/functions", createBody(t, "x", func(m map[string]any) {
		m["MemorySize"] = 64
		m["Timeout"] = 0
	}))
	golden(t, "create_function_validation_error.golden", wire(r))
}
