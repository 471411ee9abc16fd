package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/s3"
	"github.com/nimbus-serverless/nimbus/internal/sigv4"
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
	})
	if err != nil {
		return fmt.Errorf("open object storage: %w", err)
	}
	return nil
}

// s3Guard verifies an S3 request's signature without reading its body
// (S3 bodies reach 5 GB; the s3 package checks them as it stores them)
// and answers refusals as S3 does (XML, AccessDenied,
// SignatureDoesNotMatch, ...).
func (d *Daemon) s3Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		Records []struct {
			S3 struct {
				Bucket struct {
					Arn string `json:"arn"`
				} `json:"bucket"`
			} `json:"s3"`
		} `json:"Records"`
	}
	src := &deliver.Source{Service: "s3.amazonaws.com", Account: x.d.cfg.AccountID}
	if json.Unmarshal(body, &ev) == nil && len(ev.Records) > 0 {
		src.Arn = ev.Records[0].S3.Bucket.Arn
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
