package daemon

import (
	"net/http/httptest"
	"slices"
	"testing"
)

// TestS3OperationNames: the S3 requests IAM judges by more than their
// method — ACLs, ownership controls, and copies, whose source needs
// s3:GetObject (GetObjectVersion) and whose ACL header s3:PutObjectAcl.
func TestS3OperationNames(t *testing.T) {
	for _, c := range []struct {
		method, target string
		hdr            map[string]string
		name           string
		also           []check
	}{
		{"GET", "/b/k?acl", nil, "GetObjectAcl", nil},
		{"PUT", "/b/k?acl&versionId=v", nil, "PutObjectVersionAcl", nil},
		{"GET", "/b?acl", nil, "GetBucketAcl", nil},
		{"PUT", "/b?ownershipControls", nil, "PutBucketOwnershipControls", nil},
		{"DELETE", "/b?ownershipControls", nil, "PutBucketOwnershipControls", nil},
		{"GET", "/b?ownershipControls", nil, "GetBucketOwnershipControls", nil},
		{"GET", "/b?publicAccessBlock", nil, "GetPublicAccessBlock", nil},
		{"PUT", "/b?publicAccessBlock", nil, "PutPublicAccessBlock", nil},
		{"DELETE", "/b?publicAccessBlock", nil, "DeletePublicAccessBlock", nil},
		{"PUT", "/b", map[string]string{"x-amz-acl": "private", "x-amz-object-ownership": "ObjectWriter"}, "CreateBucket",
			[]check{{"s3:PutBucketAcl", "arn:aws:s3:::b"}, {"s3:PutBucketOwnershipControls", "arn:aws:s3:::b"}}},
		{"PUT", "/b/k", map[string]string{"x-amz-acl": "private"}, "PutObject", []check{{"s3:PutObjectAcl", "arn:aws:s3:::b/k"}}},
		{"PUT", "/b/k", map[string]string{"x-amz-copy-source": "/src/a%20b"}, "CopyObject", []check{{"s3:GetObject", "arn:aws:s3:::src/a b"}}},
		{"PUT", "/b/k?partNumber=1&uploadId=u", map[string]string{"x-amz-copy-source": "src/k?versionId=0123456789abcdef0123456789abcdef"},
			"UploadPartCopy", []check{{"s3:GetObjectVersion", "arn:aws:s3:::src/k"}}},
		// Tag sets have their own actions: a PutObject grant does not retag.
		{"PUT", "/b/k?tagging", nil, "PutObjectTagging", nil},
		{"GET", "/b/k?tagging", nil, "GetObjectTagging", nil},
		{"DELETE", "/b/k?tagging", nil, "DeleteObjectTagging", nil},
		{"PUT", "/b/k?tagging&versionId=v", nil, "PutObjectVersionTagging", nil},
		{"PUT", "/b/k", map[string]string{"x-amz-tagging": "team=a"}, "PutObject", []check{{"s3:PutObjectTagging", "arn:aws:s3:::b/k"}}},
		{"POST", "/b/k?uploads", map[string]string{"x-amz-tagging": "team=a"}, "PutObject", []check{{"s3:PutObjectTagging", "arn:aws:s3:::b/k"}}},
		{"GET", "/b/k?attributes", nil, "GetObjectAttributes", []check{{"s3:GetObject", "arn:aws:s3:::b/k"}}},
		{"GET", "/b/k?attributes&versionId=v", nil, "GetObjectVersionAttributes", []check{{"s3:GetObjectVersion", "arn:aws:s3:::b/k"}}},
	} {
		r := httptest.NewRequest(c.method, "http://127.0.0.1"+c.target, nil)
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		o := s3Operation(r)
		if o.name != c.name || !slices.Equal(o.also, c.also) {
			t.Errorf("%s %s %v: %s %v, want %s %v", c.method, c.target, c.hdr, o.name, o.also, c.name, c.also)
		}
	}
}
