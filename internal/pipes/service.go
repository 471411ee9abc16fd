package pipes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/esm"
)

// Buckets.
const (
	// Bucket holds the pipes, one key per name.
	Bucket = "nimbus_pipes"
	// PositionBucket holds stream sources' checkpoints, by pipe name.
	PositionBucket = "nimbus_pipes_pos"
)

// Pipe states (PipeState and RequestedPipeState).
const (
	stateRunning  = "RUNNING"
	stateStopped  = "STOPPED"
	stateCreating = "CREATING"
	stateUpdating = "UPDATING"
	stateDeleting = "DELETING"
	stateStarting = "STARTING"
	stateStopping = "STOPPING"
	stateDeleted  = "DELETED"
)

const maxPipes = 1000 // AWS's default quota per region

// Invoker invokes a Lambda function synchronously (enrichments and
// REQUEST_RESPONSE targets): the function's answer, and its
// FunctionError ("" when it succeeded).
type Invoker interface {
	InvokeSync(ctx context.Context, functionArn string, payload []byte) (out []byte, functionError string, err error)
}

// BusPutter puts one event on an event bus, durably.
type BusPutter interface {
	PutEvent(ctx context.Context, bus, source, detailType, detail string, resources []string) error
}

// Options configure a Service.
type Options struct {
	JetStream jetstream.JetStream
	// Queues is the SQS source; Streams the DynamoDB Streams and Kinesis
	// sources (nil: refused at start).
	Queues  esm.Queues
	Streams esm.Streams
	// Invoker runs enrichments and synchronous Lambda targets.
	Invoker Invoker
	// Targets delivers to every other target (and asynchronous ones).
	Targets *deliver.Router
	// Bus puts events for event-bus targets.
	Bus BusPutter
	// Lease, when set, runs fn only while this node holds the pipes'
	// lease (a cluster runs each pipe on one node); nil runs it here.
	Lease func(ctx context.Context, fn func(context.Context) error) error
	// Authorize, when set, decides before each poll whether the pipe's
	// role may read its source (as Lambda's pollers read as a function's
	// role); an error reads nothing and waits. Targets, enrichments and
	// dead-letter queues are reached as the role through Targets' guard.
	Authorize func(ctx context.Context, roleArn, sourceArn string) error
	Region    string
	AccountID string
	Logger    *slog.Logger
}

// Service is EventBridge Pipes on one node.
type Service struct {
	kv      jetstream.KeyValue
	pos     jetstream.KeyValue
	queues  esm.Queues
	streams esm.Streams
	inv     Invoker
	targets *deliver.Router
	bus     BusPutter
	lease   func(ctx context.Context, fn func(context.Context) error) error
	authz   func(ctx context.Context, roleArn, sourceArn string) error
	region  string
	account string
	log     *slog.Logger

	mu      sync.Mutex
	running map[string]*runner // by name; guarded by mu
}

// New opens the pipe buckets.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.JetStream == nil || o.Queues == nil || o.Invoker == nil || o.Targets == nil {
		return nil, errors.New("new pipes service: JetStream, Queues, Invoker and Targets are required")
	}
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Storage: jetstream.FileStorage, History: 1})
	if err != nil {
		return nil, fmt.Errorf("open pipe bucket: %w", err)
	}
	pos, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: PositionBucket, Storage: jetstream.FileStorage, History: 1})
	if err != nil {
		return nil, fmt.Errorf("open pipe positions: %w", err)
	}
	s := &Service{kv: kv, pos: pos, queues: o.Queues, streams: o.Streams, inv: o.Invoker, targets: o.Targets, bus: o.Bus,
		lease: o.Lease, authz: o.Authorize, region: o.Region, account: o.AccountID, log: o.Logger, running: map[string]*runner{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func (s *Service) arn(name string) string {
	return "arn:aws:pipes:" + s.region + ":" + s.account + ":pipe/" + name
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (s *Service) get(ctx context.Context, name string) (*stored, uint64, error) {
	if !namePattern().MatchString(name) {
		return nil, 0, notFound(name)
	}
	e, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, notFound(name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read pipe: %w", err)
	}
	var p stored
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return nil, 0, fmt.Errorf("decode pipe: %w", err)
	}
	return &p, e.Revision(), nil
}

func (s *Service) put(ctx context.Context, p *stored, rev uint64) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode pipe: %w", err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, p.Name, b)
	} else {
		_, err = s.kv.Update(ctx, p.Name, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		if rev == 0 {
			return conflict(p.Name, "Pipe %s already exists.", p.Name)
		}
		return conflict(p.Name, "Pipe %s is being changed by another request; retry.", p.Name)
	}
	if err != nil {
		return fmt.Errorf("write pipe: %w", err)
	}
	return nil
}

// answer is what the mutating operations return.
type answer struct {
	Arn              string  `json:"Arn"`
	Name             string  `json:"Name"`
	DesiredState     string  `json:"DesiredState"`
	CurrentState     string  `json:"CurrentState"`
	CreationTime     float64 `json:"CreationTime"`
	LastModifiedTime float64 `json:"LastModifiedTime"`
}

func (p *stored) answer() answer {
	return answer{Arn: p.Arn, Name: p.Name, DesiredState: p.DesiredState, CurrentState: p.CurrentState,
		CreationTime: p.CreationTime, LastModifiedTime: p.LastModifiedTime}
}

// transitional reports whether a state is one the runner settles.
func transitional(state string) bool {
	switch state {
	case stateCreating, stateUpdating, stateStarting, stateStopping, stateDeleting:
		return true
	}
	return false
}

func (s *Service) create(ctx context.Context, name string, body []byte) (any, error) {
	r, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	if r.Source == nil || r.Target == nil || r.RoleArn == nil {
		return nil, validation("Source, Target and RoleArn are required.")
	}
	now := epoch(time.Now())
	p := &stored{Pipe: Pipe{Name: name, Arn: s.arn(name), DesiredState: stateRunning, CurrentState: stateCreating,
		Source: *r.Source, Target: *r.Target, RoleArn: *r.RoleArn, Tags: r.Tags, CreationTime: now, LastModifiedTime: now,
		SourceParameters: r.SourceParameters, EnrichmentParameters: r.EnrichmentParameters, TargetParameters: r.TargetParameters}, Gen: 1}
	if r.Description != nil {
		p.Description = *r.Description
	}
	if r.DesiredState != nil {
		p.DesiredState = *r.DesiredState
	}
	if r.Enrichment != nil {
		p.Enrichment = *r.Enrichment
	}
	if err := s.check(p); err != nil {
		return nil, err
	}
	if err := s.sourceExists(ctx, p); err != nil {
		return nil, err
	}
	if ks, err := s.names(ctx); err == nil && len(ks) >= maxPipes {
		return nil, &apiError{status: http.StatusPaymentRequired, code: "ServiceQuotaExceededException",
			msg: fmt.Sprintf("The pipe quota (%d) is reached.", maxPipes), resourceID: name, resourceType: "pipe",
			extra: map[string]string{"serviceCode": "pipes", "quotaCode": "L-pipes"}}
	}
	if err := s.put(ctx, p, 0); err != nil {
		return nil, err
	}
	return p.answer(), nil
}

// sourceExists checks the source is there, and resolves a stream
// source's starting position.
func (s *Service) sourceExists(ctx context.Context, p *stored) error {
	switch sourceKind(p.Source) {
	case kindQueue:
		a, _ := deliver.Parse(p.Source)
		if _, err := s.queues.IsFIFO(ctx, a.Account, a.Resource); err != nil {
			return validation("The source %s does not exist.", p.Source)
		}
	case kindDynamo, kindKinesis:
		if s.streams == nil || !s.streams.Exists(p.Source) {
			return validation("The source %s does not exist.", p.Source)
		}
		st := streamParams(p)
		p.StartSeq = 1
		if st.StartingPosition == "LATEST" {
			n, err := s.streams.Latest(ctx, p.Source)
			if err != nil {
				return fmt.Errorf("stream position: %w", err)
			}
			p.StartSeq = n
		}
	}
	return nil
}

func streamParams(p *stored) *StreamParameters {
	if sp := p.SourceParameters; sp != nil {
		if sp.DynamoDBStreamParameters != nil {
			return sp.DynamoDBStreamParameters
		}
		if sp.KinesisStreamParameters != nil {
			return sp.KinesisStreamParameters
		}
	}
	return &StreamParameters{}
}

func (s *Service) describe(ctx context.Context, name string) (any, error) {
	p, _, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	out := p.Pipe
	if out.CurrentState == stateDeleting {
		out.DesiredState = stateDeleted
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	return out, nil
}

func (s *Service) update(ctx context.Context, name string, body []byte) (any, error) {
	r, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	if r.Source != nil || r.Tags != nil {
		return nil, validation("UpdatePipe does not take Source or Tags.")
	}
	if r.RoleArn == nil {
		return nil, validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	}
	p, rev, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if p.CurrentState == stateDeleting {
		return nil, conflict(name, "Pipe %s is being deleted.", name)
	}
	p.RoleArn = *r.RoleArn
	if r.Description != nil {
		p.Description = *r.Description
	}
	if r.DesiredState != nil {
		p.DesiredState = *r.DesiredState
	}
	if r.Enrichment != nil {
		p.Enrichment = *r.Enrichment
	}
	if r.EnrichmentParameters != nil {
		p.EnrichmentParameters = r.EnrichmentParameters
	}
	if r.Target != nil {
		p.Target = *r.Target
	}
	if r.TargetParameters != nil {
		p.TargetParameters = r.TargetParameters
	}
	if sp := r.SourceParameters; sp != nil {
		if p.SourceParameters == nil {
			p.SourceParameters = &SourceParameters{}
		}
		if sp.FilterCriteria != nil {
			p.SourceParameters.FilterCriteria = sp.FilterCriteria
			if len(sp.FilterCriteria.Filters) == 0 {
				p.SourceParameters.FilterCriteria = nil // an empty list removes the filters
			}
		}
		if sp.SqsQueueParameters != nil {
			p.SourceParameters.SqsQueueParameters = sp.SqsQueueParameters
		}
		for _, pair := range []struct{ in, cur **StreamParameters }{
			{&sp.DynamoDBStreamParameters, &p.SourceParameters.DynamoDBStreamParameters},
			{&sp.KinesisStreamParameters, &p.SourceParameters.KinesisStreamParameters},
		} {
			if *pair.in == nil {
				continue
			}
			if *pair.cur == nil {
				return nil, validation("SourceParameters for this source do not take that member.")
			}
			in := **pair.in
			if in.StartingPosition != "" && in.StartingPosition != (*pair.cur).StartingPosition {
				return nil, validation("StartingPosition cannot be updated.")
			}
			in.StartingPosition = (*pair.cur).StartingPosition
			*pair.cur = &in
		}
	}
	if err := s.check(p); err != nil {
		return nil, err
	}
	p.CurrentState, p.StateReason = stateUpdating, ""
	p.Gen++
	p.LastModifiedTime = epoch(time.Now())
	if err := s.put(ctx, p, rev); err != nil {
		return nil, err
	}
	return p.answer(), nil
}

// setDesired is StartPipe and StopPipe.
func (s *Service) setDesired(ctx context.Context, name, desired string) (any, error) {
	p, rev, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if p.CurrentState == stateDeleting {
		return nil, conflict(name, "Pipe %s is being deleted.", name)
	}
	p.DesiredState = desired
	p.CurrentState, p.StateReason = stateStarting, ""
	if desired == stateStopped {
		p.CurrentState = stateStopping
	}
	p.LastModifiedTime = epoch(time.Now())
	if err := s.put(ctx, p, rev); err != nil {
		return nil, err
	}
	return p.answer(), nil
}

func (s *Service) remove(ctx context.Context, name string) (any, error) {
	p, rev, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	p.CurrentState, p.StateReason = stateDeleting, ""
	p.LastModifiedTime = epoch(time.Now())
	if err := s.put(ctx, p, rev); err != nil {
		return nil, err
	}
	a := p.answer()
	a.DesiredState = stateDeleted
	return a, nil
}

func (s *Service) names(ctx context.Context) ([]string, error) {
	l, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pipes: %w", err)
	}
	var ks []string
	for k := range l.Keys() {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks, nil
}

func (s *Service) list(ctx context.Context, q map[string]string) (any, error) {
	limit := 100
	if v := q["Limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, validation("1 validation error detected: Value '%s' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", v)
		}
		limit = n
	}
	ks, err := s.names(ctx)
	if err != nil {
		return nil, err
	}
	out := []Summary{}
	next := ""
	for _, k := range ks {
		if tok := q["NextToken"]; tok != "" && k <= tok {
			continue
		}
		if !strings.HasPrefix(k, q["NamePrefix"]) {
			continue
		}
		p, _, err := s.get(ctx, k)
		if err != nil {
			continue
		}
		if v := q["DesiredState"]; v != "" && p.DesiredState != v ||
			q["CurrentState"] != "" && p.CurrentState != q["CurrentState"] ||
			!strings.HasPrefix(p.Source, q["SourcePrefix"]) || !strings.HasPrefix(p.Target, q["TargetPrefix"]) {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].Name
			break
		}
		out = append(out, p.summary())
	}
	res := map[string]any{"Pipes": out}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}

// Tags: TagResource, UntagResource and ListTagsForResource on a pipe ARN.
func (s *Service) pipeOfArn(ctx context.Context, arn string) (*stored, uint64, error) {
	name, ok := strings.CutPrefix(arn, "arn:aws:pipes:"+s.region+":"+s.account+":pipe/")
	if !ok {
		return nil, 0, notFound(arn)
	}
	return s.get(ctx, name)
}

func (s *Service) tags(ctx context.Context, method, arn string, body []byte, keys []string) (any, error) {
	p, rev, err := s.pipeOfArn(ctx, arn)
	if err != nil {
		return nil, err
	}
	switch method {
	case http.MethodGet:
		t := p.Tags
		if t == nil {
			t = map[string]string{}
		}
		return map[string]any{"tags": t}, nil
	case http.MethodPost:
		var in struct {
			Tags map[string]string `json:"tags"`
		}
		if err := json.Unmarshal(body, &in); err != nil || len(in.Tags) == 0 {
			return nil, validation("tags are required.")
		}
		if p.Tags == nil {
			p.Tags = map[string]string{}
		}
		for k, v := range in.Tags {
			p.Tags[k] = v
		}
	case http.MethodDelete:
		for _, k := range keys {
			delete(p.Tags, k)
		}
	}
	if err := s.check(p); err != nil {
		return nil, err
	}
	if err := s.put(ctx, p, rev); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// PipeTags are the tags of pipe name (nil if it does not exist). IAM
// reads them for aws:ResourceTag.
func (s *Service) PipeTags(ctx context.Context, name string) map[string]string {
	p, _, err := s.get(ctx, name)
	if err != nil {
		return nil
	}
	return p.Tags
}
