package store

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/tlscert"
)

// ClusterOptions make the embedded server one of a NATS cluster: it
// listens for routes on Listen, connects to Routes, and JetStream keeps
// its streams on the cluster (Raft per stream). docs/design/cluster.md
// has the why.
type ClusterOptions struct {
	// Name is the cluster's name; peers with another name are refused.
	Name string
	// Listen is the route listener's host:port.
	Listen string
	// Routes are the peers' nats://host:port URLs (this node's own may be
	// among them).
	Routes []string
	// Secret authenticates routes both ways (required).
	Secret string
	// NodeName is this server's name in the cluster; empty: generated
	// once into the data directory (file node-name) and kept.
	NodeName string
	// Advertise is the host:port peers learn this node's routes at
	// (gossip of implicit routes); empty: Listen's.
	Advertise string
	// TLSCert, TLSKey and TLSCA are PEM files: with them the routes use
	// mutual TLS (each side presents its certificate and accepts only
	// one TLSCA signed). Read at start.
	TLSCert, TLSKey, TLSCA string
}

const (
	routeUser           = "nimbus-route"
	nodeNameFile        = "node-name"
	clusterReadyTimeout = 2 * time.Minute
	// clusterRequestTimeout bounds a JetStream request that has no
	// deadline of its own on a cluster.
	clusterRequestTimeout = 30 * time.Second
)

// serverOptions are the embedded server's options for opts: in-process
// only on one node; with Cluster, a route listener and (because
// nats-server starts routing only after its client listener) a client
// listener on a random loopback port that only this process's random
// credentials open.
func serverOptions(opts Options) (*server.Options, error) {
	budget, err := storeBudget(opts.DataDir)
	if err != nil {
		return nil, err
	}
	sopts := &server.Options{
		ServerName:        "nimbus",
		JetStream:         true,
		JetStreamMaxStore: budget,
		StoreDir:          opts.DataDir, // the server appends "jetstream"
		// Acknowledge a write only after it is fsynced (backbone.md §2.3).
		SyncAlways: true,
		DontListen: true,
		NoSigs:     true,
		MaxPayload: MaxPayload,
	}
	c := opts.Cluster
	if c == nil {
		return sopts, nil
	}
	if c.Secret == "" {
		return nil, errors.New("cluster: a route secret is required")
	}
	name := c.NodeName
	if name == "" {
		if name, err = loadNodeName(opts.DataDir); err != nil {
			return nil, err
		}
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster listen %q: %w", c.Listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("cluster listen %q: port: %w", c.Listen, err)
	}
	routes := make([]*url.URL, 0, len(c.Routes))
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("cluster route %q is not nats://host:port", r)
		}
		u.User = url.UserPassword(routeUser, c.Secret)
		routes = append(routes, u)
	}
	sopts.ServerName = name
	sopts.DontListen = false
	sopts.Host, sopts.Port = "127.0.0.1", server.RANDOM_PORT
	sopts.Username, sopts.Password = "nimbus-local", randomHex(24)
	sopts.NoLog = false
	sopts.Cluster = server.ClusterOpts{
		Name:      c.Name,
		Host:      host,
		Port:      p,
		Username:  routeUser,
		Password:  c.Secret,
		Advertise: c.Advertise,
	}
	if c.TLSCert != "" || c.TLSKey != "" || c.TLSCA != "" {
		tc, err := routeTLS(c.TLSCert, c.TLSKey, c.TLSCA, opts.Logger)
		if err != nil {
			return nil, err
		}
		sopts.Cluster.TLSConfig, sopts.Cluster.TLSTimeout = tc, 5
	}
	sopts.Routes = routes
	return sopts, nil
}

// loadNodeName returns the node name kept in dataDir, creating
// "<hostname>-<6 hex>" on first use.
func loadNodeName(dataDir string) (string, error) {
	p := filepath.Join(dataDir, nodeNameFile)
	b, err := os.ReadFile(p) //nolint:gosec // under the data directory
	if err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read node name: %w", err)
	}
	h, _ := os.Hostname()
	h = regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(h, "-")
	if len(h) > 40 {
		h = h[:40]
	}
	if h == "" {
		h = "nimbus"
	}
	name := h + "-" + randomHex(3)
	if err := os.WriteFile(p, []byte(name+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store node name: %w", err)
	}
	return name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// waitQuorum runs create until it succeeds. On one node that is the first
// try; in a cluster JetStream answers only once a majority of the servers
// has elected a meta leader, so it retries (saying once what it waits
// for) until ctx ends or clusterReadyTimeout passes.
func (s *Store) waitQuorum(ctx context.Context, cluster bool, create func(context.Context) error) error {
	if !cluster {
		return create(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, clusterReadyTimeout)
	defer cancel()
	told := false
	for {
		tctx, tcancel := context.WithTimeout(ctx, clusterRequestTimeout/2)
		err := create(tctx)
		tcancel()
		if err == nil {
			if told {
				s.log.Info("cluster quorum reached")
			}
			return nil
		}
		if !told {
			s.log.Info("waiting for a majority of the cluster's servers", "err", err)
			told = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no cluster quorum: %w", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// peerRefusal matches the nats-server errors that mean a peer was refused
// for its cluster name or credentials.
var (
	nameConflictRE = regexp.MustCompile(`(?i)cluster name .* does not match|cluster name conflict`)
	routeAuthRE    = regexp.MustCompile(`(?i)(authorization|authentication) (violation|error)`)
)

// clusterEvent says in Nimbus's words when a cluster peer is refused, on
// the refusing and (from the error it is sent) the refused side.
func (l *serverLogger) clusterEvent(detail string) {
	switch {
	case nameConflictRE.MatchString(detail):
		l.base.Error("cluster peer refused: its cluster name differs from this node's (check --cluster-name on both)", "detail", detail)
	case routeAuthRE.MatchString(detail) && strings.Contains(strings.ToLower(detail), "rid:"):
		l.base.Error("cluster peer refused: wrong cluster secret (NIMBUS_CLUSTER_SECRET must be the same on every node)", "detail", detail)
	}
}

// clusterJS is the JetStream context of a node on a cluster. When several
// nodes start together they create the same streams at the same moment,
// and nats-server (2.15) leaves all but one of those identical creates
// unanswered although the stream exists (jsClusteredStreamRequest proposes
// the duplicate again and nobody replies to it); a create asked again is
// answered at once. So creates and updates of streams and buckets are
// retried, until the caller's context (or clusterReadyTimeout) ends. They
// are idempotent. The first tries are short (createTries): a long first
// try cost every node of a starting cluster 10 s per duplicated create,
// about half a minute of each start.
//
// It also gives every stream and bucket created through it at least the
// store's replica count: on a cluster, a stream with one copy on a server
// that dies would stop every node that uses it, so the backbone's policy
// is N copies for everything, whatever a package asked.
type clusterJS struct {
	jetstream.JetStream
	replicas int
	majority func() error // Store.majority
}

// createTries are the timeouts of successive create tries: short first
// (an unanswered duplicate is retried soon), longer after (a loaded
// cluster creating an R3 group may take seconds to answer), then
// createTry each. A try cut short while its create is still in flight
// costs one more try, which is answered once the stream exists.
var createTries = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

const createTry = 10 * time.Second

// createPause is the wait before trying again after an answer that said
// to (503, no responders), so such answers do not spin.
const createPause = 200 * time.Millisecond

func retryCreate[T any](ctx context.Context, create func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, clusterReadyTimeout)
	defer cancel()
	for try := 0; ; try++ {
		timeout := createTry
		if try < len(createTries) {
			timeout = createTries[try]
		}
		start := time.Now()
		tctx, tcancel := context.WithTimeout(ctx, timeout)
		v, err := create(tctx)
		tcancel()
		if err == nil || ctx.Err() != nil || !retryable(err) {
			return v, err
		}
		if wait := createPause - time.Since(start); wait > 0 {
			select {
			case <-ctx.Done():
				return v, err
			case <-time.After(wait):
			}
		}
	}
}

// retryable: the request timed out or JetStream had no leader yet.
func retryable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 503 // "JetStream system temporarily unavailable"
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
}

func (j clusterJS) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = max(cfg.Replicas, j.replicas)
	return streamOf(retryCreate(ctx, func(ctx context.Context) (jetstream.Stream, error) {
		return j.JetStream.CreateOrUpdateStream(ctx, cfg)
	}))
}

// Stream is the handle of stream name, with consumer creates retried
// (clusterStream).
func (j clusterJS) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	return streamOf(j.JetStream.Stream(ctx, name))
}

func streamOf(st jetstream.Stream, err error) (jetstream.Stream, error) {
	if err != nil {
		return st, err
	}
	return clusterStream{st}, nil
}

// clusterStream is a stream handle on a cluster: creating or updating a
// consumer through it is retried as stream creates are (retryCreate). A
// node restarted together with another finds its services' durable
// consumers' Raft groups without a leader until they catch up, and the
// create a service makes at start (async's dispatcher, queues, buses)
// went unanswered for its one 30 s try: the node exited ("create async
// service: consumer nimbus-dispatcher: context deadline exceeded").
type clusterStream struct {
	jetstream.Stream
}

func (s clusterStream) CreateOrUpdateConsumer(ctx context.Context, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return retryCreate(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return s.Stream.CreateOrUpdateConsumer(ctx, cfg)
	})
}

func (j clusterJS) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = max(cfg.Replicas, j.replicas)
	return retryCreate(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
		return j.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
	})
}

func (j clusterJS) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg.Replicas = max(cfg.Replicas, j.replicas)
	return retryCreate(ctx, func(ctx context.Context) (jetstream.ObjectStore, error) {
		return j.JetStream.CreateOrUpdateObjectStore(ctx, cfg)
	})
}

func (j clusterJS) CreateOrUpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return retryCreate(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return j.JetStream.CreateOrUpdateConsumer(ctx, stream, cfg)
	})
}

// leaderGet reads key's last message from the state bucket's stream
// leader; deleted reports a delete marker (with its revision). nats.go
// reads KV buckets with direct get, which any replica answers (in
// practice this node's own), so on a cluster a node could miss a write
// it has just made (a majority that need not include its replica
// acknowledged it) and a read-modify-write would fail with "not found".
// Every read a write depends on (Get, and the checks of Create, Update
// and Delete) goes to the leader; the registry's watch-fed cache serves
// every other read, so the hop costs little. The error wraps ErrNotFound
// when the key never had a message.
func (s *Store) leaderGet(ctx context.Context, key string) (e Entry, deleted bool, err error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + StateBucket + "." + key})
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, clusterRequestTimeout)
		defer cancel()
	}
	msg, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+StateBucket, req)
	if err != nil {
		return Entry{}, false, err
	}
	var resp struct {
		Message *struct {
			Sequence uint64 `json:"seq"`
			Header   []byte `json:"hdrs"`
			Data     []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return Entry{}, false, fmt.Errorf("decode: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return Entry{}, false, ErrNotFound
		}
		return Entry{}, false, resp.Error
	}
	if resp.Message == nil {
		return Entry{}, false, errors.New("empty answer")
	}
	e = Entry{Key: key, Value: resp.Message.Data, Revision: resp.Message.Sequence}
	if len(resp.Message.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Header)
		if err != nil {
			return Entry{}, false, fmt.Errorf("headers: %w", err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return Entry{Key: key, Revision: e.Revision}, true, nil
		}
	}
	return e, false, nil
}

// PublishMsg publishes m as jetstream does, but waits up to leaderWait
// for a stream that has no leader (nats.go gives up after two tries 250
// ms apart, well inside an election), and marks a transient failure for
// the API edges (Unavailable: a 503, not an internal error). A try that
// found no leader stored nothing, so trying again is safe.
func (j clusterJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if err := j.majority(); err != nil {
		return nil, err
	}
	ack, err := retryLeaderless(ctx, true, func() (*jetstream.PubAck, error) {
		return j.JetStream.PublishMsg(ctx, m, opts...)
	})
	return ack, Unavailable(err)
}

// Publish is PublishMsg of a message without headers.
func (j clusterJS) Publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return j.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data}, opts...)
}

func (j clusterJS) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = max(cfg.Replicas, j.replicas)
	return streamOf(j.JetStream.CreateStream(ctx, cfg))
}

func (j clusterJS) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = max(cfg.Replicas, j.replicas)
	return streamOf(j.JetStream.UpdateStream(ctx, cfg))
}

func (j clusterJS) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = max(cfg.Replicas, j.replicas)
	return j.JetStream.CreateKeyValue(ctx, cfg)
}

// routeTLS is the routes' mutual TLS: this node's pair, peers verified
// against ca both ways. The pair is read again when its files change
// (tlscert.Reloader: checked at most once a second, at a handshake), so a
// renewed certificate is presented on the next route connection without
// a restart; the CA is read at start.
func routeTLS(certFile, keyFile, caFile string, log *slog.Logger) (*tls.Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pair, err := tlscert.NewReloader(certFile, keyFile, log.With("subsystem", "cluster_tls"))
	if err != nil {
		return nil, fmt.Errorf("cluster route certificate: %w", err)
	}
	pem, err := os.ReadFile(caFile) //nolint:gosec // the operator names the file
	if err != nil {
		return nil, fmt.Errorf("cluster route CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster route CA %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: pair.GetCertificate,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return pair.GetCertificate(nil)
		},
		RootCAs: pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	}, nil
}
