package iam

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// The IAM query API (botocore model "iam", version 2010-05-08).

const (
	iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"
	iamVersion   = "2010-05-08"
	// maxForm bounds a query request's body.
	maxForm = 1 << 20
)

// AWS's quotas (IAM User Guide, "IAM and AWS STS quotas").
const (
	maxRoleInline     = 10240 // aggregate inline policy size per role
	maxUserInline     = 2048
	maxGroupInline    = 5120
	maxManagedSize    = 6144
	maxTrustSize      = 2048
	maxAttached       = 10 // managed policies per role, user or group
	maxPolicyVersions = 5
)

// Form is a parsed query request.
type Form struct{ url.Values }

// ParseForm reads the query-protocol form of r (URL query and a
// form-encoded body of at most 1 MiB). The body is put back, so the
// front door may read it before the handler.
func ParseForm(r *http.Request) (Form, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return Form{}, invalidInput("The query string is malformed.")
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return Form{vals}, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	if err != nil {
		return Form{}, fmt.Errorf("read request body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > maxForm {
		return Form{}, &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Type: "User",
			Message: "Request body too large."}
	}
	bv, err := url.ParseQuery(string(body))
	if err != nil {
		return Form{}, invalidInput("The request body is malformed.")
	}
	for k, v := range vals {
		if _, ok := bv[k]; !ok {
			bv[k] = v
		}
	}
	return Form{bv}, nil
}

// List reads Prefix.member.N.
func (f Form) List(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := f.Values[prefix+".member."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// Tags reads Tags.member.N.Key/Value.
func (f Form) Tags() []Tag {
	var out []Tag
	for i := 1; ; i++ {
		p := "Tags.member." + strconv.Itoa(i)
		k, ok := f.Values[p+".Key"]
		if !ok {
			return out
		}
		out = append(out, Tag{Key: k[0], Value: f.Get(p + ".Value")})
	}
}

func (f Form) has(k string) bool { _, ok := f.Values[k]; return ok }

// --- errors -------------------------------------------------------------

func iamErr(status int, code, format string, args ...any) *awsapi.Error {
	return &awsapi.Error{Status: status, Code: code, Type: "Sender", Message: fmt.Sprintf(format, args...)}
}

func invalidInput(format string, args ...any) *awsapi.Error {
	return iamErr(http.StatusBadRequest, "InvalidInput", format, args...)
}

func noSuchEntity(format string, args ...any) *awsapi.Error {
	return iamErr(http.StatusNotFound, "NoSuchEntity", format, args...)
}

func alreadyExists(format string, args ...any) *awsapi.Error {
	return iamErr(http.StatusConflict, "EntityAlreadyExists", format, args...)
}

func deleteConflict(format string, args ...any) *awsapi.Error {
	return iamErr(http.StatusConflict, "DeleteConflict", format, args...)
}

func limitExceeded(format string, args ...any) *awsapi.Error {
	return iamErr(http.StatusConflict, "LimitExceeded", format, args...)
}

func malformedPolicy(msg string) *awsapi.Error {
	return iamErr(http.StatusBadRequest, "MalformedPolicyDocument", "%s", msg)
}

func validationErr(format string, args ...any) *awsapi.Error {
	return iamErr(http.StatusBadRequest, "ValidationError", format, args...)
}

// checkDoc parses a policy document of kind, answering
// MalformedPolicyDocument with IAM's message.
func checkDoc(doc string, kind policy.Kind) error {
	if doc == "" {
		return validationErr("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	if _, err := policy.Parse([]byte(doc), kind); err != nil {
		var pe *policy.Error
		if errors.As(err, &pe) {
			return malformedPolicy(pe.Message)
		}
		return err
	}
	return nil
}

var (
	nameRE       = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathRE       = regexp.MustCompile(`^(/|/[\x21-\x7E]*/)$`)
	policyArnRE  = regexp.MustCompile(`^arn:aws:iam::(aws|\d{12}):policy(/.*)?/[\w+=,.@-]+$`)
	accessKeyIDs = regexp.MustCompile(`^[\w]{16,128}$`)
)

func checkName(f Form, param, field string, max int) (string, error) {
	v := f.Get(param)
	if !f.has(param) {
		return "", validationErr("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	if len(v) < 1 || len(v) > max {
		return "", validationErr("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, field, max)
	}
	if !nameRE.MatchString(v) {
		return "", validationErr("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", v, field)
	}
	return v, nil
}

func checkPath(f Form) (string, error) {
	p := f.Get("Path")
	if p == "" {
		return "/", nil
	}
	if len(p) > 512 || !pathRE.MatchString(p) {
		return "", validationErr("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return p, nil
}

// --- the handler ----------------------------------------------------------

// ServeHTTP answers one IAM query request (the front door has
// authenticated and authorised it).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewRequestID()
	f, err := ParseForm(r)
	if err != nil {
		writeQueryError(w, reqID, err)
		return
	}
	action := f.Get("Action")
	op, ok := iamOps[action]
	switch {
	case action == "":
		writeQueryError(w, reqID, iamErr(http.StatusBadRequest, "MissingAction", "Missing Action"))
		return
	case !ok && strings.Contains(action, "InstanceProfile"):
		writeQueryError(w, reqID, iamErr(http.StatusBadRequest, "InvalidAction",
			"Nimbus does not support IAM instance profiles (%s): there are no EC2 instances; a function gets its execution role's credentials directly.", action))
		return
	case !ok:
		writeQueryError(w, reqID, iamErr(http.StatusBadRequest, "InvalidAction",
			"Could not find operation %s for version %s", action, iamVersion))
		return
	}
	res, err := op(s, r.Context(), f)
	if err != nil {
		if awsapi.As(err) == nil {
			s.log.Error("iam request failed", "action", action, "err", err)
		}
		writeQueryError(w, reqID, err)
		return
	}
	writeQueryResult(w, iamNamespace, action, res, reqID)
}

type opFunc func(*Service, context.Context, Form) (any, error)

var iamOps map[string]opFunc

func init() { //nolint:gochecknoinits // the operation table refers to methods that refer to it (SimulatePrincipalPolicy)
	iamOps = map[string]opFunc{
		"CreateRole":                    (*Service).createRole,
		"GetRole":                       entityGet(KindRole),
		"DeleteRole":                    entityDelete(KindRole),
		"ListRoles":                     entityList(KindRole),
		"UpdateRole":                    (*Service).updateRole,
		"UpdateRoleDescription":         (*Service).updateRole,
		"UpdateAssumeRolePolicy":        (*Service).updateAssumeRolePolicy,
		"TagRole":                       entityTag(KindRole, true),
		"UntagRole":                     entityTag(KindRole, false),
		"ListRoleTags":                  entityListTags(KindRole),
		"PutRolePolicy":                 inlinePut(KindRole),
		"GetRolePolicy":                 inlineGet(KindRole),
		"DeleteRolePolicy":              inlineDelete(KindRole),
		"ListRolePolicies":              inlineList(KindRole),
		"AttachRolePolicy":              attach(KindRole, true),
		"DetachRolePolicy":              attach(KindRole, false),
		"ListAttachedRolePolicies":      attachedList(KindRole),
		"PutRolePermissionsBoundary":    boundary(KindRole, true),
		"DeleteRolePermissionsBoundary": boundary(KindRole, false),

		"CreateUser":                    (*Service).createUser,
		"GetUser":                       (*Service).getUser,
		"DeleteUser":                    entityDelete(KindUser),
		"ListUsers":                     entityList(KindUser),
		"TagUser":                       entityTag(KindUser, true),
		"UntagUser":                     entityTag(KindUser, false),
		"ListUserTags":                  entityListTags(KindUser),
		"PutUserPolicy":                 inlinePut(KindUser),
		"GetUserPolicy":                 inlineGet(KindUser),
		"DeleteUserPolicy":              inlineDelete(KindUser),
		"ListUserPolicies":              inlineList(KindUser),
		"AttachUserPolicy":              attach(KindUser, true),
		"DetachUserPolicy":              attach(KindUser, false),
		"ListAttachedUserPolicies":      attachedList(KindUser),
		"PutUserPermissionsBoundary":    boundary(KindUser, true),
		"DeleteUserPermissionsBoundary": boundary(KindUser, false),

		"CreateGroup":               (*Service).createGroup,
		"GetGroup":                  (*Service).getGroup,
		"DeleteGroup":               entityDelete(KindGroup),
		"ListGroups":                entityList(KindGroup),
		"AddUserToGroup":            membership(true),
		"RemoveUserFromGroup":       membership(false),
		"ListGroupsForUser":         (*Service).listGroupsForUser,
		"PutGroupPolicy":            inlinePut(KindGroup),
		"GetGroupPolicy":            inlineGet(KindGroup),
		"DeleteGroupPolicy":         inlineDelete(KindGroup),
		"ListGroupPolicies":         inlineList(KindGroup),
		"AttachGroupPolicy":         attach(KindGroup, true),
		"DetachGroupPolicy":         attach(KindGroup, false),
		"ListAttachedGroupPolicies": attachedList(KindGroup),

		"CreatePolicy":            (*Service).createPolicy,
		"GetPolicy":               (*Service).getPolicy,
		"DeletePolicy":            (*Service).deletePolicy,
		"ListPolicies":            (*Service).listPolicies,
		"CreatePolicyVersion":     (*Service).createPolicyVersion,
		"GetPolicyVersion":        (*Service).getPolicyVersion,
		"ListPolicyVersions":      (*Service).listPolicyVersions,
		"DeletePolicyVersion":     (*Service).deletePolicyVersion,
		"SetDefaultPolicyVersion": (*Service).setDefaultPolicyVersion,
		"ListEntitiesForPolicy":   (*Service).listEntitiesForPolicy,

		"CreateAccessKey": (*Service).createAccessKey,
		"ListAccessKeys":  (*Service).listAccessKeys,
		"DeleteAccessKey": (*Service).deleteAccessKey,
		"UpdateAccessKey": (*Service).updateAccessKey,

		"SimulatePrincipalPolicy": (*Service).simulatePrincipalPolicy,
	}
}

// IsOperation reports whether action is an IAM operation Nimbus serves.
func IsOperation(action string) bool { _, ok := iamOps[action]; return ok }

// --- XML shapes -----------------------------------------------------------

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type xmlBoundary struct {
	Type string `xml:"PermissionsBoundaryType"`
	Arn  string `xml:"PermissionsBoundaryArn"`
}

type xmlEntity struct {
	Path               string       `xml:"Path"`
	RoleName           string       `xml:"RoleName,omitempty"`
	RoleID             string       `xml:"RoleId,omitempty"`
	UserName           string       `xml:"UserName,omitempty"`
	UserID             string       `xml:"UserId,omitempty"`
	GroupName          string       `xml:"GroupName,omitempty"`
	GroupID            string       `xml:"GroupId,omitempty"`
	Arn                string       `xml:"Arn"`
	CreateDate         string       `xml:"CreateDate"`
	AssumeRolePolicy   string       `xml:"AssumeRolePolicyDocument,omitempty"`
	Description        string       `xml:"Description,omitempty"`
	MaxSessionDuration int          `xml:"MaxSessionDuration,omitempty"`
	Boundary           *xmlBoundary `xml:"PermissionsBoundary,omitempty"`
	Tags               []xmlTag     `xml:"Tags>member,omitempty"`
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// encodeDoc is a policy document as IAM returns it: URL-encoded.
func encodeDoc(doc string) string { return url.PathEscape(doc) }

func (s *Service) xmlOf(e *Entity, withTags bool) xmlEntity {
	x := xmlEntity{Path: e.Path, Arn: s.entityArn(e.Kind, e.Path, e.Name), CreateDate: isoTime(e.Created), Description: e.Description}
	switch e.Kind {
	case KindRole:
		x.RoleName, x.RoleID, x.MaxSessionDuration = e.Name, e.ID, e.MaxSessionDuration
		x.AssumeRolePolicy = encodeDoc(e.AssumeRolePolicy)
	case KindUser:
		x.UserName, x.UserID = e.Name, e.ID
	case KindGroup:
		x.GroupName, x.GroupID = e.Name, e.ID
	}
	if e.Boundary != "" {
		x.Boundary = &xmlBoundary{Type: "Policy", Arn: e.Boundary}
	}
	if withTags {
		for _, t := range e.Tags {
			x.Tags = append(x.Tags, xmlTag(t))
		}
	}
	return x
}

func kindTitle(kind string) string { return strings.ToUpper(kind[:1]) + kind[1:] }

// --- roles, users, groups -------------------------------------------------

func (s *Service) createEntity(ctx context.Context, f Form, kind string, fill func(*Entity) error) (*Entity, error) {
	name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", map[string]int{KindRole: 64, KindUser: 64, KindGroup: 128}[kind])
	if err != nil {
		return nil, err
	}
	path, err := checkPath(f)
	if err != nil {
		return nil, err
	}
	prefix := map[string]string{KindRole: "AROA", KindUser: "AIDA", KindGroup: "AGPA"}[kind]
	e := &Entity{Kind: kind, Name: name, Path: path, ID: newID(prefix), Created: s.opts.Now().UTC().Truncate(time.Second)}
	if kind != KindGroup {
		e.Tags = f.Tags()
		if len(e.Tags) > 50 {
			return nil, limitExceeded("Cannot exceed quota for TagsPerRole: 50")
		}
		if b := f.Get("PermissionsBoundary"); b != "" {
			if s.managed(b) == nil {
				return nil, noSuchEntity("Scope ARN: %s does not exist or is not attachable.", b)
			}
			e.Boundary = b
		}
	}
	if fill != nil {
		if err := fill(e); err != nil {
			return nil, err
		}
	}
	// IAM names are unique case-insensitively within the account.
	s.mu.RLock()
	for k, c := range s.entities {
		if strings.HasPrefix(k, kind+"/") && strings.EqualFold(c.e.Name, name) {
			s.mu.RUnlock()
			return nil, alreadyExists("%s with name %s already exists.", kindTitle(kind), name)
		}
	}
	s.mu.RUnlock()
	err = s.updateEntity(ctx, kind, name, func(cur *Entity) (*Entity, error) {
		if cur != nil {
			return nil, alreadyExists("%s with name %s already exists.", kindTitle(kind), name)
		}
		return e, nil
	})
	return e, err
}

func (s *Service) createRole(ctx context.Context, f Form) (any, error) {
	e, err := s.createEntity(ctx, f, KindRole, func(e *Entity) error {
		doc := f.Get("AssumeRolePolicyDocument")
		if len(compactJSON(doc)) > maxTrustSize {
			return limitExceeded("Cannot exceed quota for ACLSizePerRole: %d", maxTrustSize)
		}
		if err := checkDoc(doc, policy.Trust); err != nil {
			return err
		}
		e.AssumeRolePolicy = doc
		e.Description = f.Get("Description")
		e.MaxSessionDuration = 3600
		if v := f.Get("MaxSessionDuration"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 3600 || n > 43200 {
				return validationErr("1 validation error detected: Value '%s' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200", v)
			}
			e.MaxSessionDuration = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct {
		Role xmlEntity `xml:"Role"`
	}{s.xmlOf(e, true)}, nil
}

func (s *Service) createUser(ctx context.Context, f Form) (any, error) {
	e, err := s.createEntity(ctx, f, KindUser, nil)
	if err != nil {
		return nil, err
	}
	return struct {
		User xmlEntity `xml:"User"`
	}{s.xmlOf(e, true)}, nil
}

func (s *Service) createGroup(ctx context.Context, f Form) (any, error) {
	e, err := s.createEntity(ctx, f, KindGroup, nil)
	if err != nil {
		return nil, err
	}
	return struct {
		Group xmlEntity `xml:"Group"`
	}{s.xmlOf(e, false)}, nil
}

func notFound(kind, name string) error {
	return noSuchEntity("The %s with name %s cannot be found.", kind, name)
}

func (s *Service) mustEntity(kind, name string) (*Entity, error) {
	ce := s.entity(kind, name)
	if ce == nil {
		return nil, notFound(kind, name)
	}
	e := *ce.e
	return &e, nil
}

func entityGet(kind string) opFunc {
	return func(s *Service, _ context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 64)
		if err != nil {
			return nil, err
		}
		e, err := s.mustEntity(kind, name)
		if err != nil {
			return nil, err
		}
		return struct {
			Role xmlEntity `xml:"Role"`
		}{s.xmlOf(e, true)}, nil
	}
}

func (s *Service) getUser(_ context.Context, f Form) (any, error) {
	name := f.Get("UserName")
	if name == "" {
		return nil, validationErr("Nimbus answers GetUser without UserName only for IAM users' own keys; name the user.")
	}
	e, err := s.mustEntity(KindUser, name)
	if err != nil {
		return nil, err
	}
	return struct {
		User xmlEntity `xml:"User"`
	}{s.xmlOf(e, true)}, nil
}

func (s *Service) getGroup(_ context.Context, f Form) (any, error) {
	name, err := checkName(f, "GroupName", "groupName", 128)
	if err != nil {
		return nil, err
	}
	e, err := s.mustEntity(KindGroup, name)
	if err != nil {
		return nil, err
	}
	var users []xmlEntity
	for _, u := range s.snapshot(KindUser) {
		if slices.Contains(u.Groups, name) {
			users = append(users, s.xmlOf(u, false))
		}
	}
	return struct {
		Group       xmlEntity   `xml:"Group"`
		Users       []xmlEntity `xml:"Users>member"`
		IsTruncated bool        `xml:"IsTruncated"`
	}{Group: s.xmlOf(e, false), Users: users}, nil
}

// snapshot lists the entities of kind, sorted by name.
func (s *Service) snapshot(kind string) []*Entity {
	s.mu.RLock()
	var out []*Entity
	for k, c := range s.entities {
		if strings.HasPrefix(k, kind+"/") {
			e := *c.e
			out = append(out, &e)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func entityDelete(kind string) opFunc {
	return func(s *Service, ctx context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 128)
		if err != nil {
			return nil, err
		}
		if kind == KindGroup {
			for _, u := range s.snapshot(KindUser) {
				if slices.Contains(u.Groups, name) {
					return nil, deleteConflict("Cannot delete entity, must remove users from group first.")
				}
			}
		}
		if kind == KindUser {
			s.mu.RLock()
			for _, k := range s.keys {
				if k.User == name {
					s.mu.RUnlock()
					return nil, deleteConflict("Cannot delete entity, must delete access keys first.")
				}
			}
			s.mu.RUnlock()
		}
		return nil, s.updateEntity(ctx, kind, name, func(cur *Entity) (*Entity, error) {
			switch {
			case cur == nil:
				return nil, notFound(kind, name)
			case len(cur.Inline) > 0:
				return nil, deleteConflict("Cannot delete entity, must delete policies first.")
			case len(cur.Attached) > 0:
				return nil, deleteConflict("Cannot delete entity, must detach all policies first.")
			case len(cur.Groups) > 0:
				return nil, deleteConflict("Cannot delete entity, must remove user from all groups first.")
			}
			return nil, nil
		})
	}
}

func entityList(kind string) opFunc {
	return func(s *Service, _ context.Context, f Form) (any, error) {
		prefix := f.Get("PathPrefix")
		if prefix == "" {
			prefix = "/"
		}
		var items []xmlEntity
		for _, e := range s.snapshot(kind) {
			if strings.HasPrefix(e.Path, prefix) {
				items = append(items, s.xmlOf(e, false))
			}
		}
		items, marker, truncated, err := page(items, f)
		if err != nil {
			return nil, err
		}
		switch kind {
		case KindRole:
			return struct {
				Items       []xmlEntity `xml:"Roles>member"`
				IsTruncated bool        `xml:"IsTruncated"`
				Marker      string      `xml:"Marker,omitempty"`
			}{items, truncated, marker}, nil
		case KindUser:
			return struct {
				Items       []xmlEntity `xml:"Users>member"`
				IsTruncated bool        `xml:"IsTruncated"`
				Marker      string      `xml:"Marker,omitempty"`
			}{items, truncated, marker}, nil
		}
		return struct {
			Items       []xmlEntity `xml:"Groups>member"`
			IsTruncated bool        `xml:"IsTruncated"`
			Marker      string      `xml:"Marker,omitempty"`
		}{items, truncated, marker}, nil
	}
}

// page applies Marker and MaxItems (100 by default, 1..1000).
func page[T any](items []T, f Form) ([]T, string, bool, error) {
	max := 100
	if v := f.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, "", false, validationErr("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000", v)
		}
		max = n
	}
	start := 0
	if m := f.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", false, invalidInput("Invalid Marker.")
		}
		start = n
	}
	items = items[start:]
	if len(items) > max {
		return items[:max], strconv.Itoa(start + max), true, nil
	}
	return items, "", false, nil
}

func (s *Service) updateRole(ctx context.Context, f Form) (any, error) {
	name, err := checkName(f, "RoleName", "roleName", 64)
	if err != nil {
		return nil, err
	}
	var out *Entity
	err = s.updateEntity(ctx, KindRole, name, func(cur *Entity) (*Entity, error) {
		if cur == nil {
			return nil, notFound(KindRole, name)
		}
		if f.has("Description") {
			cur.Description = f.Get("Description")
		}
		if v := f.Get("MaxSessionDuration"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 3600 || n > 43200 {
				return nil, validationErr("1 validation error detected: Value '%s' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200", v)
			}
			cur.MaxSessionDuration = n
		}
		out = cur
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	if f.Get("Action") == "UpdateRoleDescription" {
		return struct {
			Role xmlEntity `xml:"Role"`
		}{s.xmlOf(out, true)}, nil
	}
	return nil, nil
}

func (s *Service) updateAssumeRolePolicy(ctx context.Context, f Form) (any, error) {
	name, err := checkName(f, "RoleName", "roleName", 64)
	if err != nil {
		return nil, err
	}
	doc := f.Get("PolicyDocument")
	if len(compactJSON(doc)) > maxTrustSize {
		return nil, limitExceeded("Cannot exceed quota for ACLSizePerRole: %d", maxTrustSize)
	}
	if err := checkDoc(doc, policy.Trust); err != nil {
		return nil, err
	}
	return nil, s.updateEntity(ctx, KindRole, name, func(cur *Entity) (*Entity, error) {
		if cur == nil {
			return nil, notFound(KindRole, name)
		}
		cur.AssumeRolePolicy = doc
		return cur, nil
	})
}

func entityTag(kind string, add bool) opFunc {
	return func(s *Service, ctx context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 64)
		if err != nil {
			return nil, err
		}
		tags, keys := f.Tags(), f.List("TagKeys")
		return nil, s.updateEntity(ctx, kind, name, func(cur *Entity) (*Entity, error) {
			if cur == nil {
				return nil, notFound(kind, name)
			}
			if add {
				for _, t := range tags {
					i := slices.IndexFunc(cur.Tags, func(x Tag) bool { return strings.EqualFold(x.Key, t.Key) })
					if i >= 0 {
						cur.Tags[i] = t
					} else {
						cur.Tags = append(cur.Tags, t)
					}
				}
				if len(cur.Tags) > 50 {
					return nil, limitExceeded("Cannot exceed quota for TagsPer%s: 50", kindTitle(kind))
				}
			} else {
				cur.Tags = slices.DeleteFunc(cur.Tags, func(x Tag) bool { return slices.Contains(keys, x.Key) })
			}
			return cur, nil
		})
	}
}

func entityListTags(kind string) opFunc {
	return func(s *Service, _ context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 64)
		if err != nil {
			return nil, err
		}
		e, err := s.mustEntity(kind, name)
		if err != nil {
			return nil, err
		}
		var tags []xmlTag
		for _, t := range e.Tags {
			tags = append(tags, xmlTag(t))
		}
		return struct {
			Tags        []xmlTag `xml:"Tags>member"`
			IsTruncated bool     `xml:"IsTruncated"`
		}{Tags: tags}, nil
	}
}

// --- inline policies ------------------------------------------------------

func inlinePut(kind string) opFunc {
	limit := map[string]int{KindRole: maxRoleInline, KindUser: maxUserInline, KindGroup: maxGroupInline}[kind]
	return func(s *Service, ctx context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 128)
		if err != nil {
			return nil, err
		}
		pname, err := checkName(f, "PolicyName", "policyName", 128)
		if err != nil {
			return nil, err
		}
		doc := f.Get("PolicyDocument")
		if err := checkDoc(doc, policy.Identity); err != nil {
			return nil, err
		}
		return nil, s.updateEntity(ctx, kind, name, func(cur *Entity) (*Entity, error) {
			if cur == nil {
				return nil, notFound(kind, name)
			}
			if cur.Inline == nil {
				cur.Inline = map[string]string{}
			}
			cur.Inline[pname] = doc
			total := 0
			for _, d := range cur.Inline {
				total += len(compactJSON(d))
			}
			if total > limit {
				return nil, limitExceeded("Maximum policy size of %d bytes exceeded for %s %s", limit, kind, name)
			}
			return cur, nil
		})
	}
}

func inlineGet(kind string) opFunc {
	return func(s *Service, _ context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 128)
		if err != nil {
			return nil, err
		}
		pname, err := checkName(f, "PolicyName", "policyName", 128)
		if err != nil {
			return nil, err
		}
		e, err := s.mustEntity(kind, name)
		if err != nil {
			return nil, err
		}
		doc, ok := e.Inline[pname]
		if !ok {
			return nil, noSuchEntity("The %s policy with name %s cannot be found.", kind, pname)
		}
		return rename(map[string]string{KindRole: "RoleName", KindUser: "UserName", KindGroup: "GroupName"}[kind], name, pname, encodeDoc(doc)), nil
	}
}

// rename builds GetXPolicy's result with the entity name's element.
func rename(elem, name, pname, doc string) any {
	return &inlineResult{elem: elem, name: name, policy: pname, doc: doc}
}

type inlineResult struct{ elem, name, policy, doc string }

func (r *inlineResult) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, kv := range [][2]string{{r.elem, r.name}, {"PolicyName", r.policy}, {"PolicyDocument", r.doc}} {
		if err := e.EncodeElement(kv[1], xml.StartElement{Name: xml.Name{Local: kv[0]}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

func inlineDelete(kind string) opFunc {
	return func(s *Service, ctx context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 128)
		if err != nil {
			return nil, err
		}
		pname, err := checkName(f, "PolicyName", "policyName", 128)
		if err != nil {
			return nil, err
		}
		return nil, s.updateEntity(ctx, kind, name, func(cur *Entity) (*Entity, error) {
			if cur == nil {
				return nil, notFound(kind, name)
			}
			if _, ok := cur.Inline[pname]; !ok {
				return nil, noSuchEntity("The %s policy with name %s cannot be found.", kind, pname)
			}
			delete(cur.Inline, pname)
			return cur, nil
		})
	}
}

func inlineList(kind string) opFunc {
	return func(s *Service, _ context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 128)
		if err != nil {
			return nil, err
		}
		e, err := s.mustEntity(kind, name)
		if err != nil {
			return nil, err
		}
		names, marker, truncated, err := page(sortedKeys(e.Inline), f)
		if err != nil {
			return nil, err
		}
		return struct {
			Names       []string `xml:"PolicyNames>member"`
			IsTruncated bool     `xml:"IsTruncated"`
			Marker      string   `xml:"Marker,omitempty"`
		}{names, truncated, marker}, nil
	}
}

// --- attached managed policies --------------------------------------------

func (s *Service) mustPolicy(arn string) (*cachedMP, error) {
	if !policyArnRE.MatchString(arn) {
		return nil, validationErr("ARN %s is not valid.", arn)
	}
	mp := s.managed(arn)
	if mp == nil {
		return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return mp, nil
}

func attach(kind string, add bool) opFunc {
	return func(s *Service, ctx context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 128)
		if err != nil {
			return nil, err
		}
		arn := f.Get("PolicyArn")
		if add {
			if _, err := s.mustPolicy(arn); err != nil {
				return nil, err
			}
		}
		return nil, s.updateEntity(ctx, kind, name, func(cur *Entity) (*Entity, error) {
			if cur == nil {
				return nil, notFound(kind, name)
			}
			i := slices.Index(cur.Attached, arn)
			switch {
			case add && i >= 0:
				return cur, nil
			case add:
				if len(cur.Attached) >= maxAttached {
					return nil, limitExceeded("Cannot exceed quota for PoliciesPer%s: %d", kindTitle(kind), maxAttached)
				}
				cur.Attached = append(cur.Attached, arn)
			case i < 0:
				return nil, noSuchEntity("Policy %s was not found.", arn)
			default:
				cur.Attached = slices.Delete(cur.Attached, i, i+1)
			}
			return cur, nil
		})
	}
}

type xmlAttached struct {
	Name string `xml:"PolicyName"`
	Arn  string `xml:"PolicyArn"`
}

func attachedList(kind string) opFunc {
	return func(s *Service, _ context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 128)
		if err != nil {
			return nil, err
		}
		e, err := s.mustEntity(kind, name)
		if err != nil {
			return nil, err
		}
		var items []xmlAttached
		for _, arn := range e.Attached {
			items = append(items, xmlAttached{Name: nameFromArn(arn), Arn: arn})
		}
		items, marker, truncated, err := page(items, f)
		if err != nil {
			return nil, err
		}
		return struct {
			Items       []xmlAttached `xml:"AttachedPolicies>member"`
			IsTruncated bool          `xml:"IsTruncated"`
			Marker      string        `xml:"Marker,omitempty"`
		}{items, truncated, marker}, nil
	}
}

func boundary(kind string, put bool) opFunc {
	return func(s *Service, ctx context.Context, f Form) (any, error) {
		name, err := checkName(f, kindTitle(kind)+"Name", kind+"Name", 64)
		if err != nil {
			return nil, err
		}
		arn := f.Get("PermissionsBoundary")
		if put {
			if _, err := s.mustPolicy(arn); err != nil {
				return nil, err
			}
		}
		return nil, s.updateEntity(ctx, kind, name, func(cur *Entity) (*Entity, error) {
			if cur == nil {
				return nil, notFound(kind, name)
			}
			if put {
				cur.Boundary = arn
			} else {
				cur.Boundary = ""
			}
			return cur, nil
		})
	}
}

func membership(add bool) opFunc {
	return func(s *Service, ctx context.Context, f Form) (any, error) {
		group, err := checkName(f, "GroupName", "groupName", 128)
		if err != nil {
			return nil, err
		}
		user, err := checkName(f, "UserName", "userName", 64)
		if err != nil {
			return nil, err
		}
		if s.entity(KindGroup, group) == nil {
			return nil, notFound(KindGroup, group)
		}
		return nil, s.updateEntity(ctx, KindUser, user, func(cur *Entity) (*Entity, error) {
			if cur == nil {
				return nil, notFound(KindUser, user)
			}
			i := slices.Index(cur.Groups, group)
			switch {
			case add && i < 0:
				cur.Groups = append(cur.Groups, group)
			case !add && i < 0:
				return nil, noSuchEntity("The user with name %s cannot be found in group %s.", user, group)
			case !add:
				cur.Groups = slices.Delete(cur.Groups, i, i+1)
			}
			return cur, nil
		})
	}
}

func (s *Service) listGroupsForUser(_ context.Context, f Form) (any, error) {
	user, err := checkName(f, "UserName", "userName", 64)
	if err != nil {
		return nil, err
	}
	u, err := s.mustEntity(KindUser, user)
	if err != nil {
		return nil, err
	}
	var items []xmlEntity
	for _, g := range u.Groups {
		if ge := s.entity(KindGroup, g); ge != nil {
			items = append(items, s.xmlOf(ge.e, false))
		}
	}
	return struct {
		Items       []xmlEntity `xml:"Groups>member"`
		IsTruncated bool        `xml:"IsTruncated"`
	}{Items: items}, nil
}

// --- managed policies -----------------------------------------------------

type xmlPolicy struct {
	Name             string   `xml:"PolicyName"`
	ID               string   `xml:"PolicyId"`
	Arn              string   `xml:"Arn"`
	Path             string   `xml:"Path"`
	DefaultVersionID string   `xml:"DefaultVersionId"`
	AttachmentCount  int      `xml:"AttachmentCount"`
	BoundaryCount    int      `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable     bool     `xml:"IsAttachable"`
	Description      string   `xml:"Description,omitempty"`
	CreateDate       string   `xml:"CreateDate"`
	UpdateDate       string   `xml:"UpdateDate"`
	Tags             []xmlTag `xml:"Tags>member,omitempty"`
}

func (s *Service) xmlPolicyOf(p *ManagedPolicy) xmlPolicy {
	arn := p.Arn
	if arn == "" {
		arn = s.policyArn(p.Path, p.Name)
	}
	attached, bounds := 0, 0
	s.mu.RLock()
	for _, c := range s.entities {
		if slices.Contains(c.e.Attached, arn) {
			attached++
		}
		if c.e.Boundary == arn {
			bounds++
		}
	}
	s.mu.RUnlock()
	x := xmlPolicy{Name: p.Name, ID: p.ID, Arn: arn, Path: p.Path, DefaultVersionID: p.Default, AttachmentCount: attached,
		BoundaryCount: bounds, IsAttachable: true, Description: p.Description, CreateDate: isoTime(p.Created), UpdateDate: isoTime(p.Updated)}
	for _, t := range p.Tags {
		x.Tags = append(x.Tags, xmlTag(t))
	}
	return x
}

func compactJSON(doc string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(doc)) != nil {
		return doc
	}
	return b.String()
}

func (s *Service) checkManagedDoc(doc string) error {
	if len(compactJSON(doc)) > maxManagedSize {
		return limitExceeded("Cannot exceed quota for PolicySize: %d", maxManagedSize)
	}
	return checkDoc(doc, policy.Identity)
}

func (s *Service) createPolicy(ctx context.Context, f Form) (any, error) {
	name, err := checkName(f, "PolicyName", "policyName", 128)
	if err != nil {
		return nil, err
	}
	path, err := checkPath(f)
	if err != nil {
		return nil, err
	}
	doc := f.Get("PolicyDocument")
	if err := s.checkManagedDoc(doc); err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC().Truncate(time.Second)
	p := &ManagedPolicy{Name: name, Path: path, ID: newID("ANPA"), Description: f.Get("Description"), Created: now, Updated: now,
		Default: "v1", NextVersion: 2, Versions: []Version{{ID: "v1", Document: doc, Created: now}}, Tags: f.Tags()}
	err = s.updatePolicy(ctx, name, func(cur *ManagedPolicy) (*ManagedPolicy, error) {
		if cur != nil {
			return nil, alreadyExists("A policy called %s already exists. Duplicate names are not allowed.", name)
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return struct {
		Policy xmlPolicy `xml:"Policy"`
	}{s.xmlPolicyOf(p)}, nil
}

// customer resolves a customer managed policy ARN to its name (AWS
// managed policies cannot be changed).
func (s *Service) customer(arn string) (string, error) {
	mp, err := s.mustPolicy(arn)
	if err != nil {
		return "", err
	}
	if mp.p.AWS {
		return "", iamErr(http.StatusForbidden, "AccessDenied", "Cannot modify an AWS managed policy: %s", arn)
	}
	return mp.p.Name, nil
}

func (s *Service) getPolicy(_ context.Context, f Form) (any, error) {
	mp, err := s.mustPolicy(f.Get("PolicyArn"))
	if err != nil {
		return nil, err
	}
	return struct {
		Policy xmlPolicy `xml:"Policy"`
	}{s.xmlPolicyOf(mp.p)}, nil
}

func (s *Service) deletePolicy(ctx context.Context, f Form) (any, error) {
	arn := f.Get("PolicyArn")
	name, err := s.customer(arn)
	if err != nil {
		return nil, err
	}
	if x := s.xmlPolicyOf(s.managed(arn).p); x.AttachmentCount > 0 || x.BoundaryCount > 0 {
		return nil, deleteConflict("Cannot delete a policy attached to entities.")
	}
	return nil, s.updatePolicy(ctx, name, func(cur *ManagedPolicy) (*ManagedPolicy, error) {
		if cur == nil {
			return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
		}
		if len(cur.Versions) > 1 {
			return nil, deleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
		}
		return nil, nil
	})
}

func (s *Service) listPolicies(_ context.Context, f Form) (any, error) {
	scope := f.Get("Scope")
	if scope == "" {
		scope = "All"
	}
	prefix := f.Get("PathPrefix")
	if prefix == "" {
		prefix = "/"
	}
	s.mu.RLock()
	var ps []*ManagedPolicy
	for _, c := range s.policies {
		if scope == "AWS" && !c.p.AWS || scope == "Local" && c.p.AWS || !strings.HasPrefix(c.p.Path, prefix) {
			continue
		}
		ps = append(ps, c.p)
	}
	s.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	var items []xmlPolicy
	for _, p := range ps {
		x := s.xmlPolicyOf(p)
		if f.Get("OnlyAttached") == "true" && x.AttachmentCount == 0 {
			continue
		}
		items = append(items, x)
	}
	items, marker, truncated, err := page(items, f)
	if err != nil {
		return nil, err
	}
	return struct {
		Items       []xmlPolicy `xml:"Policies>member"`
		IsTruncated bool        `xml:"IsTruncated"`
		Marker      string      `xml:"Marker,omitempty"`
	}{items, truncated, marker}, nil
}

type xmlVersion struct {
	Document   string `xml:"Document,omitempty"`
	VersionID  string `xml:"VersionId"`
	IsDefault  bool   `xml:"IsDefaultVersion"`
	CreateDate string `xml:"CreateDate"`
}

func (s *Service) createPolicyVersion(ctx context.Context, f Form) (any, error) {
	arn := f.Get("PolicyArn")
	name, err := s.customer(arn)
	if err != nil {
		return nil, err
	}
	doc := f.Get("PolicyDocument")
	if err := s.checkManagedDoc(doc); err != nil {
		return nil, err
	}
	var v Version
	def := f.Get("SetAsDefault") == "true"
	err = s.updatePolicy(ctx, name, func(cur *ManagedPolicy) (*ManagedPolicy, error) {
		if cur == nil {
			return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
		}
		if len(cur.Versions) >= maxPolicyVersions {
			return nil, limitExceeded("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
		}
		now := s.opts.Now().UTC().Truncate(time.Second)
		v = Version{ID: "v" + strconv.Itoa(cur.NextVersion), Document: doc, Created: now}
		cur.NextVersion++
		cur.Versions = append(cur.Versions, v)
		cur.Updated = now
		if def {
			cur.Default = v.ID
		}
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return struct {
		V xmlVersion `xml:"PolicyVersion"`
	}{xmlVersion{VersionID: v.ID, IsDefault: def, CreateDate: isoTime(v.Created)}}, nil
}

func (s *Service) getPolicyVersion(_ context.Context, f Form) (any, error) {
	mp, err := s.mustPolicy(f.Get("PolicyArn"))
	if err != nil {
		return nil, err
	}
	id := f.Get("VersionId")
	for _, v := range mp.p.Versions {
		if v.ID == id {
			return struct {
				V xmlVersion `xml:"PolicyVersion"`
			}{xmlVersion{Document: encodeDoc(v.Document), VersionID: v.ID, IsDefault: v.ID == mp.p.Default, CreateDate: isoTime(v.Created)}}, nil
		}
	}
	return nil, noSuchEntity("Policy %s version %s does not exist or is not attachable.", f.Get("PolicyArn"), id)
}

func (s *Service) listPolicyVersions(_ context.Context, f Form) (any, error) {
	mp, err := s.mustPolicy(f.Get("PolicyArn"))
	if err != nil {
		return nil, err
	}
	var items []xmlVersion
	for i := len(mp.p.Versions) - 1; i >= 0; i-- {
		v := mp.p.Versions[i]
		items = append(items, xmlVersion{VersionID: v.ID, IsDefault: v.ID == mp.p.Default, CreateDate: isoTime(v.Created)})
	}
	return struct {
		Items       []xmlVersion `xml:"Versions>member"`
		IsTruncated bool         `xml:"IsTruncated"`
	}{Items: items}, nil
}

func (s *Service) deletePolicyVersion(ctx context.Context, f Form) (any, error) {
	arn := f.Get("PolicyArn")
	name, err := s.customer(arn)
	if err != nil {
		return nil, err
	}
	id := f.Get("VersionId")
	return nil, s.updatePolicy(ctx, name, func(cur *ManagedPolicy) (*ManagedPolicy, error) {
		if cur == nil {
			return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
		}
		if id == cur.Default {
			return nil, deleteConflict("Cannot delete the default version of a policy.")
		}
		i := slices.IndexFunc(cur.Versions, func(v Version) bool { return v.ID == id })
		if i < 0 {
			return nil, noSuchEntity("Policy %s version %s does not exist or is not attachable.", arn, id)
		}
		cur.Versions = slices.Delete(cur.Versions, i, i+1)
		return cur, nil
	})
}

func (s *Service) setDefaultPolicyVersion(ctx context.Context, f Form) (any, error) {
	arn := f.Get("PolicyArn")
	name, err := s.customer(arn)
	if err != nil {
		return nil, err
	}
	id := f.Get("VersionId")
	return nil, s.updatePolicy(ctx, name, func(cur *ManagedPolicy) (*ManagedPolicy, error) {
		if cur == nil {
			return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
		}
		if !slices.ContainsFunc(cur.Versions, func(v Version) bool { return v.ID == id }) {
			return nil, noSuchEntity("Policy %s version %s does not exist or is not attachable.", arn, id)
		}
		cur.Default = id
		cur.Updated = s.opts.Now().UTC().Truncate(time.Second)
		return cur, nil
	})
}

func (s *Service) listEntitiesForPolicy(_ context.Context, f Form) (any, error) {
	mp, err := s.mustPolicy(f.Get("PolicyArn"))
	if err != nil {
		return nil, err
	}
	arn := mp.p.Arn
	if arn == "" {
		arn = s.policyArn(mp.p.Path, mp.p.Name)
	}
	type named struct {
		Name string `xml:"RoleName,omitempty"`
		User string `xml:"UserName,omitempty"`
		Grp  string `xml:"GroupName,omitempty"`
		ID   string `xml:"RoleId,omitempty"`
		UID  string `xml:"UserId,omitempty"`
		GID  string `xml:"GroupId,omitempty"`
	}
	var roles, users, groups []named
	for _, kind := range []string{KindRole, KindUser, KindGroup} {
		for _, e := range s.snapshot(kind) {
			if !slices.Contains(e.Attached, arn) {
				continue
			}
			switch kind {
			case KindRole:
				roles = append(roles, named{Name: e.Name, ID: e.ID})
			case KindUser:
				users = append(users, named{User: e.Name, UID: e.ID})
			default:
				groups = append(groups, named{Grp: e.Name, GID: e.ID})
			}
		}
	}
	return struct {
		Groups      []named `xml:"PolicyGroups>member"`
		Users       []named `xml:"PolicyUsers>member"`
		Roles       []named `xml:"PolicyRoles>member"`
		IsTruncated bool    `xml:"IsTruncated"`
	}{groups, users, roles, false}, nil
}

// --- access keys ----------------------------------------------------------

// SecretOf derives the secret of an IAM user's access key; set by the
// daemon from the cluster's session key (auth.Issuer).
type SecretOf func(accessKeyID string) string

// SetSecrets sets how access key secrets are derived.
func (s *Service) SetSecrets(f SecretOf, newID func() string) { s.secretOf, s.newKeyID = f, newID }

func (s *Service) createAccessKey(ctx context.Context, f Form) (any, error) {
	user, err := checkName(f, "UserName", "userName", 64)
	if err != nil {
		return nil, err
	}
	if s.entity(KindUser, user) == nil {
		return nil, notFound(KindUser, user)
	}
	if s.secretOf == nil {
		return nil, iamErr(http.StatusBadRequest, "InvalidInput", "This node runs without authentication (--insecure-no-auth): access keys would sign nothing.")
	}
	s.mu.RLock()
	n := 0
	for _, k := range s.keys {
		if k.User == user {
			n++
		}
	}
	s.mu.RUnlock()
	if n >= 2 {
		return nil, limitExceeded("Cannot exceed quota for AccessKeysPerUser: 2")
	}
	k := &AccessKey{ID: s.newKeyID(), User: user, Status: "Active", Created: s.opts.Now().UTC().Truncate(time.Second)}
	b, _ := json.Marshal(k)
	if err := s.update(ctx, accessKeyKey(k.ID), func(cur []byte) ([]byte, error) {
		if cur != nil {
			return nil, alreadyExists("Access key %s already exists.", k.ID)
		}
		return b, nil
	}); err != nil {
		return nil, err
	}
	type xmlKey struct {
		UserName   string `xml:"UserName"`
		ID         string `xml:"AccessKeyId"`
		Status     string `xml:"Status"`
		Secret     string `xml:"SecretAccessKey"`
		CreateDate string `xml:"CreateDate"`
	}
	return struct {
		K xmlKey `xml:"AccessKey"`
	}{xmlKey{UserName: user, ID: k.ID, Status: k.Status, Secret: s.secretOf(k.ID), CreateDate: isoTime(k.Created)}}, nil
}

func (s *Service) userKeys(user string) []*AccessKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*AccessKey
	for _, k := range s.keys {
		if k.User == user {
			c := *k
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Service) listAccessKeys(_ context.Context, f Form) (any, error) {
	user, err := checkName(f, "UserName", "userName", 64)
	if err != nil {
		return nil, err
	}
	if s.entity(KindUser, user) == nil {
		return nil, notFound(KindUser, user)
	}
	type meta struct {
		UserName   string `xml:"UserName"`
		ID         string `xml:"AccessKeyId"`
		Status     string `xml:"Status"`
		CreateDate string `xml:"CreateDate"`
	}
	var items []meta
	for _, k := range s.userKeys(user) {
		items = append(items, meta{user, k.ID, k.Status, isoTime(k.Created)})
	}
	return struct {
		Items       []meta `xml:"AccessKeyMetadata>member"`
		IsTruncated bool   `xml:"IsTruncated"`
	}{Items: items}, nil
}

func (s *Service) keyOf(f Form) (*AccessKey, error) {
	id := f.Get("AccessKeyId")
	if !accessKeyIDs.MatchString(id) {
		return nil, validationErr("1 validation error detected: Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+", id)
	}
	s.mu.RLock()
	k := s.keys[id]
	s.mu.RUnlock()
	if k == nil || (f.Get("UserName") != "" && k.User != f.Get("UserName")) {
		return nil, noSuchEntity("The Access Key with id %s cannot be found.", id)
	}
	return k, nil
}

func (s *Service) deleteAccessKey(ctx context.Context, f Form) (any, error) {
	k, err := s.keyOf(f)
	if err != nil {
		return nil, err
	}
	return nil, s.update(ctx, accessKeyKey(k.ID), func([]byte) ([]byte, error) { return nil, nil })
}

func (s *Service) updateAccessKey(ctx context.Context, f Form) (any, error) {
	k, err := s.keyOf(f)
	if err != nil {
		return nil, err
	}
	st := f.Get("Status")
	if st != "Active" && st != "Inactive" {
		return nil, validationErr("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", st)
	}
	n := *k
	n.Status = st
	b, _ := json.Marshal(&n)
	return nil, s.update(ctx, accessKeyKey(k.ID), func(cur []byte) ([]byte, error) {
		if cur == nil {
			return nil, noSuchEntity("The Access Key with id %s cannot be found.", k.ID)
		}
		return b, nil
	})
}

// --- SimulatePrincipalPolicy ----------------------------------------------

func (s *Service) simulatePrincipalPolicy(_ context.Context, f Form) (any, error) {
	src := f.Get("PolicySourceArn")
	var c Caller
	switch {
	case strings.Contains(src, ":role/"):
		if s.Role(src) == nil {
			return nil, noSuchEntity("The role with name %s cannot be found.", nameFromArn(src))
		}
		c = Caller{ARN: src, RoleArn: src}
	case strings.Contains(src, ":user/"):
		if _, ok := s.UserArn(nameFromArn(src)); !ok {
			return nil, noSuchEntity("The user with name %s cannot be found.", nameFromArn(src))
		}
		c = Caller{ARN: src, UserName: nameFromArn(src)}
	default:
		return nil, invalidInput("Invalid PolicySourceArn: %s. Nimbus simulates roles and users.", src)
	}
	actions := f.List("ActionNames")
	if len(actions) == 0 {
		return nil, validationErr("1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null")
	}
	resources := f.List("ResourceArns")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	var extra []*policy.Policy
	for _, d := range f.List("PolicyInputList") {
		p, err := policy.Parse([]byte(d), policy.Identity)
		if err != nil {
			return nil, malformedPolicy(err.Error())
		}
		extra = append(extra, p)
	}
	var resPol *policy.Policy
	if d := f.Get("ResourcePolicy"); d != "" {
		p, err := policy.Parse([]byte(d), policy.Resource)
		if err != nil {
			return nil, malformedPolicy(err.Error())
		}
		resPol = p
	}
	type result struct {
		Action   string `xml:"EvalActionName"`
		Resource string `xml:"EvalResourceName"`
		Decision string `xml:"EvalDecision"`
	}
	var out []result
	for _, a := range actions {
		for _, r := range resources {
			req := &policy.Request{Action: a, Resource: r}
			for i := 1; ; i++ {
				p := "ContextEntries.member." + strconv.Itoa(i)
				k, ok := f.Values[p+".ContextKeyName"]
				if !ok {
					break
				}
				req.Set(k[0], f.List(p+".ContextKeyValues")...)
			}
			var d policy.Decision
			if len(extra) > 0 {
				ids, _, _, _ := s.identity(c)
				d = policy.Evaluate(&policy.Policies{Identity: append(ids, extra...), Resource: nonNil(resPol)}, withPrincipal(req, c, s.opts.AccountID))
			} else {
				d = s.Authorize(c, req, resPol)
			}
			dec := "implicitDeny"
			switch {
			case d.Allowed:
				dec = "allowed"
			case d.ExplicitDeny:
				dec = "explicitDeny"
			}
			out = append(out, result{a, r, dec})
		}
	}
	return struct {
		Results     []result `xml:"EvaluationResults>member"`
		IsTruncated bool     `xml:"IsTruncated"`
	}{Results: out}, nil
}

func nonNil(p *policy.Policy) []*policy.Policy {
	if p == nil {
		return nil
	}
	return []*policy.Policy{p}
}

func withPrincipal(r *policy.Request, c Caller, account string) *policy.Request {
	r.Principal = policy.Principal{ARN: c.ARN, Account: account, RoleARN: c.RoleArn}
	return r
}

// --- writing --------------------------------------------------------------

func writeQueryResult(w http.ResponseWriter, ns, action string, result any, reqID string) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	root := xml.StartElement{Name: xml.Name{Space: ns, Local: action + "Response"}}
	err := enc.EncodeToken(root)
	if err == nil && result != nil {
		err = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	if err == nil {
		err = enc.EncodeElement(struct {
			RequestID string `xml:"RequestId"`
		}{reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	}
	if err == nil {
		err = enc.EncodeToken(root.End())
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		writeQueryError(w, reqID, err)
		return
	}
	h := w.Header()
	h.Set(awsapi.HeaderRequestID, reqID)
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(buf.Bytes())
}

func writeQueryError(w http.ResponseWriter, reqID string, err error) {
	e := awsapi.As(err)
	if tr := awsapi.Transient(nil); e == nil && errors.As(err, &tr) {
		// The backbone is electing a leader: AWS's common 503, retried.
		e = &awsapi.Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Type: "Service", Message: tr.Unavailable()}
	}
	if e == nil {
		e = &awsapi.Error{Status: http.StatusInternalServerError, Code: "ServiceFailure", Type: "Service",
			Message: "The request processing has failed because of an unknown error, exception or failure."}
	}
	w.Header().Set(awsapi.HeaderRequestID, reqID)
	awsapi.WriteProtocolError(w, awsapi.ProtocolQuery, awsapi.ProtocolError{Error: e})
}
