package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

// TestResourcePoliciesOfBucketsTopicsSecrets: S3 bucket policies, SNS
// topic policies and Secrets Manager resource policies take part in the
// evaluation of every call. A policy naming the role grants what the role's
// own policies do not; an explicit Deny in one refuses what the role's
// policies allow (the attacker here holds s3:*, sns:* and
// secretsmanager:* on everything).
func TestResourcePoliciesOfBucketsTopicsSecrets(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, "")
	ctx := context.Background()
	denyAll := func(action, resource string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"` + action + `","Resource":"` + resource + `"}]}`
	}
	grant := func(action, resource string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + roleArn + `"},"Action":"` + action + `","Resource":"` + resource + `"}]}`
	}

	// Root sets up: a bucket that grants the role reads, one that denies
	// deletes to everyone; a topic that grants the role Publish, one that
	// denies it; a secret that grants the role reads, one that denies them.
	rs3 := n.s3Client()
	for b, pol := range map[string]string{"granted": grant("s3:GetObject", "arn:aws:s3:::granted/*"),
		"guarded": denyAll("s3:DeleteObject", "arn:aws:s3:::guarded/*")} {
		if _, err := rs3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
		if _, err := rs3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := rs3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(b), Policy: aws.String(pol)}); err != nil {
			t.Fatal(err)
		}
	}
	rsns := sns.NewFromConfig(n.awsConfig())
	topics := map[string]string{}
	for name, pol := range map[string]func(string) string{
		"open":   func(arn string) string { return grant("sns:Publish", arn) },
		"closed": func(arn string) string { return denyAll("sns:Publish", arn) }} {
		out, err := rsns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		topics[name] = aws.ToString(out.TopicArn)
		if _, err := rsns.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: out.TopicArn, AttributeName: aws.String("Policy"),
			AttributeValue: aws.String(pol(aws.ToString(out.TopicArn)))}); err != nil {
			t.Fatal(err)
		}
	}
	rsm := sm.NewFromConfig(n.awsConfig())
	secrets := map[string]string{}
	for name, pol := range map[string]func(string) string{
		"shared":  func(arn string) string { return grant("secretsmanager:GetSecretValue", arn) },
		"private": func(arn string) string { return denyAll("secretsmanager:GetSecretValue", "*") }} {
		out, err := rsm.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("s3cret-" + name)})
		if err != nil {
			t.Fatal(err)
		}
		secrets[name] = aws.ToString(out.ARN)
		if _, err := rsm.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: out.ARN, ResourcePolicy: aws.String(pol(aws.ToString(out.ARN)))}); err != nil {
			t.Fatal(err)
		}
	}

	// The role has no policy of its own: only the resource policies grant.
	fcfg := functionConfig(t, n, roleArn, "mine")
	fs3 := s3.NewFromConfig(fcfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := fs3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("granted"), Key: aws.String("k")}); err != nil {
		t.Errorf("GetObject granted by the bucket policy: %v", err)
	}
	_, err := fs3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("guarded"), Key: aws.String("k")})
	wantDenied(t, "GetObject on a bucket whose policy does not grant it", err, "AccessDenied", 403, "")
	fsns := sns.NewFromConfig(fcfg)
	if _, err := fsns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topics["open"]), Message: aws.String("hi")}); err != nil {
		t.Errorf("Publish granted by the topic policy: %v", err)
	}
	_, err = fsns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topics["closed"]), Message: aws.String("hi")})
	wantDenied(t, "Publish to a topic that does not grant it", err, "AuthorizationError", 403, "")
	fsm := sm.NewFromConfig(fcfg)
	if v, err := fsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(secrets["shared"])}); err != nil || aws.ToString(v.SecretString) != "s3cret-shared" {
		t.Errorf("GetSecretValue granted by the secret's policy: %v", err)
	}
	_, err = fsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(secrets["private"])})
	wantDenied(t, "GetSecretValue of a secret that does not grant it", err, "AccessDeniedException", 403, "")

	// The attacker's role may do anything, but an explicit Deny in a
	// resource policy wins.
	if _, err := awsiam.NewFromConfig(n.awsConfig()).PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyName:     aws.String("everything"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","sns:*","secretsmanager:*"],"Resource":"*"}]}`),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = fs3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("guarded"), Key: aws.String("k")})
	wantDenied(t, "DeleteObject denied by the bucket policy", err, "AccessDenied", 403, "")
	if _, err := rs3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("guarded"), Key: aws.String("k")}); err != nil {
		t.Errorf("the object is gone after a denied delete: %v", err)
	}
	_, err = fsns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topics["closed"]), Message: aws.String("hi")})
	wantDenied(t, "Publish denied by the topic policy", err, "AuthorizationError", 403, "")
	for _, id := range []string{secrets["private"], "private"} {
		_, err = fsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(id)})
		wantDenied(t, "GetSecretValue denied by the secret's policy ("+id+")", err, "AccessDeniedException", 403, "")
	}
	// What no resource policy denies, the role's own policy allows.
	if _, err := fs3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("granted"), Key: aws.String("k")}); err != nil {
		t.Errorf("DeleteObject allowed by the role's policy: %v", err)
	}
}
