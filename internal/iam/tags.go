package iam

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// Tag condition keys (attribute-based access control). A resource's tags
// are aws:ResourceTag/<key> (and <service>:ResourceTag/<key>: iam:,
// secretsmanager:), the tags a call sets are aws:RequestTag/<key> with
// their keys in aws:TagKeys (an untag call's keys too), an S3 object's
// tags s3:ExistingObjectTag/<key>, the tags a PutObject sets
// s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys. None of them is
// read unless a statement of the policies evaluated tests one
// (policy.Request.Resolve), and each source is read at most once per
// call: a call whose policies mention no tag costs nothing more.

// ResourceTagsFunc returns the tags of the resource arn (nil: none, or no
// such resource). It is called at most once per call whose policies test
// a resource tag, and should read from memory.
type ResourceTagsFunc func(ctx context.Context, arn string) map[string]string

type tagSources struct {
	mu sync.RWMutex
	m  map[string]ResourceTagsFunc // by ARN service ("lambda", "sqs")
}

// RegisterResourceTags makes f the source of the tags of service's
// resources (the service field of their ARNs: "lambda", "sqs", "sns",
// "dynamodb", "states", "kms", "s3", ...). IAM's own roles and users need
// no registration.
func (s *Service) RegisterResourceTags(service string, f ResourceTagsFunc) {
	s.tags.mu.Lock()
	defer s.tags.mu.Unlock()
	if s.tags.m == nil {
		s.tags.m = map[string]ResourceTagsFunc{}
	}
	s.tags.m[service] = f
}

// ResourceTags returns the tags of the resource arn: a role's or user's
// own, else those its service's registered source reports.
func (s *Service) ResourceTags(ctx context.Context, arn string) map[string]string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return nil
	}
	if parts[2] == "iam" {
		kind, _, _ := strings.Cut(parts[5], "/")
		var ce *cached
		switch kind {
		case KindRole:
			ce = s.entity(KindRole, nameFromArn(arn))
		case KindUser:
			ce = s.entity(KindUser, nameFromArn(arn))
		}
		if ce == nil || s.entityArn(kind, ce.e.Path, ce.e.Name) != arn {
			return nil
		}
		out := make(map[string]string, len(ce.e.Tags))
		for _, t := range ce.e.Tags {
			out[t.Key] = t.Value
		}
		return out
	}
	s.tags.mu.RLock()
	f := s.tags.m[parts[2]]
	s.tags.mu.RUnlock()
	if f == nil {
		return nil
	}
	return f(ctx, arn)
}

// TagSource is what a call's tag condition keys come from.
type TagSource struct {
	// Resource is the ARN acted on (its tags are aws:ResourceTag/*).
	Resource string
	// Request returns the tags the call sets and the keys it names
	// (RequestTags of its body or form); nil: none.
	Request func() (tags map[string]string, keys []string)
	// Object returns the tags of the S3 object acted on; RequestObject
	// those a PutObject sets (x-amz-tagging). nil: none.
	Object        func() map[string]string
	RequestObject func() (tags map[string]string, keys []string)
}

// TagResolver is a policy.Request.Resolve that supplies src's tag
// condition keys the first time a statement tests one.
func (s *Service) TagResolver(ctx context.Context, src TagSource) func(*policy.Request, string) {
	var resourceDone, requestDone, objectDone, reqObjectDone bool
	return func(r *policy.Request, key string) {
		_, name, _ := strings.Cut(key, ":")
		switch {
		case strings.HasPrefix(name, "resourcetag/") && !resourceDone:
			resourceDone = true
			svc := ""
			if parts := strings.SplitN(src.Resource, ":", 4); len(parts) == 4 {
				svc = parts[2]
			}
			for k, v := range s.ResourceTags(ctx, src.Resource) {
				r.Set("aws:ResourceTag/"+k, v)
				if svc != "" {
					r.Set(svc+":ResourceTag/"+k, v)
				}
			}
		case (strings.HasPrefix(key, "aws:requesttag/") || key == "aws:tagkeys") && !requestDone:
			requestDone = true
			if src.Request != nil {
				setRequestTags(r, "aws:RequestTag/", "aws:TagKeys", src.Request)
			}
		case strings.HasPrefix(key, "s3:existingobjecttag/") && !objectDone:
			objectDone = true
			if src.Object != nil {
				for k, v := range src.Object() {
					r.Set("s3:ExistingObjectTag/"+k, v)
				}
			}
		case (strings.HasPrefix(key, "s3:requestobjecttag/") || key == "s3:requestobjecttagkeys") && !reqObjectDone:
			reqObjectDone = true
			if src.RequestObject != nil {
				setRequestTags(r, "s3:RequestObjectTag/", "s3:RequestObjectTagKeys", src.RequestObject)
			}
		}
	}
}

func setRequestTags(r *policy.Request, tagPrefix, keysName string, f func() (map[string]string, []string)) {
	tags, keys := f()
	for k, v := range tags {
		r.Set(tagPrefix+k, v)
	}
	if keys == nil {
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	if len(keys) > 0 {
		r.Set(keysName, keys...)
	}
}

// formTag matches the query protocols' tag parameters:
// Tags.member.N.Key (IAM, SNS, CloudFormation), Tag.N.Key (SQS),
// Tags.N.Key, and the untag forms TagKeys.member.N, TagKey.N.
var formTag = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:Tags?)(?:\.member)?\.(\d+)\.(Key|Value)$|^TagKeys?(?:\.member)?\.(\d+)$`)
})

// RequestTags are the tags a request sets (CreateFunction's, CreateQueue's
// or TagResource's Tags, in any of the shapes AWS's APIs use: a map, a
// list of Key/Value, key/value or TagKey/TagValue objects, the query
// protocols' Tags.member.N.Key) and, for an untag call, the keys it
// names (TagKeys, tagKeys, TagKeys.member.N; a REST query's repeated
// tagKeys). body is a JSON body (nil if none); form the query or form
// parameters. keys is nil when the call names only tags.
func RequestTags(body []byte, form url.Values) (tags map[string]string, keys []string) {
	tags = map[string]string{}
	if len(body) > 0 && body[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil {
			for _, f := range []string{"Tags", "tags"} {
				jsonTags(m[f], tags)
			}
			for _, f := range []string{"TagKeys", "tagKeys"} {
				var ks []string
				if json.Unmarshal(m[f], &ks) == nil {
					keys = append(keys, ks...)
				}
			}
		}
	}
	pending := map[string][2]string{}
	for name, vs := range form {
		if len(vs) == 0 {
			continue
		}
		if strings.EqualFold(name, "tagKeys") {
			keys = append(keys, vs...)
			continue
		}
		m := formTag().FindStringSubmatch(name)
		switch {
		case m == nil:
		case m[3] != "":
			keys = append(keys, vs[0])
		default:
			kv := pending[m[1]]
			if m[2] == "Key" {
				kv[0] = vs[0]
			} else {
				kv[1] = vs[0]
			}
			pending[m[1]] = kv
		}
	}
	for _, kv := range pending {
		if kv[0] != "" {
			tags[kv[0]] = kv[1]
		}
	}
	if keys != nil {
		sort.Strings(keys)
	}
	return tags, keys
}

// jsonTags adds the tags of a JSON Tags value (a map or a list of pairs).
func jsonTags(raw json.RawMessage, into map[string]string) {
	if len(raw) == 0 {
		return
	}
	var m map[string]string
	if json.Unmarshal(raw, &m) == nil {
		for k, v := range m {
			into[k] = v
		}
		return
	}
	var list []map[string]string
	if json.Unmarshal(raw, &list) != nil {
		return
	}
	for _, e := range list {
		for _, kf := range [][2]string{{"Key", "Value"}, {"key", "value"}, {"TagKey", "TagValue"}} {
			if k, ok := e[kf[0]]; ok {
				into[k] = e[kf[1]]
				break
			}
		}
	}
}
