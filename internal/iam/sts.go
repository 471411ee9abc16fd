package iam

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// STS (botocore model "sts", version 2011-06-15): GetCallerIdentity,
// AssumeRole (the role's trust policy evaluated with the caller's own
// policies) and GetSessionToken. Temporary credentials are signed like
// functions' (auth.Issuer): any node with the cluster's session key
// accepts them.

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// STS returns the STS API's handler, issuing credentials with issuer (nil:
// the node runs without authentication; AssumeRole is refused).
func (s *Service) STS(issuer *auth.Issuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := awsapi.NewRequestID()
		f, err := ParseForm(r)
		if err != nil {
			writeQueryError(w, reqID, err)
			return
		}
		action := f.Get("Action")
		var res any
		switch action {
		case "GetCallerIdentity":
			res, err = s.getCallerIdentity(r.Context())
		case "AssumeRole":
			res, err = s.assumeRole(r.Context(), issuer, f)
		case "GetSessionToken":
			res, err = s.getSessionToken(r.Context(), issuer, f)
		case "":
			err = iamErr(http.StatusBadRequest, "MissingAction", "Missing Action")
		case "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetFederationToken", "DecodeAuthorizationMessage",
			"GetAccessKeyInfo", "AssumeRoot", "GetDelegatedAccessToken", "GetWebIdentityToken":
			err = iamErr(http.StatusBadRequest, "InvalidAction",
				"Nimbus does not support STS %s yet: it serves GetCallerIdentity, AssumeRole and GetSessionToken.", action)
		default:
			err = iamErr(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version 2011-06-15", action)
		}
		if err != nil {
			writeQueryError(w, reqID, err)
			return
		}
		writeQueryResult(w, stsNamespace, action, res, reqID)
	})
}

// STSAction is the IAM action of an STS request's Action ("" when no
// authorisation applies: GetCallerIdentity is always allowed, as in AWS).
func STSAction(action string) string {
	switch action {
	case "GetCallerIdentity", "":
		return ""
	}
	return "sts:" + action
}

func (s *Service) getCallerIdentity(ctx context.Context) (any, error) {
	id, _ := auth.FromContext(ctx)
	out := struct {
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
		Arn     string `xml:"Arn"`
	}{Account: s.opts.AccountID, Arn: id.Principal}
	switch {
	case id.Root:
		out.UserID = s.opts.AccountID
	case id.RoleArn != "":
		roleID := "AROA" + "NIMBUSUNKNOWNROLE"
		if ce := s.entity(KindRole, nameFromArn(id.RoleArn)); ce != nil {
			roleID = ce.e.ID
		}
		out.UserID = roleID + ":" + nameFromArn(id.Principal)
	case id.UserName != "":
		if ce := s.entity(KindUser, id.UserName); ce != nil {
			out.UserID = ce.e.ID
		}
	}
	if out.Arn == "" {
		out.Arn = "arn:aws:iam::" + s.opts.AccountID + ":root"
	}
	return out, nil
}

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

type xmlCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

func xmlCreds(c auth.Credentials) xmlCredentials {
	return xmlCredentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration.UTC().Format(time.RFC3339)}
}

// AccessDenied is the query protocol's denial: 403 AccessDenied with
// AWS's message.
func AccessDenied(msg string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusForbidden, Code: "AccessDenied", Type: "Sender", Message: msg}
}

func (s *Service) assumeRole(ctx context.Context, issuer *auth.Issuer, f Form) (any, error) {
	if issuer == nil {
		return nil, iamErr(http.StatusBadRequest, "InvalidAction", "This node runs without authentication (--insecure-no-auth): there are no credentials to issue.")
	}
	roleArn, session := f.Get("RoleArn"), f.Get("RoleSessionName")
	if len(roleArn) < 20 || len(roleArn) > 2048 {
		return nil, validationErr("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", roleArn)
	}
	if !sessionNameRE.MatchString(session) {
		return nil, validationErr("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	id, _ := auth.FromContext(ctx)
	caller := Caller{Root: id.Root, ARN: id.Principal, RoleArn: id.RoleArn, UserName: id.UserName}
	role := s.Role(roleArn)
	trust := s.Trust(roleArn)
	req := &policy.Request{Action: "sts:AssumeRole", Resource: roleArn}
	var d policy.Decision
	switch {
	case role == nil || trust == nil:
		d = policy.Decision{Type: policy.ResourceBased}
	case id.Root:
		// Root is unrestricted by identity policies but not by the
		// role's trust policy, which must name the account or "*".
		d = policy.Evaluate(&policy.Policies{Resource: []*policy.Policy{trust}},
			&policy.Request{Principal: policy.Principal{ARN: id.Principal, Account: s.opts.AccountID}, Action: req.Action, Resource: roleArn})
	case !trust.Grants(&policy.Request{Principal: policy.Principal{ARN: id.Principal, Account: s.opts.AccountID, RoleARN: id.RoleArn},
		Action: req.Action, Resource: roleArn}):
		// The trust policy must name the caller (or its account, with an
		// identity policy allowing it too), whatever else allows.
		d = policy.Decision{Type: policy.ResourceBased}
	default:
		d = s.Authorize(caller, req, trust)
	}
	if !d.Allowed {
		// AWS's AssumeRole denial names no policy type.
		return nil, AccessDenied("User: " + id.Principal + " is not authorized to perform: sts:AssumeRole on resource: " + roleArn)
	}
	dur := 3600
	if v := f.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 43200 {
			return nil, validationErr("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", v)
		}
		dur = n
	}
	if dur > role.MaxSessionDuration {
		return nil, validationErr("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	sp := f.Get("Policy")
	if sp != "" {
		if len(compactJSON(sp)) > 2048 {
			return nil, iamErr(http.StatusBadRequest, "PackedPolicyTooLarge", "Packed size of consumed session policies exceeds 100%% of allowed value.")
		}
		if err := checkDoc(sp, policy.Identity); err != nil {
			return nil, err
		}
	}
	creds, err := issuer.IssueSession(auth.Grant{RoleArn: roleArn, SessionName: session, Policy: sp}, time.Duration(dur)*time.Second)
	if err != nil {
		return nil, err
	}
	return struct {
		Credentials xmlCredentials `xml:"Credentials"`
		User        struct {
			ID  string `xml:"AssumedRoleId"`
			Arn string `xml:"Arn"`
		} `xml:"AssumedRoleUser"`
	}{Credentials: xmlCreds(creds), User: struct {
		ID  string `xml:"AssumedRoleId"`
		Arn string `xml:"Arn"`
	}{role.ID + ":" + session, "arn:aws:sts::" + s.opts.AccountID + ":assumed-role/" + role.Name + "/" + session}}, nil
}

func (s *Service) getSessionToken(ctx context.Context, issuer *auth.Issuer, f Form) (any, error) {
	if issuer == nil {
		return nil, iamErr(http.StatusBadRequest, "InvalidAction", "This node runs without authentication (--insecure-no-auth): there are no credentials to issue.")
	}
	id, _ := auth.FromContext(ctx)
	if id.UserName == "" || !id.Expiration.IsZero() {
		// AWS: only an IAM user's (or root's) long-term keys may call it.
		msg := "Cannot call GetSessionToken with session credentials"
		if id.Root {
			msg = "Nimbus issues session tokens to IAM users; root's keys are long-term already."
		}
		return nil, AccessDenied(msg)
	}
	dur := 43200
	if v := f.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 129600 {
			return nil, validationErr("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600", v)
		}
		dur = n
	}
	creds, err := issuer.IssueSession(auth.Grant{UserName: id.UserName}, time.Duration(dur)*time.Second)
	if err != nil {
		return nil, err
	}
	return struct {
		Credentials xmlCredentials `xml:"Credentials"`
	}{xmlCreds(creds)}, nil
}
