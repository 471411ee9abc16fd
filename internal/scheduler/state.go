package scheduler

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket of schedule groups and schedules.
const Bucket = "nimbus_scheduler"

// DefaultGroup is the group every account has.
const DefaultGroup = "default"

// AWS's RetryPolicy defaults.
const (
	defaultMaxRetries  = 185
	defaultMaxEventAge = 86_400
)

// Group is a schedule group as the API answers it.
type Group struct {
	Name                 string
	Arn                  string
	State                string
	CreationDate         float64
	LastModificationDate float64
	Tags                 []Tag `json:",omitempty"` // not part of GetScheduleGroup's answer
}

// Schedule is a schedule as the API answers it (GetSchedule).
type Schedule struct {
	Name                       string
	GroupName                  string
	Arn                        string
	Description                string `json:",omitempty"`
	ScheduleExpression         string
	ScheduleExpressionTimezone string   `json:",omitempty"`
	StartDate                  *float64 `json:",omitempty"`
	EndDate                    *float64 `json:",omitempty"`
	FlexibleTimeWindow         FlexibleTimeWindow
	State                      string
	ActionAfterCompletion      string `json:",omitempty"`
	KmsKeyArn                  string `json:",omitempty"`
	Target                     Target
	CreationDate               float64
	LastModificationDate       float64
}

// FlexibleTimeWindow is OFF, or FLEXIBLE within MaximumWindowInMinutes.
type FlexibleTimeWindow struct {
	Mode                   string
	MaximumWindowInMinutes *int `json:",omitempty"`
}

// Target is a schedule's target.
type Target struct {
	Arn                         string
	RoleArn                     string
	Input                       *string                `json:",omitempty"`
	RetryPolicy                 *RetryPolicy           `json:",omitempty"`
	DeadLetterConfig            *DeadLetterConfig      `json:",omitempty"`
	SqsParameters               *SqsParameters         `json:",omitempty"`
	EventBridgeParameters       *EventBridgeParameters `json:",omitempty"`
	EcsParameters               json.RawMessage        `json:",omitempty"`
	KinesisParameters           json.RawMessage        `json:",omitempty"`
	SageMakerPipelineParameters json.RawMessage        `json:",omitempty"`
}

// RetryPolicy bounds the attempts at one firing's delivery.
type RetryPolicy struct {
	MaximumEventAgeInSeconds *int `json:",omitempty"`
	MaximumRetryAttempts     *int `json:",omitempty"`
}

// DeadLetterConfig names the SQS queue of undeliverable firings.
type DeadLetterConfig struct {
	Arn string `json:",omitempty"`
}

// SqsParameters are a FIFO queue target's.
type SqsParameters struct {
	MessageGroupID string `json:"MessageGroupId,omitempty"`
}

// EventBridgeParameters make a firing an event on a bus.
type EventBridgeParameters struct {
	DetailType string
	Source     string
}

// stored is a schedule in the bucket: the API's shape and Fired, the
// latest due time fired (Unix ms), which makes due times survive a
// restart.
type stored struct {
	Schedule
	Fired int64 `json:"NimbusFired,omitempty"`
}

func hexName(s string) string { return hex.EncodeToString([]byte(s)) }

func groupKey(name string) string { return "group." + hexName(name) }

func schedKey(group, name string) string { return "sched." + hexName(group) + "." + hexName(name) }

// parseSchedKey returns the group and name of a schedule key.
func parseSchedKey(key string) (group, name string, ok bool) {
	p := strings.Split(key, ".")
	if len(p) != 3 || p[0] != "sched" {
		return "", "", false
	}
	g, err1 := hex.DecodeString(p[1])
	n, err2 := hex.DecodeString(p[2])
	return string(g), string(n), err1 == nil && err2 == nil
}

func openBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Nimbus EventBridge Scheduler schedule groups and schedules",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// getJSON reads key into v; jetstream.ErrKeyNotFound when absent.
func getJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return e.Revision(), nil
}

// keys lists the bucket's keys matching filter (none is no error).
func keys(ctx context.Context, kv jetstream.KeyValue, filter string) ([]string, error) {
	l, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filter, err)
	}
	var out []string
	for k := range l.Keys() {
		out = append(out, k)
	}
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	return out, nil
}

// GroupTags are the tags of schedule group name (nil if it does not
// exist). IAM reads them for aws:ResourceTag.
func (s *Service) GroupTags(ctx context.Context, name string) map[string]string {
	var g Group
	if _, err := getJSON(ctx, s.kv, groupKey(name), &g); err != nil || len(g.Tags) == 0 {
		return nil
	}
	out := make(map[string]string, len(g.Tags))
	for _, t := range g.Tags {
		out[t.Key] = t.Value
	}
	return out
}
