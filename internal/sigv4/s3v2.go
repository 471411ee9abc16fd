package sigv4

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // G505: Signature Version 2 is HMAC-SHA1 by definition
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// S3's Signature Version 2 query parameters: the presigned URLs botocore
// (boto3, the AWS CLI) still makes by default for us-east-1.
const (
	queryV2AccessKey = "AWSAccessKeyId"
	queryV2Signature = "Signature"
	queryV2Expires   = "Expires"
)

// IsS3V2Presigned reports whether r carries an S3 Signature Version 2
// presigned query (AWSAccessKeyId, Signature and Expires).
func IsS3V2Presigned(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has(queryV2AccessKey) && q.Has(queryV2Signature) && q.Has(queryV2Expires)
}

// s3SubResources are the query parameters SigV2's canonical resource
// keeps.
var s3SubResources = []string{"acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
	"policy", "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type", "response-expires", "restore", "tagging", "torrent", "uploadId",
	"uploads", "versionId", "versioning", "versions", "website"}

// VerifyS3V2Presigned checks an S3 Signature Version 2 presigned request:
// HMAC-SHA1 over the method, Content-MD5, Content-Type, Expires, the
// x-amz-* headers and the canonical resource (bucket is the bucket of a
// virtual-hosted request, "" for path-style), and the expiry. Failures are
// *Error.
func (v *Verifier) VerifyS3V2Presigned(r *http.Request, bucket string) (*Result, error) {
	q := r.URL.Query()
	akid, sig, exp := q.Get(queryV2AccessKey), q.Get(queryV2Signature), q.Get(queryV2Expires)
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || akid == "" || sig == "" {
		return nil, incomplete("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	}
	if v.opts.Now().After(time.Unix(n, 0)) {
		return nil, newError(KindExpired, "Request has expired")
	}
	token := q.Get(QuerySecurityToken)
	if token == "" {
		token = r.Header.Get(HeaderSecurityToken)
	}
	key, err := v.opts.Keys.Lookup(r.Context(), akid, token)
	if err != nil {
		return nil, newError(KindUnknownKey, msgUnknownKey)
	}
	var amz []string
	for name, vals := range r.Header {
		ln := strings.ToLower(name)
		if strings.HasPrefix(ln, "x-amz-") {
			amz = append(amz, ln+":"+strings.Join(vals, ","))
		}
	}
	slices.Sort(amz)
	res := rawPath(r)
	if bucket != "" {
		res = "/" + bucket + res
	}
	var subs []string
	for _, s := range s3SubResources {
		if vals, ok := q[s]; ok {
			if vals[0] == "" {
				subs = append(subs, s)
			} else {
				subs = append(subs, s+"="+vals[0])
			}
		}
	}
	if len(subs) > 0 {
		res += "?" + strings.Join(subs, "&")
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + exp + "\n")
	for _, h := range amz {
		b.WriteString(h + "\n")
	}
	b.WriteString(res)
	m := hmac.New(sha1.New, []byte(key.Secret))
	m.Write([]byte(b.String()))
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(m.Sum(nil), want) {
		return nil, newError(KindMismatch, msgMismatch)
	}
	return &Result{AccessKeyID: akid, SessionToken: token, Scope: Scope{Region: v.opts.Region, Service: "s3"}, Presigned: true,
		Principal: key.Principal}, nil
}
