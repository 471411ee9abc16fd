package s3

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const ownerGrant = `<AccessControlPolicy><Owner><ID>000000000000</ID></Owner><AccessControlList><Grant>` +
	`<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>000000000000</ID></Grantee>` +
	`<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`

const publicGrant = `<AccessControlPolicy><Owner><ID>000000000000</ID></Owner><AccessControlList><Grant>` +
	`<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>` +
	`<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`

// TestACLs: a new bucket is BucketOwnerEnforced — its ACLs read as the
// owner's full control, and setting any other ACL is
// AccessControlListNotSupported (InvalidBucketAclWithObjectOwnership on
// CreateBucket); under ObjectWriter canned ACLs are kept and public ones
// are AccessDenied (Block Public Access's defaults); the ownership
// controls read, change and delete as on AWS.
func TestACLs(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir(), Store: storetest.Open(t), Node: "n1", Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for _, c := range []struct {
		method, target, body string
		hdr                  map[string]string
		code                 int
		want                 string
	}{
		{"PUT", "/enforced", "", map[string]string{"x-amz-acl": "public-read"}, 400, "InvalidBucketAclWithObjectOwnership"},
		{"PUT", "/enforced", "", map[string]string{"x-amz-object-ownership": "Nobody"}, 400, "InvalidArgument"},
		{"PUT", "/enforced", "", map[string]string{"x-amz-acl": "private"}, 200, ""},
		{"GET", "/enforced?ownershipControls", "", nil, 200, "<ObjectOwnership>BucketOwnerEnforced</ObjectOwnership>"},
		{"GET", "/enforced?acl", "", nil, 200, `xsi:type="CanonicalUser"><ID>000000000000</ID>`},
		{"PUT", "/enforced?acl", "", map[string]string{"x-amz-acl": "authenticated-read"}, 400, "AccessControlListNotSupported"},
		{"PUT", "/enforced?acl", publicGrant, nil, 400, "AccessControlListNotSupported"},
		{"PUT", "/enforced?acl", ownerGrant, nil, 200, ""},
		{"PUT", "/enforced/k", "x", map[string]string{"x-amz-acl": "public-read"}, 400, "AccessControlListNotSupported"},
		{"PUT", "/enforced/k", "x", map[string]string{"x-amz-grant-read": `uri="http://acs.amazonaws.com/groups/global/AllUsers"`}, 400, "AccessControlListNotSupported"},
		{"PUT", "/enforced/k", "x", map[string]string{"x-amz-acl": "private", "x-amz-grant-read": `id="1"`}, 400, "Specifying both"},
		{"HEAD", "/enforced/k", "", nil, 404, ""},
		{"PUT", "/enforced/k", "x", map[string]string{"x-amz-acl": "bucket-owner-full-control"}, 200, ""},
		{"PUT", "/enforced/k", "x", map[string]string{"x-amz-grant-full-control": `id="000000000000"`}, 200, ""},
		{"GET", "/enforced/k?acl", "", nil, 200, "<Permission>FULL_CONTROL</Permission>"},
		{"PUT", "/enforced/k?acl", "", map[string]string{"x-amz-acl": "bucket-owner-read"}, 400, "AccessControlListNotSupported"},
		{"POST", "/enforced/up?uploads", "", map[string]string{"x-amz-acl": "public-read-write"}, 400, "AccessControlListNotSupported"},
		{"PUT", "/enforced/copy", "", map[string]string{"x-amz-copy-source": "enforced/k", "x-amz-acl": "public-read"}, 400, "AccessControlListNotSupported"},
		{"GET", "/enforced/missing?acl", "", nil, 404, "NoSuchKey"},

		{"PUT", "/writer", "", map[string]string{"x-amz-object-ownership": "ObjectWriter", "x-amz-acl": "public-read"}, 400, "InvalidBucketAclWithBlockPublicAccessError"},
		{"PUT", "/writer", "", map[string]string{"x-amz-object-ownership": "ObjectWriter"}, 200, ""},
		{"GET", "/writer?ownershipControls", "", nil, 200, "<ObjectOwnership>ObjectWriter</ObjectOwnership>"},
		{"PUT", "/writer/k", "x", map[string]string{"x-amz-acl": "bucket-owner-read"}, 200, ""},
		{"PUT", "/writer/k", "x", map[string]string{"x-amz-acl": "public-read"}, 403, "AccessDenied"},
		{"PUT", "/writer/k", "x", map[string]string{"x-amz-acl": "no-such-acl"}, 400, "InvalidArgument"},
		{"PUT", "/writer/k?acl", publicGrant, nil, 403, "AccessDenied"},
		{"PUT", "/writer/k?acl", "", map[string]string{"x-amz-grant-read": `id="111122223333"`}, 501, "NotImplemented"},
		{"PUT", "/writer/k?acl", "", map[string]string{"x-amz-acl": "private"}, 200, ""},
		{"PUT", "/writer?acl", "", map[string]string{"x-amz-acl": "public-read-write"}, 403, "AccessDenied"},
		{"PUT", "/writer?acl", "<nope", nil, 400, "MalformedXML"},
		{"PUT", "/writer?acl", ownerGrant, nil, 200, ""},
		{"PUT", "/writer?ownershipControls", "<OwnershipControls><Rule><ObjectOwnership>Mine</ObjectOwnership></Rule></OwnershipControls>", nil, 400, "MalformedXML"},
		{"PUT", "/writer?ownershipControls", "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>", nil, 200, ""},
		{"PUT", "/writer/k", "x", map[string]string{"x-amz-acl": "bucket-owner-read"}, 400, "AccessControlListNotSupported"},
		{"DELETE", "/writer?ownershipControls", "", nil, 204, ""},
		{"GET", "/writer?ownershipControls", "", nil, 404, "OwnershipControlsNotFoundError"},
		{"PUT", "/writer/k", "x", map[string]string{"x-amz-acl": "bucket-owner-read"}, 200, ""},
		{"GET", "/nobucket?acl", "", nil, 404, "NoSuchBucket"},
	} {
		w := call(t, s, c.method, c.target, c.body, c.hdr)
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%s %s %v: %d %s, want %d %s", c.method, c.target, c.hdr, w.Code, w.Body, c.code, c.want)
		}
	}
	if w := call(t, s, "HEAD", "/enforced/k", "", nil); w.Code != 200 {
		t.Errorf("the object put with an owner's ACL: %d", w.Code)
	}
}

// FuzzACL: whatever grant headers and ACL document a request carries,
// the ACL kept is one of the owner-only canned ACLs, never a public one.
func FuzzACL(f *testing.F) {
	f.Add("", `id="000000000000"`, ownerGrant, true)
	f.Add("private", "", publicGrant, false)
	f.Add("", `uri="http://acs.amazonaws.com/groups/global/AllUsers", id=1`, "<AccessControlPolicy>", false)
	s := &Service{opts: Options{AccountID: "000000000000"}}
	f.Fuzz(func(t *testing.T, canned, grants, body string, writer bool) {
		ownership := ownerEnforced
		if writer {
			ownership = objectWriter
		}
		r := httptest.NewRequest("PUT", "/b/k?acl", strings.NewReader(body))
		if canned != "" {
			r.Header.Set("x-amz-acl", canned)
		}
		if grants != "" {
			r.Header.Set("x-amz-grant-read", grants)
		}
		got, err := s.bodyACL(r, &bucketRecord{Ownership: ownership}, aclObject)
		if err != nil {
			return
		}
		switch got {
		case "", "private", "bucket-owner-read", "bucket-owner-full-control":
		default:
			t.Fatalf("kept ACL %q", got)
		}
		if ownership == ownerEnforced && got != "" {
			t.Fatalf("kept ACL %q under BucketOwnerEnforced", got)
		}
	})
}
