package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/sfn"
)

// sdkError turns a client's refusal into the *sfn.APIError a Task
// reports as "<Service>.<Code>".
func sdkError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &sfn.APIError{Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
	}
	return err
}

func badParams(op string, err error) error {
	return &sfn.APIError{Code: "ValidationException", Message: fmt.Sprintf("the parameters of %s: %v", op, err)}
}

// callCreds are the credentials of one call: c.creds retrieved for this
// call's context (so a provider that signs as the caller's role is
// asked per call; the SDK clients would cache the first answer).
func (c *sfnCaller) callCreds(ctx context.Context) (aws.CredentialsProvider, error) {
	cr, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	return credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken), nil
}

// callSNS serves sns:publish (the only SNS action a Task calls).
func (c *sfnCaller) callSNS(ctx context.Context, op string, body []byte) ([]byte, error) {
	if op != "Publish" {
		return nil, fmt.Errorf("no in-process SNS action %s", op)
	}
	var in struct {
		TopicArn, TargetArn, PhoneNumber, Message, Subject, MessageStructure string
		MessageGroupId, MessageDeduplicationId                               string
		MessageAttributes                                                    map[string]struct {
			DataType, StringValue string
			BinaryValue           []byte
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badParams("sns:publish", err)
	}
	pi := &sns.PublishInput{Message: aws.String(in.Message)}
	for _, f := range []struct {
		v   string
		dst **string
	}{{in.TopicArn, &pi.TopicArn}, {in.TargetArn, &pi.TargetArn}, {in.PhoneNumber, &pi.PhoneNumber}, {in.Subject, &pi.Subject},
		{in.MessageStructure, &pi.MessageStructure}, {in.MessageGroupId, &pi.MessageGroupId}, {in.MessageDeduplicationId, &pi.MessageDeduplicationId}} {
		if f.v != "" {
			*f.dst = aws.String(f.v)
		}
	}
	if len(in.MessageAttributes) > 0 {
		pi.MessageAttributes = map[string]snstypes.MessageAttributeValue{}
		for k, a := range in.MessageAttributes {
			v := snstypes.MessageAttributeValue{DataType: aws.String(a.DataType), BinaryValue: a.BinaryValue}
			if a.StringValue != "" {
				v.StringValue = aws.String(a.StringValue)
			}
			pi.MessageAttributes[k] = v
		}
	}
	creds, err := c.callCreds(ctx)
	if err != nil {
		return nil, err
	}
	out, err := c.sns.Publish(ctx, pi, func(o *sns.Options) { o.Credentials = creds })
	if err != nil {
		return nil, sdkError(err)
	}
	res := map[string]any{"MessageId": aws.ToString(out.MessageId)}
	if out.SequenceNumber != nil {
		res["SequenceNumber"] = *out.SequenceNumber
	}
	return json.Marshal(res)
}

// s3Params are the request members of the S3 actions a Task calls.
type s3Params struct {
	Bucket, Key, VersionId, Range, ContentType, CopySource string
	Prefix, Delimiter, ContinuationToken, StartAfter       string
	MaxKeys                                                int32
	Metadata                                               map[string]string
	Body                                                   json.RawMessage
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func httpDate(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC1123)
}

// callS3 serves the aws-sdk:s3 actions a Task calls. GetObject answers
// with the object's body as a string, as AWS's integration does.
func (c *sfnCaller) callS3(ctx context.Context, op string, body []byte) ([]byte, error) {
	var p s3Params
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, badParams("s3:"+op, err)
	}
	creds, err := c.callCreds(ctx)
	if err != nil {
		return nil, err
	}
	as := func(o *s3.Options) { o.Credentials = creds }
	res := map[string]any{}
	switch op {
	case "GetObject":
		out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key), VersionId: optional(p.VersionId), Range: optional(p.Range)}, as)
		if err != nil {
			return nil, sdkError(err)
		}
		defer out.Body.Close()
		b, err := io.ReadAll(io.LimitReader(out.Body, sfn.MaxPayloadBytes+1))
		if err != nil {
			return nil, err
		}
		if len(b) > sfn.MaxPayloadBytes {
			return nil, &sfn.APIError{Code: "DataLimitExceeded", Message: "the object is larger than the 256 KB a state's result may be"}
		}
		res["Body"], res["ContentLength"], res["ContentType"], res["ETag"] = string(b), aws.ToInt64(out.ContentLength), aws.ToString(out.ContentType), aws.ToString(out.ETag)
		res["LastModified"], res["Metadata"] = httpDate(out.LastModified), out.Metadata
		if out.VersionId != nil {
			res["VersionId"] = *out.VersionId
		}
	case "PutObject":
		data := []byte(p.Body)
		var s string
		if json.Unmarshal(p.Body, &s) == nil {
			data = []byte(s) // a string body is stored as its text, anything else as JSON
		}
		out, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key), Body: bytes.NewReader(data),
			ContentType: optional(p.ContentType), Metadata: p.Metadata}, as)
		if err != nil {
			return nil, sdkError(err)
		}
		res["ETag"] = aws.ToString(out.ETag)
		if out.VersionId != nil {
			res["VersionId"] = *out.VersionId
		}
	case "DeleteObject":
		if _, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key), VersionId: optional(p.VersionId)}, as); err != nil {
			return nil, sdkError(err)
		}
	case "HeadObject":
		out, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key), VersionId: optional(p.VersionId)}, as)
		if err != nil {
			return nil, sdkError(err)
		}
		res["ContentLength"], res["ContentType"], res["ETag"] = aws.ToInt64(out.ContentLength), aws.ToString(out.ContentType), aws.ToString(out.ETag)
		res["LastModified"], res["Metadata"] = httpDate(out.LastModified), out.Metadata
	case "CopyObject":
		out, err := c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key), CopySource: aws.String(p.CopySource)}, as)
		if err != nil {
			return nil, sdkError(err)
		}
		if out.CopyObjectResult != nil {
			res["CopyObjectResult"] = map[string]any{"ETag": aws.ToString(out.CopyObjectResult.ETag), "LastModified": httpDate(out.CopyObjectResult.LastModified)}
		}
	case "ListObjectsV2":
		in := &s3.ListObjectsV2Input{Bucket: aws.String(p.Bucket), Prefix: optional(p.Prefix), Delimiter: optional(p.Delimiter),
			ContinuationToken: optional(p.ContinuationToken), StartAfter: optional(p.StartAfter)}
		if p.MaxKeys > 0 {
			in.MaxKeys = aws.Int32(p.MaxKeys)
		}
		out, err := c.s3.ListObjectsV2(ctx, in, as)
		if err != nil {
			return nil, sdkError(err)
		}
		contents := make([]any, 0, len(out.Contents))
		for _, o := range out.Contents {
			contents = append(contents, map[string]any{"Key": aws.ToString(o.Key), "Size": aws.ToInt64(o.Size), "ETag": aws.ToString(o.ETag),
				"LastModified": httpDate(o.LastModified), "StorageClass": string(o.StorageClass)})
		}
		prefixes := make([]any, 0, len(out.CommonPrefixes))
		for _, cp := range out.CommonPrefixes {
			prefixes = append(prefixes, map[string]any{"Prefix": aws.ToString(cp.Prefix)})
		}
		res["Contents"], res["CommonPrefixes"], res["IsTruncated"], res["KeyCount"] = contents, prefixes, aws.ToBool(out.IsTruncated), aws.ToInt32(out.KeyCount)
		res["Name"], res["Prefix"] = aws.ToString(out.Name), aws.ToString(out.Prefix)
		if out.NextContinuationToken != nil {
			res["NextContinuationToken"] = *out.NextContinuationToken
		}
	default:
		return nil, fmt.Errorf("no in-process S3 action %s", op)
	}
	if strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "Head") {
		if m, ok := res["Metadata"].(map[string]string); ok && m == nil {
			res["Metadata"] = map[string]string{}
		}
	}
	return json.Marshal(res)
}
