// Package s3 is Amazon S3's API on a Nimbus node: buckets, objects,
// multipart uploads and event notifications, spoken in S3's REST-XML
// protocol to the AWS CLI, boto3 and the AWS SDKs unchanged.
//
// Buckets are records in the backbone's KV store (every node of a cluster
// sees the same buckets, and a bucket name is taken once); a bucket's
// objects live on the node that created it: bodies as files under the
// node's data directory (encrypted with a data key per object, SSE-S3 or
// SSE-KMS; written, fsynced and renamed into place, named by
// random ids so no key can name a path; bodies of small PUTs are kept in
// the metadata store instead, committed with their metadata: inline.go),
// metadata in an embedded ordered store (bbolt), so that listings are a
// seek and a scan. Other nodes relay
// requests for a bucket to the node holding it, streaming the bodies over
// the backbone (relay.go). Notifications are
// recorded in the same transaction as the write they report and delivered
// from that outbox at least once (Lambda functions through their
// asynchronous invocation, SQS queues), also across a crash.
// docs/design/object-storage.md has the choices and the multi-node
// boundary.
//
// The front door (package daemon, the only importer) routes S3 requests
// here after verifying their signature without reading the body
// (auth.Authenticator.VerifyS3); this package checks the body as it
// stores it: the signed SHA-256, each aws-chunked chunk's signature, the
// trailers, Content-MD5 and the flexible checksums.
package s3

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Options configures a Service.
type Options struct {
	// Dir holds the node's object bodies and metadata.
	Dir string
	// Store is the backbone: bucket records live in its KV.
	Store *store.Store
	// Node names this node in bucket records (the store's node name).
	Node      string
	Region    string
	AccountID string
	// Deliverer hands notifications to Lambda functions and SQS queues
	// (nil: configurations naming them are refused).
	Deliverer Deliverer
	// MaxObjectSize bounds one PUT or part (MaxObjectSize when zero).
	MaxObjectSize int64
	Logger        *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// LifecycleInterval is how often lifecycle rules are applied (an
	// hour when zero; also at start and when a configuration changes).
	LifecycleInterval time.Duration
	// SSEKey (32 bytes) seals SSE-S3 data keys; when nil, a key file in
	// Dir is used (created on first start).
	SSEKey []byte
	// Keys seals SSE-KMS data keys (nil: SSE-KMS is refused).
	Keys Keys
}

// Service is one node's S3. Its ServeHTTP serves requests the front door
// has authenticated.
type Service struct {
	opts Options
	log  *slog.Logger
	disk *disk
	meta *metaDB
	st   *store.Store
	// sseKey seals SSE-S3 data keys.
	sseKey []byte
	// inlineMax is the largest PUT body kept in the metadata store
	// (inline.go; inlineMax, or -1 in benchmarks measuring files alone).
	inlineMax int64

	wake          chan struct{} // notifications are waiting in the outbox
	lifecycleWake chan struct{} // a lifecycle configuration changed

	buckets   *bucketCache
	stopWatch context.CancelFunc
	watchDone chan struct{}
}

// New opens the node's object store under opts.Dir.
func New(opts Options) (*Service, error) {
	if opts.MaxObjectSize <= 0 {
		opts.MaxObjectSize = MaxObjectSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create s3 directory: %w", err)
	}
	d, err := newDisk(opts.Dir)
	if err != nil {
		return nil, err
	}
	sseKey := opts.SSEKey
	if len(sseKey) != 32 {
		if sseKey, err = loadSSEKey(opts.Dir); err != nil {
			return nil, err
		}
	}
	m, err := openMeta(filepath.Join(opts.Dir, "meta.db"))
	if err != nil {
		return nil, err
	}
	s := &Service{opts: opts, log: opts.Logger, disk: d, meta: m, st: opts.Store, sseKey: sseKey, inlineMax: inlineMax,
		wake: make(chan struct{}, 1), lifecycleWake: make(chan struct{}, 1), buckets: newBucketCache(), watchDone: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	go func() {
		defer close(s.watchDone)
		s.buckets.watch(ctx, s.st)
	}()
	return s, nil
}

// Close stops the bucket watch and closes the metadata store (after Run
// has returned).
func (s *Service) Close() error {
	s.stopWatch()
	<-s.watchDone
	return s.meta.Close()
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

type payloadKey struct{}

// WithPayload returns ctx carrying how the request's body must be checked
// (from auth.Authenticator.VerifyS3).
func WithPayload(ctx context.Context, p *sigv4.S3Payload) context.Context {
	return context.WithValue(ctx, payloadKey{}, p)
}

func payloadOf(r *http.Request) *sigv4.S3Payload {
	p, _ := r.Context().Value(payloadKey{}).(*sigv4.S3Payload)
	return p
}

// VirtualHostBucket recognises the virtual-hosted form of S3 requests:
// Host <bucket>.s3.localhost or <bucket>.s3.<region>.localhost (any
// port). It returns the bucket name.
func VirtualHostBucket(host string) (string, bool) {
	h := strings.ToLower(host)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	rest, ok := strings.CutSuffix(h, ".localhost")
	if !ok {
		return "", false
	}
	if b, ok := strings.CutSuffix(rest, ".s3"); ok && b != "" {
		return b, true
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", false
	}
	if b, ok := strings.CutSuffix(rest[:i], ".s3"); ok && b != "" && rest[i+1:] != "" {
		return b, true
	}
	return "", false
}

// target is the bucket and key a request addresses.
type target struct {
	bucket, key string
}

// parseTarget finds the bucket (Host or first path segment) and the key.
func parseTarget(r *http.Request) (target, error) {
	p := r.URL.Path
	if b, ok := VirtualHostBucket(r.Host); ok {
		return target{bucket: b, key: strings.TrimPrefix(p, "/")}, nil
	}
	p = strings.TrimPrefix(p, "/")
	b, k, _ := strings.Cut(p, "/")
	return target{bucket: b, key: k}, nil
}

// ServeHTTP serves an authenticated S3 request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.serve(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) error {
	t, err := parseTarget(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if IsControl(r) {
		return notImplemented("the S3 Control API (s3control: account-level Block Public Access, access points, " +
			"batch operations); set Block Public Access on each bucket (PutPublicAccessBlock)")
	}
	if r.Method == http.MethodOptions {
		return s.preflight(w, r)
	}
	if t.bucket != "" {
		if node, ok := s.holderElsewhere(r.Context(), t.bucket); ok {
			return s.relay(w, r, t.bucket, node)
		}
	}
	s.corsHeaders(w, r, t.bucket)
	if t.bucket == "" {
		if r.Method == http.MethodGet {
			return s.listBuckets(w, r)
		}
		return methodNotAllowed(r.Method, "SERVICE")
	}
	if t.key == "" {
		return s.bucketOp(w, r, t.bucket, q)
	}
	return s.objectOp(w, r, t, q)
}

// IsControl recognises an S3 Control API request (s3control, signed for
// "s3"): its /v20180820/ path with the x-amz-account-id header the SDKs
// send.
func IsControl(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/v20180820/") && r.Header.Get("x-amz-account-id") != ""
}

// unsupported names the subresources Nimbus does not serve yet.
func unsupported(q url.Values) error {
	for _, sub := range []string{"acl", "policyStatus", "website", "logging", "replication", "ownershipControls",
		"accelerate", "requestPayment", "analytics", "metrics", "inventory", "intelligent-tiering",
		"object-lock", "legal-hold", "retention", "restore", "select", "torrent", "tagging", "versions",
		"versioning"} {
		if q.Has(sub) {
			return notImplemented("the S3 ?" + sub + " subresource")
		}
	}
	return nil
}
