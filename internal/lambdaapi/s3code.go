package lambdaapi

import (
	"context"
	"errors"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// CodeObjects reads the .zip an S3 code location names (Code.S3Bucket,
// S3Key, S3ObjectVersion of CreateFunction and UpdateFunctionCode;
// Content.S3* of PublishLayerVersion) from the node's buckets, as the
// caller on ctx: it must refuse with an *S3Error of code AccessDenied an
// object the caller may not s3:GetObject. An object larger than limit is
// refused too.
type CodeObjects interface {
	ReadCode(ctx context.Context, bucket, key, version string, limit int64) ([]byte, error)
}

// S3Error is an S3 answer that kept a code location from being read
// (NoSuchBucket, NoSuchKey, AccessDenied, ...). Lambda reports it inside
// an InvalidParameterValueException, as AWS does.
type S3Error struct {
	Code, Message string
}

func (e *S3Error) Error() string { return e.Code + ": " + e.Message }

// s3Code reads an S3 code location. What reads it may not exceed the
// unzipped size limit (AWS takes larger zips from S3 than inline, up to
// what fits unzipped).
func (h *Handler) s3Code(ctx context.Context, bucket, key, version *string) ([]byte, error) {
	if h.objects == nil {
		return nil, awsapi.InvalidParameter("S3 code locations (S3Bucket, S3Key, S3ObjectVersion) are not served by this node. Upload the .zip inline instead (ZipFile).")
	}
	if bucket == nil || *bucket == "" || key == nil || *key == "" {
		return nil, awsapi.InvalidParameter("Please provide a source for function code.")
	}
	b, err := h.objects.ReadCode(ctx, *bucket, *key, deref(version), function.MaxUnzippedSize)
	var se *S3Error
	switch {
	case errors.As(err, &se) && se.Code == "AccessDenied":
		return nil, awsapi.InvalidParameter("Your access has been denied by S3, please make sure your request credentials have permission to GetObject for %s/%s. S3 Error Code: AccessDenied. S3 Error Message: %s", *bucket, *key, se.Message)
	case errors.As(err, &se) && se.Code == "EntityTooLarge":
		return nil, awsapi.InvalidParameter("Unzipped size must be smaller than %d bytes", function.MaxUnzippedSize)
	case errors.As(err, &se):
		return nil, awsapi.InvalidParameter("Error occurred while GetObject. S3 Error Code: %s. S3 Error Message: %s", se.Code, se.Message)
	case err != nil:
		return nil, err
	}
	return b, nil
}
