package sfn_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// passChainDef is nimbus bench's chain: n Pass states and a Succeed.
func passChainDef(n int) string {
	var sb strings.Builder
	sb.WriteString(`{"StartAt":"S0","States":{`)
	for i := range n {
		fmt.Fprintf(&sb, `"S%d":{"Type":"Pass","Parameters":{"n.$":"$.n","i":%d},"Next":"S%d"},`, i, i, i+1)
	}
	fmt.Fprintf(&sb, `"S%d":{"Type":"Succeed"}}}`, n)
	return sb.String()
}

// BenchmarkStartSyncPassChain is nimbus bench's Express figure through
// the API: StartSyncExecution of a chain of 1,000 Pass states, one at a
// time; it reports state transitions per second. Compare it with
// BenchmarkExpressPassChain (the interpreter alone) for the API's share.
//
// "parse-each-run" is the same without the parsed-definition cache.
func BenchmarkStartSyncPassChain(b *testing.B) {
	for _, mode := range []string{"cached", "parse-each-run"} {
		b.Run(mode, func(b *testing.B) { benchStartSync(b, mode == "parse-each-run") })
	}
}

func benchStartSync(b *testing.B, parseEach bool) {
	st := storetest.Open(b)
	e := start(b, st, nil)
	if parseEach {
		sfn.DisableDefCache(e.svc)
	}
	out, err := e.client.CreateStateMachine(b.Context(), &awssfn.CreateStateMachineInput{Name: aws.String("chain"), Type: types.StateMachineTypeExpress,
		Definition: aws.String(passChainDef(1000)), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
	if err != nil {
		b.Fatal(err)
	}
	t0, n := time.Now(), 0
	for b.Loop() {
		x, err := e.client.StartSyncExecution(b.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: out.StateMachineArn, Input: aws.String(`{"n":1}`)})
		if err != nil || x.Status != types.SyncExecutionStatusSucceeded {
			b.Fatal(err, x)
		}
		n += 1001
	}
	b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "transitions/s")
}
