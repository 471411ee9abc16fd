package pipes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/esm"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// Pipe is a pipe as stored and as DescribePipe answers it.
type Pipe struct {
	Name                 string                `json:"Name"`
	Arn                  string                `json:"Arn"`
	Description          string                `json:"Description,omitempty"`
	DesiredState         string                `json:"DesiredState"`
	CurrentState         string                `json:"CurrentState"`
	StateReason          string                `json:"StateReason,omitempty"`
	Source               string                `json:"Source"`
	SourceParameters     *SourceParameters     `json:"SourceParameters,omitempty"`
	Enrichment           string                `json:"Enrichment,omitempty"`
	EnrichmentParameters *EnrichmentParameters `json:"EnrichmentParameters,omitempty"`
	Target               string                `json:"Target"`
	TargetParameters     *TargetParameters     `json:"TargetParameters,omitempty"`
	RoleArn              string                `json:"RoleArn"`
	Tags                 map[string]string     `json:"Tags,omitempty"`
	CreationTime         float64               `json:"CreationTime"`
	LastModifiedTime     float64               `json:"LastModifiedTime"`
}

// stored is a pipe's KV record: the API's members and Nimbus's own.
type stored struct {
	Pipe
	// Gen counts the changes a user made; the runner restarts a pipe
	// whose Gen moved and only settles the state of one whose did not.
	Gen uint64 `json:"gen"`
	// StartSeq is where a stream source without a checkpoint starts.
	StartSeq uint64 `json:"startSeq,omitempty"`
}

// SourceParameters are a pipe's source settings.
type SourceParameters struct {
	FilterCriteria           *FilterCriteria   `json:"FilterCriteria,omitempty"`
	SqsQueueParameters       *QueueParameters  `json:"SqsQueueParameters,omitempty"`
	DynamoDBStreamParameters *StreamParameters `json:"DynamoDBStreamParameters,omitempty"`
	KinesisStreamParameters  *StreamParameters `json:"KinesisStreamParameters,omitempty"`
}

// FilterCriteria are the source's filters (the shared matcher).
type FilterCriteria struct {
	Filters []Filter `json:"Filters"`
}

// Filter is one event pattern.
type Filter struct {
	Pattern string `json:"Pattern"`
}

// QueueParameters are an SQS source's batch settings.
type QueueParameters struct {
	BatchSize                      *int `json:"BatchSize,omitempty"`
	MaximumBatchingWindowInSeconds *int `json:"MaximumBatchingWindowInSeconds,omitempty"`
}

// StreamParameters are a DynamoDB Streams or Kinesis source's settings.
type StreamParameters struct {
	BatchSize                      *int              `json:"BatchSize,omitempty"`
	DeadLetterConfig               *DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
	OnPartialBatchItemFailure      string            `json:"OnPartialBatchItemFailure,omitempty"`
	MaximumBatchingWindowInSeconds *int              `json:"MaximumBatchingWindowInSeconds,omitempty"`
	MaximumRecordAgeInSeconds      *int              `json:"MaximumRecordAgeInSeconds,omitempty"`
	MaximumRetryAttempts           *int              `json:"MaximumRetryAttempts,omitempty"`
	ParallelizationFactor          *int              `json:"ParallelizationFactor,omitempty"`
	StartingPosition               string            `json:"StartingPosition,omitempty"`
	StartingPositionTimestamp      *float64          `json:"StartingPositionTimestamp,omitempty"`
}

// DeadLetterConfig is a stream source's dead-letter target.
type DeadLetterConfig struct {
	Arn string `json:"Arn,omitempty"`
}

// EnrichmentParameters shape the enrichment's input.
type EnrichmentParameters struct {
	InputTemplate *string `json:"InputTemplate,omitempty"`
}

// TargetParameters are a pipe's target settings.
type TargetParameters struct {
	InputTemplate                      *string                `json:"InputTemplate,omitempty"`
	LambdaFunctionParameters           *InvocationParameters  `json:"LambdaFunctionParameters,omitempty"`
	StepFunctionStateMachineParameters *InvocationParameters  `json:"StepFunctionStateMachineParameters,omitempty"`
	SqsQueueParameters                 *TargetQueueParameters `json:"SqsQueueParameters,omitempty"`
	EventBridgeEventBusParameters      *BusParameters         `json:"EventBridgeEventBusParameters,omitempty"`
}

// InvocationParameters say how a function or state machine is invoked.
type InvocationParameters struct {
	InvocationType string `json:"InvocationType,omitempty"`
}

// TargetQueueParameters are an SQS target's FIFO settings.
type TargetQueueParameters struct {
	MessageGroupId         string `json:"MessageGroupId,omitempty"`         //nolint:revive // AWS's member name
	MessageDeduplicationId string `json:"MessageDeduplicationId,omitempty"` //nolint:revive // AWS's member name
}

// BusParameters shape the events an event-bus target receives.
type BusParameters struct {
	EndpointId string   `json:"EndpointId,omitempty"` //nolint:revive // AWS's member name
	DetailType string   `json:"DetailType,omitempty"`
	Source     string   `json:"Source,omitempty"`
	Resources  []string `json:"Resources,omitempty"`
	Time       string   `json:"Time,omitempty"`
}

// Summary is a pipe as ListPipes answers it.
type Summary struct {
	Name             string  `json:"Name"`
	Arn              string  `json:"Arn"`
	DesiredState     string  `json:"DesiredState"`
	CurrentState     string  `json:"CurrentState"`
	StateReason      string  `json:"StateReason,omitempty"`
	CreationTime     float64 `json:"CreationTime"`
	LastModifiedTime float64 `json:"LastModifiedTime"`
	Source           string  `json:"Source"`
	Target           string  `json:"Target"`
	Enrichment       string  `json:"Enrichment,omitempty"`
}

func (p *Pipe) summary() Summary {
	return Summary{Name: p.Name, Arn: p.Arn, DesiredState: p.DesiredState, CurrentState: p.CurrentState, StateReason: p.StateReason,
		CreationTime: p.CreationTime, LastModifiedTime: p.LastModifiedTime, Source: p.Source, Target: p.Target, Enrichment: p.Enrichment}
}

// request is the body of CreatePipe and UpdatePipe.
type request struct {
	Description          *string               `json:"Description"`
	DesiredState         *string               `json:"DesiredState"`
	Source               *string               `json:"Source"`
	SourceParameters     *SourceParameters     `json:"SourceParameters"`
	Enrichment           *string               `json:"Enrichment"`
	EnrichmentParameters *EnrichmentParameters `json:"EnrichmentParameters"`
	Target               *string               `json:"Target"`
	TargetParameters     *TargetParameters     `json:"TargetParameters"`
	RoleArn              *string               `json:"RoleArn"`
	Tags                 map[string]string     `json:"Tags"`
}

var (
	namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`) })
	rolePattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z0-9+=,.@\-_/]+$`)
	})
	unknownField = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`unknown field "([^"]+)"`) })
)

// decodeRequest reads a CreatePipe or UpdatePipe body. A member of AWS's
// model that Nimbus does not implement is refused by name.
func decodeRequest(body []byte) (*request, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r request
	if err := dec.Decode(&r); err != nil {
		if m := unknownField().FindStringSubmatch(err.Error()); m != nil {
			switch m[1] {
			case "Name":
				return decodeRequestWithout(body, "Name")
			case "LogConfiguration", "KmsKeyIdentifier":
				return nil, validation("Nimbus does not implement %s on EventBridge Pipes yet.", m[1])
			}
			return nil, validation("Nimbus does not implement %s on EventBridge Pipes (sources: Amazon SQS, DynamoDB Streams, Kinesis; enrichment: a Lambda function; targets: Lambda, SQS, SNS, an event bus, Step Functions).", m[1])
		}
		return nil, validation("The request body is not valid JSON for this operation.")
	}
	if dec.More() {
		return nil, validation("The request body is not valid JSON for this operation.")
	}
	return &r, nil
}

// decodeRequestWithout decodes body without member k (the URI's Name,
// which some clients also send in the body).
func decodeRequestWithout(body []byte, k string) (*request, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, validation("The request body is not valid JSON for this operation.")
	}
	delete(all, k)
	b, _ := json.Marshal(all)
	return decodeRequest(b)
}

// source kinds.
const (
	kindQueue   = "sqs"
	kindDynamo  = "dynamodb"
	kindKinesis = "kinesis"
)

func sourceKind(arn string) string {
	switch {
	case esm.IsKinesisArn(arn):
		return kindKinesis
	case strings.HasPrefix(arn, "arn:aws:dynamodb:") && strings.Contains(arn, "/stream/"):
		return kindDynamo
	case deliver.Service(arn) == "sqs":
		return kindQueue
	}
	return ""
}

// check validates a pipe's members (after a create or an update).
func (s *Service) check(p *stored) error {
	if !namePattern().MatchString(p.Name) {
		return validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ and have length between 1 and 64", p.Name)
	}
	if len(p.Description) > 512 {
		return validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512")
	}
	if !rolePattern().MatchString(p.RoleArn) {
		return validation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z0-9+=,.@\\-_/]+", p.RoleArn)
	}
	if p.DesiredState != stateRunning && p.DesiredState != stateStopped {
		return validation("1 validation error detected: Value '%s' at 'desiredState' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, STOPPED]", p.DesiredState)
	}
	if len(p.Tags) > 50 {
		return validation("A pipe has at most 50 tags.")
	}
	if err := s.checkSource(p); err != nil {
		return err
	}
	if p.Enrichment != "" {
		if _, _, ok := deliver.FunctionName(p.Enrichment); !ok {
			return validation("Nimbus enriches with Lambda functions only; %s is not a Lambda function ARN (API destinations, API Gateway and Step Functions enrichments are not implemented).", p.Enrichment)
		}
	}
	if ep := p.EnrichmentParameters; ep != nil && ep.InputTemplate != nil && len(*ep.InputTemplate) > 8192 {
		return validation("1 validation error detected: Value at 'enrichmentParameters.inputTemplate' failed to satisfy constraint: Member must have length less than or equal to 8192")
	}
	return s.checkTarget(p)
}

func (s *Service) checkSource(p *stored) error {
	kind := sourceKind(p.Source)
	if kind == "" {
		return validation("Nimbus serves pipes from Amazon SQS queues, DynamoDB streams and Kinesis streams; %s is none of them.", p.Source)
	}
	sp := p.SourceParameters
	if sp == nil {
		sp = &SourceParameters{}
	}
	if fc := sp.FilterCriteria; fc != nil {
		if len(fc.Filters) > 5 {
			return validation("1 validation error detected: Value at 'sourceParameters.filterCriteria.filters' failed to satisfy constraint: Member must have length less than or equal to 5")
		}
		if _, err := compileFilters(fc); err != nil {
			var pe *eventpattern.Error
			if errors.As(err, &pe) {
				return validation("Invalid filter pattern: %s", pe.Message)
			}
			return validation("Invalid filter pattern.")
		}
	}
	switch kind {
	case kindQueue:
		if sp.DynamoDBStreamParameters != nil || sp.KinesisStreamParameters != nil {
			return validation("SourceParameters for an Amazon SQS source take SqsQueueParameters only.")
		}
		q := sp.SqsQueueParameters
		if q == nil {
			return nil
		}
		if b := q.BatchSize; b != nil && (*b < 1 || *b > 10000) {
			return validation("1 validation error detected: Value '%d' at 'sourceParameters.sqsQueueParameters.batchSize' failed to satisfy constraint: Member must have value between 1 and 10000", *b)
		}
		if w := q.MaximumBatchingWindowInSeconds; w != nil && (*w < 0 || *w > 300) {
			return validation("1 validation error detected: Value '%d' at 'sourceParameters.sqsQueueParameters.maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value between 0 and 300", *w)
		}
		if q.BatchSize != nil && *q.BatchSize > 10 && (q.MaximumBatchingWindowInSeconds == nil || *q.MaximumBatchingWindowInSeconds < 1) {
			return validation("MaximumBatchingWindowInSeconds must be greater than 0 when BatchSize is greater than 10.")
		}
		return nil
	}
	st := sp.DynamoDBStreamParameters
	other := sp.KinesisStreamParameters
	member := "DynamoDBStreamParameters"
	if kind == kindKinesis {
		st, other, member = other, st, "KinesisStreamParameters"
	}
	if other != nil || sp.SqsQueueParameters != nil {
		return validation("SourceParameters for this source take %s only.", member)
	}
	if st == nil || st.StartingPosition == "" {
		return validation("1 validation error detected: Value null at 'sourceParameters.%s.startingPosition' failed to satisfy constraint: Member must not be null", lowerFirst(member))
	}
	switch st.StartingPosition {
	case "TRIM_HORIZON", "LATEST":
	case "AT_TIMESTAMP":
		return validation("Nimbus does not implement StartingPosition AT_TIMESTAMP on pipes yet.")
	default:
		return validation("1 validation error detected: Value '%s' at 'sourceParameters.%s.startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST]", st.StartingPosition, lowerFirst(member))
	}
	switch {
	case st.BatchSize != nil && (*st.BatchSize < 1 || *st.BatchSize > 10000):
		return validation("1 validation error detected: Value '%d' at 'batchSize' failed to satisfy constraint: Member must have value between 1 and 10000", *st.BatchSize)
	case st.MaximumBatchingWindowInSeconds != nil && (*st.MaximumBatchingWindowInSeconds < 0 || *st.MaximumBatchingWindowInSeconds > 300):
		return validation("1 validation error detected: Value '%d' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value between 0 and 300", *st.MaximumBatchingWindowInSeconds)
	case st.MaximumRecordAgeInSeconds != nil && *st.MaximumRecordAgeInSeconds != -1 && (*st.MaximumRecordAgeInSeconds < 60 || *st.MaximumRecordAgeInSeconds > 604800):
		return validation("1 validation error detected: Value '%d' at 'maximumRecordAgeInSeconds' failed to satisfy constraint: Member must have value between -1 and 604800", *st.MaximumRecordAgeInSeconds)
	case st.MaximumRetryAttempts != nil && (*st.MaximumRetryAttempts < -1 || *st.MaximumRetryAttempts > 10000):
		return validation("1 validation error detected: Value '%d' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value between -1 and 10000", *st.MaximumRetryAttempts)
	case st.ParallelizationFactor != nil && (*st.ParallelizationFactor < 1 || *st.ParallelizationFactor > 10):
		return validation("1 validation error detected: Value '%d' at 'parallelizationFactor' failed to satisfy constraint: Member must have value between 1 and 10", *st.ParallelizationFactor)
	case st.OnPartialBatchItemFailure != "" && st.OnPartialBatchItemFailure != "AUTOMATIC_BISECT":
		return validation("1 validation error detected: Value '%s' at 'onPartialBatchItemFailure' failed to satisfy constraint: Member must satisfy enum value set: [AUTOMATIC_BISECT]", st.OnPartialBatchItemFailure)
	}
	if d := st.DeadLetterConfig; d != nil && d.Arn != "" {
		if svc := deliver.Service(d.Arn); svc != "sqs" && svc != "sns" {
			return validation("DeadLetterConfig.Arn must be an Amazon SQS queue or Amazon SNS topic ARN; %s is not.", d.Arn)
		}
	}
	return nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (s *Service) checkTarget(p *stored) error {
	svc := deliver.Service(p.Target)
	tp := p.TargetParameters
	if tp == nil {
		tp = &TargetParameters{}
	}
	if tp.InputTemplate != nil && len(*tp.InputTemplate) > 8192 {
		return validation("1 validation error detected: Value at 'targetParameters.inputTemplate' failed to satisfy constraint: Member must have length less than or equal to 8192")
	}
	switch svc {
	case "lambda", "states":
		if svc == "lambda" && tp.LambdaFunctionParameters != nil {
			if err := invocationType(tp.LambdaFunctionParameters.InvocationType); err != nil {
				return err
			}
		}
		if svc == "states" {
			it := "REQUEST_RESPONSE"
			if tp.StepFunctionStateMachineParameters != nil && tp.StepFunctionStateMachineParameters.InvocationType != "" {
				it = tp.StepFunctionStateMachineParameters.InvocationType
			}
			if err := invocationType(it); err != nil {
				return err
			}
			if it == "REQUEST_RESPONSE" {
				return validation("Nimbus does not implement REQUEST_RESPONSE invocations of Step Functions targets (StartSyncExecution of Express workflows) yet; set StepFunctionStateMachineParameters.InvocationType to FIRE_AND_FORGET.")
			}
		}
	case "sqs", "sns":
	case "events":
		if !strings.Contains(p.Target, ":event-bus/") {
			return validation("Nimbus's pipes deliver to event buses; %s is not an event bus ARN (API destinations are not implemented).", p.Target)
		}
		if bp := tp.EventBridgeEventBusParameters; bp != nil && bp.EndpointId != "" {
			return validation("Nimbus does not implement global endpoints (EventBridgeEventBusParameters.EndpointId).")
		}
	default:
		return validation("Nimbus's pipes deliver to Lambda functions, SQS queues, SNS topics, event buses and Step Functions state machines; %s is none of them.", p.Target)
	}
	if s.targets != nil && svc != "events" { // event buses are put to through Bus
		if err := s.targets.Check(p.Target); err != nil {
			return validation("%s", err.Error())
		}
	}
	for member, set := range map[string]bool{
		"LambdaFunctionParameters":           tp.LambdaFunctionParameters != nil && svc != "lambda",
		"StepFunctionStateMachineParameters": tp.StepFunctionStateMachineParameters != nil && svc != "states",
		"SqsQueueParameters":                 tp.SqsQueueParameters != nil && svc != "sqs",
		"EventBridgeEventBusParameters":      tp.EventBridgeEventBusParameters != nil && svc != "events",
	} {
		if set {
			return validation("TargetParameters.%s does not apply to the target %s.", member, p.Target)
		}
	}
	return nil
}

func invocationType(v string) error {
	switch v {
	case "", "REQUEST_RESPONSE", "FIRE_AND_FORGET":
		return nil
	}
	return validation("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [REQUEST_RESPONSE, FIRE_AND_FORGET]", v)
}

func compileFilters(fc *FilterCriteria) (*eventpattern.Filters, error) {
	if fc == nil || len(fc.Filters) == 0 {
		return nil, nil
	}
	pats := make([]string, len(fc.Filters))
	for i, f := range fc.Filters {
		pats[i] = f.Pattern
	}
	f, err := eventpattern.CompileFilters(pats)
	if err != nil {
		return nil, fmt.Errorf("compile filters: %w", err)
	}
	return f, nil
}
