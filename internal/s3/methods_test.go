package s3

import (
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestMethodNotAllowed: a subresource Nimbus serves, asked with a method
// it does not take, is S3's 405 MethodNotAllowed naming the method and
// the resource, with an Allow header — not NotImplemented; nothing is
// changed by it.
func TestMethodNotAllowed(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir(), Store: storetest.Open(t), Node: "n1", Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	call(t, s, "PUT", "/box", "", nil)
	call(t, s, "PUT", "/box/k", "x", nil)
	for _, c := range []struct{ method, target, resource, allow string }{
		{"DELETE", "/box?acl", "ACL", "GET, PUT"},
		{"POST", "/box?acl", "ACL", "GET, PUT"},
		{"DELETE", "/box/k?acl", "ACL", "GET, PUT"},
		{"POST", "/box/k?tagging", "TAGGING", "GET, PUT, DELETE"},
		{"DELETE", "/box?versioning", "VERSIONING", "GET, PUT"},
		{"PUT", "/box?location", "LOCATION", "GET"},
		{"DELETE", "/box?notification", "NOTIFICATION", "GET, PUT"},
		{"GET", "/box?delete", "DELETE", "POST"},
		{"PUT", "/box/k?attributes", "ATTRIBUTES", "GET"},
		{"POST", "/box", "BUCKET", ""},
		{"POST", "/box/k", "OBJECT", ""},
		{"POST", "/", "SERVICE", ""},
	} {
		w := call(t, s, c.method, c.target, "", nil)
		b := w.Body.String()
		if w.Code != 405 || !strings.Contains(b, "<Code>MethodNotAllowed</Code>") || !strings.Contains(b, "<Method>"+c.method+"</Method>") ||
			!strings.Contains(b, "<ResourceType>"+c.resource+"</ResourceType>") || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q %s", c.method, c.target, w.Code, w.Header().Get("Allow"), b)
		}
	}
	if w := call(t, s, "HEAD", "/box?acl", "", nil); w.Code != 405 || w.Body.Len() != 0 {
		t.Errorf("HEAD ?acl: %d %q", w.Code, w.Body)
	}
	// The bucket and its object are still there.
	if w := call(t, s, "GET", "/box/k", "", nil); w.Code != 200 || w.Body.String() != "x" {
		t.Errorf("object after the refusals: %d", w.Code)
	}
}
