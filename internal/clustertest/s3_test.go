package clustertest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// s3Boundary: every node sees a bucket another node created
// (its record is on the backbone) and serves its objects: node0 holds
// them, node1 and node2 relay every request to it after judging SigV4
// and IAM themselves (docs/design/object-storage.md). A body of several
// relay chunks goes up through node1 and reads back, whole and in a
// range, through node2; a copy from node0's bucket into node1's asked of
// node2 streams between the holders; listings and deletes work through
// either; an IAM user without s3:GetObject cannot read through a
// relaying node.
func s3Boundary(t *testing.T, c *Cluster) {
	creds := c.Credentials(t)
	clientAs := func(n *Node, creds aws.Credentials) *awss3.Client {
		return awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint), UsePathStyle: true,
			Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }))})
	}
	client := func(n *Node) *awss3.Client { return clientAs(n, creds) }
	ctx := t.Context()
	n0, n1, n2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	Eventually(t, time.Minute, "node0 creates a bucket", func() bool {
		_, err := client(n0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("shared-bucket")})
		return err == nil
	})
	if _, err := client(n0).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("k"),
		Body: strings.NewReader("on node0")}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{n1, n2} {
		Eventually(t, time.Minute, n.Name+" sees the bucket", func() bool {
			_, err := client(n).HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("shared-bucket")})
			return err == nil
		})
	}
	if _, err := client(n1).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("shared-bucket")}); apiCode(err) != "BucketAlreadyOwnedByYou" {
		t.Errorf("node1 created a bucket node0 has: %v", err)
	}
	big := bytes.Repeat([]byte("relayed through node1 "), 50_000) // ~1.1 MB: several relay chunks
	if _, err := client(n1).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("dir/big"),
		Body: bytes.NewReader(big)}); err != nil {
		t.Fatalf("put through node1: %v", err)
	}
	for _, n := range []*Node{n0, n1, n2} {
		if got := getObject(t, client(n), "dir/big", nil); !bytes.Equal(got, big) {
			t.Errorf("%s reads %d bytes of dir/big, want %d", n.Name, len(got), len(big))
		}
		if got := getObject(t, client(n), "k", nil); string(got) != "on node0" {
			t.Errorf("%s reads k = %q", n.Name, got)
		}
	}
	if got := getObject(t, client(n2), "dir/big", aws.String("bytes=22-43")); string(got) != string(big[22:44]) {
		t.Errorf("node2 reads range %q", got)
	}
	for _, n := range []*Node{n1, n2} {
		l, err := client(n).ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("shared-bucket")})
		if err != nil || len(l.Contents) != 2 || aws.ToString(l.Contents[0].Key) != "dir/big" || aws.ToString(l.Contents[1].Key) != "k" {
			t.Errorf("%s lists %v (%v)", n.Name, l, err)
		}
	}

	// A copy from node0's bucket into node1's, asked of node2: node1
	// reads the source from node0 through the relay.
	if _, err := client(n1).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("node1-bucket")}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, "node2 copies node0's object into node1's bucket", func() bool {
		_, err := client(n2).CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("node1-bucket"), Key: aws.String("copy"),
			CopySource: aws.String("shared-bucket/dir/big")})
		return err == nil
	})
	if o, err := client(n0).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("node1-bucket"), Key: aws.String("copy")}); err != nil {
		t.Errorf("node0 reads the copy: %v", err)
	} else {
		got, _ := io.ReadAll(o.Body)
		_ = o.Body.Close()
		if !bytes.Equal(got, big) {
			t.Errorf("the copy holds %d bytes, want %d", len(got), len(big))
		}
	}

	// An IAM user that may list the bucket but not read its objects: the
	// relaying node refuses the read itself.
	ic := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(n0.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
	if _, err := ic.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("lister")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("lister"), PolicyName: aws.String("list"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared-bucket"}]}`)}); err != nil {
		t.Fatal(err)
	}
	key, err := ic.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("lister")})
	if err != nil {
		t.Fatal(err)
	}
	lister := clientAs(n1, aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)})
	Eventually(t, time.Minute, "node1 knows the lister", func() bool {
		_, err := lister.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("shared-bucket")})
		return err == nil
	})
	if _, err := lister.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("k")}); apiCode(err) != "AccessDenied" {
		t.Errorf("the lister read an object through node1: %v", err)
	}
	if _, err := lister.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("k")}); apiCode(err) != "AccessDenied" {
		t.Errorf("the lister deleted an object through node1: %v", err)
	}

	if _, err := client(n2).DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("k")}); err != nil {
		t.Fatalf("delete through node2: %v", err)
	}
	if _, err := client(n1).DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String("dir/big")}); err != nil {
		t.Fatalf("delete through node1: %v", err)
	}
	l, err := client(n0).ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("shared-bucket")})
	if err != nil || len(l.Contents) != 0 {
		t.Errorf("node0 lists %v after the deletes (%v)", l, err)
	}
}

func getObject(t *testing.T, c *awss3.Client, key string, rng *string) []byte {
	t.Helper()
	o, err := c.GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String("shared-bucket"), Key: aws.String(key), Range: rng})
	if err != nil {
		t.Errorf("get %s: %v", key, err)
		return nil
	}
	defer func() { _ = o.Body.Close() }()
	data, err := io.ReadAll(o.Body)
	if err != nil {
		t.Errorf("read %s: %v", key, err)
	}
	return data
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
