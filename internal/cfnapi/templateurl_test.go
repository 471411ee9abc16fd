package cfnapi

import "testing"

func TestParseTemplateURL(t *testing.T) {
	for _, c := range []struct {
		url, bucket, key string
		ok               bool
	}{
		{"https://b.s3.amazonaws.com/dir/t.yaml", "b", "dir/t.yaml", true},
		{"https://my.bucket.s3.eu-west-1.amazonaws.com/t.json", "my.bucket", "t.json", true},
		{"https://b.s3-us-west-2.amazonaws.com/t", "b", "t", true},
		{"https://s3.amazonaws.com/b/t.yaml", "b", "t.yaml", true},
		{"https://s3.us-east-1.amazonaws.com/b/a/b%20c.yaml", "b", "a/b c.yaml", true},
		{"http://127.0.0.1:4566/b/t.yaml", "b", "t.yaml", true},
		{"http://localhost:4566/b/t.yaml", "b", "t.yaml", true},
		{"http://b.s3.localhost:4566/t.yaml", "b", "t.yaml", true},
		{"https://example.com/b/t.yaml", "", "", false},           // not S3, not this node
		{"https://ec2.amazonaws.com/b/t.yaml", "", "", false},     // another AWS service
		{"https://s3.amazonaws.com/b", "", "", false},             // no key
		{"https://s3.amazonaws.com/", "", "", false},              // nothing
		{"ftp://s3.amazonaws.com/b/t", "", "", false},             // scheme
		{"https://u:p@s3.amazonaws.com/b/t", "", "", false},       // credentials in the URL
		{"https://evil.com#.s3.amazonaws.com/b/t", "", "", false}, // host is evil.com
		{"s3://b/t.yaml", "", "", false},
	} {
		b, k, ok := ParseTemplateURL(c.url)
		if b != c.bucket || k != c.key || ok != c.ok {
			t.Errorf("ParseTemplateURL(%q) = %q %q %v, want %q %q %v", c.url, b, k, ok, c.bucket, c.key, c.ok)
		}
	}
}

// FuzzParseTemplateURL: any string is parsed without panicking, and a URL
// it accepts always names a bucket and a key.
func FuzzParseTemplateURL(f *testing.F) {
	for _, s := range []string{"https://b.s3.amazonaws.com/k", "http://127.0.0.1:4566/b/k", "https://s3.amazonaws.com/b/k", "%", "http://[::1]/b/k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, k, ok := ParseTemplateURL(s)
		if ok && (b == "" || k == "") {
			t.Fatalf("%q: accepted with bucket %q key %q", s, b, k)
		}
	})
}
