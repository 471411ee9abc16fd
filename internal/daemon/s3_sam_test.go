package daemon

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3SAMTemplate is a SAM application: a bucket with a generated name, a
// bucket policy, and a function its uploads under incoming/ with suffix
// .txt trigger (an S3 event).
func s3SAMTemplate(sha string) string {
	return `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  UploadsKey:
    Type: AWS::KMS::Key
    Properties:
      Description: uploads at rest
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
              KMSMasterKeyID: !GetAtt UploadsKey.Arn
            BucketKeyEnabled: true
      Tags:
        - Key: team
          Value: media
      CorsConfiguration:
        CorsRules:
          - AllowedOrigins: ["http://app.localhost:3000"]
            AllowedMethods: [PUT]
            AllowedHeaders: ["*"]
            MaxAge: "300"
  UploadsPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Uploads
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: s3:DeleteObject
            Resource: !Sub "${Uploads.Arn}/*"
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/` + sha + `
      Handler: bootstrap
      Runtime: provided.al2023
      Timeout: 30
      Policies:
        - Statement:
            - Effect: Allow
              Action: lambda:UpdateFunctionConfiguration
              Resource: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:sink"
      Environment:
        Variables:
          NIMBUS_TEST_SINK: sink
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: incoming/
                  - Name: suffix
                    Value: .txt
Outputs:
  Bucket:
    Value: !Ref Uploads
  Arn:
    Value: !GetAtt Uploads.Arn
  Domain:
    Value: !GetAtt Uploads.RegionalDomainName
`
}

// TestSAMS3EventDeployAndInvoke deploys a SAM app whose function an
// upload triggers: the bucket (generated name, Ref, GetAtt), its policy,
// the notification configuration SAM's S3 event makes, and the function
// invoked asynchronously with S3's event record for a matching upload
// only. Deleting the stack removes the bucket.
func TestSAMS3EventDeployAndInvoke(t *testing.T) {
	n := startNode(t, t.TempDir())
	s := newSink(t, n)
	ctx := t.Context()
	c := n.cfn()
	sha := uploadArtifact(t, n, goZip(t, "./internal/daemon/testdata/recorder"))
	cs, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("media"), TemplateBody: aws.String(s3SAMTemplate(sha)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := waitStack(t, c, "media")
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputs(st)
	bucket := out["Bucket"]
	if !strings.HasPrefix(bucket, "media-uploads-") || bucket != strings.ToLower(bucket) || out["Arn"] != "arn:aws:s3:::"+bucket ||
		out["Domain"] != bucket+".s3.us-east-1.localhost" {
		t.Fatalf("outputs %v", out)
	}
	sc := n.s3Client()
	nc, err := sc.GetBucketNotificationConfiguration(ctx, &awss3.GetBucketNotificationConfigurationInput{Bucket: &bucket})
	if err != nil || len(nc.LambdaFunctionConfigurations) != 1 {
		t.Fatalf("notification configuration: %+v %v", nc, err)
	}
	if cors, err := sc.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: &bucket}); err != nil || len(cors.CORSRules) != 1 ||
		aws.ToInt32(cors.CORSRules[0].MaxAgeSeconds) != 300 || cors.CORSRules[0].AllowedMethods[0] != "PUT" {
		t.Errorf("CorsConfiguration: %+v %v", cors, err)
	}
	if enc, err := sc.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: &bucket}); err != nil ||
		!strings.HasPrefix(aws.ToString(enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID), "arn:aws:kms:") {
		t.Errorf("BucketEncryption: %+v %v", enc, err)
	}
	if pol, err := sc.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: &bucket}); err != nil || !strings.Contains(aws.ToString(pol.Policy), "s3:DeleteObject") {
		t.Errorf("bucket policy: %v %v", pol, err)
	}
	for _, k := range []string{"incoming/skip.png", "other/skip.txt", "incoming/report 1.txt"} {
		put, err := sc.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: aws.String(k), Body: strings.NewReader("data")})
		if err != nil {
			t.Fatal(err)
		}
		if put.ServerSideEncryption != "aws:kms" {
			t.Errorf("PutObject into the template's bucket: encryption %q", put.ServerSideEncryption)
		}
	}
	var ev struct {
		Records []struct {
			EventVersion, EventSource, EventName string
			S3                                   struct {
				Bucket struct{ Name, Arn string }
				Object struct {
					Key  string
					Size int64
					ETag string
				}
			}
		}
	}
	rec := s.next(t)
	if err := json.Unmarshal(rec, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("the function got %s (%v)", rec, err)
	}
	r := ev.Records[0]
	if r.EventVersion != "2.1" || r.EventSource != "aws:s3" || r.EventName != "ObjectCreated:Put" || r.S3.Bucket.Name != bucket ||
		r.S3.Object.Key != "incoming/report+1.txt" || r.S3.Object.Size != 4 || r.S3.Object.ETag != "8d777f385d3dfec8815d20f7496026dc" {
		t.Errorf("event record %+v", r)
	}

	for _, k := range []string{"incoming/skip.png", "other/skip.txt", "incoming/report 1.txt"} {
		if _, err := sc.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("media")}); err != nil {
		t.Fatal(err)
	}
	if st := waitStack(t, c, aws.ToString(cs.StackId)); st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("delete: %s (%s)", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if _, err := sc.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &bucket}); apiCode(err) != "NotFound" {
		t.Errorf("the bucket outlived its stack: %v", err)
	}
}
