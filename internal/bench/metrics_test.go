package bench

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
)

// TestMetricsStep runs the CloudWatch step against a real node: every
// PutMetricData is accepted and the GetMetricData it times answers all
// 20 × 180 datapoints (the step checks that itself).
func TestMetricsStep(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AccessKeyID, cfg.SecretAccessKey = "AKIDBENCHTEST", "bench-test-secret"
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	echo, stopEcho, err := startEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer stopEcho()
	r := &runner{opts: Options{Concurrency: []int{2}, Duration: 500 * time.Millisecond, Requests: 200}, region: config.DefaultRegion,
		signer: v4.NewSigner(), api: "http://" + d.Addr(), hc: &http.Client{},
		creds: aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey}, logf: t.Logf}
	rep := &Report{}
	if err := r.metrics(t.Context(), rep, echo); err != nil {
		t.Fatal(err)
	}
	cw := rep.CloudWatch
	if cw == nil || cw.PutErrors != 0 || cw.DatapointsPerSecond <= 0 || cw.EchoRequestsPerSec <= 0 ||
		cw.GetPointsPerMetric != 180 || cw.Get.N != 18 || cw.GetEcho.N != 18 {
		t.Fatalf("CloudWatch figures = %+v", cw)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "GetMetricData (20 metrics × 180 points, 1 min)") {
		t.Errorf("report:\n%s", buf.String())
	}
	t.Logf("%+v", *cw)
}
