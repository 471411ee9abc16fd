package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/lambdaapi"
	"github.com/nimbus-serverless/nimbus/internal/policy"
	"github.com/nimbus-serverless/nimbus/internal/s3"
	"github.com/nimbus-serverless/nimbus/internal/sigv4"
	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// newS3 opens the node's object store (under <data dir>/s3) and its
// notification deliveries.
func (d *Daemon) newS3(targets *deliver.Router) error {
	var err error
	d.s3, err = s3.New(s3.Options{
		Dir:       filepath.Join(d.cfg.DataDir, "s3"),
		Store:     d.st,
		Node:      d.st.NodeName(),
		Region:    d.cfg.Region,
		AccountID: d.cfg.AccountID,
		Deliverer: s3Deliverer{d: d, targets: targets},
		Logger:    d.log.With("component", "s3"),
		SSEKey:    d.s3Key,
		Keys:      s3Keys{d},
	})
	if err != nil {
		return fmt.Errorf("open object storage: %w", err)
	}
	return nil
}

// s3Keys seals and opens the data keys of SSE-KMS objects with the
// node's KMS, judging the request's caller as AWS does: writing needs
// kms:GenerateDataKey on the key, reading (and uploading a part) needs
// kms:Decrypt, by IAM and the key's policy.
type s3Keys struct{ d *Daemon }

func (k s3Keys) SealKey(ctx context.Context, keyID string, dataKey []byte, ectx map[string]string) ([]byte, string, error) {
	if k.d.kms == nil {
		return nil, "", s3.AccessDenied("This node has no KMS.")
	}
	if keyID == "" {
		keyID = "alias/aws/s3"
	}
	arn, err := k.d.kms.KeyARN(ctx, keyID)
	if err != nil {
		return nil, "", err
	}
	if msg := k.d.mayUseKey(ctx, "kms:GenerateDataKey", arn, ectx); msg != "" {
		return nil, "", s3.AccessDenied(msg)
	}
	return k.d.kms.SealValue(ctx, arn, dataKey, ectx)
}

func (k s3Keys) OpenKey(ctx context.Context, sealed []byte, ectx map[string]string) ([]byte, string, error) {
	if k.d.kms == nil {
		return nil, "", s3.AccessDenied("This node has no KMS.")
	}
	dk, arn, err := k.d.kms.OpenValue(ctx, sealed, ectx)
	if err != nil {
		return nil, "", err
	}
	if msg := k.d.mayUseKey(ctx, "kms:Decrypt", arn, ectx); msg != "" {
		clear(dk)
		return nil, "", s3.AccessDenied(msg)
	}
	return dk, arn, nil
}

// mayUseKey judges whether the caller in ctx may do action (kms:Decrypt,
// kms:GenerateDataKey) with the KMS key keyArn, by IAM and the key's
// policy, for a service acting in the caller's name ("" when allowed,
// else the refusal's message).
func (d *Daemon) mayUseKey(ctx context.Context, action, keyArn string, ectx map[string]string) string {
	id, ok := auth.FromContext(ctx)
	if !ok || id.Root || id.Insecure || d.iam == nil || d.cfg.IAMMode() == config.IAMOff {
		return ""
	}
	req := &policy.Request{Action: action, Resource: keyArn}
	req.Set("aws:RequestedRegion", d.cfg.Region)
	req.Set("kms:ViaService", "s3."+d.cfg.Region+".amazonaws.com")
	for k, v := range ectx {
		req.Set("kms:EncryptionContext:"+k, v)
	}
	res, err := d.iam.ResourcePolicy(ctx, "kms", keyArn)
	if err != nil {
		d.log.Warn("iam: read key policy", "resource", keyArn, "err", err)
	}
	dec := d.iam.Authorize(callerOf(id), req, res)
	if dec.Allowed {
		return ""
	}
	msg := dec.Message(id.Principal, action, keyArn)
	if d.cfg.IAMMode() == config.IAMAudit {
		d.log.Warn("iam audit: would deny", "principal", id.Principal, "action", action, "resource", keyArn, "reason", msg)
		return ""
	}
	return msg
}

// s3Guard verifies an S3 request's signature without reading its body
// (S3 bodies reach 5 GB; the s3 package checks them as it stores them)
// and answers refusals as S3 does (XML, AccessDenied,
// SignatureDoesNotMatch, ...).
func (d *Daemon) s3Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s3.IsPreflight(r) {
			// Browsers send CORS preflights unsigned; the bucket's CORS
			// rules answer them, and they reach nothing else.
			if d.s3 == nil {
				s3.WriteError(w, r, s3.AuthError(nil))
				return
			}
			d.s3.Preflight(w, r)
			return
		}
		vb, _ := s3.VirtualHostBucket(r.Host)
		id, p, err := d.auth.VerifyS3(r, vb)
		if err != nil {
			d.log.Info("request refused", "service", "s3", "method", r.Method, "path", r.URL.Path, "remote_addr", r.RemoteAddr)
			s3.WriteError(w, r, s3.AuthError(err))
			return
		}
		ctx := auth.WithIdentity(r.Context(), id)
		next.ServeHTTP(w, r.WithContext(s3.WithPayload(ctx, p)))
	})
}

// isS3V2Presigned recognises S3 Signature Version 2 presigned URLs
// (AWSAccessKeyId, Signature and Expires in the query): S3 is the only
// service that takes them.
func isS3V2Presigned(r *http.Request) bool {
	return sigv4.IsS3V2Presigned(r) && r.URL.Query().Get(sigv4.QueryAlgorithm) == ""
}

// isS3Preflight recognises an unsigned path-style CORS preflight
// (OPTIONS /<bucket>/... with Origin and Access-Control-Request-Method):
// s3Guard answers it from the bucket's CORS rules.
func isS3Preflight(r *http.Request) bool {
	if !s3.IsPreflight(r) || r.Header.Get("Origin") == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	b, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return b != "" && !strings.HasPrefix(b, "_")
}

// isS3Host recognises virtual-hosted S3 requests (<bucket>.s3.localhost,
// <bucket>.s3.<region>.localhost).
func isS3Host(r *http.Request) bool {
	_, ok := s3.VirtualHostBucket(r.Host)
	return ok
}

// s3Deliverer delivers S3 notifications through the node's delivery
// router (Lambda functions invoked asynchronously, as S3 does; SQS queues;
// SNS topics once served), and to the default event bus when a bucket's
// EventBridgeConfiguration is set.
type s3Deliverer struct {
	d       *Daemon
	targets *deliver.Router
}

func (x s3Deliverer) Deliver(ctx context.Context, arn, dedupID string, body []byte) error {
	var err error
	if deliver.Service(arn) == "events" {
		err = x.putEvent(ctx, body)
	} else {
		err = x.targets.Deliver(ctx, &deliver.Delivery{TargetArn: arn, DedupID: dedupID, Body: body, Source: x.source(body)})
	}
	if errors.Is(err, deliver.ErrUndeliverable) {
		return fmt.Errorf("%w: %w", s3.ErrUndeliverable, err)
	}
	return err
}

// source is S3 acting for the bucket a notification comes from (its
// record names it): a function it invokes is judged by its resource
// policy with that bucket as aws:SourceArn.
func (x s3Deliverer) source(body []byte) *deliver.Source {
	var ev struct {
		Bucket  string // s3:TestEvent names its bucket here
		Records []struct {
			S3 struct {
				Bucket struct {
					Arn string `json:"arn"`
				} `json:"bucket"`
			} `json:"s3"`
		} `json:"Records"`
	}
	src := &deliver.Source{Service: "s3.amazonaws.com", Account: x.d.cfg.AccountID}
	if json.Unmarshal(body, &ev) == nil {
		switch {
		case len(ev.Records) > 0:
			src.Arn = ev.Records[0].S3.Bucket.Arn
		case ev.Bucket != "":
			src.Arn = "arn:aws:s3:::" + ev.Bucket
		}
	}
	return src
}

// putEvent puts an S3 event (a PutEvents entry) on the default bus
// through the node's EventBridge API, in-process.
func (x s3Deliverer) putEvent(ctx context.Context, entry []byte) error {
	body := append(append([]byte(`{"Entries":[`), entry...), "]}"...)
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	w := &bufferedResponse{header: http.Header{}}
	x.d.events.ServeHTTP(w, r.WithContext(auth.WithIdentity(ctx, auth.Identity{Root: true})))
	var out struct {
		FailedEntryCount int
		Entries          []struct{ ErrorCode, ErrorMessage string }
	}
	if w.status >= 300 || json.Unmarshal(w.body.Bytes(), &out) != nil {
		return fmt.Errorf("put s3 event: status %d: %s", w.status, w.body.String())
	}
	if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
		return fmt.Errorf("put s3 event: %s: %s", out.Entries[0].ErrorCode, out.Entries[0].ErrorMessage)
	}
	return nil
}

// bufferedResponse records an in-process answer.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (x s3Deliverer) Check(ctx context.Context, arn string) error {
	if deliver.Service(arn) == "events" {
		return nil
	}
	if err := x.targets.Check(arn); err != nil {
		return err
	}
	if name, qualifier, ok := deliver.FunctionName(arn); ok {
		if _, err := x.d.reg.Resolve(ctx, name, qualifier); err != nil {
			return errors.New("the function does not exist")
		}
	}
	return nil
}

// s3Code reads Lambda's S3 code locations (CreateFunction,
// UpdateFunctionCode, PublishLayerVersion) from this node's S3 as the
// caller: the caller must be allowed s3:GetObject on the object (IAM and
// the bucket's policy, judged as for AWS::Include), since the read itself
// checks no permission. The artifact bucket `nimbus deploy` uploads to is
// read from the artifact store.
type s3Code struct {
	d    *Daemon
	arts *stack.Artifacts
}

func (c s3Code) ReadCode(ctx context.Context, bucket, key, version string, limit int64) ([]byte, error) {
	if denied := c.d.mayRead(ctx, bucket, key); denied != "" {
		return nil, &lambdaapi.S3Error{Code: "AccessDenied", Message: denied}
	}
	if bucket == stack.ArtifactBucket {
		b, err := c.arts.Get(ctx, key)
		if errors.Is(err, stack.ErrArtifactNotFound) || awsapi.As(err) != nil {
			return nil, &lambdaapi.S3Error{Code: "NoSuchKey", Message: "The specified key does not exist."}
		}
		return b, err
	}
	if c.d.s3 == nil {
		return nil, &lambdaapi.S3Error{Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
	}
	b, err := c.d.s3.ReadObject(ctx, bucket, key, version, limit)
	var se *s3.Error
	if errors.As(err, &se) {
		return nil, &lambdaapi.S3Error{Code: se.Code, Message: se.Message}
	}
	return b, err
}
