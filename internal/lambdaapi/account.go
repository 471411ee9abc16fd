package lambdaapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/registry"
)

var taggableRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + taggableARNPattern + `$`) })

// tagTarget reads the {arn} of the tagging operations: the full ARN of a
// function (unqualified: AWS tags functions, not versions or aliases).
func (h *Handler) tagTarget(c *call) (string, error) {
	arn := c.params["arn"]
	if len(arn) > 256 || !taggableRE().MatchString(arn) {
		var v verrs
		v.add(arn, "resource", "Member must satisfy regular expression pattern: "+taggableARNPattern)
		return "", v.err()
	}
	if !strings.Contains(arn, ":function:") {
		return "", awsapi.NotFound("The resource you requested does not exist.")
	}
	ref, err := h.parseRef(arn)
	if err != nil {
		return "", err
	}
	if ref.Qualifier != "" {
		return "", awsapi.InvalidParameter("Tags on function aliases and versions are not supported. Please specify a function ARN.")
	}
	return ref.Name, nil
}

type tagRequest struct {
	Tags map[string]string `json:"Tags"`
}

func (h *Handler) tagResource(c *call) error {
	name, err := h.tagTarget(c)
	if err != nil {
		return err
	}
	var req tagRequest
	if err := c.decode(maxRequest, &req); err != nil {
		return err
	}
	if req.Tags == nil {
		var v verrs
		v.add("null", "tags", "Member must not be null")
		return v.err()
	}
	if len(req.Tags) == 0 {
		// What AWS answers to TagResource with Tags {}.
		return awsapi.InvalidParameter("An error occurred and the request cannot be processed.")
	}
	if err := checkTags(req.Tags); err != nil {
		return err
	}
	if err := h.reg.TagFunction(c.r.Context(), name, req.Tags); err != nil {
		return err
	}
	return c.noContent()
}

func (h *Handler) untagResource(c *call) error {
	name, err := h.tagTarget(c)
	if err != nil {
		return err
	}
	keys, ok := c.r.URL.Query()["tagKeys"]
	if !ok {
		var v verrs
		v.add("null", "tagKeys", "Member must not be null")
		return v.err()
	}
	if err := h.reg.UntagFunction(c.r.Context(), name, keys); err != nil {
		return err
	}
	return c.noContent()
}

type listTagsResponse struct {
	Tags map[string]string `json:"Tags"`
}

func (h *Handler) listTags(c *call) error {
	name, err := h.tagTarget(c)
	if err != nil {
		return err
	}
	tags, err := h.reg.Tags(c.r.Context(), name)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, listTagsResponse{Tags: tags})
}

type accountSettings struct {
	AccountLimit struct {
		TotalCodeSize                  int64 `json:"TotalCodeSize"`
		CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
		CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
		ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
		UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
	} `json:"AccountLimit"`
	AccountUsage struct {
		TotalCodeSize int64 `json:"TotalCodeSize"`
		FunctionCount int   `json:"FunctionCount"`
	} `json:"AccountUsage"`
}

func (h *Handler) getAccountSettings(c *call) error {
	fns, size, err := h.reg.Usage(c.r.Context())
	if err != nil {
		return err
	}
	var out accountSettings
	out.AccountLimit.TotalCodeSize = 80530636800 // 75 GB, AWS's default
	out.AccountLimit.CodeSizeUnzipped = function.MaxUnzippedSize
	out.AccountLimit.CodeSizeZipped = function.MaxZippedSize
	out.AccountLimit.ConcurrentExecutions = h.concurrency
	out.AccountLimit.UnreservedConcurrentExecutions = max(0, h.concurrency-h.reg.TotalReserved())
	out.AccountUsage.TotalCodeSize = size
	out.AccountUsage.FunctionCount = fns
	return c.writeJSON(http.StatusOK, out)
}

// Code download links. GetFunction's Code.Location is, as in AWS, a
// pre-signed URL valid for ten minutes: here a route of this server,
// signed with an HMAC of the code key and the expiry, so it works without
// credentials (curl, a browser) and cannot be forged for other packages.
const (
	// CodeRoutePrefix starts the paths of code download links; the front
	// door lets them through without SigV4 (they carry their own
	// signature, like S3's presigned URLs).
	CodeRoutePrefix = "/_nimbus/code/"
	codeRoutePrefix = CodeRoutePrefix
	codeURLLifetime = 10 * time.Minute
	expiresParam    = "X-Nimbus-Expires"
	signatureParam  = "X-Nimbus-Signature"
)

func (h *Handler) codeSignature(key string, expires int64) string {
	m := hmac.New(sha256.New, h.codeKey)
	m.Write([]byte(key + "\n" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// codeURL is the link to download the package codeSha256, on the host the
// client used to reach this server.
func (h *Handler) codeURL(r *http.Request, codeSha256 string) string {
	key := function.CodeKey(codeSha256)
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	expires := h.now().Add(codeURLLifetime).Unix()
	q := url.Values{}
	q.Set(expiresParam, strconv.FormatInt(expires, 10))
	q.Set(signatureParam, h.codeSignature(key, expires))
	return scheme + "://" + host + codeRoutePrefix + key + "?" + q.Encode()
}

func (h *Handler) getCode(c *call) error {
	key := c.params["key"]
	q := c.r.URL.Query()
	expires, err := strconv.ParseInt(q.Get(expiresParam), 10, 64)
	sig := q.Get(signatureParam)
	sha := registry.CodeSha256FromKey(key)
	if err != nil || sha == "" || !hmac.Equal([]byte(sig), []byte(h.codeSignature(key, expires))) {
		return &awsapi.Error{Status: http.StatusForbidden, Code: awsapi.CodeAccessDenied, Type: "User",
			Message: "The request signature we calculated does not match the signature you provided."}
	}
	if h.now().Unix() > expires {
		return &awsapi.Error{Status: http.StatusForbidden, Code: awsapi.CodeAccessDenied, Type: "User",
			Message: "Request has expired"}
	}
	data, err := h.reg.Code(c.r.Context(), sha)
	if err != nil {
		return err
	}
	hd := c.w.Header()
	hd.Set("Content-Type", "application/zip")
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(data)
	return nil
}
