package s3

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestPublicPolicy: S3's meaning of a public bucket policy.
func TestPublicPolicy(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	const get = `"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"`
	for _, c := range []struct {
		doc    string
		public bool
	}{
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `}`), true},
		{stmt(`{"Effect":"Allow","Principal":{"AWS":"*"},` + get + `}`), true},
		{stmt(`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:root","arn:aws:iam::*:root"]},` + get + `}`), true},
		{stmt(`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::000000000000:root"},` + get + `}`), true},
		{`{"Statement":{"Effect":"Allow","Principal":"*",` + get + `}}`, true}, // one statement, not a list
		{stmt(`{"Effect":"Deny","Principal":"*",` + get + `}`), false},
		{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/app"},` + get + `}`), false},
		{stmt(`{"Effect":"Allow","Principal":{"Service":"cloudfront.amazonaws.com"},` + get + `}`), false},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringEquals":{"aws:SourceAccount":"000000000000"}}}`), false},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:cloudfront::000000000000:distribution/E1"}}}`), false},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.7"]}}}`), false},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/1"}}}`), true},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringLike":{"aws:SourceArn":"arn:aws:sns:*"}}}`), true},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringNotEquals":{"aws:SourceAccount":"000000000000"}}}`), true},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"000000000000"}}}`), true},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringEquals":{"aws:SourceAccount":"${aws:username}"}}}`), true},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringEquals":{"s3:prefix":"home/"}}}`), true},
		{stmt(`{"Effect":"Allow","Principal":"*",` + get + `,"Condition":{"StringEquals":{"aws:userid":"AROAEXAMPLE:*"}}}`), true},
		{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},` + get + `},{"Effect":"Allow","Principal":"*",` + get + `}`), true},
	} {
		if got := publicPolicy([]byte(c.doc)); got != c.public {
			t.Errorf("publicPolicy(%s) = %v, want %v", c.doc, got, c.public)
		}
	}
}

// FuzzPublicPolicy: whatever the document, the judgement does not panic,
// and a statement granting everyone everything with no condition, added
// to any document, makes it public.
func FuzzPublicPolicy(f *testing.F) {
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:*"}]}`)
	f.Add(`{"Statement":{"Effect":"Allow","Principal":"*","Condition":{"IpAddress":{"aws:SourceIp":"::/0"}}}}`)
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":[1],"Condition":{"a":1}}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		publicPolicy([]byte(doc))
		body, ok := strings.CutPrefix(doc, `{"Statement":[`)
		if !ok {
			return
		}
		open := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},` + body
		if strings.HasPrefix(body, "]") {
			open = `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}` + body
		}
		if publicPolicy([]byte(open)) == false && validStatements(open) {
			t.Fatalf("a grant to everyone is not public in %s", open)
		}
	})
}

// validStatements: the document's statements parse and the first is the
// open grant (only then must it be seen: a later "Statement" key would
// replace it).
func validStatements(doc string) bool {
	var p struct{ Statement []map[string]any }
	if json.Unmarshal([]byte(doc), &p) != nil || len(p.Statement) == 0 {
		return false
	}
	first := p.Statement[0]
	return first["Effect"] == "Allow" && first["Principal"] == "*" && first["Condition"] == nil
}

// TestPublicAccessBlockSettings: the API's shapes, defaults and
// refusals on one node: a new bucket answers all four on; Put keeps what
// it is given; Delete leaves none (NoSuchPublicAccessBlockConfiguration)
// and public ACLs and policies pass; a malformed document stores nothing.
func TestPublicAccessBlockSettings(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir(), Store: storetest.Open(t), Node: "n1", Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	const open = `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}`
	for _, c := range []struct {
		method, target, body string
		hdr                  map[string]string
		code                 int
		want                 string
	}{
		{"PUT", "/site", "", map[string]string{"x-amz-object-ownership": "BucketOwnerPreferred"}, 200, ""},
		{"GET", "/site?publicAccessBlock", "", nil, 200, "<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>" +
			"<BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>"},
		{"PUT", "/site?policy", open, nil, 403, "BlockPublicPolicy"},
		{"PUT", "/site?acl", publicGrant, nil, 403, "BlockPublicAcls"},
		{"PUT", "/site?publicAccessBlock", "<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>", nil, 400, "MalformedXML"},
		{"PUT", "/site?publicAccessBlock", "", nil, 400, "MissingRequestBodyError"},
		{"GET", "/site?publicAccessBlock", "", nil, 200, "<BlockPublicPolicy>true</BlockPublicPolicy>"},
		{"PUT", "/site?publicAccessBlock", "<PublicAccessBlockConfiguration><BlockPublicPolicy>true</BlockPublicPolicy></PublicAccessBlockConfiguration>", nil, 200, ""},
		{"GET", "/site?publicAccessBlock", "", nil, 200, "<BlockPublicAcls>false</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy>"},
		{"PUT", "/site?policy", open, nil, 403, "AccessDenied"},
		{"PUT", "/site?acl", publicGrant, nil, 200, ""},
		{"GET", "/site?acl", "", nil, 200, "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission>"},
		{"PUT", "/site/k", "x", map[string]string{"x-amz-acl": "public-read-write"}, 200, ""},
		{"GET", "/site/k?acl", "", nil, 200, "<Permission>WRITE</Permission>"},
		{"DELETE", "/site?publicAccessBlock", "", nil, 204, ""},
		{"GET", "/site?publicAccessBlock", "", nil, 404, "NoSuchPublicAccessBlockConfiguration"},
		{"PUT", "/site?policy", open, nil, 204, ""},
		{"GET", "/nobucket?publicAccessBlock", "", nil, 404, "NoSuchBucket"},
	} {
		w := call(t, s, c.method, c.target, c.body, c.hdr)
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%s %s %v: %d %s, want %d %s", c.method, c.target, c.hdr, w.Code, w.Body, c.code, c.want)
		}
	}
}

// TestControlRefused: the S3 Control API (account-level Block Public
// Access) is refused by name, not taken for a bucket named v20180820.
func TestControlRefused(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir(), Store: storetest.Open(t), Node: "n1", Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	w := call(t, s, "PUT", "/v20180820/configuration/publicAccessBlock", "<PublicAccessBlockConfiguration/>",
		map[string]string{"x-amz-account-id": "000000000000"})
	if w.Code != 501 || !strings.Contains(w.Body.String(), "S3 Control API") {
		t.Errorf("s3control PutPublicAccessBlock: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "GET", "/v20180820/configuration/publicAccessBlock", "", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "NoSuchBucket") {
		t.Errorf("without the account header it is a bucket's path: %d %s", w.Code, w.Body)
	}
}
