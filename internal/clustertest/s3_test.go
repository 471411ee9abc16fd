package clustertest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// TestClusterS3Boundary: every node sees a bucket another node created
// (its record is on the backbone); its objects live on the node that
// created it, which serves them, and another node refuses object calls
// with 503 naming that node (docs/design/object-storage.md), never with
// a wrong answer.
func TestClusterS3Boundary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nimbus processes")
	}
	c := Start(t, Options{Binary: nimbusBin})
	creds := c.Credentials(t)
	client := func(n *Node) *awss3.Client {
		return awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint), UsePathStyle: true,
			Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }))})
	}
	a, b := c.Nodes[0], c.Nodes[1]
	Eventually(t, time.Minute, "node0 creates a bucket", func() bool {
		_, err := client(a).CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String("shared-bucket")})
		return err == nil
	})
	if _, err := client(a).PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("k"),
		Body: strings.NewReader("on node0")}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, "node1 sees the bucket", func() bool {
		_, err := client(b).HeadBucket(t.Context(), &awss3.HeadBucketInput{Bucket: aws.String("shared-bucket")})
		return err == nil
	})
	if _, err := client(b).CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String("shared-bucket")}); apiCode(err) != "BucketAlreadyOwnedByYou" {
		t.Errorf("node1 created a bucket node0 has: %v", err)
	}
	_, err := client(b).GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("k")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !strings.Contains(ae.ErrorMessage(), "object-storage.md") {
		t.Errorf("node1 GetObject of node0's bucket: %v", err)
	}
	o, err := client(a).GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(o.Body)
	_ = o.Body.Close()
	if string(data) != "on node0" {
		t.Errorf("node0 reads %q", data)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
