package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
)

var (
	targetIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`) })
	pathsKeyPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_\-]{1,256}$`) })
)

// checkTarget validates one target as PutTargets does; the error is a
// ValidationException naming the target.
func (s *Service) checkTarget(t *Target) error {
	if !targetIDPattern().MatchString(t.ID) {
		return constraint(t.ID, "targets.member.id", `Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`)
	}
	if t.Arn == "" || len(t.Arn) > 1600 {
		return constraint(t.Arn, "targets.member.arn", "Member must have length between 1 and 1600")
	}
	if err := s.ownArn(t.ID, "Arn", t.Arn); err != nil {
		return err
	}
	if ok, why := s.canDeliver(t.Arn); !ok {
		return validation("%s", why)
	}
	if arnService(t.Arn) == "sqs" && strings.HasSuffix(t.Arn, ".fifo") &&
		(t.SqsParameters == nil || t.SqsParameters.MessageGroupID == "") {
		return validation("Parameter(s) SqsParameters must be specified for target: %s.", t.ID)
	}
	n := 0
	if t.Input != nil {
		n++
		if len(*t.Input) > maxInputLen {
			return constraint(*t.Input, "targets.member.input", "Member must have length less than or equal to 8192")
		}
		if !json.Valid([]byte(*t.Input)) {
			return validation("Target %s: Input is not valid JSON text.", t.ID)
		}
	}
	if t.InputPath != nil {
		n++
		if len(*t.InputPath) > 256 {
			return constraint(*t.InputPath, "targets.member.inputPath", "Member must have length less than or equal to 256")
		}
		if _, err := parsePath(*t.InputPath); err != nil {
			return validation("Target %s: InputPath is not a valid JSON path: %v.", t.ID, err)
		}
	}
	if it := t.InputTransformer; it != nil {
		n++
		if it.InputTemplate == "" || len(it.InputTemplate) > maxInputLen {
			return constraint(it.InputTemplate, "targets.member.inputTransformer.inputTemplate", "Member must have length between 1 and 8192")
		}
		if len(it.InputPathsMap) > maxPathsMap {
			return validation("Target %s: InputPathsMap has more than %d entries.", t.ID, maxPathsMap)
		}
		for k, p := range it.InputPathsMap {
			if !pathsKeyPattern().MatchString(k) {
				return validation("Target %s: InputPathsMap key %s is not valid.", t.ID, k)
			}
			if strings.HasPrefix(k, "aws.") {
				return validation("Target %s: InputPathsMap key %s is reserved.", t.ID, k)
			}
			if _, err := parsePath(p); err != nil {
				return validation("Target %s: InputPathsMap value %s is not a valid JSON path: %v.", t.ID, p, err)
			}
		}
	}
	if n > 1 {
		return validation("Target %s: only one of Input, InputPath and InputTransformer may be given.", t.ID)
	}
	if p := t.RetryPolicy; p != nil {
		if v := p.MaximumRetryAttempts; v != nil && (*v < 0 || *v > 185) {
			return constraint(fmt.Sprint(*v), "targets.member.retryPolicy.maximumRetryAttempts", "Member must have value between 0 and 185")
		}
		if v := p.MaximumEventAgeInSeconds; v != nil && (*v < 60 || *v > 86400) {
			return constraint(fmt.Sprint(*v), "targets.member.retryPolicy.maximumEventAgeInSeconds", "Member must have value between 60 and 86400")
		}
	}
	if d := t.DeadLetterConfig; d != nil && d.Arn != "" {
		if arnService(d.Arn) != "sqs" {
			return validation("Target %s: DeadLetterConfig Arn %s is not an SQS queue ARN.", t.ID, d.Arn)
		}
		if err := s.ownArn(t.ID, "DeadLetterConfig Arn", d.Arn); err != nil {
			return err
		}
		if !s.deliveries.Has("sqs") {
			return validation("Target %s: Nimbus does not serve Amazon SQS yet, so DeadLetterConfig %s cannot receive events.", t.ID, d.Arn)
		}
	}
	return nil
}

// ownArn refuses an ARN of another account or region: this node holds
// one account in one region, and delivering by the resource's name alone
// would hand another account's event to this account's resource of the
// same name.
func (s *Service) ownArn(id, what, arn string) error {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 || p[0] != "arn" {
		return validation("Target %s: %s %s is not an ARN.", id, what, arn)
	}
	if p[3] != s.region || p[4] != s.account {
		return validation("Target %s: %s %s is in account %q, region %q; Nimbus delivers only to resources of its own account %s in region %s.",
			id, what, arn, p[4], p[3], s.account, s.region)
	}
	return nil
}

func (s *Service) putTargets(r *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string
		EventBusName string
		Targets      []Target
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkRuleName(in.Rule, "rule"); err != nil {
		return nil, err
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	if len(in.Targets) < 1 || len(in.Targets) > 10 {
		return nil, constraint(fmt.Sprint(len(in.Targets)), "targets", "Member must have length between 1 and 10")
	}
	for i := range in.Targets {
		if err := s.checkTarget(&in.Targets[i]); err != nil {
			return nil, err
		}
	}
	_, err = s.updateRule(r.Context(), bus, in.Rule, func(rule *Rule) error {
		for _, t := range in.Targets {
			if i := slices.IndexFunc(rule.Targets, func(x Target) bool { return x.ID == t.ID }); i >= 0 {
				rule.Targets[i] = t
			} else {
				rule.Targets = append(rule.Targets, t)
			}
		}
		if len(rule.Targets) > maxTargetsPerRule {
			return limitExceeded("The requested resource exceeds the maximum number allowed.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}}, nil
}

func (s *Service) removeTargets(r *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string
		EventBusName string
		IDs          []string `json:"Ids"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkRuleName(in.Rule, "rule"); err != nil {
		return nil, err
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	if len(in.IDs) < 1 || len(in.IDs) > 100 {
		return nil, constraint(fmt.Sprint(len(in.IDs)), "ids", "Member must have length between 1 and 100")
	}
	_, err = s.updateRule(r.Context(), bus, in.Rule, func(rule *Rule) error {
		rule.Targets = slices.DeleteFunc(rule.Targets, func(t Target) bool { return slices.Contains(in.IDs, t.ID) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}}, nil
}

func (s *Service) listTargetsByRule(r *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string
		EventBusName string
		NextToken    string
		Limit        int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkRuleName(in.Rule, "rule"); err != nil {
		return nil, err
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	rule, _, err := s.getRule(r.Context(), bus, in.Rule)
	if err != nil {
		return nil, err
	}
	targets := slices.Clone(rule.Targets)
	slices.SortFunc(targets, func(a, b Target) int { return strings.Compare(a.ID, b.ID) })
	page, next, err := paginate(targets, func(t Target) string { return t.ID }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"Targets": page}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

// ---- PutEvents ----

// maxEntriesSize is PutEvents' limit on the entries' total size, counted
// as AWS counts it (Source, DetailType, Detail, Resources in UTF-8 bytes,
// 14 bytes for a Time).
const maxEntriesSize = 256 << 10

type putEntry struct {
	Time         *float64
	Source       *string
	Resources    []string
	DetailType   *string
	Detail       *string
	EventBusName string
	TraceHeader  string
}

func entrySize(e *putEntry) int {
	n := 0
	if e.Time != nil {
		n += 14
	}
	for _, p := range []*string{e.Source, e.DetailType, e.Detail} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

type entryResult struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func invalidArg(field string) entryResult {
	return entryResult{ErrorCode: "InvalidArgument",
		ErrorMessage: fmt.Sprintf("Parameter %s is not valid. Reason: %s is a required argument.", field, field)}
}

func (s *Service) putEvents(r *http.Request, body []byte) (any, error) {
	var in struct {
		Entries    []putEntry
		EndpointID string `json:"EndpointId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.EndpointID != "" {
		return nil, unsupported("PutEvents", "global endpoints (EndpointId)")
	}
	if len(in.Entries) < 1 || len(in.Entries) > 10 {
		return nil, constraint(fmt.Sprint(len(in.Entries)), "entries", "Member must have length between 1 and 10")
	}
	total := 0
	for i := range in.Entries {
		total += entrySize(&in.Entries[i])
	}
	if total > maxEntriesSize {
		return nil, validation("Total size of the entries in the request is over the limit.")
	}
	ctx := r.Context()
	now := s.now()
	results := make([]entryResult, len(in.Entries))
	var accepted []stored
	buses := map[string]error{}
	failed := 0
	for i := range in.Entries {
		e := &in.Entries[i]
		res, ev := s.checkEntry(ctx, e, now, buses)
		if ev == nil {
			failed++
			results[i] = res
			continue
		}
		accepted = append(accepted, *ev)
		results[i] = res
	}
	if len(accepted) > 0 {
		if err := s.store(ctx, accepted); err != nil {
			s.log.Warn("store events", "err", err)
			if _, ok := awsapi.TransientMessage(err); ok {
				return nil, err // writeError: 503 ServiceUnavailable
			}
			return nil, &apiError{http.StatusInternalServerError, "InternalException", "The events could not be stored; retry the request."}
		}
		s.counters.putEvents.Add(uint64(len(accepted)))
	}
	return map[string]any{"FailedEntryCount": failed, "Entries": results}, nil
}

// PutEvent puts one event on bus as PutEvents puts an entry, stored
// before it returns (EventBridge Scheduler's event-bus targets). A
// refusal of the entry (no such bus, detail not a JSON object) wraps
// deliver.ErrUndeliverable.
func (s *Service) PutEvent(ctx context.Context, bus, source, detailType, detail string, resources []string) error {
	e := putEntry{Source: &source, DetailType: &detailType, Detail: &detail, Resources: resources, EventBusName: bus}
	res, ev := s.checkEntry(ctx, &e, s.now(), map[string]error{})
	if ev == nil {
		return deliver.Undeliverable("%s: %s", res.ErrorCode, res.ErrorMessage)
	}
	if err := s.store(ctx, []stored{*ev}); err != nil {
		return fmt.Errorf("store event: %w", err)
	}
	s.counters.putEvents.Add(1)
	return nil
}

// checkEntry validates one entry and builds its stored event (nil when
// the entry failed, with the result saying why).
func (s *Service) checkEntry(ctx context.Context, e *putEntry, now time.Time, buses map[string]error) (entryResult, *stored) {
	switch {
	case e.Source == nil || *e.Source == "":
		return invalidArg("Source"), nil
	case e.DetailType == nil || *e.DetailType == "":
		return invalidArg("DetailType"), nil
	case e.Detail == nil || *e.Detail == "":
		return invalidArg("Detail"), nil
	}
	var detail map[string]json.RawMessage
	if json.Unmarshal([]byte(*e.Detail), &detail) != nil || detail == nil {
		return entryResult{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}, nil
	}
	bus, err := s.busName(e.EventBusName, "eventBusName")
	if err != nil {
		return entryResult{ErrorCode: "InvalidArgument", ErrorMessage: "Parameter EventBusName is not valid."}, nil
	}
	berr, seen := buses[bus]
	if !seen {
		_, berr = s.getBus(ctx, bus)
		buses[bus] = berr
	}
	if berr != nil {
		return entryResult{ErrorCode: "ResourceNotFoundException", ErrorMessage: fmt.Sprintf("Event bus %s does not exist.", bus)}, nil
	}
	at := now
	if e.Time != nil {
		sec := int64(*e.Time)
		at = time.Unix(sec, int64((*e.Time-float64(sec))*1e9))
	}
	resources := e.Resources
	if resources == nil {
		resources = []string{}
	}
	env := Envelope{Version: "0", ID: uuid.NewString(), DetailType: *e.DetailType, Source: *e.Source,
		Account: s.account, Time: ingestionTime(at), Region: s.region, Resources: resources,
		Detail: json.RawMessage(*e.Detail)}
	b, err := json.Marshal(env)
	if err != nil {
		return entryResult{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}, nil
	}
	return entryResult{EventID: env.ID}, &stored{Bus: bus, Event: b, Accepted: now.UnixMilli()}
}
