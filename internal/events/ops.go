package events

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Limits AWS applies (per account and region, per bus, per rule).
const (
	maxRulesPerBus    = 300
	maxTargetsPerRule = 5
	maxBuses          = 100
	maxDescription    = 512
	maxInputLen       = 8192
	maxPathsMap       = 100
)

// epoch is a JSON 1.1 timestamp: seconds since the epoch.
func epoch(ms int64) float64 { return float64(ms) / 1000 }

// ---- buses ----

func (s *Service) ensureDefaultBus(ctx context.Context) error {
	now := s.now().UnixMilli()
	b, _ := json.Marshal(Bus{Name: DefaultBus, Created: now, Modified: now})
	if _, err := s.kv.Create(ctx, busKey(DefaultBus), b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("create default bus: %w", err)
	}
	return nil
}

// getStored reads key's record and decodes it, with its revision; a
// missing key is the error missing (the API's not-found error).
func getStored[T any](ctx context.Context, kv jetstream.KeyValue, key string, missing error) (*T, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, missing
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", key, err)
	}
	v := new(T)
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, e.Revision(), nil
}

func (s *Service) getBus(ctx context.Context, name string) (*Bus, error) {
	b, _, err := getStored[Bus](ctx, s.kv, busKey(name), notFound("Event bus %s does not exist.", name))
	return b, err
}

func (s *Service) busOut(b *Bus) map[string]any {
	out := map[string]any{"Name": b.Name, "Arn": s.arns.bus(b.Name),
		"CreationTime": epoch(b.Created), "LastModifiedTime": epoch(b.Modified)}
	if b.Description != "" {
		out["Description"] = b.Description
	}
	if b.Policy != "" {
		out["Policy"] = b.Policy
	}
	return out
}

func (s *Service) createEventBus(r *http.Request, body []byte) (any, error) {
	var in struct {
		Name             string
		Description      string
		EventSourceName  string
		KmsKeyIdentifier string
		DeadLetterConfig *DeadLetterConfig
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !busNamePattern().MatchString(in.Name) {
		return nil, constraint(in.Name, "name", `Member must satisfy regular expression pattern: [/\.\-_A-Za-z0-9]+`)
	}
	switch {
	case in.Name == DefaultBus:
		return nil, validation("The event bus name default is reserved.")
	case in.EventSourceName != "" || strings.HasPrefix(in.Name, "aws."):
		return nil, unsupported("CreateEventBus", "partner event buses")
	case in.KmsKeyIdentifier != "":
		return nil, unsupported("CreateEventBus", "customer managed KMS keys on event buses")
	case in.DeadLetterConfig != nil:
		return nil, unsupported("CreateEventBus", "an event bus's own DeadLetterConfig")
	case len(in.Description) > maxDescription:
		return nil, constraint(in.Description, "description", "Member must have length less than or equal to 512")
	}
	keys, err := s.keys(r.Context(), "bus.>")
	if err != nil {
		return nil, err
	}
	if len(keys) >= maxBuses {
		return nil, limitExceeded("The requested resource exceeds the maximum number allowed.")
	}
	now := s.now().UnixMilli()
	b, _ := json.Marshal(Bus{Name: in.Name, Description: in.Description, Created: now, Modified: now})
	if _, err := s.kv.Create(r.Context(), busKey(in.Name), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, &apiError{http.StatusBadRequest, "ResourceAlreadyExistsException", fmt.Sprintf("Event bus %s already exists.", in.Name)}
		}
		return nil, fmt.Errorf("create bus: %w", err)
	}
	out := map[string]any{"EventBusArn": s.arns.bus(in.Name)}
	if in.Description != "" {
		out["Description"] = in.Description
	}
	return out, nil
}

func (s *Service) describeEventBus(r *http.Request, body []byte) (any, error) {
	var in struct{ Name string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	name, err := s.busName(in.Name, "name")
	if err != nil {
		return nil, err
	}
	b, err := s.getBus(r.Context(), name)
	if err != nil {
		return nil, err
	}
	return s.busOut(b), nil
}

func (s *Service) deleteEventBus(r *http.Request, body []byte) (any, error) {
	var in struct{ Name string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !busNamePattern().MatchString(in.Name) {
		return nil, constraint(in.Name, "name", `Member must satisfy regular expression pattern: [/\.\-_A-Za-z0-9]+`)
	}
	if in.Name == DefaultBus {
		return nil, validation("Cannot delete event bus default.")
	}
	rules, err := s.keys(r.Context(), rulePrefix(in.Name)+">")
	if err != nil {
		return nil, err
	}
	if len(rules) > 0 {
		return nil, validation("Cannot delete event bus %s because it has rules.", in.Name)
	}
	if err := s.kv.Delete(r.Context(), busKey(in.Name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("delete bus: %w", err)
	}
	return struct{}{}, nil
}

func (s *Service) listEventBuses(r *http.Request, body []byte) (any, error) {
	var in struct {
		NamePrefix string
		NextToken  string
		Limit      int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	keys, err := s.keys(r.Context(), "bus.>")
	if err != nil {
		return nil, err
	}
	var buses []*Bus
	for _, k := range keys {
		if e, err := s.kv.Get(r.Context(), k); err == nil {
			b := new(Bus)
			if json.Unmarshal(e.Value(), b) == nil && strings.HasPrefix(b.Name, in.NamePrefix) {
				buses = append(buses, b)
			}
		}
	}
	slices.SortFunc(buses, func(a, b *Bus) int { return strings.Compare(a.Name, b.Name) })
	page, next, err := paginate(buses, func(b *Bus) string { return b.Name }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	list := make([]map[string]any, 0, len(page))
	for _, b := range page {
		list = append(list, s.busOut(b))
	}
	out := map[string]any{"EventBuses": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

// keys lists the bucket's keys under filter.
func (s *Service) keys(ctx context.Context, filter string) ([]string, error) {
	l, err := s.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filter, err)
	}
	var out []string
	for k := range l.Keys() {
		out = append(out, k)
	}
	return out, nil
}

// paginate returns the page after token (the last name of the previous
// page) and the next token.
func paginate[T any](items []T, name func(T) string, token string, limit int) ([]T, string, error) {
	if limit < 0 || limit > 100 {
		return nil, "", constraint(fmt.Sprint(limit), "limit", "Member must have value between 1 and 100")
	}
	if limit == 0 {
		limit = 100
	}
	start := 0
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", validation("The NextToken is not valid.")
		}
		for start < len(items) && name(items[start]) <= string(after) {
			start++
		}
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(name(items[end-1])))
	}
	return items[start:end], next, nil
}

// ---- rules ----

func (s *Service) getRule(ctx context.Context, bus, name string) (*Rule, uint64, error) {
	return getStored[Rule](ctx, s.kv, ruleKey(bus, name), notFound("Rule %s does not exist on EventBus %s.", name, bus))
}

// updateRule applies f to the stored rule with compare-and-swap, retrying
// when another writer got there first, and waits until this node's cache
// holds the result.
func (s *Service) updateRule(ctx context.Context, bus, name string, f func(*Rule) error) (*Rule, error) {
	for range 10 {
		r, rev, err := s.getRule(ctx, bus, name)
		if err != nil {
			return nil, err
		}
		if err := f(r); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(r)
		nrev, err := s.kv.Update(ctx, ruleKey(bus, name), b, rev)
		if err == nil {
			s.cache.waitRev(ctx, nrev)
			return r, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("update rule %s: %w", name, err)
		}
	}
	return nil, &apiError{http.StatusBadRequest, "ConcurrentModificationException", "The rule was changed by another request; retry."}
}

func (s *Service) putRule(r *http.Request, body []byte) (any, error) {
	var in struct {
		Name               string
		ScheduleExpression string
		EventPattern       string
		State              string
		Description        *string
		RoleArn            string
		EventBusName       string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkRuleName(in.Name, "name"); err != nil {
		return nil, err
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	switch in.State {
	case "", StateEnabled, StateDisabled, StateEnabledCloudTrail:
	default:
		return nil, constraint(in.State, "state", "Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]")
	}
	if in.EventPattern == "" && in.ScheduleExpression == "" {
		return nil, validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if in.Description != nil && len(*in.Description) > maxDescription {
		return nil, constraint(*in.Description, "description", "Member must have length less than or equal to 512")
	}
	if in.EventPattern != "" {
		if _, err := compilePattern(in.EventPattern); err != nil {
			return nil, err
		}
	}
	if in.ScheduleExpression != "" {
		if bus != DefaultBus {
			return nil, validation("ScheduleExpression is supported only on the default event bus.")
		}
		if len(in.ScheduleExpression) > 256 {
			return nil, constraint(in.ScheduleExpression, "scheduleExpression", "Member must have length less than or equal to 256")
		}
		sch, err := ParseSchedule(in.ScheduleExpression)
		if err != nil {
			return nil, validation("Parameter ScheduleExpression is not valid.")
		}
		if now := s.now(); !hasNext(sch, now) {
			// cron(0 0 30 2 ? *), or years that have passed: it would
			// never fire.
			return nil, validation("Parameter ScheduleExpression is not valid: it never fires.")
		}
	}
	ctx := r.Context()
	if _, err := s.getBus(ctx, bus); err != nil {
		return nil, err
	}
	apply := func(rule *Rule) {
		rule.EventPattern, rule.ScheduleExpression = in.EventPattern, in.ScheduleExpression
		rule.State = in.State
		if rule.State == "" {
			rule.State = StateEnabled
		}
		if in.Description != nil {
			rule.Description = *in.Description
		}
		rule.RoleArn = in.RoleArn
	}
	if _, _, err := s.getRule(ctx, bus, in.Name); err == nil {
		if _, err := s.updateRule(ctx, bus, in.Name, func(rule *Rule) error { apply(rule); return nil }); err != nil {
			return nil, err
		}
		return map[string]string{"RuleArn": s.arns.rule(bus, in.Name)}, nil
	}
	existing, err := s.keys(ctx, rulePrefix(bus)+">")
	if err != nil {
		return nil, err
	}
	if len(existing) >= maxRulesPerBus {
		return nil, limitExceeded("The requested resource exceeds the maximum number allowed.")
	}
	rule := &Rule{Name: in.Name, Bus: bus, Created: s.now().UnixMilli()}
	apply(rule)
	b, _ := json.Marshal(rule)
	rev, err := s.kv.Create(ctx, ruleKey(bus, in.Name), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, &apiError{http.StatusBadRequest, "ConcurrentModificationException", "The rule was created by another request; retry."}
	}
	if err != nil {
		return nil, fmt.Errorf("create rule: %w", err)
	}
	s.cache.waitRev(ctx, rev)
	return map[string]string{"RuleArn": s.arns.rule(bus, in.Name)}, nil
}

type ruleRef struct {
	Name         string
	EventBusName string
}

func (s *Service) ruleRef(body []byte) (string, string, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return "", "", err
	}
	if err := checkRuleName(in.Name, "name"); err != nil {
		return "", "", err
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	return bus, in.Name, err
}

func (s *Service) ruleOut(rule *Rule) map[string]any {
	out := map[string]any{"Name": rule.Name, "Arn": s.arns.rule(rule.Bus, rule.Name), "State": rule.State,
		"EventBusName": rule.Bus}
	if rule.EventPattern != "" {
		out["EventPattern"] = rule.EventPattern
	}
	if rule.ScheduleExpression != "" {
		out["ScheduleExpression"] = rule.ScheduleExpression
	}
	if rule.Description != "" {
		out["Description"] = rule.Description
	}
	if rule.RoleArn != "" {
		out["RoleArn"] = rule.RoleArn
	}
	return out
}

func (s *Service) describeRule(r *http.Request, body []byte) (any, error) {
	bus, name, err := s.ruleRef(body)
	if err != nil {
		return nil, err
	}
	rule, _, err := s.getRule(r.Context(), bus, name)
	if err != nil {
		return nil, err
	}
	out := s.ruleOut(rule)
	out["CreatedBy"] = s.account
	return out, nil
}

func (s *Service) setState(r *http.Request, body []byte, state string) (any, error) {
	bus, name, err := s.ruleRef(body)
	if err != nil {
		return nil, err
	}
	if _, err := s.updateRule(r.Context(), bus, name, func(rule *Rule) error { rule.State = state; return nil }); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Service) enableRule(r *http.Request, body []byte) (any, error) {
	return s.setState(r, body, StateEnabled)
}

func (s *Service) disableRule(r *http.Request, body []byte) (any, error) {
	return s.setState(r, body, StateDisabled)
}

func (s *Service) deleteRule(r *http.Request, body []byte) (any, error) {
	bus, name, err := s.ruleRef(body)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	rule, rev, err := s.getRule(ctx, bus, name)
	var ae *apiError
	if errors.As(err, &ae) && ae.code == "ResourceNotFoundException" {
		return struct{}{}, nil // deleting a missing rule succeeds, as on AWS
	}
	if err != nil {
		return nil, err
	}
	if len(rule.Targets) > 0 {
		return nil, validation("Rule can't be deleted since it has targets.")
	}
	if err := s.kv.Delete(ctx, ruleKey(bus, name), jetstream.LastRevision(rev)); err != nil {
		return nil, &apiError{http.StatusBadRequest, "ConcurrentModificationException", "The rule was changed by another request; retry."}
	}
	s.cache.waitGone(ctx, ruleID(bus, name))
	return struct{}{}, nil
}

// rules lists bus's rules sorted by name.
func (s *Service) rules(ctx context.Context, bus string) ([]*Rule, error) {
	keys, err := s.keys(ctx, rulePrefix(bus)+">")
	if err != nil {
		return nil, err
	}
	var out []*Rule
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		rule := new(Rule)
		if json.Unmarshal(e.Value(), rule) == nil {
			out = append(out, rule)
		}
	}
	slices.SortFunc(out, func(a, b *Rule) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Service) listRules(r *http.Request, body []byte) (any, error) {
	var in struct {
		NamePrefix   string
		EventBusName string
		NextToken    string
		Limit        int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	if _, err := s.getBus(r.Context(), bus); err != nil {
		return nil, err
	}
	all, err := s.rules(r.Context(), bus)
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(x *Rule) bool { return !strings.HasPrefix(x.Name, in.NamePrefix) })
	page, next, err := paginate(all, func(x *Rule) string { return x.Name }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	list := make([]map[string]any, 0, len(page))
	for _, x := range page {
		list = append(list, s.ruleOut(x))
	}
	out := map[string]any{"Rules": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Service) listRuleNamesByTarget(r *http.Request, body []byte) (any, error) {
	var in struct {
		TargetArn    string
		EventBusName string
		NextToken    string
		Limit        int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TargetArn == "" {
		return nil, constraint("", "targetArn", "Member must have length greater than or equal to 1")
	}
	bus, err := s.busName(in.EventBusName, "eventBusName")
	if err != nil {
		return nil, err
	}
	all, err := s.rules(r.Context(), bus)
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(x *Rule) bool {
		return !slices.ContainsFunc(x.Targets, func(t Target) bool { return t.Arn == in.TargetArn })
	})
	page, next, err := paginate(all, func(x *Rule) string { return x.Name }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(page))
	for _, x := range page {
		names = append(names, x.Name)
	}
	out := map[string]any{"RuleNames": names}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

// hasNext reports whether sch fires after now.
func hasNext(sch *Schedule, now time.Time) bool {
	_, ok := sch.Next(now, now)
	return ok
}
