package daemon

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestS3NotifiesSNSTopic: a bucket's TopicConfiguration publishes S3's
// event to an SNS topic (whose policy lets S3 publish for that bucket),
// which fans it out to a subscribed queue: the queue gets S3's test event
// and then the record of a matching upload.
func TestS3NotifiesSNSTopic(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	sn := awssns.NewFromConfig(n.awsConfig())
	sq := awssqs.NewFromConfig(n.awsConfig())
	s3c := n.s3Client()
	topic, err := sn.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("uploads")})
	if err != nil {
		t.Fatal(err)
	}
	topicArn := aws.ToString(topic.TopicArn)
	if _, err := sn.SetTopicAttributes(ctx, &awssns.SetTopicAttributesInput{TopicArn: topic.TopicArn, AttributeName: aws.String("Policy"),
		AttributeValue: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},` +
			`"Action":"sns:Publish","Resource":"` + topicArn + `","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::media"}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	q, err := sq.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("inbox")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := sq.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	queueArn := qa.Attributes["QueueArn"]
	if _, err := sq.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: q.QueueUrl, Attributes: map[string]string{
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage",` +
			`"Resource":"` + queueArn + `","Condition":{"ArnEquals":{"aws:SourceArn":"` + topicArn + `"}}}]}`}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueArn),
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("media")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &awss3.PutBucketNotificationConfigurationInput{Bucket: aws.String("media"),
		NotificationConfiguration: &s3types.NotificationConfiguration{TopicConfigurations: []s3types.TopicConfiguration{{
			Id: aws.String("to-topic"), TopicArn: topic.TopicArn, Events: []s3types.Event{"s3:ObjectCreated:*"}}}}}); err != nil {
		t.Fatalf("PutBucketNotificationConfiguration with a topic: %v", err)
	}
	if _, err := s3c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("media"), Key: aws.String("clip one.mp4"), Body: strings.NewReader("frames")}); err != nil {
		t.Fatal(err)
	}
	var sawTest bool
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := sq.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var ev struct {
				Event   string
				Records []struct {
					EventName string
					S3        struct {
						ConfigurationID string `json:"configurationId"`
						Object          struct{ Key string }
					}
				}
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			if ev.Event == "s3:TestEvent" {
				sawTest = true
				continue
			}
			if len(ev.Records) == 1 && ev.Records[0].EventName == "ObjectCreated:Put" {
				if r := ev.Records[0]; r.S3.Object.Key != "clip+one.mp4" || r.S3.ConfigurationID != "to-topic" {
					t.Errorf("record %+v", r)
				}
				if !sawTest {
					t.Error("the record came before S3's test event")
				}
				return
			}
		}
	}
	t.Fatal("no S3 record reached the queue through the topic")
}
