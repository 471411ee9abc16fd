package events

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// ConfigBucket is the KV bucket of buses and rules (with their targets).
// Keys: bus.<hex name> and rule.<hex bus>.<hex rule>: names may hold
// characters KV keys may not, so they are hex-encoded.
const ConfigBucket = "nimbus_events"

// Bus is an event bus as stored.
type Bus struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Policy      string `json:"policy,omitempty"`
	Created     int64  `json:"created"` // Unix ms
	Modified    int64  `json:"modified"`
}

// Rule is a rule as stored, with its targets.
type Rule struct {
	Name               string   `json:"name"`
	Bus                string   `json:"bus"`
	EventPattern       string   `json:"eventPattern,omitempty"`
	ScheduleExpression string   `json:"scheduleExpression,omitempty"`
	State              string   `json:"state"`
	Description        string   `json:"description,omitempty"`
	RoleArn            string   `json:"roleArn,omitempty"`
	Created            int64    `json:"created"` // Unix ms: a rate's anchor
	Targets            []Target `json:"targets,omitempty"`
}

// Target is one target of a rule, in the API's shape.
type Target struct {
	ID               string            `json:"Id"`
	Arn              string            `json:"Arn"`
	RoleArn          string            `json:"RoleArn,omitempty"`
	Input            *string           `json:"Input,omitempty"`
	InputPath        *string           `json:"InputPath,omitempty"`
	InputTransformer *InputTransformer `json:"InputTransformer,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
	SqsParameters    *SqsParameters    `json:"SqsParameters,omitempty"`
}

// SqsParameters is an SQS target's FIFO message group.
type SqsParameters struct {
	MessageGroupID string `json:"MessageGroupId,omitempty"`
}

// InputTransformer is a target's InputPathsMap and InputTemplate.
type InputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
	InputTemplate string            `json:"InputTemplate"`
}

// RetryPolicy bounds a target's delivery retries.
type RetryPolicy struct {
	MaximumRetryAttempts     *int `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int `json:"MaximumEventAgeInSeconds,omitempty"`
}

// DeadLetterConfig names where undeliverable events go.
type DeadLetterConfig struct {
	Arn string `json:"Arn,omitempty"`
}

// Rule states.
const (
	StateEnabled  = "ENABLED"
	StateDisabled = "DISABLED"
	// StateEnabledCloudTrail also matches CloudTrail management events
	// (none exist in Nimbus): it delivers like ENABLED.
	StateEnabledCloudTrail = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
)

func (r *Rule) enabled() bool { return r.State != StateDisabled }

func busKey(name string) string { return "bus." + hex.EncodeToString([]byte(name)) }
func ruleKey(bus, name string) string {
	return "rule." + hex.EncodeToString([]byte(bus)) + "." + hex.EncodeToString([]byte(name))
}
func rulePrefix(bus string) string   { return "rule." + hex.EncodeToString([]byte(bus)) + "." }
func ruleID(bus, name string) string { return bus + "/" + name }
func openConfig(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      ConfigBucket,
		Description: "Nimbus EventBridge buses and rules",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", ConfigBucket, err)
	}
	return kv, nil
}

// compiledRule is a rule as the router uses it.
type compiledRule struct {
	rule     *Rule
	pattern  *eventpattern.Pattern // nil for a schedule
	schedule *Schedule             // nil for a pattern
}

// busRules is one bus's enabled pattern rules with their Set.
type busRules struct {
	rules []*compiledRule
	set   *eventpattern.Set
}

// cache is this node's view of the rules, kept current by a watch of the
// bucket: the router and the scheduler read it, never the backbone.
type cache struct {
	mu      sync.Mutex
	rules   map[string]*compiledRule // guarded by mu; key ruleID
	byBus   map[string]*busRules     // guarded by mu; rebuilt lazily (nil entry = stale)
	rev     uint64                   // guarded by mu: the latest revision seen
	changed chan struct{}            // guarded by mu: closed and replaced on every change
}

func newCache() *cache {
	return &cache{rules: map[string]*compiledRule{}, byBus: map[string]*busRules{}, changed: make(chan struct{})}
}

// watch applies the bucket's changes until ctx ends. ready is closed once
// the initial values are in.
func (c *cache) watch(ctx context.Context, kv jetstream.KeyValue, ready chan<- struct{}) error {
	w, err := kv.Watch(ctx, "rule.>", jetstream.IncludeHistory())
	if err != nil {
		return fmt.Errorf("watch rules: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				if initial {
					initial = false
					close(ready)
				}
				continue
			}
			c.apply(e)
		}
	}
}

func (c *cache) apply(e jetstream.KeyValueEntry) {
	var cr *compiledRule
	if e.Operation() == jetstream.KeyValuePut {
		r := new(Rule)
		if err := json.Unmarshal(e.Value(), r); err == nil {
			cr = compileStored(r)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(e.Key(), cr, e.Revision())
}

// compileStored compiles a stored rule (validated when it was put).
func compileStored(r *Rule) *compiledRule {
	cr := &compiledRule{rule: r}
	if r.EventPattern != "" {
		p, err := eventpattern.Compile(eventpattern.EventBridge, []byte(r.EventPattern))
		if err != nil {
			return nil
		}
		cr.pattern = p
	}
	if r.ScheduleExpression != "" {
		s, err := ParseSchedule(r.ScheduleExpression)
		if err != nil {
			return nil
		}
		cr.schedule = s
	}
	return cr
}

func (c *cache) setLocked(key string, cr *compiledRule, rev uint64) {
	bus, name, ok := decodeRuleKey(key)
	if !ok {
		return
	}
	id := ruleID(bus, name)
	if cr == nil {
		delete(c.rules, id)
	} else {
		c.rules[id] = cr
	}
	delete(c.byBus, bus)
	if rev > c.rev {
		c.rev = rev
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

func decodeRuleKey(key string) (bus, name string, ok bool) {
	rest, found := strings.CutPrefix(key, "rule.")
	if !found {
		return "", "", false
	}
	a, b, found := strings.Cut(rest, ".")
	if !found {
		return "", "", false
	}
	bb, err1 := hex.DecodeString(a)
	nb, err2 := hex.DecodeString(b)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return string(bb), string(nb), true
}

// forBus is bus's enabled pattern rules.
func (c *cache) forBus(bus string) *busRules {
	c.mu.Lock()
	defer c.mu.Unlock()
	if br, ok := c.byBus[bus]; ok {
		return br
	}
	br := &busRules{}
	var pats []*eventpattern.Pattern
	for _, cr := range c.rules {
		if cr.rule.Bus == bus && cr.pattern != nil && cr.rule.enabled() {
			br.rules = append(br.rules, cr)
			pats = append(pats, cr.pattern)
		}
	}
	br.set = eventpattern.NewSet(pats...)
	c.byBus[bus] = br
	return br
}

// rule is one rule by id (nil if unknown).
func (c *cache) rule(id string) *compiledRule {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rules[id]
}

// schedules is every enabled scheduled rule and the channel closed at the
// next change.
func (c *cache) schedules() ([]*compiledRule, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*compiledRule
	for _, cr := range c.rules {
		if cr.schedule != nil && cr.rule.enabled() {
			out = append(out, cr)
		}
	}
	return out, c.changed
}

// waitGone waits (bounded) until the cache has dropped rule id.
func (c *cache) waitGone(ctx context.Context, id string) {
	c.waitFor(ctx, func() bool { _, ok := c.rules[id]; return !ok })
}

// waitRev waits (bounded) until the cache has seen revision rev, so that
// a rule written by an API call is used by the next event this node routes.
func (c *cache) waitRev(ctx context.Context, rev uint64) {
	c.waitFor(ctx, func() bool { return c.rev >= rev })
}

// waitFor waits (bounded) until done, called with mu held, holds.
func (c *cache) waitFor(ctx context.Context, done func() bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		c.mu.Lock()
		ok, ch := done(), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}
