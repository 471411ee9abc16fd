package s3

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// Access control lists, as an AWS user meets them since April 2023:
// every new bucket's Object Ownership is BucketOwnerEnforced (ACLs
// disabled) and its Block Public Access settings are all on.
//
//   - Reading an ACL (GetBucketAcl, GetObjectAcl) answers the owner with
//     FULL_CONTROL.
//   - Under BucketOwnerEnforced, setting one (PutBucketAcl, PutObjectAcl,
//     x-amz-acl or x-amz-grant-* on a write) is AccessControlListNotSupported
//     (InvalidBucketAclWithObjectOwnership on CreateBucket), except the
//     ACLs that give the owner full control (private,
//     bucket-owner-full-control, or the equivalent grant), which change
//     nothing.
//   - Under ObjectWriter or BucketOwnerPreferred (PutBucketOwnershipControls,
//     or x-amz-object-ownership on CreateBucket) a canned ACL is stored with
//     the bucket or object and answered; a public one (public-read,
//     public-read-write, authenticated-read, or the grants to the AllUsers
//     or AuthenticatedUsers group they spell out) is AccessDenied while the
//     bucket's BlockPublicAcls is on (public.go; on by default, as on AWS),
//     kept and answered when it is off. Grants to other accounts are
//     refused by name: Nimbus has one account.
//
// ACLs never grant anything in Nimbus: IAM and bucket policies decide
// (Nimbus serves no anonymous or cross-account request, which is what a
// public ACL would let in).

// Object Ownership settings.
const (
	ownerEnforced  = "BucketOwnerEnforced"
	ownerPreferred = "BucketOwnerPreferred"
	objectWriter   = "ObjectWriter"
)

// ownership is the bucket's Object Ownership in effect (ObjectWriter
// once its controls were deleted, as on AWS).
func (b *bucketRecord) ownership() string {
	switch {
	case b.NoOwnership:
		return objectWriter
	case b.Ownership == "":
		return ownerEnforced
	}
	return b.Ownership
}

func validOwnership(v string) bool {
	return v == ownerEnforced || v == ownerPreferred || v == objectWriter
}

func aclNotSupported() *Error {
	return errorf(http.StatusBadRequest, "AccessControlListNotSupported", "The bucket does not allow ACLs")
}

func publicACLDenied() *Error {
	return errorf(http.StatusForbidden, "AccessDenied",
		"Access Denied: public ACLs are blocked by the bucket's S3 Block Public Access settings (BlockPublicAcls)")
}

// Canned ACLs.
var (
	bucketCanned = map[string]bool{"private": true, "public-read": true, "public-read-write": true, "authenticated-read": true,
		"log-delivery-write": true, "aws-exec-read": true, "bucket-owner-read": true, "bucket-owner-full-control": true}
	objectCanned = map[string]bool{"private": true, "public-read": true, "public-read-write": true, "authenticated-read": true,
		"aws-exec-read": true, "bucket-owner-read": true, "bucket-owner-full-control": true}
)

const (
	allUsersURI  = "http://acs.amazonaws.com/groups/global/AllUsers"
	authUsersURI = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

var grantHeaders = []string{"x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp"}

// aclTarget says what an ACL is set on: a bucket or an object, and
// whether the request creates the bucket (its refusal has its own code).
type aclTarget int

const (
	aclObject aclTarget = iota
	aclBucket
	aclNewBucket
)

// requestACL reads the ACL a request sets through x-amz-acl or
// x-amz-grant-* headers under bucket b's Object Ownership and Block
// Public Access: the canned ACL to store ("" when none is named), or the
// refusal.
func (s *Service) requestACL(h http.Header, b *bucketRecord, on aclTarget) (string, error) {
	canned := h.Get("x-amz-acl")
	var grants []grant
	for _, name := range grantHeaders {
		v := h.Get(name)
		if v == "" {
			continue
		}
		perm := strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(name, "x-amz-grant-"), "-", "_"))
		for g := range strings.SplitSeq(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(g), "=")
			if !ok {
				return "", invalidArgument("Invalid argument in the %s header.", name).with("ArgumentName", name)
			}
			gr := grant{Permission: perm}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "id":
				gr.Grantee.ID = val
			case "uri":
				gr.Grantee.URI = val
			case "emailaddress":
				gr.Grantee.Email = val
			default:
				return "", invalidArgument("Invalid argument in the %s header.", name).with("ArgumentName", name)
			}
			grants = append(grants, gr)
		}
	}
	if canned != "" && len(grants) > 0 {
		return "", invalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
	}
	if canned == "" && len(grants) == 0 {
		return "", nil
	}
	if canned != "" {
		if (on == aclObject && !objectCanned[canned]) || (on != aclObject && !bucketCanned[canned]) {
			return "", invalidArgument("").with("ArgumentName", "x-amz-acl").with("ArgumentValue", canned)
		}
		return s.judgeACL(canned, nil, b, on)
	}
	return s.judgeACL("", grants, b, on)
}

// judgeACL decides a canned ACL or a list of grants: the canned ACL to
// store, or the refusal.
func (s *Service) judgeACL(canned string, grants []grant, b *bucketRecord, on aclTarget) (string, error) {
	ownership := b.ownership()
	ownerOnly := canned == "private" || canned == "bucket-owner-full-control"
	public := publicCanned[canned]
	if canned == "" {
		ownerOnly = true
		for _, g := range grants {
			switch {
			case g.Grantee.URI == allUsersURI || g.Grantee.URI == authUsersURI:
				public, ownerOnly = true, false
			case g.Grantee.ID != s.owner().ID || g.Permission != "FULL_CONTROL":
				ownerOnly = false
			}
		}
		canned = "private"
		if public {
			canned = s.cannedOfGrants(grants)
		}
	}
	switch {
	case ownership == ownerEnforced && !ownerOnly && on == aclNewBucket:
		return "", errorf(http.StatusBadRequest, "InvalidBucketAclWithObjectOwnership",
			"Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
	case ownership == ownerEnforced && !ownerOnly:
		return "", aclNotSupported()
	case ownership == ownerEnforced:
		return "", nil // the owner has full control: nothing to keep
	case public && b.publicBlock().BlockPublicAcls && on == aclNewBucket:
		return "", errorf(http.StatusBadRequest, "InvalidBucketAclWithBlockPublicAccessError",
			"Bucket cannot have public ACLs set with BlockPublicAccess enabled")
	case public && b.publicBlock().BlockPublicAcls:
		return "", publicACLDenied()
	case public && canned == "":
		return "", notImplemented("ACL grants to the AllUsers or AuthenticatedUsers groups other than those of the public-read, public-read-write and authenticated-read canned ACLs")
	case !ownerOnly && canned == "private":
		return "", notImplemented("ACL grants to other accounts or groups (Nimbus has one account; grant access with IAM or a bucket policy)")
	case canned == "aws-exec-read":
		return "", notImplemented("the aws-exec-read canned ACL (there is no EC2 to read objects)")
	case canned == "log-delivery-write":
		return "", notImplemented("the log-delivery-write canned ACL (server access logging)")
	}
	return canned, nil
}

// publicCanned are the canned ACLs that grant to everyone or to every
// AWS user.
var publicCanned = map[string]bool{"public-read": true, "public-read-write": true, "authenticated-read": true}

// cannedOfGrants is the public canned ACL a list of grants spells out
// (the owner's full control beside the groups'), or "".
func (s *Service) cannedOfGrants(grants []grant) string {
	got := map[string]bool{}
	for _, g := range grants {
		switch {
		case g.Grantee.ID == s.owner().ID && g.Permission == "FULL_CONTROL":
		case g.Grantee.URI == allUsersURI && (g.Permission == "READ" || g.Permission == "WRITE"):
			got["all:"+g.Permission] = true
		case g.Grantee.URI == authUsersURI && g.Permission == "READ":
			got["auth:READ"] = true
		default:
			return ""
		}
	}
	switch {
	case len(got) == 1 && got["all:READ"]:
		return "public-read"
	case len(got) == 2 && got["all:READ"] && got["all:WRITE"]:
		return "public-read-write"
	case len(got) == 1 && got["auth:READ"]:
		return "authenticated-read"
	}
	return ""
}

type grantee struct {
	XMLNS       string `xml:"xmlns:xsi,attr,omitempty"`
	Type        string `xml:"xsi:type,attr,omitempty"`
	ID          string `xml:"ID,omitempty"`
	DisplayName string `xml:"DisplayName,omitempty"`
	Email       string `xml:"EmailAddress,omitempty"`
	URI         string `xml:"URI,omitempty"`
}

type grant struct {
	Grantee    grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Owner   *owner   `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

// aclOf is the ACL document of a bucket or object with the canned ACL
// kept: the owner's full control (every owner-only canned ACL comes to
// that in one account), and the groups' grants of a public one (kept
// only while the bucket's BlockPublicAcls is off).
func (s *Service) aclOf(canned string) accessControlPolicy {
	o := s.owner()
	const xsi = "http://www.w3.org/2001/XMLSchema-instance"
	p := accessControlPolicy{Xmlns: xmlns, Owner: &o, Grants: []grant{{
		Grantee:    grantee{XMLNS: xsi, Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: "FULL_CONTROL",
	}}}
	group := func(uri, perm string) {
		p.Grants = append(p.Grants, grant{Grantee: grantee{XMLNS: xsi, Type: "Group", URI: uri}, Permission: perm})
	}
	switch canned {
	case "public-read":
		group(allUsersURI, "READ")
	case "public-read-write":
		group(allUsersURI, "READ")
		group(allUsersURI, "WRITE")
	case "authenticated-read":
		group(authUsersURI, "READ")
	}
	return p
}

// bodyACL reads PutBucketAcl's or PutObjectAcl's ACL: the headers, or
// an AccessControlPolicy body.
func (s *Service) bodyACL(r *http.Request, b *bucketRecord, on aclTarget) (string, error) {
	canned, err := s.requestACL(r.Header, b, on)
	if err != nil || r.Header.Get("x-amz-acl") != "" || canned != "" {
		return canned, err
	}
	for _, n := range grantHeaders {
		if r.Header.Get(n) != "" {
			return canned, nil
		}
	}
	var p accessControlPolicy
	if err := readXML(r, &p, false); err != nil {
		return "", err
	}
	for _, g := range p.Grants {
		if g.Permission != "FULL_CONTROL" && g.Permission != "READ" && g.Permission != "WRITE" && g.Permission != "READ_ACP" && g.Permission != "WRITE_ACP" {
			return "", malformedXML()
		}
	}
	return s.judgeACL("", p.Grants, b, on)
}

func (s *Service) getBucketACL(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, s.aclOf(b.ACL))
}

func (s *Service) putBucketACL(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	canned, err := s.bodyACL(r, b, aclBucket)
	if err != nil {
		return err
	}
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.ACL = canned; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getObjectACL(w http.ResponseWriter, r *http.Request, t target, vid string) error {
	if _, err := s.localBucket(r.Context(), t.bucket); err != nil {
		return err
	}
	om, err := s.objectVersion(w, r, t, vid)
	if err != nil {
		return err
	}
	if om.VersionID != "" || vid != "" {
		w.Header().Set("x-amz-version-id", versionOf(om))
	}
	return writeXML(w, http.StatusOK, s.aclOf(om.ACL))
}

func (s *Service) putObjectACL(w http.ResponseWriter, r *http.Request, t target, vid string) error {
	b, err := s.localBucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	canned, err := s.bodyACL(r, b, aclObject)
	if err != nil {
		return err
	}
	v, err := s.updateVersion(w, r, t, vid, func(om *objectMeta) { om.ACL = canned })
	if err != nil {
		return err
	}
	if v != "null" && v != "" {
		w.Header().Set("x-amz-version-id", v)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// OwnershipControls is a bucket's Object Ownership setting.
type OwnershipControls struct {
	XMLName xml.Name `xml:"OwnershipControls"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Rules   []struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	} `xml:"Rule"`
}

func (s *Service) putOwnership(w http.ResponseWriter, r *http.Request, name string) error {
	var c OwnershipControls
	if err := readXML(r, &c, false); err != nil {
		return err
	}
	if len(c.Rules) != 1 || !validOwnership(c.Rules[0].ObjectOwnership) {
		return malformedXML()
	}
	err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error {
		b.Ownership, b.NoOwnership = c.Rules[0].ObjectOwnership, false
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getOwnership(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	if b.NoOwnership {
		return errorf(http.StatusNotFound, "OwnershipControlsNotFoundError", "The bucket ownership controls were not found").with("BucketName", name)
	}
	c := OwnershipControls{Xmlns: xmlns}
	c.Rules = append(c.Rules, struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	}{b.ownership()})
	return writeXML(w, http.StatusOK, c)
}

func (s *Service) deleteOwnership(w http.ResponseWriter, r *http.Request, name string) error {
	err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error {
		b.Ownership, b.NoOwnership = "", true
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
