package lambdaapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/registry"
)

// AddPermission, RemovePermission and GetPolicy: resource-based policy
// statements (what SAM writes for API Gateway, function URLs and event
// sources), stored and returned as Lambda does. Nimbus does not evaluate
// them yet.

const (
	statementIDPattern = `([a-zA-Z0-9-_]+)`
	actionPattern      = `(lambda:[*]|lambda:[a-zA-Z]+|[*])`
)

var (
	statementIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_-]+$`) })
	actionRE      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + actionPattern + `$`) })
	accountRE     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\d{12}$`) })
)

type addPermissionRequest struct {
	StatementID         *string `json:"StatementId"`
	Action              *string `json:"Action"`
	Principal           *string `json:"Principal"`
	SourceArn           *string `json:"SourceArn"`
	SourceAccount       *string `json:"SourceAccount"`
	EventSourceToken    *string `json:"EventSourceToken"`
	RevisionID          *string `json:"RevisionId"`
	PrincipalOrgID      *string `json:"PrincipalOrgID"`
	FunctionURLAuthType *string `json:"FunctionUrlAuthType"`
}

// statementID checks a permission's StatementId (required).
func (v *verrs) statementID(p *string) {
	if p == nil {
		v.add("null", "statementId", "Member must not be null")
		return
	}
	v.maxLen(p, "statementId", 100)
	v.pattern(p, "statementId", statementIDRE(), statementIDPattern)
}

func (req *addPermissionRequest) validate(v *verrs) {
	v.statementID(req.StatementID)
	if req.Action == nil {
		v.add("null", "action", "Member must not be null")
	} else {
		v.pattern(req.Action, "action", actionRE(), actionPattern)
	}
	if req.Principal == nil {
		v.add("null", "principal", "Member must not be null")
	}
	v.enum(req.FunctionURLAuthType, "functionUrlAuthType", function.URLAuthNone, function.URLAuthIAM)
}

// statement builds the policy statement as Lambda writes it.
func (req *addPermissionRequest) statement(resource string) ([]byte, error) {
	var principal any
	p := *req.Principal
	switch {
	case p == "*":
		principal = "*"
	case accountRE().MatchString(p):
		principal = map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}
	case strings.HasPrefix(p, "arn:"):
		principal = map[string]string{"AWS": p}
	default:
		principal = map[string]string{"Service": p}
	}
	cond := map[string]map[string]string{}
	add := func(op, key string, val *string) {
		if val == nil || *val == "" {
			return
		}
		if cond[op] == nil {
			cond[op] = map[string]string{}
		}
		cond[op][key] = *val
	}
	add("StringEquals", "AWS:SourceAccount", req.SourceAccount)
	add("StringEquals", "lambda:EventSourceToken", req.EventSourceToken)
	add("StringEquals", "aws:PrincipalOrgID", req.PrincipalOrgID)
	add("StringEquals", "lambda:FunctionUrlAuthType", req.FunctionURLAuthType)
	add("ArnLike", "AWS:SourceArn", req.SourceArn)
	st := struct {
		Sid       string                       `json:"Sid"`
		Effect    string                       `json:"Effect"`
		Principal any                          `json:"Principal"`
		Action    string                       `json:"Action"`
		Resource  string                       `json:"Resource"`
		Condition map[string]map[string]string `json:"Condition,omitempty"`
	}{*req.StatementID, "Allow", principal, *req.Action, resource, cond}
	if len(cond) == 0 {
		st.Condition = nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, awsapi.Service("Could not encode the policy statement.")
	}
	return b, nil
}

func (h *Handler) addPermission(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	var req addPermissionRequest
	if err := c.decodeValidated(&req, func(v *verrs) { req.validate(v) }); err != nil {
		return err
	}
	if qualifier == function.LatestVersion {
		return awsapi.InvalidParameter("We currently do not support adding policies for $LATEST.")
	}
	st, err := req.statement(awsapi.FunctionARN(h.region, h.account, name, qualifier))
	if err != nil {
		return err
	}
	if err := h.reg.AddPermission(c.r.Context(), name, qualifier,
		registry.Statement{Sid: *req.StatementID, JSON: st}, deref(req.RevisionID)); err != nil {
		return err
	}
	return c.writeJSON(http.StatusCreated, map[string]string{"Statement": string(st)})
}

func (h *Handler) removePermission(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	sid := c.params["sid"]
	if err := h.reg.RemovePermission(c.r.Context(), name, qualifier, sid, c.r.URL.Query().Get("RevisionId")); err != nil {
		return err
	}
	return c.noContent()
}

func (h *Handler) getPolicy(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	stmts, rev, err := h.reg.Policy(c.r.Context(), name, qualifier)
	if err != nil {
		return err
	}
	return c.writePolicy(stmts, rev)
}

// writePolicy answers GetPolicy and GetLayerVersionPolicy: the statements
// as a policy document, and its revision.
func (c *call) writePolicy(stmts []json.RawMessage, rev string) error {
	doc, err := json.Marshal(struct {
		Version   string            `json:"Version"`
		ID        string            `json:"Id"`
		Statement []json.RawMessage `json:"Statement"`
	}{"2012-10-17", "default", stmts})
	if err != nil {
		return awsapi.Service("Could not encode the policy.")
	}
	return c.writeJSON(http.StatusOK, map[string]string{"Policy": string(doc), "RevisionId": rev})
}
