package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Queues is the SQS and SNS figures: durable sends from 16 clients
// (single and batches of 10) beside the echo server at 16 clients, a
// queue drained by a no-op function through an event source mapping, and
// an SNS fan-out to 20 queues.
type Queues struct {
	Clients      int     `json:"clients"`
	EchoRPS      float64 `json:"echo_rps"`
	SendSingle   float64 `json:"send_single_msgs_per_s"`
	SendBatch10  float64 `json:"send_batch10_msgs_per_s"`
	RatioSingle  float64 `json:"ratio_single_to_echo"`
	RatioBatch10 float64 `json:"ratio_batch10_to_echo"`
	SendErrors   int     `json:"send_errors"`
	// Drain is messages/s a no-op Go function consumed through an event
	// source mapping (BatchSize 10) from a preloaded queue of DrainN.
	DrainN     int     `json:"drain_messages"`
	Drain      float64 `json:"drain_msgs_per_s"`
	DrainRatio float64 `json:"drain_ratio_to_echo"`
	// SendToDone is one message at a time: from the send's start to its
	// deletion after the handler returned (an upper bound of
	// send-to-handler latency; no batching window).
	SendToDone Latency `json:"send_to_deleted"`
	// FanOut: per publish to a topic with 20 SQS subscriptions, the time
	// to the first and to the 20th delivery (received by a long poll on
	// each queue); the ratio is the median of 20th/1st.
	FanOutFirst Latency `json:"fanout_first"`
	FanOutLast  Latency `json:"fanout_20th"`
	FanOutRatio float64 `json:"fanout_ratio_20th_to_1st"`
}

const queueClients = 16

// signed sends one signed POST to the node for service (its signing
// name) and returns the body.
func (r *runner) signed(ctx context.Context, service string, body []byte, hdr map[string]string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.api+"/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	if err := r.signer.SignHTTP(ctx, r.creds, req, hex.EncodeToString(sum[:]), service, r.region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", service, err)
	}
	out, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s answer: %w", service, err)
	}
	if resp.StatusCode >= 300 {
		return out, fmt.Errorf("%s: %d: %s", service, resp.StatusCode, out)
	}
	return out, nil
}

// sqs calls one SQS operation (JSON protocol) and decodes its answer.
func (r *runner) sqs(ctx context.Context, op string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", op, err)
	}
	body, err := r.signed(ctx, "sqs", b, map[string]string{"X-Amz-Target": "AmazonSQS." + op, "Content-Type": "application/x-amz-json-1.0"})
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

var topicArnRE = regexp.MustCompile(`<TopicArn>([^<]+)</TopicArn>`)

// sns calls one SNS operation (query protocol) and returns the XML.
func (r *runner) sns(ctx context.Context, form url.Values) (string, error) {
	form.Set("Version", "2010-03-31")
	b, err := r.signed(ctx, "sns", []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	return string(b), err
}

func (r *runner) createQueue(ctx context.Context, name string) (string, error) {
	var out struct {
		URL string `json:"QueueUrl"`
	}
	if err := r.sqs(ctx, "CreateQueue", map[string]any{"QueueName": name}, &out); err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return out.URL, nil
}

// queueDepth is visible plus in-flight messages.
func (r *runner) queueDepth(ctx context.Context, q string) (int, error) {
	var out struct{ Attributes map[string]string }
	if err := r.sqs(ctx, "GetQueueAttributes", map[string]any{"QueueUrl": q,
		"AttributeNames": []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}}, &out); err != nil {
		return 0, err
	}
	a, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	b, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return a + b, nil
}

// sendLoad runs queueClients senders for d (batches of batch messages;
// 1 is SendMessage) and returns the messages answered within d.
func (r *runner) sendLoad(ctx context.Context, q string, batch int, d time.Duration) (int, int, error) {
	end := time.Now().Add(d)
	var ok, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for c := range queueClients {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && time.Now().Before(end); i++ {
				var err error
				if batch == 1 {
					err = r.sqs(ctx, "SendMessage", map[string]any{"QueueUrl": q, "MessageBody": "m" + strconv.Itoa(c)}, nil)
				} else {
					entries := make([]map[string]any, batch)
					for j := range entries {
						entries[j] = map[string]any{"Id": strconv.Itoa(j), "MessageBody": "m" + strconv.Itoa(c)}
					}
					var out struct{ Failed []any }
					err = r.sqs(ctx, "SendMessageBatch", map[string]any{"QueueUrl": q, "Entries": entries}, &out)
					if err == nil && len(out.Failed) > 0 {
						err = fmt.Errorf("%d entries of a batch failed", len(out.Failed))
					}
				}
				switch {
				case err == nil && time.Now().Before(end):
					ok.Add(int64(batch))
				case err == nil || ctx.Err() != nil:
				default:
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil && ok.Load() == 0 {
		return 0, int(errs.Load()), err
	}
	return int(ok.Load()), int(errs.Load()), ctx.Err()
}

// queues measures SQS sends, a queue drained by a function and an SNS
// fan-out.
func (r *runner) queues(ctx context.Context, rep *Report, echo string) error {
	d := r.opts.Duration
	qs := &Queues{Clients: queueClients}
	rep.Queues = qs
	r.logf("queues: echo at %d clients for %s", queueClients, d)
	if _, err := r.load(ctx, queueClients, d/5, r.post(echo)); err != nil {
		return err
	}
	n, err := r.load(ctx, queueClients, d, r.post(echo))
	if err != nil {
		return err
	}
	qs.EchoRPS = math.Round(float64(n.ok) / d.Seconds())
	for _, batch := range []int{1, 10} {
		r.logf("queues: SendMessage%s from %d clients for %s", map[bool]string{true: "Batch of 10", false: ""}[batch > 1], queueClients, d)
		q, err := r.createQueue(ctx, "bench-send-"+strconv.Itoa(batch))
		if err != nil {
			return err
		}
		if _, _, err := r.sendLoad(ctx, q, batch, d/5); err != nil {
			return err
		}
		ok, errs, err := r.sendLoad(ctx, q, batch, d)
		if err != nil {
			return err
		}
		qs.SendErrors += errs
		rate := math.Round(float64(ok) / d.Seconds())
		if batch == 1 {
			qs.SendSingle, qs.RatioSingle = rate, ratio(rate, qs.EchoRPS)
		} else {
			qs.SendBatch10, qs.RatioBatch10 = rate, ratio(rate, qs.EchoRPS)
		}
	}
	if err := r.drain(ctx, qs); err != nil {
		return err
	}
	return r.fanOut(ctx, qs)
}

// drain preloads a queue, maps it to the Go no-op function (BatchSize
// 10) and times until it is empty; then sends single messages and times
// each until it is deleted.
func (r *runner) drain(ctx context.Context, qs *Queues) error {
	q, err := r.createQueue(ctx, "bench-drain")
	if err != nil {
		return err
	}
	qs.DrainN = max(2000, int(3000*r.opts.Duration.Seconds()))
	r.logf("queues: preloading %d messages, then draining them into the Go no-op function", qs.DrainN)
	for sent := 0; sent < qs.DrainN; sent += 10 {
		entries := make([]map[string]any, 10)
		for j := range entries {
			entries[j] = map[string]any{"Id": strconv.Itoa(j), "MessageBody": `{"n":` + strconv.Itoa(sent+j) + `}`}
		}
		if err := r.sqs(ctx, "SendMessageBatch", map[string]any{"QueueUrl": q, "Entries": entries}, nil); err != nil {
			return err
		}
	}
	var attrs struct{ Attributes map[string]string }
	if err := r.sqs(ctx, "GetQueueAttributes", map[string]any{"QueueUrl": q, "AttributeNames": []string{"QueueArn"}}, &attrs); err != nil {
		return err
	}
	if err := r.benchRoleReadsQueues(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := r.signedLambda(ctx, "/2015-03-31/event-source-mappings/", map[string]any{
		"EventSourceArn": attrs.Attributes["QueueArn"], "FunctionName": "noop-go", "BatchSize": 10}); err != nil {
		return err
	}
	for {
		depth, err := r.queueDepth(ctx, q)
		if err != nil {
			return err
		}
		if depth == 0 {
			break
		}
		if time.Since(t0) > 10*time.Minute {
			return fmt.Errorf("the queue still holds %d messages after 10 minutes", depth)
		}
		time.Sleep(20 * time.Millisecond)
	}
	secs := time.Since(t0).Seconds()
	qs.Drain = math.Round(float64(qs.DrainN) / secs)
	qs.DrainRatio = ratio(qs.Drain, qs.EchoRPS)
	samples := max(20, r.opts.Requests/40)
	r.logf("queues: %d single messages, each timed from its send until the mapping deleted it", samples)
	var lats []time.Duration
	for i := range samples {
		t := time.Now()
		if err := r.sqs(ctx, "SendMessage", map[string]any{"QueueUrl": q, "MessageBody": strconv.Itoa(i)}, nil); err != nil {
			return err
		}
		for {
			depth, err := r.queueDepth(ctx, q)
			if err != nil {
				return err
			}
			if depth == 0 {
				break
			}
			if time.Since(t) > time.Minute {
				return errors.New("a message was not consumed within a minute")
			}
		}
		lats = append(lats, time.Since(t))
	}
	qs.SendToDone = latencyOf(lats)
	return nil
}

// signedLambda posts a JSON body to a Lambda API path.
func (r *runner) signedLambda(ctx context.Context, path string, in any) ([]byte, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	_, body, _, err := r.call(ctx, r.api+path, b, map[string]string{"Content-Type": "application/json"})
	return body, err
}

// fanOut publishes to a topic with 20 SQS subscriptions, each queue
// long-polled, and times the first and the 20th delivery of each publish.
func (r *runner) fanOut(ctx context.Context, qs *Queues) error {
	const subs, publishes = 20, 20
	r.logf("queues: SNS fan-out to %d SQS subscriptions, %d publishes", subs, publishes)
	x, err := r.sns(ctx, url.Values{"Action": {"CreateTopic"}, "Name": {"bench-fanout"}})
	if err != nil {
		return err
	}
	m := topicArnRE.FindStringSubmatch(x)
	if m == nil {
		return fmt.Errorf("CreateTopic answered %s", x)
	}
	topic := m[1]
	queues := make([]string, subs)
	for i := range queues {
		if queues[i], err = r.createQueue(ctx, "bench-fanout-"+strconv.Itoa(i)); err != nil {
			return err
		}
		var attrs struct{ Attributes map[string]string }
		if err := r.sqs(ctx, "GetQueueAttributes", map[string]any{"QueueUrl": queues[i], "AttributeNames": []string{"QueueArn"}}, &attrs); err != nil {
			return err
		}
		// The queue takes the topic's deliveries only if its policy says so.
		policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},` +
			`"Action":"sqs:SendMessage","Resource":"` + attrs.Attributes["QueueArn"] + `","Condition":{"ArnEquals":{"aws:SourceArn":"` + topic + `"}}}]}`
		if err := r.sqs(ctx, "SetQueueAttributes", map[string]any{"QueueUrl": queues[i], "Attributes": map[string]string{"Policy": policy}}, nil); err != nil {
			return err
		}
		if _, err := r.sns(ctx, url.Values{"Action": {"Subscribe"}, "TopicArn": {topic}, "Protocol": {"sqs"},
			"Endpoint": {attrs.Attributes["QueueArn"]}, "Attributes.entry.1.key": {"RawMessageDelivery"},
			"Attributes.entry.1.value": {"true"}}); err != nil {
			return err
		}
	}
	// arrivals[p][q] is when publish p reached queue q.
	arrivals := make([][]time.Time, publishes)
	for p := range arrivals {
		arrivals[p] = make([]time.Time, subs)
	}
	var mu sync.Mutex
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var got atomic.Int64
	for i, q := range queues {
		wg.Go(func() {
			for pctx.Err() == nil {
				var out struct {
					Messages []struct{ Body, ReceiptHandle string }
				}
				if err := r.sqs(pctx, "ReceiveMessage", map[string]any{"QueueUrl": q, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 5}, &out); err != nil {
					continue
				}
				now := time.Now()
				for _, msg := range out.Messages {
					p, err := strconv.Atoi(msg.Body)
					if err != nil || p < 0 || p >= publishes {
						continue
					}
					mu.Lock()
					arrivals[p][i] = now
					mu.Unlock()
					got.Add(1)
				}
			}
		})
	}
	starts := make([]time.Time, publishes)
	for p := range publishes {
		starts[p] = time.Now()
		if _, err := r.sns(ctx, url.Values{"Action": {"Publish"}, "TopicArn": {topic}, "Message": {strconv.Itoa(p)}}); err != nil {
			cancel()
			wg.Wait()
			return err
		}
		// One publish at a time: wait for its 20 deliveries.
		for t0 := time.Now(); got.Load() < int64((p+1)*subs); {
			if time.Since(t0) > time.Minute {
				cancel()
				wg.Wait()
				return fmt.Errorf("publish %d reached %d of %d queues in a minute", p, got.Load()-int64(p*subs), subs)
			}
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	var firsts, lasts []time.Duration
	var ratios []float64
	for p := range publishes {
		ds := make([]time.Duration, subs)
		for q := range subs {
			ds[q] = arrivals[p][q].Sub(starts[p])
		}
		slices.Sort(ds)
		firsts, lasts = append(firsts, ds[0]), append(lasts, ds[subs-1])
		if ds[0] > 0 {
			ratios = append(ratios, float64(ds[subs-1])/float64(ds[0]))
		}
	}
	qs.FanOutFirst, qs.FanOutLast = latencyOf(firsts), latencyOf(lasts)
	slices.Sort(ratios)
	if len(ratios) > 0 {
		qs.FanOutRatio = math.Round(ratios[len(ratios)/2]*100) / 100
	}
	return nil
}

// writeQueues prints the Queues section.
func writeQueues(p func(string, ...any), q *Queues) {
	p("QUEUES AND TOPICS (%d clients)\tmsgs/s\tof echo\t", q.Clients)
	p("Go HTTP echo (baseline, req/s)\t%.0f\t100%%\t", q.EchoRPS)
	p("SQS SendMessage, durable\t%.0f\t%.0f%%\t", q.SendSingle, q.RatioSingle*100)
	p("SQS SendMessageBatch of 10, durable\t%.0f\t%.0f%%\t", q.SendBatch10, q.RatioBatch10*100)
	p("queue → Go no-op (BatchSize 10), %d msgs\t%.0f\t%.0f%%\t", q.DrainN, q.Drain, q.DrainRatio*100)
	if q.SendErrors > 0 {
		p("send errors\t%d\t\t", q.SendErrors)
	}
	p("")
	p("QUEUE LATENCY\tn\tp50 ms\tp99 ms")
	p("send → deleted by the mapping (one at a time)\t%d\t%.2f\t%.2f", q.SendToDone.N, q.SendToDone.P50, q.SendToDone.P99)
	p("SNS publish → 1st of 20 SQS deliveries\t%d\t%.2f\t%.2f", q.FanOutFirst.N, q.FanOutFirst.P50, q.FanOutFirst.P99)
	p("SNS publish → 20th of 20 SQS deliveries\t%d\t%.2f\t%.2f", q.FanOutLast.N, q.FanOutLast.P50, q.FanOutLast.P99)
	p("20th / 1st (median of publishes)\t\t%.2f×\t", q.FanOutRatio)
}

// iamCall makes one IAM query call as root.
func (r *runner) iamCall(ctx context.Context, form url.Values) error {
	form.Set("Version", "2010-05-08")
	_, err := r.signed(ctx, "iam", []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	return err
}

// createBenchRole creates the functions' execution role (role/bench),
// which Lambda must be able to assume (CreateFunction refuses one it
// cannot under --iam enforce).
func (r *runner) createBenchRole(ctx context.Context) error {
	err := r.iamCall(ctx, url.Values{"Action": {"CreateRole"}, "RoleName": {"bench"},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}})
	if err != nil && !strings.Contains(err.Error(), "EntityAlreadyExists") {
		return fmt.Errorf("create the bench role: %w", err)
	}
	return nil
}

// benchRoleReadsQueues lets the functions' execution role (role/bench)
// do what Lambda's SQS poller does: the poller reads as the role.
func (r *runner) benchRoleReadsQueues(ctx context.Context) error {
	return r.benchRoleMay(ctx, "poll-queues", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
}

// benchRoleMay lets the functions' execution role (role/bench) perform
// actions on any resource, with an inline policy called name.
func (r *runner) benchRoleMay(ctx context.Context, name string, actions ...string) error {
	if err := r.createBenchRole(ctx); err != nil {
		return err
	}
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{{"Effect": "Allow", "Action": actions, "Resource": "*"}}})
	if err := r.iamCall(ctx, url.Values{"Action": {"PutRolePolicy"}, "RoleName": {"bench"}, "PolicyName": {name},
		"PolicyDocument": {string(doc)}}); err != nil {
		return fmt.Errorf("let the bench role %s: %w", name, err)
	}
	return nil
}
