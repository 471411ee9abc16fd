package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// Events is EventBridge's part of the run: durable PutEvents entries per
// second from many clients (one entry per call, answered once fsynced,
// with 100 rules on the bus the router matches every event against)
// beside the echo server at the same concurrency, and the matcher's rate:
// events per second matched against the same 100 rules in one process.
type Events struct {
	Clients          int     `json:"clients"`
	Rules            int     `json:"rules"`
	EntriesPerSecond float64 `json:"put_events_entries_per_second"`
	EchoRPS          float64 `json:"echo_rps"`
	Ratio            float64 `json:"ratio_to_echo"`
	Errors           int     `json:"errors"`
	MatchesPerSecond float64 `json:"matcher_events_per_second"`
	// ToLambda is from PutEvents to the target function's handler: a rule
	// whose target is the Go no-op, which logs how long ago each event
	// was put (the same machine's clock), one event at a time, warm.
	ToLambda Latency `json:"put_events_to_lambda"`
}

const (
	eventClients = 16
	eventRules   = 100
)

// benchRule is rule i of the 100: equality, prefix, numeric range,
// anything-but and exists patterns, a fifth each.
func benchRule(i int) string {
	switch i % 5 {
	case 0:
		return fmt.Sprintf(`{"source":["shop.%d"],"detail-type":["OrderPlaced"]}`, i)
	case 1:
		return fmt.Sprintf(`{"source":[{"prefix":"shop."}],"detail":{"region":["eu-%d"]}}`, i)
	case 2:
		return fmt.Sprintf(`{"detail":{"amount":[{"numeric":[">",%d,"<=",%d]}]}}`, i*10, i*10+10)
	case 3:
		return fmt.Sprintf(`{"detail":{"status":[{"anything-but":["cancelled","s%d"]}],"tier":["gold"]}}`, i)
	}
	return fmt.Sprintf(`{"detail":{"coupon%d":[{"exists":true}]}}`, i)
}

// benchEvent is event i as the router sees it (AWS's envelope).
func benchEvent(i int) []byte {
	detail := fmt.Sprintf(`{"order":"o-%d","amount":%d,"region":"eu-%d","status":"paid","tier":"gold","items":["a","b"]}`, i, i%1000, i%100)
	return fmt.Appendf(nil, `{"version":"0","id":"%08d-0000-0000-0000-000000000000","detail-type":"OrderPlaced","source":"shop.%d","account":"000000000000","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":%s}`,
		i, i%100, detail)
}

// events measures PutEvents and the matcher (see Events).
func (r *runner) events(ctx context.Context, rep *Report, echo string) error {
	// First, before the load leaves a backlog on the bus: the latency to
	// a function target.
	toLambda, err := r.eventToLambda(ctx)
	if err != nil {
		return err
	}
	target := map[string]string{"X-Amz-Target": "AWSEvents.PutRule", "Content-Type": "application/x-amz-json-1.1"}
	pats := make([]*eventpattern.Pattern, 0, eventRules)
	for i := range eventRules {
		body, _ := json.Marshal(map[string]string{"Name": fmt.Sprintf("bench-%d", i), "EventPattern": benchRule(i)})
		if _, _, _, err := r.callAs(ctx, "events", r.api+"/", body, target); err != nil {
			return fmt.Errorf("create rule %d: %w", i, err)
		}
		p, err := eventpattern.Compile(eventpattern.EventBridge, []byte(benchRule(i)))
		if err != nil {
			return fmt.Errorf("compile rule %d: %w", i, err)
		}
		pats = append(pats, p)
	}
	put := map[string]string{"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"}
	entry := []byte(`{"Entries":[{"Source":"shop.7","DetailType":"OrderPlaced","Detail":"{\"order\":\"o-1\",\"amount\":42,\"region\":\"eu-7\",\"status\":\"paid\",\"tier\":\"gold\"}"}]}`)
	do := func(ctx context.Context) error {
		_, body, _, err := r.callAs(ctx, "events", r.api+"/", entry, put)
		if err != nil {
			return err
		}
		var out struct{ FailedEntryCount int }
		if err := json.Unmarshal(body, &out); err != nil || out.FailedEntryCount != 0 {
			return fmt.Errorf("PutEvents: %s", body)
		}
		return nil
	}
	r.logf("events: PutEvents from %d clients for %s with %d rules, beside the echo", eventClients, r.opts.Duration, eventRules)
	if _, err := r.load(ctx, eventClients, r.opts.Duration/5, do); err != nil {
		return err
	}
	n, err := r.load(ctx, eventClients, r.opts.Duration, do)
	if err != nil {
		return err
	}
	e, err := r.load(ctx, eventClients, r.opts.Duration, r.post(echo))
	if err != nil {
		return err
	}
	ev := Events{Clients: eventClients, Rules: eventRules, Errors: n.errs,
		EntriesPerSecond: math.Round(float64(n.ok) / r.opts.Duration.Seconds()),
		EchoRPS:          math.Round(float64(e.ok) / r.opts.Duration.Seconds())}
	ev.Ratio = ratio(ev.EntriesPerSecond, ev.EchoRPS)
	ev.ToLambda = toLambda

	r.logf("events: the matcher against %d rules for %s", eventRules, r.opts.Duration)
	set := eventpattern.NewSet(pats...)
	evs := make([][]byte, 1000)
	for i := range evs {
		evs[i] = benchEvent(i)
	}
	var dst []int
	matched, start := 0, time.Now()
	for time.Since(start) < r.opts.Duration && ctx.Err() == nil {
		for _, b := range evs {
			if dst, err = set.Match(b, dst[:0]); err != nil {
				return fmt.Errorf("match: %w", err)
			}
		}
		matched += len(evs)
	}
	ev.MatchesPerSecond = math.Round(float64(matched) / time.Since(start).Seconds())
	rep.Events = &ev
	return ctx.Err()
}

// eventLatencySamples is how many events eventToLambda times.
const eventLatencySamples = 100

// eventToLambda puts events one at a time for a rule whose target is the
// Go no-op and reads, from the function's log, how long after its put
// each one reached the handler (see Events.ToLambda). One event warms the
// environment first.
func (r *runner) eventToLambda(ctx context.Context) (Latency, error) {
	const fn, rule = "ev-latency", "bench-latency"
	if err := r.deploy(ctx, fn, "go"); err != nil {
		return Latency{}, err
	}
	ruleArn := "arn:aws:events:" + r.region + ":000000000000:rule/" + rule
	if _, err := r.lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String(fn), StatementId: aws.String("events"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("events.amazonaws.com"), SourceArn: aws.String(ruleArn)}); err != nil {
		return Latency{}, fmt.Errorf("event latency: add permission: %w", err)
	}
	call := func(op string, body any) ([]byte, error) {
		b, _ := json.Marshal(body)
		_, out, _, err := r.callAs(ctx, "events", r.api+"/", b,
			map[string]string{"X-Amz-Target": "AWSEvents." + op, "Content-Type": "application/x-amz-json-1.1"})
		return out, err
	}
	if _, err := call("PutRule", map[string]string{"Name": rule, "EventPattern": `{"source":["bench.latency"]}`}); err != nil {
		return Latency{}, fmt.Errorf("event latency: %w", err)
	}
	fnArn := "arn:aws:lambda:" + r.region + ":000000000000:function:" + fn
	if _, err := call("PutTargets", map[string]any{"Rule": rule, "Targets": []map[string]string{{"Id": "fn", "Arn": fnArn}}}); err != nil {
		return Latency{}, fmt.Errorf("event latency: %w", err)
	}
	put := func() error {
		detail, _ := json.Marshal(map[string]int64{"bench_sent": time.Now().UnixNano()})
		out, err := call("PutEvents", map[string]any{"Entries": []map[string]string{{"Source": "bench.latency", "DetailType": "Latency", "Detail": string(detail)}}})
		if err == nil && !bytes.Contains(out, []byte(`"FailedEntryCount":0`)) {
			err = fmt.Errorf("PutEvents: %s", out)
		}
		return err
	}
	r.logf("events: %d events one at a time to a function target", eventLatencySamples)
	if err := put(); err != nil { // the cold start, not counted
		return Latency{}, err
	}
	if _, err := r.latencyLines(ctx, fn, 1); err != nil {
		return Latency{}, err
	}
	for range eventLatencySamples {
		if err := put(); err != nil {
			return Latency{}, err
		}
		time.Sleep(20 * time.Millisecond) // one at a time: not a throughput test
	}
	samples, err := r.latencyLines(ctx, fn, 1+eventLatencySamples)
	if err != nil {
		return Latency{}, err
	}
	return latencyOf(samples[1:]), nil
}

// latencyLines waits (a minute at most) until fn's log holds n
// "bench-latency-us" lines and returns them in the order they were
// logged (the Go no-op logs one per EventBridge event or DynamoDB stream
// record that carries "bench_sent").
func (r *runner) latencyLines(ctx context.Context, fn string, n int) ([]time.Duration, error) {
	hdr := map[string]string{"X-Amz-Target": "Logs_20140328.FilterLogEvents", "Content-Type": "application/x-amz-json-1.1"}
	for deadline := time.Now().Add(time.Minute); ; {
		var out []time.Duration
		token := ""
		for {
			req := map[string]any{"logGroupName": "/aws/lambda/" + fn, "filterPattern": `"bench-latency-us"`}
			if token != "" {
				req["nextToken"] = token
			}
			b, _ := json.Marshal(req)
			_, body, _, err := r.callAs(ctx, "logs", r.api+"/", b, hdr)
			if err != nil && !strings.Contains(err.Error(), "ResourceNotFoundException") {
				return nil, fmt.Errorf("latency: read %s's log: %w", fn, err)
			}
			var page struct {
				Events []struct {
					Message string `json:"message"`
				} `json:"events"`
				NextToken string `json:"nextToken"`
			}
			_ = json.Unmarshal(body, &page)
			for _, e := range page.Events {
				var us int64
				if _, err := fmt.Sscanf(strings.TrimSpace(e.Message), "bench-latency-us %d", &us); err == nil {
					out = append(out, time.Duration(us)*time.Microsecond)
				}
			}
			if token = page.NextToken; token == "" || err != nil {
				break
			}
		}
		if len(out) >= n {
			return out, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("latency: %d of %d events reached %s within a minute", len(out), n, fn)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
