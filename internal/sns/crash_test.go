package sns

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/nimbus-serverless/nimbus/internal/crashtest"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// crashChildEnv makes the test binary run crashChild (see TestMain).
const crashChildEnv = "NIMBUS_SNS_CRASH_CHILD_DIR"

func TestMain(m *testing.M) { crashtest.Main(m, crashChildEnv, crashChild) }

// queueTargets delivers to real SQS queues (what the daemon wires).
type queueTargets struct{ q *sqs.Service }

func (t queueTargets) Deliver(ctx context.Context, d *deliver.Delivery) error {
	name := d.TargetArn[strings.LastIndexByte(d.TargetArn, ':')+1:]
	_, errs, err := t.q.Send(ctx, account, name, []*sqs.SendInput{{Body: string(d.Body)}})
	if err == nil {
		err = errs[0]
	}
	return err
}

// crashNode is SNS over real SQS queues on the store in dir, served over
// HTTP, with its fan-out running.
func crashNode(t testing.TB, st *store.Store) (*awssns.Client, *sqs.Service, func()) {
	ctx := context.Background()
	queues, err := sqs.New(ctx, sqs.Options{JetStream: st.JetStream(), Region: region, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	targets := deliver.NewRouter()
	targets.Handle("sqs", queueTargets{queues})
	srv := httptest.NewUnstartedServer(nil)
	svc, err := New(ctx, Options{JetStream: st.JetStream(), Targets: targets, Region: region, AccountID: account,
		Endpoint: "http://" + srv.Listener.Addr().String(), DelayScale: 0.001, FanoutAckWait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc
	srv.Start()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(runCtx) }()
	c := awssns.New(awssns.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), HTTPClient: &http.Client{}})
	return c, queues, func() { srv.Close(); cancel(); <-done }
}

// fatalf is a testing.TB for the child process: it reports and exits.
type childTB struct{ testing.TB }

func (childTB) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(2)
}

func (childTB) Helper() {}

// crashChild publishes to topic "crash" (subscribed by queue "sink",
// raw delivery) from four publishers until it is killed, reporting every
// message whose Publish was answered on fd 3.
func crashChild(dir string) int {
	acks := crashtest.Report()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, queues, _ := crashNode(childTB{}, st)
	if _, err := queues.CreateQueue(ctx, account, "sink", nil, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	topic, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("crash")})
	if err == nil {
		_, err = c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
			Endpoint: aws.String("arn:aws:sqs:" + region + ":" + account + ":sink"), Attributes: map[string]string{"RawMessageDelivery": "true"}})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return crashtest.Flood(acks, 4, func(g, i int) ([]string, error) {
		body := fmt.Sprintf("g%d-%d", g, i)
		if _, err := c.Publish(ctx, &awssns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String(body)}); err != nil {
			return nil, err
		}
		return []string{body}, nil
	})
}

// TestSIGKILLDeliversAnsweredPublishes: every Publish answered 200 before
// a kill -9 reaches the subscribed queue at least once after the
// restart (fanned out before the kill, or by the restarted node).
func TestSIGKILLDeliversAnsweredPublishes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	acked := crashtest.KillAfter(t, crashChildEnv, dir, 200)
	st := storetest.OpenDir(t, dir)
	_, queues, stop := crashNode(t, st)
	defer stop()
	got := map[string]bool{}
	missing := func() int { return len(crashtest.Missing(acked, got)) }
	idle := 0
	for missing() > 0 && idle < 40 { // 20 s without a new message: a hang guard
		msgs, err := queues.Receive(t.Context(), account, "sink", sqs.ReceiveInput{Max: 10, Wait: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			idle++
			continue
		}
		idle = 0
		for _, m := range msgs {
			got[m.Body] = true
			if err := queues.Delete(t.Context(), account, "sink", m.ReceiptHandle); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := missing(); n > 0 {
		t.Fatalf("%d of %d answered publishes never reached the queue after kill -9 (%d delivered)", n, len(acked), len(got))
	}
	t.Logf("%d publishes answered before the kill, %d distinct messages delivered", len(acked), len(got))
}
