package s3

import (
	"encoding/json"
	"encoding/xml"
	"net"
	"net/http"
	"strings"
)

// Block Public Access, per bucket (Put/Get/DeletePublicAccessBlock). A
// bucket's settings live in its record; a new bucket has all four on, as
// on AWS since April 2023, and after DeletePublicAccessBlock it has none
// (GetPublicAccessBlock: NoSuchPublicAccessBlockConfiguration).
//
//   - BlockPublicAcls: a public ACL (public-read, public-read-write,
//     authenticated-read, or a grant to the AllUsers or AuthenticatedUsers
//     group) is refused on PutBucketAcl, PutObjectAcl and on writes
//     (AccessDenied), and on CreateBucket
//     (InvalidBucketAclWithBlockPublicAccessError). Off, such an ACL is
//     kept and answered by GetBucketAcl/GetObjectAcl.
//   - BlockPublicPolicy: PutBucketPolicy of a public policy (publicPolicy:
//     AWS's definition) is AccessDenied.
//   - IgnorePublicAcls, RestrictPublicBuckets: kept and answered. Nimbus
//     serves no anonymous and no cross-account S3 request (every caller is
//     signed by the node's one account), so what they restrict never
//     happens: they are in effect whatever their value
//     (docs/design/object-storage.md).

// PublicAccessBlockConfiguration is a bucket's Block Public Access
// settings.
type PublicAccessBlockConfiguration struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration" json:"-"`
	Xmlns                 string   `xml:"xmlns,attr,omitempty" json:"-"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls" json:"blockAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls" json:"ignoreAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy" json:"blockPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets" json:"restrict"`
}

// publicBlock is the bucket's settings in effect: all on unless set or
// deleted.
func (b *bucketRecord) publicBlock() PublicAccessBlockConfiguration {
	switch {
	case b.NoPublicAccessBlock:
		return PublicAccessBlockConfiguration{}
	case b.PublicAccessBlock == nil:
		return PublicAccessBlockConfiguration{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}
	}
	return *b.PublicAccessBlock
}

func (s *Service) putPublicAccessBlock(w http.ResponseWriter, r *http.Request, name string) error {
	var c PublicAccessBlockConfiguration
	if err := readXML(r, &c, false); err != nil {
		return err
	}
	err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error {
		c := c
		b.PublicAccessBlock, b.NoPublicAccessBlock = &c, false
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getPublicAccessBlock(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	if b.NoPublicAccessBlock {
		return errorf(http.StatusNotFound, "NoSuchPublicAccessBlockConfiguration",
			"The public access block configuration was not found").with("BucketName", name)
	}
	c := b.publicBlock()
	c.Xmlns = xmlns
	return writeXML(w, http.StatusOK, c)
}

func (s *Service) deletePublicAccessBlock(w http.ResponseWriter, r *http.Request, name string) error {
	err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error {
		b.PublicAccessBlock, b.NoPublicAccessBlock = nil, true
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func publicPolicyDenied() *Error {
	return errorf(http.StatusForbidden, "AccessDenied",
		"Access Denied: public policies are blocked by the BlockPublicPolicy block public access setting.")
}

// publicPolicy reports whether a bucket policy is public as S3 defines
// it ("The meaning of public"): some Allow statement grants to everyone —
// a Principal of "*" (or an AWS principal with a wildcard), or any
// NotPrincipal — without a condition that pins the caller to fixed values
// (no wildcard, no policy variable) of aws:SourceIp (a CIDR of /8 or
// narrower for IPv4, /32 or narrower for IPv6), aws:SourceArn,
// aws:SourceVpc, aws:SourceVpce, aws:SourceOwner, aws:SourceAccount,
// aws:PrincipalAccount, aws:PrincipalOrgID,
// s3:x-amz-server-side-encryption-aws-kms-key-id, or aws:userid (outside
// "AROLEID:*"). A document that does not parse is not public (the caller
// has already checked it parses).
func publicPolicy(doc []byte) bool {
	var p struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if json.Unmarshal(doc, &p) != nil {
		return false
	}
	var stmts []json.RawMessage
	if json.Unmarshal(p.Statement, &stmts) != nil {
		stmts = []json.RawMessage{p.Statement}
	}
	for _, raw := range stmts {
		var st struct {
			Effect       string                                `json:"Effect"`
			Principal    json.RawMessage                       `json:"Principal"`
			NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
			Condition    map[string]map[string]json.RawMessage `json:"Condition"`
		}
		if json.Unmarshal(raw, &st) != nil || st.Effect != "Allow" {
			continue
		}
		if (len(st.NotPrincipal) > 0 || publicPrincipal(st.Principal)) && !pinned(st.Condition) {
			return true
		}
	}
	return false
}

// publicPrincipal: "*", {"AWS": "*"}, or an AWS principal with a wildcard.
func publicPrincipal(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.Contains(s, "*")
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return true // not a principal S3 would take: count it as public
	}
	for kind, v := range m {
		if kind != "AWS" && kind != "CanonicalUser" {
			continue // services and federated principals are fixed names
		}
		for _, x := range stringsOf(v) {
			if strings.Contains(x, "*") {
				return true
			}
		}
	}
	return false
}

// pinnedKeys are the condition keys whose fixed values make a grant to
// everyone non-public.
var pinnedKeys = map[string]bool{"aws:sourceip": true, "aws:sourcearn": true, "aws:sourcevpc": true, "aws:sourcevpce": true,
	"aws:sourceowner": true, "aws:sourceaccount": true, "aws:principalaccount": true, "aws:principalorgid": true,
	"s3:x-amz-server-side-encryption-aws-kms-key-id": true, "aws:userid": true}

// pinned reports whether a statement's conditions pin the caller to
// fixed values of a key S3 counts.
func pinned(cond map[string]map[string]json.RawMessage) bool {
	for op, keys := range cond {
		lop := strings.ToLower(op)
		if strings.HasPrefix(lop, "foranyvalue:") || strings.HasPrefix(lop, "forallvalues:") || strings.HasSuffix(lop, "ifexists") ||
			strings.Contains(lop, "not") || strings.Contains(lop, "null") {
			continue // an absent or different value also matches
		}
		for key, raw := range keys {
			k := strings.ToLower(key)
			if !pinnedKeys[k] {
				continue
			}
			vals := stringsOf(raw)
			if len(vals) == 0 {
				continue
			}
			fixed := true
			for _, v := range vals {
				if !fixedValue(k, v) {
					fixed = false
				}
			}
			if fixed {
				return true
			}
		}
	}
	return false
}

func fixedValue(key, v string) bool {
	if v == "" || strings.ContainsAny(v, "*?") || strings.Contains(v, "${") {
		return false
	}
	switch key {
	case "aws:sourceip":
		ip, n, err := net.ParseCIDR(v)
		if err != nil {
			return net.ParseIP(v) != nil // one address
		}
		ones, _ := n.Mask.Size()
		if ip.To4() != nil {
			return ones >= 8
		}
		return ones >= 32
	case "aws:userid":
		return !strings.HasSuffix(v, ":*")
	}
	return true
}

// stringsOf is a JSON string or list of strings (anything else: none).
func stringsOf(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return l
	}
	return nil
}
