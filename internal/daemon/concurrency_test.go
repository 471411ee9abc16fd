package daemon

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// countingTransport counts the requests an SDK client sends.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestReservedConcurrencySDK drives Put/Get/DeleteFunctionConcurrency
// with aws-sdk-go-v2 and checks the throttle it gets is the typed
// exception its retryer retries.
func TestReservedConcurrencySDK(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	createGoFunction(t, n, "capped", nil)
	limits := n.d.pool.Limits()

	put, err := n.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(0)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 0 {
		t.Fatalf("PutFunctionConcurrency: %v %+v", err, put)
	}
	get, err := n.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("capped")})
	if err != nil || get.ReservedConcurrentExecutions == nil || *get.ReservedConcurrentExecutions != 0 {
		t.Fatalf("GetFunctionConcurrency: %v %+v", err, get)
	}
	gf, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("capped")})
	if err != nil || gf.Concurrency == nil || aws.ToInt32(gf.Concurrency.ReservedConcurrentExecutions) != 0 {
		t.Fatalf("GetFunction Concurrency: %v %+v", err, gf.Concurrency)
	}

	// Reserved 0: every invoke is throttled; the SDK's standard retryer
	// treats TooManyRequestsException as a throttle and tries 3 times.
	ct := &countingTransport{}
	client := lambda.New(n.client.Options(), func(o *lambda.Options) {
		o.HTTPClient = &http.Client{Transport: ct}
	})
	_, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("capped")})
	var tmr *types.TooManyRequestsException
	if !errors.As(err, &tmr) || tmr.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded ||
		aws.ToString(tmr.RetryAfterSeconds) != "1" {
		t.Fatalf("Invoke with reserved 0: %v (%+v)", err, tmr)
	}
	if got := ct.n.Load(); got != 3 {
		t.Errorf("the SDK sent %d requests, want 3 (throttles are retried)", got)
	}

	// The account's unreserved minimum is kept.
	_, err = n.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(int32(limits.Concurrency))})
	var ipv *types.InvalidParameterValueException
	if !errors.As(err, &ipv) || !strings.Contains(aws.ToString(ipv.Message), "UnreservedConcurrentExecution below its minimum value") {
		t.Fatalf("reserving everything: %v", err)
	}
	if _, err := n.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	as, err := n.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || int(as.AccountLimit.ConcurrentExecutions) != limits.Concurrency ||
		as.AccountLimit.UnreservedConcurrentExecutions == nil ||
		int(*as.AccountLimit.UnreservedConcurrentExecutions) != limits.Concurrency-1 {
		t.Fatalf("GetAccountSettings: %v %+v (limits %+v)", err, as.AccountLimit, limits)
	}

	if _, err := n.client.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("capped")}); err != nil {
		t.Fatal(err)
	}
	get, err = n.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("capped")})
	if err != nil || get.ReservedConcurrentExecutions != nil {
		t.Fatalf("after delete: %v %+v", err, get)
	}
	if out, _ := invoke(t, n, "capped", "", map[string]any{"action": "echo"}); out.FunctionError != nil {
		t.Fatalf("invoke after delete: %s", out.Payload)
	}
}

// waitProvisioned polls GetProvisionedConcurrencyConfig as a client
// would, until the status is not IN_PROGRESS.
func waitProvisioned(t *testing.T, n *node, name, qualifier string) *lambda.GetProvisionedConcurrencyConfigOutput {
	t.Helper()
	ctx := context.Background()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for {
		out, err := n.client.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(name), Qualifier: aws.String(qualifier)})
		if err != nil {
			t.Fatalf("GetProvisionedConcurrencyConfig: %v", err)
		}
		if out.Status != types.ProvisionedConcurrencyStatusEnumInProgress {
			return out
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("provisioned concurrency of %s:%s still IN_PROGRESS", name, qualifier)
		}
	}
}

func TestProvisionedConcurrencySDK(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, dir)
	ctx := context.Background()
	createGoFunction(t, n, "prov", nil)
	if _, err := n.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("prov")}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("prov"),
		Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}

	_, err := n.client.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("prov"), Qualifier: aws.String("$LATEST"), ProvisionedConcurrentExecutions: aws.Int32(1)})
	var ipv *types.InvalidParameterValueException
	if !errors.As(err, &ipv) {
		t.Fatalf("provisioned concurrency on $LATEST: %v", err)
	}

	put, err := n.client.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("prov"), Qualifier: aws.String("live"), ProvisionedConcurrentExecutions: aws.Int32(2)})
	if err != nil || aws.ToInt32(put.RequestedProvisionedConcurrentExecutions) != 2 {
		t.Fatalf("PutProvisionedConcurrencyConfig: %v %+v", err, put)
	}
	// The version behind the alias cannot get its own.
	_, err = n.client.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("prov"), Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(1)})
	var rc *types.ResourceConflictException
	if !errors.As(err, &rc) {
		t.Fatalf("second configuration on the same version: %v", err)
	}

	got := waitProvisioned(t, n, "prov", "live")
	if got.Status != types.ProvisionedConcurrencyStatusEnumReady || aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 2 ||
		aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) != 2 {
		t.Fatalf("status %s allocated %d: %s", got.Status, aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions), aws.ToString(got.StatusReason))
	}
	out, m := invoke(t, n, "prov", "live", map[string]any{"action": "env"})
	if tail := logTail(t, out); strings.Contains(tail, "Init Duration") || m["AWS_LAMBDA_INITIALIZATION_TYPE"] != "provisioned-concurrency" {
		t.Errorf("first invoke of a provisioned environment: init type %v, log:\n%s", m["AWS_LAMBDA_INITIALIZATION_TYPE"], tail)
	}
	// $LATEST runs on demand.
	if _, m := invoke(t, n, "prov", "", map[string]any{"action": "env"}); m["AWS_LAMBDA_INITIALIZATION_TYPE"] != "on-demand" {
		t.Errorf("$LATEST init type %v", m["AWS_LAMBDA_INITIALIZATION_TYPE"])
	}

	list, err := n.client.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("prov")})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 1 ||
		aws.ToString(list.ProvisionedConcurrencyConfigs[0].FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:prov:live" {
		t.Fatalf("ListProvisionedConcurrencyConfigs: %v %+v", err, list)
	}

	// A restarted node re-provisions from the registry.
	n.stop()
	n = startNode(t, dir)
	if got := waitProvisioned(t, n, "prov", "live"); got.Status != types.ProvisionedConcurrencyStatusEnumReady {
		t.Fatalf("after restart: %s %s", got.Status, aws.ToString(got.StatusReason))
	}
	if s := n.d.pool.Stats(); s.Provisioned != 2 {
		t.Errorf("after restart: %+v", s)
	}

	if _, err := n.client.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("prov"), Qualifier: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	_, err = n.client.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("prov"), Qualifier: aws.String("live")})
	var nf *types.ProvisionedConcurrencyConfigNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("after delete: %v", err)
	}
}

// TestWeightedAliasSplitsAcrossVersionPools: an alias routing half its
// traffic to another version runs both versions, each in its own pool.
func TestWeightedAliasSplitsAcrossVersionPools(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	createGoFunction(t, n, "split", nil)
	for i := range 2 {
		if i > 0 {
			if _, err := n.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
				FunctionName: aws.String("split"), Description: aws.String("v2")}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := n.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("split")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("split"), Name: aws.String("canary"),
		FunctionVersion: aws.String("1"), RoutingConfig: &types.AliasRoutingConfiguration{
			AdditionalVersionWeights: map[string]float64{"2": 0.5}}}); err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	// 40 invokes at 50%: both versions run unless a 1-in-10^12 chance.
	for range 40 {
		out, m := invoke(t, n, "split", "canary", map[string]any{"action": "echo"})
		ran[aws.ToString(out.ExecutedVersion)]++
		if m["version"] != aws.ToString(out.ExecutedVersion) {
			t.Fatalf("ExecutedVersion %s but the function says %v", aws.ToString(out.ExecutedVersion), m["version"])
		}
	}
	if ran["1"] == 0 || ran["2"] == 0 {
		t.Fatalf("versions run: %v", ran)
	}
	if s := n.d.pool.Stats(); s.Environments < 2 {
		t.Errorf("stats %+v: each version needs its own environment", s)
	}
}
