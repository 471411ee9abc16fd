package daemon

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestS3PublicAccessBlock drives Block Public Access with aws-sdk-go-v2:
// a new bucket has all four settings on; while BlockPublicPolicy is on a
// public bucket policy cannot be set (the attack), a policy pinned to an
// account can; while BlockPublicAcls is on a public ACL is refused, and
// with the block off it is kept and read back; Delete leaves no
// configuration (NoSuchPublicAccessBlockConfiguration); an unsigned read
// of a bucket with a public policy is still refused (Nimbus serves no
// anonymous S3 request); CloudFormation's PublicAccessBlockConfiguration
// is applied before the template's public bucket policy.
func TestS3PublicAccessBlock(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.s3Client()
	ctx := t.Context()
	b := aws.String("open-data")
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: b, ObjectOwnership: s3types.ObjectOwnershipObjectWriter}); err != nil {
		t.Fatal(err)
	}
	pab, err := c.GetPublicAccessBlock(ctx, &awss3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if p := pab.PublicAccessBlockConfiguration; !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.IgnorePublicAcls) ||
		!aws.ToBool(p.BlockPublicPolicy) || !aws.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("a new bucket's settings: %+v", p)
	}
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::open-data/*"}]}`
	pinned := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::open-data/*",` +
		`"Condition":{"StringEquals":{"aws:SourceAccount":"000000000000"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(public)}); apiCode(err) != "AccessDenied" {
		t.Fatalf("a public policy while blocked: %v", err)
	}
	if _, err := c.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: b}); apiCode(err) != "NoSuchBucketPolicy" {
		t.Errorf("the refused policy was kept: %v", err)
	}
	if _, err := c.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(pinned)}); err != nil {
		t.Errorf("a policy pinned to an account: %v", err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: aws.String("a.txt"), Body: strings.NewReader("data"),
		ACL: s3types.ObjectCannedACLPublicRead}); apiCode(err) != "AccessDenied" {
		t.Errorf("a public-read object while blocked: %v", err)
	}
	if _, err := c.PutBucketAcl(ctx, &awss3.PutBucketAclInput{Bucket: b, ACL: s3types.BucketCannedACLPublicRead}); apiCode(err) != "AccessDenied" {
		t.Errorf("a public-read bucket ACL while blocked: %v", err)
	}
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("born-public"), ObjectOwnership: s3types.ObjectOwnershipObjectWriter,
		ACL: s3types.BucketCannedACLPublicRead}); apiCode(err) != "InvalidBucketAclWithBlockPublicAccessError" {
		t.Errorf("CreateBucket with a public ACL: %v", err)
	}

	// Turned off: public policies and ACLs are accepted and read back.
	if _, err := c.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: b,
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(false),
			IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	pab, err = c.GetPublicAccessBlock(ctx, &awss3.GetPublicAccessBlockInput{Bucket: b})
	if p := pab.PublicAccessBlockConfiguration; err != nil || aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.IgnorePublicAcls) ||
		aws.ToBool(p.BlockPublicPolicy) || aws.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("settings after the put: %+v %v", p, err)
	}
	if _, err := c.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(public)}); err != nil {
		t.Errorf("a public policy with the block off: %v", err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: aws.String("a.txt"), Body: strings.NewReader("data"),
		ACL: s3types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatalf("a public-read object with the block off: %v", err)
	}
	acl, err := c.GetObjectAcl(ctx, &awss3.GetObjectAclInput{Bucket: b, Key: aws.String("a.txt")})
	if err != nil || len(acl.Grants) != 2 || acl.Grants[1].Grantee.Type != s3types.TypeGroup ||
		aws.ToString(acl.Grants[1].Grantee.URI) != "http://acs.amazonaws.com/groups/global/AllUsers" || acl.Grants[1].Permission != s3types.PermissionRead {
		t.Errorf("the public-read object's ACL: %+v %v", acl, err)
	}
	// The attack: nobody unsigned reads it, public policy and ACL or not.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.endpoint()+"/open-data/a.txt", nil)
	req.Host = "open-data.s3.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "data") || !strings.Contains(string(body), "anonymous") {
		t.Errorf("an unsigned read of a public object: %d %s", resp.StatusCode, body)
	}
	if _, err := c.DeletePublicAccessBlock(ctx, &awss3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPublicAccessBlock(ctx, &awss3.GetPublicAccessBlockInput{Bucket: b}); apiCode(err) != "NoSuchPublicAccessBlockConfiguration" {
		t.Errorf("GetPublicAccessBlock after delete: %v", err)
	}

	// CloudFormation: the block is applied before the template's policy.
	cf := n.cfn()
	tmpl := func(block string) *string {
		return aws.String("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: site-" + block + "\n" +
			"      PublicAccessBlockConfiguration:\n        BlockPublicPolicy: " + block + "\n        RestrictPublicBuckets: true\n" +
			"  P:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: !Ref B\n      PolicyDocument:\n" +
			"        Statement:\n          - Effect: Allow\n            Principal: '*'\n            Action: s3:GetObject\n" +
			"            Resource: !Sub '${B.Arn}/*'\n")
	}
	for _, block := range []string{"false", "true"} {
		if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("site-" + block), TemplateBody: tmpl(block)}); err != nil {
			t.Fatal(err)
		}
		st := waitStack(t, cf, "site-"+block)
		if block == "true" {
			if !strings.Contains(string(st.StackStatus), "ROLLBACK") || !strings.Contains(stackReasons(t, cf, "site-true"), "BlockPublicPolicy") {
				t.Errorf("a public policy beside BlockPublicPolicy: %s %s", st.StackStatus, stackReasons(t, cf, "site-true"))
			}
			continue
		}
		if st.StackStatus != cfntypes.StackStatusCreateComplete {
			t.Fatalf("create: %s %s", st.StackStatus, stackReasons(t, cf, "site-false"))
		}
		pab, err := c.GetPublicAccessBlock(ctx, &awss3.GetPublicAccessBlockInput{Bucket: aws.String("site-false")})
		if p := pab.PublicAccessBlockConfiguration; err != nil || aws.ToBool(p.BlockPublicAcls) || aws.ToBool(p.BlockPublicPolicy) ||
			!aws.ToBool(p.RestrictPublicBuckets) {
			t.Errorf("the stack's bucket's settings: %+v %v", p, err)
		}
	}
}
