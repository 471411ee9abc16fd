package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/lease"
)

// Bucket holds the mappings, one key per UUID.
const Bucket = "nimbus_esm"

// Message is a record of an SQS source as a poller receives it.
type Message struct {
	MessageID         string
	ReceiptHandle     string
	Body              string
	MD5OfBody         string
	MD5OfAttributes   string
	Attributes        map[string]string // system attributes
	MessageAttributes map[string]MessageAttribute
}

// MessageAttribute is a message attribute.
type MessageAttribute struct {
	DataType    string
	StringValue *string
	BinaryValue []byte
}

// Queues is the SQS source: what a poller needs of the queue service.
type Queues interface {
	// IsFIFO reports whether the queue exists and is a FIFO queue.
	IsFIFO(ctx context.Context, account, name string) (bool, error)
	// Receive takes up to max messages, waiting up to wait for the first.
	Receive(ctx context.Context, account, name string, max int, wait time.Duration) ([]Message, error)
	// Delete deletes a received message.
	Delete(ctx context.Context, account, name, receiptHandle string) error
}

// Functions resolves the function a mapping invokes (*registry.Registry).
type Functions interface {
	Resolve(ctx context.Context, name, qualifier string) (*function.Config, error)
}

// Options configure a Service.
type Options struct {
	JetStream jetstream.JetStream
	Functions Functions
	Invoker   invoke.Invoker
	Queues    Queues
	// Streams is the DynamoDB Streams source (nil: refused).
	Streams Streams
	// OnFailure sends a stream mapping's failure record to its
	// DestinationConfig.OnFailure ARN (nil: destinations refused), as
	// the mapping's function (Lambda sends it as the function's role).
	OnFailure func(ctx context.Context, functionArn, arn string, body []byte) error
	// Authorize, when set, decides whether the mapping's function may read
	// its source: the function's execution role must allow what Lambda's
	// poller calls (sqs:ReceiveMessage, DeleteMessage, GetQueueAttributes;
	// the stream's GetRecords, GetShardIterator, DescribeStream, ...). Its
	// error is AWS's message. It is asked at Create and Update (refused as
	// InvalidParameterValueException) and before every poll (the mapping
	// reads nothing and its LastProcessingResult says why).
	Authorize func(ctx context.Context, functionArn, sourceArn string) error
	// IteratorAge, when set, hears the age of the last record of each
	// stream batch as it is sent to the function (AWS/Lambda IteratorAge).
	IteratorAge func(functionArn string, age time.Duration)
	// Lease, when set, runs fn only while this node holds the named lease
	// (internal/lease): a Kinesis stream is the cluster's, so each of its
	// mappings is read by one node at a time. nil runs every mapping here.
	Lease func(ctx context.Context, name string, fn func(context.Context) error) error
	// Node names this node in the mappings' concurrency claims (scale.go).
	Node      string
	Region    string
	AccountID string
	Logger    *slog.Logger
}

// Service keeps the mappings and runs their pollers on this node.
type Service struct {
	kv      jetstream.KeyValue
	fns     Functions
	inv     invoke.Invoker
	queues  Queues
	streams Streams
	onFail  func(ctx context.Context, functionArn, arn string, body []byte) error
	iterAge func(functionArn string, age time.Duration)
	lease   func(ctx context.Context, name string, fn func(context.Context) error) error
	authz   func(ctx context.Context, functionArn, sourceArn string) error
	pos     jetstream.KeyValue // stream mappings' checkpoints, by UUID
	slots   *lease.ShareBucket // SQS mappings' concurrency claims, by UUID
	node    string
	region  string
	account string
	log     *slog.Logger

	mu      sync.Mutex
	running map[string]*poller // by UUID; guarded by mu
	// problems are this node's pollers' reasons for reading nothing, by
	// UUID (the API's LastProcessingResult); guarded by mu.
	problems map[string]string
}

// New opens the mapping bucket.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.JetStream == nil || o.Functions == nil || o.Invoker == nil || o.Queues == nil {
		return nil, errors.New("new event source mappings: JetStream, Functions, Invoker and Queues are required")
	}
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Storage: jetstream.FileStorage, History: 1})
	if err != nil {
		return nil, fmt.Errorf("open event source mapping bucket: %w", err)
	}
	s := &Service{kv: kv, fns: o.Functions, inv: o.Invoker, queues: o.Queues, region: o.Region, account: o.AccountID,
		log: o.Logger, running: map[string]*poller{}, streams: o.Streams, onFail: o.OnFailure, iterAge: o.IteratorAge, lease: o.Lease, node: o.Node,
		authz: o.Authorize, problems: map[string]string{}}
	if s.node == "" {
		s.node = "local"
	}
	if s.slots, err = openSlots(ctx, o.JetStream, s.node); err != nil {
		return nil, err
	}
	if o.Streams != nil {
		if s.pos, err = o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: PositionBucket, Storage: jetstream.FileStorage, History: 1}); err != nil {
			return nil, fmt.Errorf("open event source mapping positions: %w", err)
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func (s *Service) get(ctx context.Context, id string) (*stored, uint64, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, 0, errNotFound(id)
	}
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, errNotFound(id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read event source mapping: %w", err)
	}
	var m stored
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return nil, 0, fmt.Errorf("decode event source mapping: %w", err)
	}
	return &m, e.Revision(), nil
}

func (s *Service) put(ctx context.Context, m *stored, rev uint64) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode event source mapping: %w", err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, m.UUID, b)
	} else {
		_, err = s.kv.Update(ctx, m.UUID, b, rev)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return awsapi.Conflict("The operation cannot be performed at this time. The event source mapping is being modified.")
		}
		return fmt.Errorf("write event source mapping: %w", err)
	}
	return nil
}

// functionArn resolves a FunctionName parameter to the ARN a mapping
// keeps (qualified when the name was).
func (s *Service) functionArn(ctx context.Context, name string) (string, error) {
	ref, err := awsapi.ParseFunctionRef(name)
	if err != nil {
		return "", err
	}
	if _, err := s.fns.Resolve(ctx, ref.Name, ref.Qualifier); err != nil {
		if e := errdefs.As(err); e != nil && errors.Is(err, errdefs.ErrNotFound) {
			return "", awsapi.NotFound("%s", e.Message) // the registry's category, as Lambda answers it
		}
		return "", err
	}
	return awsapi.FunctionARN(s.region, s.account, ref.Name, ref.Qualifier), nil
}

func (s *Service) source(ctx context.Context, arn string) (fifo bool, err error) {
	if isStreamArn(arn) {
		if s.streams == nil || !s.streams.Exists(arn) {
			return false, awsapi.InvalidParameter("Stream not found: %s", arn)
		}
		return false, nil
	}
	acct, name, ok := sqsQueue(arn)
	if !ok {
		return false, awsapi.InvalidParameter("Nimbus serves event source mappings for Amazon SQS queues only; %s is not an SQS queue ARN.", arn)
	}
	fifo, err = s.queues.IsFIFO(ctx, acct, name)
	if err != nil {
		return false, awsapi.InvalidParameter("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.")
	}
	return fifo, nil
}

// Create stores a new mapping (state Creating in the answer).
func (s *Service) Create(ctx context.Context, body []byte) (*Mapping, error) {
	r, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	if r.EventSourceArn == nil || *r.EventSourceArn == "" {
		return nil, awsapi.InvalidParameter("Unrecognized event source, must be kinesis, dynamodb stream, sqs, msk, or mq.")
	}
	if r.FunctionName == nil {
		return nil, awsapi.InvalidParameter("FunctionName is required.")
	}
	fifo, err := s.source(ctx, *r.EventSourceArn)
	if err != nil {
		return nil, err
	}
	fnArn, err := s.functionArn(ctx, *r.FunctionName)
	if err != nil {
		return nil, err
	}
	if err := s.canRead(ctx, fnArn, *r.EventSourceArn); err != nil {
		return nil, err
	}
	id := uuid.NewString()
	m := &stored{Enabled: true}
	m.UUID = id
	m.EventSourceMappingArn = "arn:aws:lambda:" + s.region + ":" + s.account + ":event-source-mapping:" + id
	m.EventSourceArn = *r.EventSourceArn
	m.FunctionArn = fnArn
	m.BatchSize = 10
	if isStreamArn(m.EventSourceArn) {
		m.BatchSize = 100
		if r.StartingPosition == nil {
			return nil, awsapi.InvalidParameter("1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null")
		}
	}
	if err := r.apply(m, fifo); err != nil {
		return nil, err
	}
	if isStreamArn(m.EventSourceArn) {
		if m.StartSeq, err = s.startSeq(ctx, m); err != nil {
			return nil, err
		}
	}
	m.LastModified = nowSeconds(time.Now())
	if err := s.put(ctx, m, 0); err != nil {
		return nil, err
	}
	state := "Creating"
	return m.view(state), nil
}

// Get answers one mapping.
func (s *Service) Get(ctx context.Context, id string) (*Mapping, error) {
	m, _, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.withProblem(m.view("")), nil
}

// Update changes a mapping (state Updating in the answer).
func (s *Service) Update(ctx context.Context, id string, body []byte) (*Mapping, error) {
	r, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	if r.EventSourceArn != nil {
		return nil, awsapi.InvalidParameter("EventSourceArn cannot be updated.")
	}
	m, rev, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	fifo, err := s.source(ctx, m.EventSourceArn)
	if err != nil {
		return nil, err
	}
	if r.FunctionName != nil {
		if m.FunctionArn, err = s.functionArn(ctx, *r.FunctionName); err != nil {
			return nil, err
		}
		if err := s.canRead(ctx, m.FunctionArn, m.EventSourceArn); err != nil {
			return nil, err
		}
	}
	if err := r.apply(m, fifo); err != nil {
		return nil, err
	}
	m.LastModified = nowSeconds(time.Now())
	if err := s.put(ctx, m, rev); err != nil {
		return nil, err
	}
	return m.view("Updating"), nil
}

// Delete removes a mapping (state Deleting in the answer); its pollers
// stop on every node.
func (s *Service) Delete(ctx context.Context, id string) (*Mapping, error) {
	m, rev, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.kv.Delete(ctx, id, jetstream.LastRevision(rev)); err != nil {
		return nil, fmt.Errorf("delete event source mapping: %w", err)
	}
	s.deletePosition(ctx, id)
	return m.view("Deleting"), nil
}

// List answers the mappings of a source and/or function, ordered by UUID.
func (s *Service) List(ctx context.Context, sourceArn, functionName, marker string, maxItems int) ([]*Mapping, string, error) {
	var fnArn string
	if functionName != "" {
		ref, err := awsapi.ParseFunctionRef(functionName)
		if err != nil {
			return nil, "", err
		}
		fnArn = awsapi.FunctionARN(s.region, s.account, ref.Name, ref.Qualifier)
	}
	all, err := s.all(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []*Mapping
	for _, m := range all {
		if sourceArn != "" && m.EventSourceArn != sourceArn || fnArn != "" && m.FunctionArn != fnArn {
			continue
		}
		if marker != "" && m.UUID <= marker {
			continue
		}
		out = append(out, s.withProblem(m.view("")))
	}
	if maxItems <= 0 || maxItems > 100 {
		maxItems = 100
	}
	next := ""
	if len(out) > maxItems {
		out = out[:maxItems]
		next = out[maxItems-1].UUID
	}
	return out, next, nil
}

func (s *Service) all(ctx context.Context) ([]*stored, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list event source mappings: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*stored
	for _, k := range keys {
		m, _, err := s.get(ctx, k)
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// canRead refuses a mapping whose function's role may not read its
// source, with AWS's message as InvalidParameterValueException.
func (s *Service) canRead(ctx context.Context, functionArn, sourceArn string) error {
	if s.authz == nil {
		return nil
	}
	if err := s.authz(ctx, functionArn, sourceArn); err != nil {
		return awsapi.InvalidParameter("%s", err.Error())
	}
	return nil
}

// pollCheck is a mapping's poller's check before each poll: nil while
// the function's role may read the source; otherwise the reason, kept as
// the mapping's LastProcessingResult on this node. The mapping's workers
// share one answer for pollCheckTTL (every poll asked IAM before: a
// sixteenth of the node's CPU in a drain), so a change of the role's
// policies reaches the pollers within that.
func (s *Service) pollCheck(m *stored) func(ctx context.Context) error {
	if s.authz == nil {
		return nil
	}
	var (
		mu      sync.Mutex
		checked time.Time // guarded by mu
		last    error     // guarded by mu
	)
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !checked.IsZero() && time.Since(checked) < pollCheckTTL {
			return last
		}
		err := s.authz(ctx, m.FunctionArn, m.EventSourceArn)
		if ctx.Err() != nil {
			return err // not an answer about the role
		}
		checked, last = time.Now(), err
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.problems[m.UUID] = "PROBLEM: " + err.Error()
		} else {
			delete(s.problems, m.UUID)
		}
		return err
	}
}

// pollCheckTTL is how long a mapping's pollers reuse an access check.
const pollCheckTTL = time.Second

// withProblem shows a poller's problem on this node in m.
func (s *Service) withProblem(m *Mapping) *Mapping {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.problems[m.UUID]; ok {
		m.LastProcessingResult = p
	}
	return m
}
