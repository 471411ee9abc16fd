package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Event bus policies (PutPermission, RemovePermission): stored on the
// bus and answered by DescribeEventBus as AWS writes them. Evaluating them
// (which accounts may put events on the bus) is the access-control
// engine's; a single-account node has no other account to admit.

var statementIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9\-_]{1,64}$`) })
var principalPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d{12}|\*)$`) })

type policyDoc struct {
	Version   string            `json:"Version"`
	Statement []json.RawMessage `json:"Statement"`
}

type policyCondition struct {
	Type  string `json:"Type"`
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// updateBus applies change to bus name's record with compare-and-swap.
func (s *Service) updateBus(ctx context.Context, name string, change func(b *Bus) error) error {
	b, rev, err := getStored[Bus](ctx, s.kv, busKey(name), notFound("Event bus %s does not exist.", name))
	if err != nil {
		return err
	}
	if err := change(b); err != nil {
		return err
	}
	b.Modified = s.now().UnixMilli()
	raw, _ := json.Marshal(b)
	if _, err := s.kv.Update(ctx, busKey(name), raw, rev); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return &apiError{http.StatusConflict, "ConcurrentModificationException", "The event bus is being modified; retry."}
		}
		return fmt.Errorf("update bus %s: %w", name, err)
	}
	return nil
}

func statementSid(raw json.RawMessage) string {
	var st struct{ Sid string }
	_ = json.Unmarshal(raw, &st)
	return st.Sid
}

func (s *Service) putPermission(r *http.Request, body []byte) (any, error) {
	var in struct {
		EventBusName string
		Action       string
		Principal    string
		StatementId  string //nolint:revive // AWS's member name
		Condition    *policyCondition
		Policy       string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	if in.Policy != "" {
		if in.Action != "" || in.Principal != "" || in.StatementId != "" || in.Condition != nil {
			return nil, validation("Policy cannot be combined with Action, Principal, StatementId or Condition.")
		}
		var doc policyDoc
		if json.Unmarshal([]byte(in.Policy), &doc) != nil || len(doc.Statement) == 0 {
			return nil, &apiError{http.StatusBadRequest, "MalformedPolicyDocumentException", "The policy is not a valid JSON policy document with statements."}
		}
		return struct{}{}, s.updateBus(r.Context(), bus, func(b *Bus) error { b.Policy = in.Policy; return nil })
	}
	switch {
	case in.Action != "events:PutEvents":
		return nil, validation("Provided value in parameter 'action' is not supported.")
	case !principalPattern().MatchString(in.Principal):
		return nil, constraint(in.Principal, "principal", `Member must satisfy regular expression pattern: (\d{12}|\*)`)
	case !statementIDPattern().MatchString(in.StatementId):
		return nil, constraint(in.StatementId, "statementId", `Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+`)
	case in.Condition != nil && (in.Condition.Type != "StringEquals" || in.Condition.Key != "aws:PrincipalOrgID" || in.Condition.Value == ""):
		return nil, validation("Condition must be of Type StringEquals with Key aws:PrincipalOrgID and a Value.")
	case in.Condition != nil && in.Principal != "*":
		return nil, validation("A Condition requires Principal \"*\".")
	}
	st := map[string]any{"Sid": in.StatementId, "Effect": "Allow", "Action": "events:PutEvents", "Resource": s.arns.bus(bus)}
	if in.Principal == "*" {
		st["Principal"] = "*"
	} else {
		st["Principal"] = map[string]string{"AWS": "arn:aws:iam::" + in.Principal + ":root"}
	}
	if c := in.Condition; c != nil {
		st["Condition"] = map[string]any{c.Type: map[string]string{c.Key: c.Value}}
	}
	raw, _ := json.Marshal(st)
	err = s.updateBus(r.Context(), bus, func(b *Bus) error {
		doc := policyDoc{Version: "2012-10-17"}
		if b.Policy != "" {
			if err := json.Unmarshal([]byte(b.Policy), &doc); err != nil {
				return fmt.Errorf("decode bus policy: %w", err)
			}
		}
		kept := doc.Statement[:0]
		for _, old := range doc.Statement {
			if statementSid(old) != in.StatementId {
				kept = append(kept, old) // a statement of the same id is replaced
			}
		}
		doc.Statement = append(kept, raw)
		out, _ := json.Marshal(doc)
		b.Policy = string(out)
		return nil
	})
	return struct{}{}, err
}

func (s *Service) removePermission(r *http.Request, body []byte) (any, error) {
	var in struct {
		EventBusName         string
		StatementId          string //nolint:revive // AWS's member name
		RemoveAllPermissions bool
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	if !in.RemoveAllPermissions && in.StatementId == "" {
		return nil, validation("Either StatementId or RemoveAllPermissions must be given.")
	}
	err = s.updateBus(r.Context(), bus, func(b *Bus) error {
		if b.Policy == "" {
			return notFound("EventBus does not have a policy.")
		}
		if in.RemoveAllPermissions {
			b.Policy = ""
			return nil
		}
		var doc policyDoc
		if err := json.Unmarshal([]byte(b.Policy), &doc); err != nil {
			return fmt.Errorf("decode bus policy: %w", err)
		}
		kept := doc.Statement[:0]
		for _, st := range doc.Statement {
			if statementSid(st) != in.StatementId {
				kept = append(kept, st)
			}
		}
		if len(kept) == len(doc.Statement) {
			return notFound("Statement with the provided id does not exist.")
		}
		doc.Statement = kept
		b.Policy = ""
		if len(kept) > 0 {
			out, _ := json.Marshal(doc)
			b.Policy = string(out)
		}
		return nil
	})
	return struct{}{}, err
}
