package s3

import (
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestVersionedTaggingAndAttributes: the tagging calls and
// GetObjectAttributes take ?versionId=; a change to the current version
// shows through both its current entry and its version id; a delete
// marker is 405, an unknown id NoSuchVersion, a malformed one
// InvalidArgument.
func TestVersionedTaggingAndAttributes(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir(), Store: storetest.Open(t), Node: "n1", Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	must := func(code int, method, target, body string, hdr map[string]string) string {
		t.Helper()
		w := call(t, s, method, target, body, hdr)
		if w.Code != code {
			t.Fatalf("%s %s: %d %s, want %d", method, target, w.Code, w.Body, code)
		}
		return w.Header().Get("x-amz-version-id") + "|" + w.Body.String()
	}
	must(200, "PUT", "/vbkt", "", nil)
	must(200, "PUT", "/vbkt?versioning", `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`, nil)
	v1, _, _ := strings.Cut(must(200, "PUT", "/vbkt/k", "first", nil), "|")
	v2, _, _ := strings.Cut(must(200, "PUT", "/vbkt/k", "second!", nil), "|")
	tags := func(k, v string) string {
		return `<Tagging><TagSet><Tag><Key>` + k + `</Key><Value>` + v + `</Value></Tag></TagSet></Tagging>`
	}
	if got := must(200, "PUT", "/vbkt/k?tagging&versionId="+v1, tags("old", "yes"), nil); !strings.HasPrefix(got, v1+"|") {
		t.Errorf("put tagging of v1 answered version %q", got)
	}
	if got := must(200, "GET", "/vbkt/k?tagging&versionId="+v1, "", nil); !strings.Contains(got, "<Key>old</Key>") || !strings.HasPrefix(got, v1) {
		t.Errorf("tags of v1: %s", got)
	}
	if got := must(200, "GET", "/vbkt/k?tagging", "", nil); strings.Contains(got, "old") || !strings.HasPrefix(got, v2) {
		t.Errorf("tags of the current version: %s", got)
	}
	must(200, "PUT", "/vbkt/k?tagging", tags("new", "1"), nil)
	if got := must(200, "GET", "/vbkt/k?tagging&versionId="+v2, "", nil); !strings.Contains(got, "<Key>new</Key>") {
		t.Errorf("the current version's tags, read by its id: %s", got)
	}
	if got := must(200, "GET", "/vbkt/k?attributes&versionId="+v1, "", map[string]string{"x-amz-object-attributes": "ObjectSize"}); !strings.Contains(got, "<ObjectSize>5</ObjectSize>") ||
		!strings.HasPrefix(got, v1) {
		t.Errorf("attributes of v1: %s", got)
	}
	if got := must(200, "GET", "/vbkt/k?attributes", "", map[string]string{"x-amz-object-attributes": "ObjectSize"}); !strings.Contains(got, "<ObjectSize>7</ObjectSize>") {
		t.Errorf("attributes of the current version: %s", got)
	}
	must(204, "DELETE", "/vbkt/k?tagging&versionId="+v1, "", nil)
	if got := must(200, "GET", "/vbkt/k?tagging&versionId="+v1, "", nil); strings.Contains(got, "old") {
		t.Errorf("v1's tags after delete: %s", got)
	}
	marker := call(t, s, "DELETE", "/vbkt/k", "", nil).Header().Get("x-amz-version-id")
	if w := call(t, s, "GET", "/vbkt/k?tagging&versionId="+marker, "", nil); w.Code != 405 || w.Header().Get("x-amz-delete-marker") != "true" {
		t.Errorf("tagging of a delete marker: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "PUT", "/vbkt/k?tagging&versionId="+marker, tags("a", "b"), nil); w.Code != 405 {
		t.Errorf("put tagging on a delete marker: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "GET", "/vbkt/k?tagging&versionId=0123456789abcdef0123456789abcdef", "", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "NoSuchVersion") {
		t.Errorf("unknown version: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "PUT", "/vbkt/k?tagging&versionId=../x", tags("a", "b"), nil); w.Code != 400 || !strings.Contains(w.Body.String(), "InvalidArgument") {
		t.Errorf("malformed version: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "GET", "/vbkt/k?acl&versionId="+v1, "", nil); w.Code != 200 || w.Header().Get("x-amz-version-id") != v1 ||
		!strings.Contains(w.Body.String(), "<Permission>FULL_CONTROL</Permission>") {
		t.Errorf("acl of a version: %d %s", w.Code, w.Body)
	}
	if got := must(200, "GET", "/vbkt/k?tagging&versionId="+v2, "", nil); !strings.Contains(got, "<Key>new</Key>") {
		t.Errorf("v2 after the marker: %s", got)
	}
	// An unversioned bucket's object is the "null" version.
	must(200, "PUT", "/plainb", "", nil)
	must(200, "PUT", "/plainb/k", "x", nil)
	must(200, "PUT", "/plainb/k?tagging&versionId=null", tags("n", "1"), nil)
	if got := must(200, "GET", "/plainb/k?tagging", "", nil); !strings.Contains(got, "<Key>n</Key>") {
		t.Errorf("null version's tags: %s", got)
	}
	if w := call(t, s, "GET", "/plainb/k?tagging&versionId="+v1, "", nil); w.Code != 404 {
		t.Errorf("another version of an unversioned object: %d", w.Code)
	}
}
