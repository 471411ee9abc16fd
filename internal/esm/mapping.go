package esm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// Mapping is an event source mapping as stored (and, with State filled
// in, as the API answers it: EventSourceMappingConfiguration).
type Mapping struct {
	UUID                           string         `json:"UUID"`
	EventSourceMappingArn          string         `json:"EventSourceMappingArn"`
	EventSourceArn                 string         `json:"EventSourceArn"`
	FunctionArn                    string         `json:"FunctionArn"`
	BatchSize                      int            `json:"BatchSize"`
	MaximumBatchingWindowInSeconds int            `json:"MaximumBatchingWindowInSeconds"`
	FilterCriteria                 *FilterSpec    `json:"FilterCriteria,omitempty"`
	FunctionResponseTypes          []string       `json:"FunctionResponseTypes,omitempty"`
	ScalingConfig                  *ScalingConfig `json:"ScalingConfig,omitempty"`
	// The stream sources' settings (DynamoDB Streams; stream.go).
	StartingPosition           string             `json:"StartingPosition,omitempty"`
	MaximumRetryAttempts       *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumRecordAgeInSeconds  *int               `json:"MaximumRecordAgeInSeconds,omitempty"`
	BisectBatchOnFunctionError *bool              `json:"BisectBatchOnFunctionError,omitempty"`
	ParallelizationFactor      *int               `json:"ParallelizationFactor,omitempty"`
	DestinationConfig          *DestinationConfig `json:"DestinationConfig,omitempty"`
	LastModified               float64            `json:"LastModified"`
	LastProcessingResult       string             `json:"LastProcessingResult,omitempty"`
	State                      string             `json:"State"`
	StateTransitionReason      string             `json:"StateTransitionReason"`
	// Enabled is stored; the API answers State.
	Enabled bool `json:"-"`
}

// FilterSpec is FilterCriteria.
type FilterSpec struct {
	Filters []struct {
		Pattern string `json:"Pattern"`
	} `json:"Filters"`
}

// ScalingConfig bounds the concurrent batches of a mapping.
type ScalingConfig struct {
	MaximumConcurrency int `json:"MaximumConcurrency,omitempty"`
}

// stored is a mapping's KV record.
type stored struct {
	Mapping
	Enabled bool `json:"enabled"`
	// StartSeq is where a stream mapping without a checkpoint starts
	// (its StartingPosition, resolved when it was created).
	StartSeq uint64 `json:"startSeq,omitempty"`
}

// request is the body of CreateEventSourceMapping and
// UpdateEventSourceMapping; unsupported members are kept raw to refuse
// them by name.
type request struct {
	EventSourceArn                 *string        `json:"EventSourceArn"`
	FunctionName                   *string        `json:"FunctionName"`
	Enabled                        *bool          `json:"Enabled"`
	BatchSize                      *int           `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int           `json:"MaximumBatchingWindowInSeconds"`
	FilterCriteria                 *FilterSpec    `json:"FilterCriteria"`
	FunctionResponseTypes          *[]string      `json:"FunctionResponseTypes"`
	ScalingConfig                  *ScalingConfig `json:"ScalingConfig"`
	streamRequest
}

// known are the request members Nimbus implements for SQS.
var known = map[string]bool{
	"EventSourceArn": true, "FunctionName": true, "Enabled": true, "BatchSize": true,
	"MaximumBatchingWindowInSeconds": true, "FilterCriteria": true, "FunctionResponseTypes": true,
	"ScalingConfig": true, "StartingPosition": true, "MaximumRetryAttempts": true, "MaximumRecordAgeInSeconds": true,
	"BisectBatchOnFunctionError": true, "ParallelizationFactor": true, "DestinationConfig": true,
}

func decodeRequest(body []byte) (*request, error) {
	var r request
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, awsapi.InvalidRequestContent("Could not parse request body into json: %s", "malformed JSON")
	}
	var all map[string]json.RawMessage
	_ = json.Unmarshal(body, &all)
	for k, v := range all {
		if known[k] || string(v) == "null" {
			continue
		}
		if k == "Tags" {
			continue // accepted and not kept: tags of mappings are not served yet
		}
		return nil, awsapi.InvalidParameter("Nimbus does not implement %s on event source mappings (SQS mappings take BatchSize, MaximumBatchingWindowInSeconds, FilterCriteria, FunctionResponseTypes, ScalingConfig and Enabled).", k)
	}
	return &r, nil
}

// apply validates r's members and sets them on m (fifo: the source is a
// FIFO queue).
func (r *request) apply(m *stored, fifo bool) error {
	if r.Enabled != nil {
		m.Enabled = *r.Enabled
	}
	if r.BatchSize != nil {
		m.BatchSize = *r.BatchSize
	}
	if r.MaximumBatchingWindowInSeconds != nil {
		m.MaximumBatchingWindowInSeconds = *r.MaximumBatchingWindowInSeconds
	}
	if r.FilterCriteria != nil {
		m.FilterCriteria = r.FilterCriteria
		if len(r.FilterCriteria.Filters) == 0 {
			m.FilterCriteria = nil
		}
	}
	if r.FunctionResponseTypes != nil {
		m.FunctionResponseTypes = *r.FunctionResponseTypes
	}
	if r.ScalingConfig != nil {
		m.ScalingConfig = r.ScalingConfig
		if r.ScalingConfig.MaximumConcurrency == 0 {
			m.ScalingConfig = nil
		}
	}
	switch {
	case fifo && (m.BatchSize < 1 || m.BatchSize > 10):
		return awsapi.InvalidParameter("BatchSize must be between 1 and 10 for FIFO queues.")
	case m.BatchSize < 1 || m.BatchSize > 10000:
		return awsapi.InvalidParameter("1 validation error detected: Value '%d' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000", m.BatchSize)
	case m.MaximumBatchingWindowInSeconds < 0 || m.MaximumBatchingWindowInSeconds > 300:
		return awsapi.InvalidParameter("1 validation error detected: Value '%d' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300", m.MaximumBatchingWindowInSeconds)
	case fifo && m.MaximumBatchingWindowInSeconds > 0:
		return awsapi.InvalidParameter("Batching window is not supported for FIFO queues.")
	case !isStreamArn(m.EventSourceArn) && m.BatchSize > 10 && m.MaximumBatchingWindowInSeconds < 1:
		return awsapi.InvalidParameter("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	}
	for _, t := range m.FunctionResponseTypes {
		if t != "ReportBatchItemFailures" {
			return awsapi.InvalidParameter("1 validation error detected: Value '[%s]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]", t)
		}
	}
	if err := r.applyStream(m); err != nil {
		return err
	}
	if sc := m.ScalingConfig; sc != nil && (sc.MaximumConcurrency < 2 || sc.MaximumConcurrency > 1000) {
		return awsapi.InvalidParameter("1 validation error detected: Value '%d' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value between 2 and 1000", sc.MaximumConcurrency)
	}
	if _, err := m.filters(); err != nil {
		var pe *eventpattern.Error
		if errors.As(err, &pe) {
			return awsapi.InvalidParameter("Invalid filter pattern definition. %s", pe.Message)
		}
		return awsapi.InvalidParameter("Invalid filter pattern definition.")
	}
	return nil
}

func (m *Mapping) filters() (*eventpattern.Filters, error) {
	var pats []string
	if m.FilterCriteria != nil {
		for _, f := range m.FilterCriteria.Filters {
			pats = append(pats, f.Pattern)
		}
	}
	return eventpattern.CompileFilters(pats)
}

// sqsQueue splits an SQS queue ARN.
func sqsQueue(arn string) (account, name string, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) != 6 || p[0] != "arn" || p[2] != "sqs" || p[5] == "" {
		return "", "", false
	}
	return p[4], p[5], true
}

// view is the API's answer for a stored mapping in state.
func (s *stored) view(state string) *Mapping {
	m := s.Mapping
	m.State = state
	if state == "" {
		m.State = "Disabled"
		if s.Enabled {
			m.State = "Enabled"
		}
	}
	m.StateTransitionReason = "USER_INITIATED"
	return &m
}

func nowSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func errNotFound(uuid string) error {
	return awsapi.NotFound("The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: %s)", fmt.Sprint(uuid))
}
