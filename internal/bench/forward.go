package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// forwardRounds is how many invocations each latency of the forwarding
// step is the median of.
const forwardRounds = 20

// clusterForwarding measures invoke forwarding (docs/design/cluster.md):
// from one client of node 1, sequential invocations of a Go no-op whose
// only idle environment is on node 0 (node 1 forwards each one there),
// against invocations of Go no-ops no node has run (node 1 cold-starts
// each locally), and, for reference, warm invocations on node 0 itself.
// Every invocation's log tail tells how it ran: a forwarded one has no
// Init Duration (node 1 never started an environment of it), a cold one
// has one.
func clusterForwarding(ctx context.Context, nodes []*benchNode, client func(*benchNode) *lambda.Client, zip []byte, rep *ClusterReport) error {
	names := []string{"fwd"}
	for i := range forwardRounds {
		names = append(names, fmt.Sprintf("cold-%d", i))
	}
	for _, name := range names {
		if err := createFunction(ctx, client(nodes[0]), name, types.RuntimeProvidedal2023, "bootstrap", zip, nil); err != nil {
			return err
		}
	}
	// Every node sees every function before anything is timed.
	for _, n := range nodes[1:] {
		for _, name := range names {
			if err := until(ctx, 2*time.Minute, func() bool {
				_, err := client(n).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
				return err == nil
			}); err != nil {
				return fmt.Errorf("%s does not see %s: %w", n.name, name, err)
			}
		}
	}
	invoke := func(n *benchNode, name string) (time.Duration, bool, error) {
		t0 := time.Now()
		out, err := client(n).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`),
			LogType: types.LogTypeTail})
		d := time.Since(t0)
		if err != nil {
			return 0, false, fmt.Errorf("invoke %s on %s: %w", name, n.name, err)
		}
		tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
		return d, strings.Contains(string(tail), "Init Duration"), nil
	}
	// One environment of fwd, on node 0; node 1 hears of it within the
	// advert interval (1 s).
	if _, _, err := invoke(nodes[0], "fwd"); err != nil {
		return err
	}
	var warm, forwarded, cold []time.Duration
	for range forwardRounds {
		d, _, err := invoke(nodes[0], "fwd")
		if err != nil {
			return err
		}
		warm = append(warm, d)
	}
	time.Sleep(2 * time.Second)
	for _, name := range names[1:] {
		d, init, err := invoke(nodes[1], name)
		if err != nil {
			return err
		}
		if !init {
			return fmt.Errorf("%s ran on node 1 without a cold start: the comparison would be void", name)
		}
		cold = append(cold, d)
		d, init, err = invoke(nodes[1], "fwd")
		if err != nil {
			return err
		}
		if init {
			rep.ForwardDeclined++ // node 1 started its own: not forwarded
			continue
		}
		forwarded = append(forwarded, d)
	}
	rep.WarmP50ms, rep.ForwardedP50ms, rep.ColdP50ms = p50ms(warm), p50ms(forwarded), p50ms(cold)
	if rep.ColdP50ms > 0 {
		rep.ForwardRatio = rep.ForwardedP50ms / rep.ColdP50ms
	}
	return nil
}

func p50ms(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2].Microseconds()) / 1000
}
