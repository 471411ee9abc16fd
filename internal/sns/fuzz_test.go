package sns

import (
	"net/url"
	"testing"
)

// FuzzQueryMembers: the flattened members of a form (nested message
// attributes, batch entries, attribute maps, tags) never panic, and what
// they accept is bounded and well formed.
func FuzzQueryMembers(f *testing.F) {
	f.Add("MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=x")
	f.Add("MessageAttributes.entry.1.Name=b&MessageAttributes.entry.1.Value.DataType=Binary&MessageAttributes.entry.1.Value.BinaryValue=AQI%3D")
	f.Add("PublishBatchRequestEntries.member.1.Id=x&PublishBatchRequestEntries.member.1.Message=m&PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name=a")
	f.Add("Attributes.entry.1.key=FilterPolicy&Attributes.entry.1.value=%7B%7D&Attributes.entry.02.key=x")
	f.Add("Tags.member.1.Key=k&Tags.member.1.Value=v&TagKeys.member.1=k&TagKeys.member.99999999999999999999=k")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		if attrs, perr := messageAttributes(form, "MessageAttributes"); perr == nil {
			if len(attrs) > maxListed {
				t.Fatalf("%d message attributes accepted", len(attrs))
			}
			for name := range attrs {
				if name == "" {
					t.Fatal("an attribute without a name was accepted")
				}
			}
			_ = checkAttrs(attrs)
		}
		if m, perr := attributeMap(form, "Attributes"); perr == nil && len(m) > maxListed {
			t.Fatalf("%d attributes accepted", len(m))
		}
		if tags, perr := tagList(form, "Tags"); perr == nil && len(tags) > maxListed {
			t.Fatalf("%d tags accepted", len(tags))
		}
		if keys, perr := stringList(form, "TagKeys"); perr == nil && len(keys) > maxListed {
			t.Fatalf("%d keys accepted", len(keys))
		}
		idx, perr := indices(form, "PublishBatchRequestEntries.member", false)
		if perr == nil {
			for i, n := range idx {
				if n < 1 || i > 0 && idx[i-1] >= n {
					t.Fatalf("indices %v", idx)
				}
			}
		}
	})
}

// FuzzFilterPolicy: any filter policy and scope either compiles within
// SNS's limits or is refused as InvalidParameter; a compiled one matches
// any message without panicking.
func FuzzFilterPolicy(f *testing.F) {
	f.Add(`{"color":["blue",{"prefix":"re"}],"size":[{"numeric":[">",1,"<=",5]}]}`, false, "x")
	f.Add(`{"a":{"b":[{"anything-but":["x"]}]}}`, true, `{"a":{"b":"y"}}`)
	f.Add(`{"$or":[{"a":["1"]},{"b":[{"exists":false}]}]}`, false, "")
	f.Add(`{"ip":[{"cidr":"10.0.0.0/24"}]}`, true, `{"ip":"10.0.0.1"}`)
	f.Fuzz(func(t *testing.T, policy string, body bool, msg string) {
		attrs := map[string]string{"FilterPolicy": policy}
		if body {
			attrs["FilterPolicyScope"] = "MessageBody"
		}
		tp := &topic{Name: "t"}
		if err := checkSubAttrs(tp, "sqs", attrs, true); err != nil {
			if err.Code != "InvalidParameter" {
				t.Fatalf("policy %q refused as %s", policy, err.Code)
			}
			return
		}
		s := &Service{}
		sub := &subscription{Attrs: attrs, Protocol: "sqs"}
		_ = s.matches(sub, &message{Message: msg, Attrs: map[string]msgAttr{"color": {Type: "String", String: msg}, "size": {Type: "Number", String: "3"}}})
	})
}
