package iam

import (
	"context"
	"net/url"
	"reflect"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// TestRequestTags reads the tags a call sets in each shape AWS's APIs
// use, and the keys an untag call names.
func TestRequestTags(t *testing.T) {
	for _, c := range []struct {
		name string
		body string
		form url.Values
		tags map[string]string
		keys []string
	}{
		{"lambda CreateFunction map", `{"FunctionName":"f","Tags":{"team":"blue","env":"dev"}}`, nil,
			map[string]string{"team": "blue", "env": "dev"}, nil},
		{"sqs json CreateQueue", `{"QueueName":"q","tags":{"env":"prod"}}`, nil, map[string]string{"env": "prod"}, nil},
		{"dynamodb Key/Value list", `{"Tags":[{"Key":"env","Value":"prod"}]}`, nil, map[string]string{"env": "prod"}, nil},
		{"sfn key/value list", `{"tags":[{"key":"env","value":"prod"}]}`, nil, map[string]string{"env": "prod"}, nil},
		{"kms TagKey/TagValue", `{"Tags":[{"TagKey":"env","TagValue":"prod"}]}`, nil, map[string]string{"env": "prod"}, nil},
		{"json untag", `{"ResourceArn":"x","TagKeys":["b","a"]}`, nil, map[string]string{}, []string{"a", "b"}},
		{"lambda untag query", "", url.Values{"tagKeys": {"env", "team"}}, map[string]string{}, []string{"env", "team"}},
		{"iam/sns form", "", url.Values{"Tags.member.1.Key": {"env"}, "Tags.member.1.Value": {"prod"},
			"Tags.member.2.Key": {"team"}, "Tags.member.2.Value": {""}}, map[string]string{"env": "prod", "team": ""}, nil},
		{"sqs query", "", url.Values{"Tag.1.Key": {"env"}, "Tag.1.Value": {"prod"}}, map[string]string{"env": "prod"}, nil},
		{"form untag", "", url.Values{"TagKeys.member.1": {"env"}, "TagKey.2": {"x"}}, map[string]string{}, []string{"env", "x"}},
		{"no tags", `{"FunctionName":"f"}`, url.Values{"Action": {"Publish"}}, map[string]string{}, nil},
		{"not json", `[1,2]`, nil, map[string]string{}, nil},
	} {
		tags, keys := RequestTags([]byte(c.body), c.form)
		if !reflect.DeepEqual(tags, c.tags) || !reflect.DeepEqual(keys, c.keys) {
			t.Errorf("%s: %v %v, want %v %v", c.name, tags, keys, c.tags, c.keys)
		}
	}
}

// TestTagConditionKeys: a Deny conditioned on a resource's tag denies
// (it used to match nothing, so ABAC denies were open), a role's tags are
// iam:ResourceTag too, request tags and aws:TagKeys come from the call,
// and nothing is looked up for policies that test no tag.
func TestTagConditionKeys(t *testing.T) {
	s := newService(t)
	lookups := 0
	s.RegisterResourceTags("lambda", func(_ context.Context, arn string) map[string]string {
		lookups++
		if arn == "arn:aws:lambda:us-east-1:"+acct+":function:prod" {
			return map[string]string{"env": "prod"}
		}
		return map[string]string{"env": "dev"}
	})
	parse := func(doc string) *policy.Policy {
		p, err := policy.Parse([]byte(doc), policy.Identity)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	abac := parse(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"lambda:*","Resource":"*"},
	 {"Effect":"Deny","Action":"lambda:DeleteFunction","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}},
	 {"Effect":"Deny","Action":"lambda:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/ENV":"prod"}}},
	 {"Effect":"Deny","Action":"lambda:CreateFunction","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestTag/team":"blue"}}},
	 {"Effect":"Deny","Action":"lambda:TagResource","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"env"}}}]}`)
	plain := parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:*","Resource":"*"}]}`)
	fn := func(name string) string { return "arn:aws:lambda:us-east-1:" + acct + ":function:" + name }
	eval := func(p *policy.Policy, action, res string, tags map[string]string) policy.Decision {
		r := &policy.Request{Action: action, Resource: res, Principal: policy.Principal{ARN: "arn:aws:iam::" + acct + ":user/u", Account: acct}}
		src := TagSource{Resource: res}
		if tags != nil {
			src.Request = func() (map[string]string, []string) { return tags, nil }
		}
		r.Resolve = s.TagResolver(context.Background(), src)
		return policy.Evaluate(&policy.Policies{Identity: []*policy.Policy{p}}, r)
	}
	if d := eval(abac, "lambda:DeleteFunction", fn("prod"), nil); d.Allowed || !d.ExplicitDeny {
		t.Errorf("DeleteFunction on a prod-tagged function: %+v, want an explicit deny", d)
	}
	if lookups != 1 {
		t.Errorf("resource tags looked up %d times for one call, want 1", lookups)
	}
	if d := eval(abac, "lambda:DeleteFunction", fn("dev"), nil); !d.Allowed {
		t.Errorf("DeleteFunction on a dev function: %+v", d)
	}
	if d := eval(abac, "lambda:CreateFunction", fn("new"), map[string]string{"team": "red"}); d.Allowed {
		t.Error("CreateFunction tagged team=red allowed")
	}
	if d := eval(abac, "lambda:CreateFunction", fn("new"), nil); d.Allowed {
		t.Error("CreateFunction without tags allowed")
	}
	if d := eval(abac, "lambda:CreateFunction", fn("new"), map[string]string{"team": "blue"}); !d.Allowed {
		t.Errorf("CreateFunction tagged team=blue: %+v", d)
	}
	if d := eval(abac, "lambda:TagResource", fn("dev"), map[string]string{"env": "prod"}); d.Allowed {
		t.Error("TagResource setting env allowed")
	}
	lookups = 0
	if d := eval(plain, "lambda:DeleteFunction", fn("prod"), nil); !d.Allowed || lookups != 0 {
		t.Errorf("a policy without tag keys: %+v after %d lookups, want allowed after none", d, lookups)
	}

	// A role's tags: aws:ResourceTag and iam:ResourceTag.
	if code, body := call(t, s, map[string]string{"Action": "CreateRole", "RoleName": "admin",
		"AssumeRolePolicyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		"Tags.member.1.Key":        "tier", "Tags.member.1.Value": "admin"}); code != 200 {
		t.Fatalf("CreateRole: %d %s", code, body)
	}
	roles := parse(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"iam:*","Resource":"*"},
	 {"Effect":"Deny","Action":"iam:PutRolePolicy","Resource":"*","Condition":{"StringEquals":{"iam:ResourceTag/tier":"admin"}}},
	 {"Effect":"Deny","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/tier":"admin"}}}]}`)
	for _, a := range []string{"iam:PutRolePolicy", "iam:PassRole"} {
		if d := eval(roles, a, "arn:aws:iam::"+acct+":role/admin", nil); d.Allowed {
			t.Errorf("%s on a role tagged tier=admin allowed", a)
		}
		if d := eval(roles, a, "arn:aws:iam::"+acct+":role/other", nil); !d.Allowed {
			t.Errorf("%s on an untagged role: %+v", a, d)
		}
	}
}
