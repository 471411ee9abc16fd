package daemon

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func needTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if err := exec.Command(name, args...).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs %s: %v", name, err)
		}
		t.Skipf("no %s here", name)
	}
}

func (n *node) toolEnv() []string {
	c := n.creds()
	return append(os.Environ(), "AWS_ACCESS_KEY_ID="+c.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey,
		"AWS_SESSION_TOKEN=", "AWS_DEFAULT_REGION=us-east-1", "AWS_ENDPOINT_URL="+n.endpoint(),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
}

// TestSQSThroughTheFrontDoor: SQS behind the node's SigV4 front door, with
// aws-sdk-go-v2, boto3 and the AWS CLI.
func TestSQSThroughTheFrontDoor(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := awssqs.NewFromConfig(n.awsConfig())
	ctx := t.Context()
	q, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("frontdoor")})
	if err != nil {
		t.Fatal(err)
	}
	if want := n.endpoint() + "/000000000000/frontdoor"; !strings.HasSuffix(*q.QueueUrl, "/frontdoor") {
		t.Fatalf("queue url %s, want like %s", *q.QueueUrl, want)
	}
	if _, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("from go")}); err != nil {
		t.Fatal(err)
	}

	// boto3: receive what Go sent, send with attributes (its MD5 check
	// runs), catch a modeled exception by its class.
	needTool(t, "python3", "-c", "import boto3")
	script := `
import boto3, json, sys
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="frontdoor")["QueueUrl"]
got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"])["Messages"]
sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
sqs.send_message(QueueUrl=url, MessageBody="from boto3", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
try:
    sqs.get_queue_url(QueueName="missing")
    missing = "no error"
except sqs.exceptions.QueueDoesNotExist as e:
    missing = e.response["Error"]["Code"]
print(json.dumps({"body": got[0]["Body"], "missing": missing}))
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	var res map[string]string
	if err := json.Unmarshal(out, &res); err != nil || res["body"] != "from go" || res["missing"] != "AWS.SimpleQueueService.NonExistentQueue" {
		// boto3 catches the modeled class and, as against AWS, reports the legacy code.
		t.Fatalf("boto3 answered %s (%v)", out, err)
	}

	// The AWS CLI receives what boto3 sent.
	needTool(t, "aws", "--version")
	cmd = exec.Command("aws", "--endpoint-url", n.endpoint(), "sqs", "receive-message", "--queue-url", *q.QueueUrl, "--message-attribute-names", "All",
		"--wait-time-seconds", "2", "--output", "json")
	cmd.Env = n.toolEnv()
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws sqs receive-message: %v\n%s", err, out)
	}
	var recv struct{ Messages []struct{ Body string } }
	if err := json.Unmarshal(out, &recv); err != nil || len(recv.Messages) != 1 || recv.Messages[0].Body != "from boto3" {
		t.Fatalf("aws sqs receive-message answered %s (%v)", out, err)
	}

	// Unsigned: refused in SQS's JSON shape before reaching the queue.
	unsigned := awssqs.New(awssqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.endpoint()), Credentials: aws.AnonymousCredentials{}})
	_, err = unsigned.ListQueues(ctx, &awssqs.ListQueuesInput{})
	if err == nil || !strings.Contains(err.Error(), "MissingAuthenticationToken") {
		t.Fatalf("unsigned ListQueues: %v", err)
	}
	// The query protocol of older SDKs, signed for sqs, answered in XML;
	// a bad signature is refused in XML too.
	form := url.Values{"Action": {"GetQueueUrl"}, "QueueName": {"frontdoor"}, "Version": {"2012-11-05"}}
	for _, hc := range []*http.Client{n.httpClient("sqs"), http.DefaultClient} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint()+"/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		signed := hc != http.DefaultClient
		if signed && (resp.StatusCode != 200 || !strings.Contains(string(b), "<QueueUrl>"+*q.QueueUrl+"</QueueUrl>")) ||
			!signed && (resp.StatusCode != 403 || !strings.Contains(string(b), "<ErrorResponse>")) {
			t.Fatalf("query GetQueueUrl (signed %v): %d %s", signed, resp.StatusCode, b)
		}
	}
	var dne *sqstypes.QueueDoesNotExist
	if _, err := c.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: aws.String(n.endpoint() + "/000000000000/nope")}); !errors.As(err, &dne) {
		t.Fatalf("delete of a missing queue: %v", err)
	}
}
