package cloudwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Composite alarm rules use the metric-math parser: ALARM("name"),
// OK(name), INSUFFICIENT_DATA(...), TRUE, FALSE, AND, OR, NOT and
// parentheses. An ARN names its alarm by its last segment.

const maxRuleLen = 10240

var ruleStates = map[string]string{"ALARM": StateAlarm, "OK": StateOK, "INSUFFICIENT_DATA": StateInsufficientData}

// parseRule parses an alarm rule and checks its shape.
func parseRule(rule string) (*node, error) {
	if len(rule) > maxRuleLen {
		return nil, exprErrf("the rule is longer than %d characters", maxRuleLen)
	}
	src := rule
	if len(src) > maxExprLen {
		// The metric-math bound is for expressions; a rule may be longer.
		src = strings.TrimSpace(src)
	}
	p := &parser{}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p.toks = toks
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != 'e' {
		return nil, exprErrf("unexpected %q at position %d", tokText(t), t.pos)
	}
	return n, checkRule(n)
}

func checkRule(n *node) error {
	switch n.kind {
	case 'i':
		if u := strings.ToUpper(n.str); u == "TRUE" || u == "FALSE" {
			return nil
		}
		return exprErrf("unexpected %s: a rule is made of ALARM(), OK(), INSUFFICIENT_DATA(), TRUE and FALSE", truncate(n.str, 64))
	case 'c':
		if ruleStates[n.str] == "" || len(n.args) != 1 || (n.args[0].kind != 's' && n.args[0].kind != 'i') {
			return exprErrf("%s(...) is not ALARM(name), OK(name) or INSUFFICIENT_DATA(name)", truncate(n.str, 64))
		}
		return nil
	case 'b':
		if n.str != "&&" && n.str != "||" {
			return exprErrf("operator %s is not AND or OR", n.str)
		}
		if err := checkRule(n.args[0]); err != nil {
			return err
		}
		return checkRule(n.args[1])
	case 'u':
		if n.str != "!" {
			return exprErrf("operator %s is not NOT", n.str)
		}
		return checkRule(n.args[0])
	}
	return exprErrf("a rule is made of ALARM(), OK(), INSUFFICIENT_DATA(), TRUE and FALSE")
}

func refName(n *node) string {
	name := n.str
	if i := strings.LastIndex(name, ":alarm:"); i >= 0 {
		name = name[i+len(":alarm:"):]
	}
	return name
}

// ruleRefs are the alarm names a rule refers to.
func ruleRefs(rule string) []string {
	n, err := parseRule(rule)
	if err != nil {
		return nil
	}
	var out []string
	var walk func(*node)
	walk = func(n *node) {
		if n.kind == 'c' {
			out = append(out, refName(n.args[0]))
		}
		for _, a := range n.args {
			if n.kind != 'c' {
				walk(a)
			}
		}
	}
	walk(n)
	return out
}

// evaluateRule is a composite alarm's state from its children's.
func evaluateRule(rule string, states map[string]string) (string, string) {
	n, err := parseRule(rule)
	if err != nil {
		return StateInsufficientData, "The alarm rule could not be parsed."
	}
	var eval func(*node) bool
	eval = func(n *node) bool {
		switch n.kind {
		case 'i':
			return strings.EqualFold(n.str, "TRUE")
		case 'c':
			return states[refName(n.args[0])] == ruleStates[n.str]
		case 'u':
			return !eval(n.args[0])
		case 'b':
			if n.str == "&&" {
				return eval(n.args[0]) && eval(n.args[1])
			}
			return eval(n.args[0]) || eval(n.args[1])
		}
		return false
	}
	if eval(n) {
		return StateAlarm, "The alarm rule evaluated to TRUE."
	}
	return StateOK, "The alarm rule evaluated to FALSE."
}

func (s *Service) putCompositeAlarm(ctx context.Context, in *PutCompositeAlarmInput) (*Empty, error) {
	switch {
	case in.AlarmName == "":
		return nil, errMissing("AlarmName")
	case len(in.AlarmName) > maxNameLen:
		return nil, errInvalidf("The parameter AlarmName must be shorter than %d characters.", maxNameLen+1)
	case in.AlarmRule == "":
		return nil, errMissing("AlarmRule")
	case in.ActionsSuppressor != "":
		return nil, errInvalid("Action suppression (ActionsSuppressor) is not supported by Nimbus.")
	}
	if _, err := parseRule(in.AlarmRule); err != nil {
		return nil, errInvalidf("The value for parameter AlarmRule is invalid: %v.", err)
	}
	for _, ref := range ruleRefs(in.AlarmRule) {
		if ref == in.AlarmName {
			return nil, errInvalid("A composite alarm's rule cannot refer to the alarm itself.")
		}
		r, _, err := s.getAlarm(ctx, ref)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, errInvalidf("Could not find the alarm %s named in the AlarmRule.", truncate(ref, 256))
		}
	}
	for _, c := range []struct {
		p string
		a []string
	}{{"OKActions", in.OKActions}, {"AlarmActions", in.AlarmActions}, {"InsufficientDataActions", in.InsufficientDataActions}} {
		if err := s.checkActions(c.p, c.a); err != nil {
			return nil, err
		}
	}
	now := Time{s.now().UTC()}
	a := &CompositeAlarm{AlarmName: in.AlarmName, AlarmArn: s.alarmArn(in.AlarmName), AlarmDescription: in.AlarmDescription,
		AlarmRule: in.AlarmRule, AlarmConfigurationUpdatedTimestamp: now, ActionsEnabled: in.ActionsEnabled == nil || *in.ActionsEnabled,
		OKActions: orEmpty(in.OKActions), AlarmActions: orEmpty(in.AlarmActions), InsufficientDataActions: orEmpty(in.InsufficientDataActions),
		StateValue: StateInsufficientData, StateReason: "Unchecked: Initial alarm creation", StateUpdatedTimestamp: now,
		StateTransitionedTimestamp: now}
	for range 10 {
		old, rev, err := s.getAlarm(ctx, in.AlarmName)
		if err != nil {
			return nil, err
		}
		if old != nil {
			if old.Composite == nil {
				return nil, errInvalidf("The alarm %s is a metric alarm; PutCompositeAlarm cannot change it.", in.AlarmName)
			}
			o := old.Composite
			a.StateValue, a.StateReason, a.StateReasonData = o.StateValue, o.StateReason, o.StateReasonData
			a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = o.StateUpdatedTimestamp, o.StateTransitionedTimestamp
		}
		if _, err = s.putAlarm(ctx, &alarmRecord{Composite: a, Tags: in.Tags}, rev); err == nil {
			data, _ := json.Marshal(map[string]any{"type": "Create", "version": "1.0", "createdAlarm": a})
			s.addHistory(ctx, in.AlarmName, AlarmHistoryItem{AlarmName: in.AlarmName, AlarmType: "CompositeAlarm", Timestamp: now,
				HistoryItemType: "ConfigurationUpdate", HistorySummary: fmt.Sprintf("Alarm %q created", in.AlarmName), HistoryData: string(data)})
			return &Empty{}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return nil, fmt.Errorf("write alarm: %w", err)
		}
	}
	return nil, errors.New("write alarm: too many concurrent updates")
}
