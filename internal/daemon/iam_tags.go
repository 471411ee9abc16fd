package daemon

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/iam"
	"github.com/nimbus-serverless/nimbus/internal/lambdaapi"
	"github.com/nimbus-serverless/nimbus/internal/policy"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
)

// Tag condition keys (iam/tags.go): where a call's request tags and its
// resource's tags come from. Each is read only when a policy evaluated
// for the call tests it.

// setsTags reports whether operation op can set or remove tags, so that
// its parameters are the call's aws:RequestTag/* and aws:TagKeys (AWS
// supplies them on create and tag operations only: an Invoke payload
// that happens to hold "Tags" sets none).
func setsTags(op string) bool {
	for _, p := range []string{"Create", "Tag", "Untag", "AddTags", "RemoveTags"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return op == "PutRule" || op == "PutParameter" || op == "RegisterTaskDefinition"
}

// tagSource is where the tag condition keys of a call on resource come
// from: the request's own parameters, the resource's tags (the source its
// service registered), and for S3 the object's tags and x-amz-tagging.
func (d *Daemon) tagSource(route, op string, r *http.Request, resource string) iam.TagSource {
	src := iam.TagSource{Resource: resource}
	if route == "s3" {
		// S3 bodies stream: never read here. Object tags come from the
		// object's metadata, the tags a PutObject sets from its header.
		rest, ok := strings.CutPrefix(resource, "arn:aws:s3:::")
		bucket, key, _ := strings.Cut(rest, "/")
		if ok && key != "" && d.s3 != nil {
			src.Object = func() map[string]string { return d.s3.ObjectTags(bucket, key) }
		}
		if op == "PutBucketTagging" {
			// The bucket's new tag set is the call's request tags.
			src.Request = func() (map[string]string, []string) { return bucketTaggingTags(peekBody(r)) }
		}
		if h := r.Header.Get("X-Amz-Tagging"); h != "" {
			src.RequestObject = func() (map[string]string, []string) {
				vals, _ := url.ParseQuery(h)
				tags := map[string]string{}
				keys := make([]string, 0, len(vals))
				for k, v := range vals {
					tags[k] = v[0]
					keys = append(keys, k)
				}
				sort.Strings(keys)
				return tags, keys
			}
		}
		return src
	}
	if setsTags(op) {
		src.Request = func() (map[string]string, []string) {
			body := peekBody(r)
			if len(body) > 0 && body[0] == '{' {
				return iam.RequestTags(body, r.URL.Query())
			}
			return iam.RequestTags(nil, queryForm(r))
		}
	}
	return src
}

// maxTaggingBody bounds the PutBucketTagging body read for its tags (50
// tags of 128 + 256 characters fit well within it).
const maxTaggingBody = 64 << 10

// bucketTaggingTags are the tags and keys of a PutBucketTagging body
// (<Tagging><TagSet><Tag><Key/><Value/></Tag>…), none if it does not
// parse or is larger than maxTaggingBody (S3 refuses it then).
func bucketTaggingTags(body []byte) (map[string]string, []string) {
	if len(body) == 0 || len(body) > maxTaggingBody {
		return nil, nil
	}
	var t struct {
		Tags []struct{ Key, Value string } `xml:"TagSet>Tag"`
	}
	if xml.Unmarshal(body, &t) != nil { //nolint:gosec // G709: a verified request body, at most maxTaggingBody bytes, into a fixed struct
		return nil, nil
	}
	tags := map[string]string{}
	keys := make([]string, 0, len(t.Tags))
	for _, tg := range t.Tags {
		if _, dup := tags[tg.Key]; !dup {
			keys = append(keys, tg.Key)
		}
		tags[tg.Key] = tg.Value
	}
	sort.Strings(keys)
	return tags, keys
}

// registerResourceTags gives the IAM service the tags of the resources
// the node's services keep (IAM's own roles and users it knows; Secrets
// Manager's are set with its other condition keys, resourceKeys).
func (d *Daemon) registerResourceTags(queues *sqs.Service) {
	d.iam.RegisterResourceTags("sqs", func(ctx context.Context, arn string) map[string]string {
		parts := strings.Split(arn, ":")
		if len(parts) != 6 {
			return nil
		}
		tags, _ := queues.Tags(ctx, parts[4], parts[5])
		return tags
	})
	d.iam.RegisterResourceTags("lambda", func(ctx context.Context, arn string) map[string]string {
		parts := strings.Split(arn, ":")
		if len(parts) < 7 || parts[5] != "function" {
			return nil
		}
		tags, _ := d.reg.Tags(ctx, parts[6])
		return tags
	})
	d.iam.RegisterResourceTags("sns", func(ctx context.Context, arn string) map[string]string {
		if d.sns == nil {
			return nil
		}
		return d.sns.TopicTags(ctx, arn)
	})
	d.iam.RegisterResourceTags("dynamodb", func(_ context.Context, arn string) map[string]string {
		if d.tables == nil {
			return nil
		}
		return d.tables.TableTags(arn)
	})
	d.iam.RegisterResourceTags("states", func(ctx context.Context, arn string) map[string]string {
		if d.sfn == nil || !strings.Contains(arn, ":stateMachine:") {
			return nil
		}
		return d.sfn.StateMachineTags(ctx, arn)
	})
	d.iam.RegisterResourceTags("kms", func(ctx context.Context, arn string) map[string]string {
		if d.kms == nil || !strings.Contains(arn, ":key/") {
			return nil
		}
		return d.kms.KeyTags(ctx, arn)
	})
	d.iam.RegisterResourceTags("s3", func(ctx context.Context, arn string) map[string]string {
		rest, ok := strings.CutPrefix(arn, "arn:aws:s3:::")
		if !ok || d.s3 == nil {
			return nil
		}
		bucket, _, _ := strings.Cut(rest, "/")
		return d.s3.BucketTags(ctx, bucket)
	})
	d.iam.RegisterResourceTags("ssm", func(ctx context.Context, arn string) map[string]string {
		_, name, ok := strings.Cut(arn, ":parameter/")
		if !ok || d.params == nil {
			return nil
		}
		return d.params.ParameterTags(ctx, name)
	})
	d.iam.RegisterResourceTags("pipes", func(ctx context.Context, arn string) map[string]string {
		_, name, ok := strings.Cut(arn, ":pipe/")
		if !ok || d.pipes == nil {
			return nil
		}
		return d.pipes.PipeTags(ctx, name)
	})
	d.iam.RegisterResourceTags("scheduler", func(ctx context.Context, arn string) map[string]string {
		_, name, ok := strings.Cut(arn, ":schedule-group/")
		if !ok || d.sched == nil {
			return nil
		}
		return d.sched.GroupTags(ctx, name)
	})
	d.iam.RegisterResourceTags("secretsmanager", func(ctx context.Context, arn string) map[string]string {
		if d.secrets == nil {
			return nil
		}
		out := map[string]string{}
		for k, v := range d.secrets.ConditionKeys(ctx, strings.TrimSuffix(arn, "-??????")) {
			if t, ok := strings.CutPrefix(k, "aws:ResourceTag/"); ok {
				out[t] = v
			}
		}
		return out
	})
}

// forgetResourceTags drops the tag keys of the resource a request was
// evaluated on before it is evaluated on another: the request's own
// tags stay.
func forgetResourceTags(r *policy.Request) {
	for k := range r.Keys {
		if strings.Contains(k, ":resourcetag/") || strings.HasPrefix(k, "s3:existingobjecttag/") {
			delete(r.Keys, k)
		}
	}
}

// lambdaRoles is what checks, under --iam enforce, that Lambda can assume
// a function's role at CreateFunction and UpdateFunctionConfiguration
// (AWS's "The role defined for the function cannot be assumed by
// Lambda."); nil (no check) under audit and off, where a function's role
// limits nothing.
func (d *Daemon) lambdaRoles() lambdaapi.Roles {
	if d.iam == nil || d.cfg.IAMMode() != config.IAMEnforce {
		return nil
	}
	return d.iam
}
