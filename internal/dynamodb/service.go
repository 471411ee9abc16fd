package dynamodb

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure the service.
type Options struct {
	// Dir is where the table store's file lives.
	Dir       string
	Region    string
	AccountID string
	// JetStream carries the table streams' records (nil: streams are
	// refused).
	JetStream jetstream.JetStream
	// Replicas of the stream records' JetStream streams.
	Replicas int
	Logger   *slog.Logger
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
	// TTLInterval is how often expired items are deleted (30 s by
	// default).
	TTLInterval time.Duration
	// Cluster: this node shares its backbone with other nodes, which
	// all serve the tables of one of them (cluster.go); Conn is the
	// backbone's connection and Node this node's name in the cluster.
	Cluster bool
	Conn    *nats.Conn
	Node    string
	// LeaseTTL is how long the tables' lease outlives a dead table node
	// (lease.DefaultTTL when zero; tests shorten it).
	LeaseTTL time.Duration
	// LogMaxBytes bounds the cluster's change log (unbounded when zero);
	// a full log refuses writes, never drops them.
	LogMaxBytes int64
	// LogCompaction is how often the table node purges the change log
	// entries every node has (30 s when zero).
	LogCompaction time.Duration
	// SeedWait is how long a table node that finds the change log empty
	// while stores hold data waits for the nodes' reports before it
	// chooses the store that seeds the log (reseed.go; 15 s when zero).
	SeedWait time.Duration
}

// Service is DynamoDB and DynamoDB Streams for one node.
type Service struct {
	opts  Options
	e     *engine
	log   *slog.Logger
	relay *relay
	h     *Handler
	// peer is the node's part in a cluster's tables (nil on one node).
	peer *peer

	// iterKey caches the iterator key (streams.go) once read.
	iterKey atomic.Pointer[[]byte]
	// stopWork stops the relay and the TTL sweeper of a single node.
	stopWork func()
}

// New opens the table store and starts the stream relay and the Time to
// Live sweeper; Close stops them.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.TTLInterval <= 0 {
		o.TTLInterval = 30 * time.Second
	}
	e, err := openEngine(o.Dir)
	if err != nil {
		return nil, err
	}
	s := &Service{opts: o, e: e, log: o.Logger}
	if o.JetStream != nil {
		s.relay = newRelay(s)
	}
	s.h = &Handler{s: s}
	if o.Cluster && o.Conn != nil && o.JetStream != nil && o.Node != "" {
		if s.peer, err = joinCluster(ctx, s.h, o); err != nil {
			_ = e.close()
			return nil, err
		}
	}
	if s.peer == nil {
		// One node: it writes the tables, so it relays and sweeps them.
		// (On a cluster the holder of the tables' lease does, cluster.go.)
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); s.writerWork(wctx) }()
		s.stopWork = func() { cancel(); <-done }
	}
	return s, nil
}

// writerWork runs what the node that writes the tables runs beside
// requests, the stream relay and the TTL sweeper, until ctx ends.
func (s *Service) writerWork(ctx context.Context) {
	var wg sync.WaitGroup
	if s.relay != nil {
		wg.Go(func() { s.relay.run(ctx) })
	}
	wg.Go(func() { s.sweepTTL(ctx) })
	wg.Wait()
}

// Close stops the background work and closes the store.
func (s *Service) Close() error {
	if s.peer != nil {
		s.peer.stop()
	}
	if s.stopWork != nil {
		s.stopWork()
	}
	return s.e.close()
}

func (s *Service) now() float64 {
	t := s.opts.Now()
	return float64(t.UnixMilli()) / 1000
}

// withStats fills a table's item count and size.
func (s *Service) withStats(t *tableDesc) *tableDesc {
	d := t.describe()
	d.ItemCount, d.TableSizeBytes = s.e.stats(t.TableName)
	return d
}

func (s *Service) createTable(ctx context.Context, in *createTableInput) (any, error) {
	t, err := buildTable(in)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) > 50 {
		return nil, validationf("One or more parameter values were invalid: Too many tags")
	}
	now := s.now()
	t.setArns(s.opts.Region, s.opts.AccountID, uuid.NewString(), now)
	if t.StreamSpecification != nil {
		if s.relay == nil {
			return nil, validationf("DynamoDB Streams are not available on this node")
		}
		s.newStream(t)
	}
	t.TableStatus = "ACTIVE"
	err = s.e.write(ctx, func(w *wtx) error {
		if w.tx.Bucket(bucketTables).Get([]byte(t.TableName)) != nil {
			return errInUse("Table already exists: %s", t.TableName)
		}
		return w.putTable(t, true)
	})
	if err != nil {
		return nil, err
	}
	d := t.describe()
	d.TableStatus = "CREATING"
	for i := range d.GlobalSecondaryIndexes {
		d.GlobalSecondaryIndexes[i].IndexStatus = "CREATING"
	}
	return map[string]any{"TableDescription": d}, nil
}

// newStream gives a table a new stream (a new label and ARN).
func (s *Service) newStream(t *tableDesc) {
	label := s.opts.Now().UTC().Format("2006-01-02T15:04:05.000")
	for _, h := range t.StreamHistory {
		if h.Label == label {
			label = s.opts.Now().UTC().Add(time.Millisecond).Format("2006-01-02T15:04:05.000")
		}
	}
	t.LatestStreamLabel = label
	t.LatestStreamArn = t.TableArn + "/stream/" + label
	t.StreamHistory = append(t.StreamHistory, streamRef{Arn: t.LatestStreamArn, Label: label, ViewType: t.StreamSpecification.StreamViewType})
}

type tableNameInput struct {
	TableName string `json:"TableName"`
}

func (s *Service) describeTable(in *tableNameInput) (any, error) {
	t, ok := s.e.table(in.TableName)
	if !ok {
		return nil, errTableNotFound(in.TableName)
	}
	return map[string]any{"Table": s.withStats(t)}, nil
}

func (s *Service) deleteTable(ctx context.Context, in *tableNameInput) (any, error) {
	var out *tableDesc
	err := s.e.write(ctx, func(w *wtx) error {
		t, err := w.table(in.TableName)
		if err != nil {
			return errTableNotFound(in.TableName)
		}
		if t.DeletionProtectionEnabled {
			return validationf("Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.")
		}
		out = t
		return w.dropTable(t)
	})
	if err != nil {
		return nil, err
	}
	if s.relay != nil {
		for _, h := range out.StreamHistory {
			s.relay.tableDeleted(h.Arn)
		}
	}
	d := out.describe()
	d.TableStatus = "DELETING"
	return map[string]any{"TableDescription": d}, nil
}

type listTablesInput struct {
	ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
	Limit                   *int   `json:"Limit"`
}

func (s *Service) listTables(in *listTablesInput) (any, error) {
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100", *in.Limit)
		}
		limit = *in.Limit
	}
	names := s.e.tableNames()
	slices.Sort(names)
	out := []string{}
	var last string
	for _, n := range names {
		if in.ExclusiveStartTableName != "" && n <= in.ExclusiveStartTableName {
			continue
		}
		if len(out) == limit {
			last = out[len(out)-1]
			break
		}
		out = append(out, n)
	}
	r := map[string]any{"TableNames": out}
	if last != "" {
		r["LastEvaluatedTableName"] = last
	}
	return r, nil
}

type gsiUpdate struct {
	Create *indexDesc `json:"Create"`
	Update *struct {
		IndexName             string      `json:"IndexName"`
		ProvisionedThroughput *throughput `json:"ProvisionedThroughput"`
	} `json:"Update"`
	Delete *struct {
		IndexName string `json:"IndexName"`
	} `json:"Delete"`
}

type updateTableInput struct {
	TableName                   string      `json:"TableName"`
	AttributeDefinitions        []attrDef   `json:"AttributeDefinitions"`
	BillingMode                 string      `json:"BillingMode"`
	ProvisionedThroughput       *throughput `json:"ProvisionedThroughput"`
	StreamSpecification         *streamSpec `json:"StreamSpecification"`
	GlobalSecondaryIndexUpdates []gsiUpdate `json:"GlobalSecondaryIndexUpdates"`
	DeletionProtectionEnabled   *bool       `json:"DeletionProtectionEnabled"`
	TableClass                  string      `json:"TableClass"`
	ReplicaUpdates              []any       `json:"ReplicaUpdates"`
}

func (s *Service) updateTable(ctx context.Context, in *updateTableInput) (any, error) {
	if len(in.ReplicaUpdates) > 0 {
		return nil, validationf("Nimbus does not serve global table replicas (ReplicaUpdates): a table lives in one region")
	}
	if err := checkStreamSpec(in.StreamSpecification); err != nil {
		return nil, err
	}
	var out *tableDesc
	var creating []string
	err := s.e.write(ctx, func(w *wtx) error {
		creating = nil
		t, err := w.table(in.TableName)
		if err != nil {
			return errTableNotFound(in.TableName)
		}
		changed := false
		mode := "PROVISIONED"
		if t.BillingModeSummary != nil {
			mode = t.BillingModeSummary.BillingMode
		}
		if in.BillingMode != "" && in.BillingMode != mode {
			if in.BillingMode != "PROVISIONED" && in.BillingMode != "PAY_PER_REQUEST" {
				return validationf("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", in.BillingMode)
			}
			mode = in.BillingMode
			t.BillingModeSummary = &billingSummary{BillingMode: mode}
			changed = true
		}
		if in.ProvisionedThroughput != nil || (in.BillingMode == "PROVISIONED") {
			if err := checkThroughput(mode, in.ProvisionedThroughput, "table"); err != nil {
				return err
			}
			if in.ProvisionedThroughput != nil {
				pt := *in.ProvisionedThroughput
				zero := int64(0)
				pt.NumberOfDecreasesToday = &zero
				t.ProvisionedThroughput = &pt
			}
			changed = true
		}
		if mode == "PAY_PER_REQUEST" && in.BillingMode == "PAY_PER_REQUEST" {
			zero := int64(0)
			t.ProvisionedThroughput = &throughput{ReadCapacityUnits: &zero, WriteCapacityUnits: &zero, NumberOfDecreasesToday: &zero}
		}
		if in.DeletionProtectionEnabled != nil {
			t.DeletionProtectionEnabled = *in.DeletionProtectionEnabled
			changed = true
		}
		if in.TableClass != "" {
			t.TableClassSummary = &struct {
				TableClass string `json:"TableClass"`
			}{in.TableClass}
			changed = true
		}
		if ss := in.StreamSpecification; ss != nil {
			enabled := t.StreamSpecification != nil && t.StreamSpecification.StreamEnabled
			switch {
			case ss.StreamEnabled && enabled:
				return validationf("Table already has an enabled stream: %s", t.LatestStreamArn)
			case ss.StreamEnabled:
				if s.relay == nil {
					return validationf("DynamoDB Streams are not available on this node")
				}
				t.StreamSpecification = &streamSpec{StreamEnabled: true, StreamViewType: ss.StreamViewType}
				s.newStream(t)
			case !enabled:
				return validationf("Table already has no stream enabled")
			default:
				t.StreamSpecification = nil
				for i := range t.StreamHistory {
					if t.StreamHistory[i].Arn == t.LatestStreamArn {
						t.StreamHistory[i].Disabled = s.now()
					}
				}
			}
			changed = true
		}
		for _, d := range in.AttributeDefinitions {
			if k := t.attrType(d.AttributeName); k != 0 {
				if k.String() != d.AttributeType {
					return validationf("One or more parameter values were invalid: Attribute %s is defined with a different type", d.AttributeName)
				}
				continue
			}
			t.AttributeDefinitions = append(t.AttributeDefinitions, d)
		}
		for _, u := range in.GlobalSecondaryIndexUpdates {
			switch {
			case u.Create != nil:
				ix := *u.Create
				names := map[string]bool{}
				for _, x := range t.indexes() {
					names[x.IndexName] = true
				}
				if names[ix.IndexName] {
					return validationf("One or more parameter values were invalid: Attempting to create an index which already exists")
				}
				if err := checkIndex(&ix, names, "globalSecondaryIndexUpdates"); err != nil {
					return err
				}
				for _, k := range ix.KeySchema {
					if t.attrType(k.AttributeName) == 0 {
						return validationf("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", k.AttributeName, attrNames(t))
					}
				}
				if len(t.GlobalSecondaryIndexes) >= 20 {
					return validationf("One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20")
				}
				if err := checkThroughput(mode, ix.ProvisionedThroughput, ix.IndexName); err != nil {
					return err
				}
				ix.IndexStatus = "ACTIVE"
				ix.IndexArn = t.TableArn + "/index/" + ix.IndexName
				t.GlobalSecondaryIndexes = append(t.GlobalSecondaryIndexes, ix)
				if err := w.backfill(t, &t.GlobalSecondaryIndexes[len(t.GlobalSecondaryIndexes)-1]); err != nil {
					return err
				}
				creating = append(creating, ix.IndexName)
			case u.Delete != nil:
				i := slices.IndexFunc(t.GlobalSecondaryIndexes, func(x indexDesc) bool { return x.IndexName == u.Delete.IndexName })
				if i < 0 {
					return newErr(400, "ResourceNotFoundException", "Requested resource not found: Index: %s not found", u.Delete.IndexName)
				}
				if err := w.deleteBucket(indexBucket(t.TableName, u.Delete.IndexName)); err != nil {
					return err
				}
				t.GlobalSecondaryIndexes = slices.Delete(t.GlobalSecondaryIndexes, i, i+1)
			case u.Update != nil:
				i := slices.IndexFunc(t.GlobalSecondaryIndexes, func(x indexDesc) bool { return x.IndexName == u.Update.IndexName })
				if i < 0 {
					return newErr(400, "ResourceNotFoundException", "Requested resource not found: Index: %s not found", u.Update.IndexName)
				}
				t.GlobalSecondaryIndexes[i].ProvisionedThroughput = u.Update.ProvisionedThroughput
			}
			changed = true
		}
		if !changed {
			return validationf("The parameter cannot be updated to the current value, or an update is already in progress")
		}
		out = t
		return w.putTable(t, false)
	})
	if err != nil {
		return nil, err
	}
	d := s.withStats(out)
	for i := range d.GlobalSecondaryIndexes {
		if slices.Contains(creating, d.GlobalSecondaryIndexes[i].IndexName) {
			d.GlobalSecondaryIndexes[i].IndexStatus = "CREATING"
			yes := true
			d.GlobalSecondaryIndexes[i].Backfilling = &yes
		}
	}
	return map[string]any{"TableDescription": d}, nil
}

func attrNames(t *tableDesc) string {
	var out []string
	for _, d := range t.AttributeDefinitions {
		out = append(out, d.AttributeName)
	}
	return strings.Join(out, ", ")
}

// backfill indexes a table's existing items in a new index.
func (w *wtx) backfill(t *tableDesc, ix *indexDesc) error {
	name := indexBucket(t.TableName, ix.IndexName)
	b, err := w.createBucket(name, true)
	if err != nil {
		return err
	}
	return w.tx.Bucket(itemsBucket(t.TableName)).ForEach(func(k, v []byte) error {
		it, err := decodeItem(v)
		if err != nil {
			return err
		}
		ik, err := indexKey(t, ix, it, k)
		if err != nil || ik == nil {
			return nil //nolint:nilerr // items whose index key has the wrong type are left out, as DynamoDB does
		}
		return w.putIn(b, name, ik, k)
	})
}

// Tags.

type tagInput struct {
	ResourceArn string   `json:"ResourceArn"`
	Tags        []tag    `json:"Tags"`
	TagKeys     []string `json:"TagKeys"`
	NextToken   string   `json:"NextToken"`
}

func (s *Service) tableByArn(arn string) (string, error) {
	i := strings.Index(arn, ":table/")
	if i < 0 || strings.Contains(arn[i+7:], "/") {
		return "", validationf("Invalid TableArn: Invalid ResourceArn provided as input %s", arn)
	}
	return arn[i+7:], nil
}

func (s *Service) tagResource(ctx context.Context, in *tagInput, untag bool) (any, error) {
	name, err := s.tableByArn(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	err = s.e.write(ctx, func(w *wtx) error {
		t, err := w.table(name)
		if err != nil {
			return newErr(400, "ResourceNotFoundException", "Requested resource not found: ResourcArn: %s not found", in.ResourceArn)
		}
		tags := slices.Clone(t.StoredTags)
		if untag {
			tags = slices.DeleteFunc(tags, func(x tag) bool { return slices.Contains(in.TagKeys, x.Key) })
		} else {
			for _, nt := range in.Tags {
				i := slices.IndexFunc(tags, func(x tag) bool { return x.Key == nt.Key })
				if i >= 0 {
					tags[i] = nt
				} else {
					tags = append(tags, nt)
				}
			}
			if len(tags) > 50 {
				return validationf("One or more parameter values were invalid: Too many tags")
			}
		}
		t.StoredTags = tags
		return w.putTable(t, false)
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Service) listTags(in *tagInput) (any, error) {
	name, err := s.tableByArn(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	t, ok := s.e.table(name)
	if !ok {
		return nil, newErr(400, "ResourceNotFoundException", "Requested resource not found: ResourcArn: %s not found", in.ResourceArn)
	}
	tags := t.StoredTags
	if tags == nil {
		tags = []tag{}
	}
	return map[string]any{"Tags": tags}, nil
}

func (s *Service) describeLimits() (any, error) {
	return map[string]any{"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
		"TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}, nil
}

// Time to Live settings.

type ttlInput struct {
	TableName               string `json:"TableName"`
	TimeToLiveSpecification *struct {
		Enabled       bool   `json:"Enabled"`
		AttributeName string `json:"AttributeName"`
	} `json:"TimeToLiveSpecification"`
}

func (s *Service) updateTTL(ctx context.Context, in *ttlInput) (any, error) {
	spec := in.TimeToLiveSpecification
	if spec == nil || spec.AttributeName == "" {
		return nil, validationf("1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null")
	}
	err := s.e.write(ctx, func(w *wtx) error {
		t, err := w.table(in.TableName)
		if err != nil {
			return errTableNotFound(in.TableName)
		}
		switch {
		case spec.Enabled && t.StoredTTLOn:
			return validationf("TimeToLive is already enabled")
		case !spec.Enabled && !t.StoredTTLOn:
			return validationf("TimeToLive is already disabled")
		case !spec.Enabled && spec.AttributeName != t.StoredTTL:
			return validationf("TimeToLive is active on a different AttributeName: current AttributeName is %s", t.StoredTTL)
		}
		t.StoredTTLOn, t.StoredTTL = spec.Enabled, spec.AttributeName
		return w.putTable(t, false)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"TimeToLiveSpecification": spec}, nil
}

func (s *Service) describeTTL(in *tableNameInput) (any, error) {
	t, ok := s.e.table(in.TableName)
	if !ok {
		return nil, errTableNotFound(in.TableName)
	}
	d := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if t.StoredTTLOn {
		d = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": t.StoredTTL}
	}
	return map[string]any{"TimeToLiveDescription": d}, nil
}
