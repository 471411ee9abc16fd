package daemon

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

// TestTagConditionKeysEnforced is attribute-based access control at the
// front door, as an attacker meets it: a user allowed everything except
// what is tagged env=prod may not delete the prod function, send to the
// prod queue or publish to the prod topic; may not remove the env tag
// that protects a resource (aws:TagKeys); must tag what it creates
// (aws:RequestTag); and may not read an object tagged class=secret
// (s3:ExistingObjectTag). Before the tag keys were supplied, every one of
// those Denies matched nothing and each call succeeded.
func TestTagConditionKeysEnforced(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, "")
	ctx := context.Background()
	root := n.awsConfig()
	if _, err := n.client.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String("arn:aws:lambda:us-east-1:" + n.d.cfg.AccountID + ":function:victim"),
		Tags: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	rsqs := sqs.NewFromConfig(root)
	queue := map[string]string{}
	for name, env := range map[string]string{"prodq": "prod", "devq": "dev"} {
		q, err := rsqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Tags: map[string]string{"env": env}})
		if err != nil {
			t.Fatal(err)
		}
		queue[name] = aws.ToString(q.QueueUrl)
	}
	topic, err := sns.NewFromConfig(root).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("prodt"),
		Tags: []snstypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})
	if err != nil {
		t.Fatal(err)
	}
	pathStyle := func(o *s3.Options) { o.UsePathStyle = true }
	rs3 := s3.NewFromConfig(root, pathStyle)
	if _, err := rs3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("abac")}); err != nil {
		t.Fatal(err)
	}
	for key, tagging := range map[string]string{"secret": "class=secret", "open": "class=public"} {
		if _, err := rs3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("abac"), Key: aws.String(key),
			Body: strings.NewReader("x"), Tagging: aws.String(tagging)}); err != nil {
			t.Fatal(err)
		}
	}

	user := createUserWithKey(t, n, "abac", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["lambda:*","sqs:*","sns:*","s3:*","ssm:*","scheduler:*","iam:PassRole"],"Resource":"*"},
	 {"Effect":"Deny","Action":["lambda:*","sqs:*","sns:*","ssm:*","scheduler:*"],"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}},
	 {"Effect":"Deny","Action":"lambda:CreateFunction","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestTag/team":"blue"}}},
	 {"Effect":"Deny","Action":["lambda:TagResource","lambda:UntagResource","sqs:TagQueue","sqs:UntagQueue"],"Resource":"*",
	  "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"env"}}},
	 {"Effect":"Deny","Action":"s3:PutBucketTagging","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestTag/team":"blue"}}},
	 {"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:ExistingObjectTag/class":"secret"}}}]}`)
	lc := lambda.NewFromConfig(user)
	explicit := "with an explicit deny in an identity-based policy"
	denied := func(what string, err error, code string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), code) {
			t.Errorf("%s: %v, want %s", what, err, code)
		} else if !strings.Contains(err.Error(), explicit) && !strings.Contains(err.Error(), "api error AccessDenied") {
			t.Errorf("%s: %v, want %q", what, err, explicit)
		}
	}
	_, err = lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("victim")})
	denied("DeleteFunction of the prod function", err, "AccessDeniedException")
	if _, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("mine")}); err != nil {
		t.Errorf("GetFunctionConfiguration of an untagged function: %v", err)
	}
	_, err = lc.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String("arn:aws:lambda:us-east-1:" + n.d.cfg.AccountID + ":function:mine"),
		TagKeys: []string{"env"}})
	denied("UntagResource env", err, "AccessDeniedException")
	code := zipFiles(t, map[string]zipEntry{"bootstrap": {data: []byte("#!/bin/sh\nexit 1\n"), mode: 0o755}})
	create := func(name string, tags map[string]string) error {
		_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: aws.String(roleArn), Code: &types.FunctionCode{ZipFile: code}, Tags: tags})
		return err
	}
	denied("CreateFunction untagged", create("untagged", nil), "AccessDeniedException")
	denied("CreateFunction team=red", create("red", map[string]string{"team": "red"}), "AccessDeniedException")
	if err := create("blue", map[string]string{"team": "blue"}); err != nil {
		t.Errorf("CreateFunction team=blue: %v", err)
	}

	qc := sqs.NewFromConfig(user)
	_, err = qc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue["prodq"]), MessageBody: aws.String("x")})
	denied("SendMessage to the prod queue", err, "AccessDenied")
	if _, err := qc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue["devq"]), MessageBody: aws.String("x")}); err != nil {
		t.Errorf("SendMessage to the dev queue: %v", err)
	}
	_, err = qc.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: aws.String(queue["devq"]), TagKeys: []string{"env"}})
	denied("UntagQueue env", err, "AccessDenied")
	if _, err := qc.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: aws.String(queue["devq"]), Tags: map[string]string{"team": "x"}}); err != nil {
		t.Errorf("TagQueue team: %v", err)
	}

	_, err = sns.NewFromConfig(user).Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("x")})
	denied("Publish to the prod topic", err, "AuthorizationError")

	us3 := s3.NewFromConfig(user, pathStyle)
	_, err = us3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("abac"), Key: aws.String("secret")})
	denied("GetObject of a secret-tagged object", err, "AccessDenied")
	o, err := us3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("abac"), Key: aws.String("open")})
	if err != nil {
		t.Errorf("GetObject of a public object: %v", err)
	} else {
		o.Body.Close()
	}
	tagBucket := func(team string) error {
		_, err := us3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("abac"),
			Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String(team)}}}})
		return err
	}
	denied("PutBucketTagging team=red", tagBucket("red"), "AccessDenied")
	if err := tagBucket("blue"); err != nil {
		t.Errorf("PutBucketTagging team=blue: %v", err)
	}

	// SSM parameters and schedule groups supply their tags too.
	rssm := ssm.NewFromConfig(root)
	for name, env := range map[string]string{"/prod/p": "prod", "/dev/p": "dev"} {
		if _, err := rssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString,
			Tags: []ssmtypes.Tag{{Key: aws.String("env"), Value: aws.String(env)}}}); err != nil {
			t.Fatal(err)
		}
	}
	ussm := ssm.NewFromConfig(user)
	_, err = ussm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/prod/p")})
	denied("GetParameter of the prod parameter", err, "AccessDeniedException")
	if _, err := ussm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/dev/p")}); err != nil {
		t.Errorf("GetParameter of the dev parameter: %v", err)
	}
	sched := func(creds aws.Credentials, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, n.endpoint()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := sigv4test.Sign(req, creds, "us-east-1", "scheduler", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := sched(n.creds(), http.MethodPost, "/schedule-groups/prodg", `{"Tags":[{"Key":"env","Value":"prod"}]}`); st != http.StatusOK {
		t.Fatalf("CreateScheduleGroup: %d %s", st, b)
	}
	ucreds, err := user.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, b := sched(ucreds, http.MethodGet, "/schedule-groups/prodg", ""); st != http.StatusForbidden || !strings.Contains(b, explicit) {
		t.Errorf("GetScheduleGroup of the prod group: %d %s, want the explicit deny", st, b)
	}
	if st, b := sched(ucreds, http.MethodGet, "/schedule-groups/default", ""); st != http.StatusOK {
		t.Errorf("GetScheduleGroup of the default group: %d %s", st, b)
	}
}

// FuzzBucketTaggingTags: any body yields tags and their sorted keys, one
// key per tag, without panicking.
func FuzzBucketTaggingTags(f *testing.F) {
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>`))
	f.Add([]byte(`<Tagging><TagSet><Tag><Key></Key></Tag>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tags, keys := bucketTaggingTags(body)
		if len(keys) != len(tags) || !slices.IsSorted(keys) {
			t.Fatalf("tags %v keys %v", tags, keys)
		}
	})
}
