package s3

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestLifecycleSweep applies rules with a moved clock: expiration by days
// with a prefix and with a tag, noncurrent version expiration keeping the
// current version, a lone delete marker removed, an incomplete multipart
// upload aborted; nothing goes before it is due.
func TestLifecycleSweep(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, err := New(Options{Dir: t.TempDir(), Store: storetest.Open(t), Node: "n1", Region: "us-east-1", AccountID: "000000000000", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	must := func(w int, want int, what string) {
		t.Helper()
		if w != want {
			t.Fatalf("%s: %d, want %d", what, w, want)
		}
	}
	exists := func(path string) bool { return call(t, s, "HEAD", path, "", nil).Code == 200 }
	must(call(t, s, "PUT", "/logs", "", nil).Code, 200, "create bucket")
	if w := call(t, s, "GET", "/logs?lifecycle", "", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "NoSuchLifecycleConfiguration") {
		t.Fatalf("GetBucketLifecycleConfiguration before: %d %s", w.Code, w.Body)
	}
	must(call(t, s, "PUT", "/logs/tmp/a", "a", nil).Code, 200, "put tmp/a")
	must(call(t, s, "PUT", "/logs/keep/b", "b", nil).Code, 200, "put keep/b")
	must(call(t, s, "PUT", "/logs/keep/tagged", "c", map[string]string{"x-amz-tagging": "class=scratch"}).Code, 200, "put tagged")
	must(call(t, s, "POST", "/logs/tmp/upload?uploads", "", nil).Code, 200, "create upload")
	must(call(t, s, "PUT", "/logs?versioning", `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`, nil).Code, 200, "versioning")
	must(call(t, s, "PUT", "/logs/old/x", "x1", nil).Code, 200, "put old/x v1")
	advance(time.Hour)
	must(call(t, s, "PUT", "/logs/old/x", "x2", nil).Code, 200, "put old/x v2")
	must(call(t, s, "PUT", "/logs/old/gone", "g", nil).Code, 200, "put old/gone")
	gone := call(t, s, "DELETE", "/logs/old/gone", "", nil).Header().Get("x-amz-version-id")
	versions := func() string {
		w := call(t, s, "GET", "/logs?versions&prefix=old/", "", nil)
		return w.Body.String()
	}
	if !strings.Contains(versions(), "old/gone") {
		t.Fatal("no versions of old/gone")
	}
	// Remove old/gone's object version, leaving its marker alone.
	vs := versions()
	i := strings.Index(vs, "<Key>old/gone</Key><VersionId>")
	obj := vs[i+len("<Key>old/gone</Key><VersionId>"):]
	obj = obj[:strings.Index(obj, "<")]
	if obj == gone {
		t.Fatalf("listing order: %s", vs)
	}
	must(call(t, s, "DELETE", "/logs/old/gone?versionId="+obj, "", nil).Code, 204, "delete old/gone's object version")

	lc := `<LifecycleConfiguration>
 <Rule><ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration>
  <AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>
 <Rule><ID>scratch</ID><Filter><Tag><Key>class</Key><Value>scratch</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>
 <Rule><ID>old</ID><Filter><Prefix>old/</Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>
  <Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>
 <Rule><ID>off</ID><Filter><Prefix>keep/</Prefix></Filter><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>
</LifecycleConfiguration>`
	must(call(t, s, "PUT", "/logs?lifecycle", lc, nil).Code, 200, "PutBucketLifecycleConfiguration")
	if w := call(t, s, "GET", "/logs?lifecycle", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "<ID>scratch</ID>") {
		t.Fatalf("GetBucketLifecycleConfiguration: %d %s", w.Code, w.Body)
	}
	sweep := func() {
		t.Helper()
		if err := s.SweepLifecycle(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	sweep() // only the lone delete marker goes: it needs no time
	if strings.Contains(versions(), "<Key>old/gone</Key>") {
		t.Error("the lone delete marker is still there")
	}
	// An object written at 15:00 with Days 1 expires at the midnight
	// after 15:00 the next day.
	advance(26 * time.Hour) // 2026-03-02 18:00
	sweep()
	for _, p := range []string{"/logs/tmp/a", "/logs/keep/b", "/logs/keep/tagged", "/logs/old/x"} {
		if !exists(p) {
			t.Errorf("%s expired before it was due", p)
		}
	}
	if w := call(t, s, "GET", "/logs?uploads", "", nil); !strings.Contains(w.Body.String(), "<Upload>") {
		t.Error("the upload was aborted early")
	}
	if strings.Count(versions(), "<Key>old/x</Key>") != 2 {
		t.Error("the noncurrent version went early")
	}
	advance(7 * time.Hour) // 2026-03-03 01:00
	sweep()
	if exists("/logs/keep/tagged") {
		t.Error("keep/tagged (tag rule, 1 day) still there")
	}
	if !exists("/logs/tmp/a") || !exists("/logs/keep/b") {
		t.Error("tmp/a (2 days) or keep/b (disabled rule) expired early")
	}
	if w := call(t, s, "GET", "/logs?uploads", "", nil); strings.Contains(w.Body.String(), "<Upload>") {
		t.Errorf("the incomplete upload survived its day: %s", w.Body)
	}
	if vs := versions(); strings.Count(vs, "<Key>old/x</Key>") != 1 {
		t.Errorf("after the noncurrent expiry: %s", vs)
	}
	if w := call(t, s, "GET", "/logs/old/x", "", nil); w.Body.String() != "x2" {
		t.Errorf("current old/x = %q", w.Body)
	}
	advance(24 * time.Hour)
	sweep()
	if exists("/logs/tmp/a") {
		t.Error("tmp/a still there after two days")
	}
	// In this versioned bucket the expiry left a delete marker and kept
	// the version.
	if w := call(t, s, "GET", "/logs?versions&prefix=tmp/", "", nil); !strings.Contains(w.Body.String(), "<DeleteMarker><Key>tmp/a</Key>") ||
		!strings.Contains(w.Body.String(), "<Version><Key>tmp/a</Key>") {
		t.Errorf("tmp/a's versions after its expiry: %s", w.Body)
	}
	must(call(t, s, "DELETE", "/logs?lifecycle", "", nil).Code, 204, "DeleteBucketLifecycle")
	if w := call(t, s, "GET", "/logs?lifecycle", "", nil); w.Code != 404 {
		t.Errorf("after delete: %d", w.Code)
	}
}

func TestParseLifecycleRefusals(t *testing.T) {
	rule := func(inner string) string {
		return "<LifecycleConfiguration><Rule><Status>Enabled</Status>" + inner + "</Rule></LifecycleConfiguration>"
	}
	for doc, code := range map[string]string{
		rule(""): "InvalidRequest",
		rule("<Expiration><Days>0</Days></Expiration>"):                                      "InvalidArgument",
		rule("<Expiration><Date>2026-01-01T10:00:00Z</Date></Expiration>"):                   "InvalidArgument",
		rule("<Expiration><Days>1</Days><Date>2026-01-01T00:00:00Z</Date></Expiration>"):     "MalformedXML",
		rule("<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>"): "NotImplemented",
		rule("<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"): "InvalidRequest",
		"<LifecycleConfiguration><Rule><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>":                                                    "MalformedXML",
		"<LifecycleConfiguration>": "MalformedXML",
	} {
		_, err := parseLifecycle([]byte(doc))
		var e *Error
		if !errors.As(err, &e) || e.Code != code {
			t.Errorf("parseLifecycle(%s) = %v, want %s", doc, err, code)
		}
	}
}

// FuzzLifecycle: any PutBucketLifecycleConfiguration body is accepted or
// refused with an S3 error, and an accepted rule's filter and due dates
// are computed without panicking.
func FuzzLifecycle(f *testing.F) {
	f.Add([]byte(`<LifecycleConfiguration><Rule><ID>a</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays><NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule></LifecycleConfiguration>`), "p/x", int64(5))
	f.Add([]byte(`<LifecycleConfiguration><Rule><Prefix>x</Prefix><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`), "x", int64(0))
	f.Fuzz(func(t *testing.T, doc []byte, key string, size int64) {
		c, err := parseLifecycle(doc)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("parseLifecycle: %T %v", err, err)
			}
			return
		}
		for i := range c.Rules {
			r := &c.Rules[i]
			if r.applies(key, &objectMeta{Size: size, Tags: map[string]string{"k": "v"}}) && !strings.HasPrefix(key, r.prefix()) {
				t.Fatalf("rule %+v applies to %q outside its prefix", r, key)
			}
			if e := r.Expiration; e != nil && e.Days != nil && *e.Days > 0 && *e.Days < 100000 {
				at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
				if d := dueAfter(at, *e.Days); d.Before(at) || !d.Equal(d.Truncate(24*time.Hour)) {
					t.Fatalf("due %v for %d days", d, *e.Days)
				}
			}
		}
	})
}
