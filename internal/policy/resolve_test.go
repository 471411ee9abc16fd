package policy

import "testing"

// TestResolve: a key that costs a lookup is resolved when a statement
// tests it (by a condition, Null, or a policy variable), once per call,
// and not at all when no statement does.
func TestResolve(t *testing.T) {
	p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:ResourceTag/owner}/*"},
	 {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}},
	 {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:ResourceTag/env":"pr*"}}},
	 {"Effect":"Deny","Action":"s3:PutObject","Resource":"*","Condition":{"Null":{"aws:ResourceTag/owner":"true"}}}]}`), Identity)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	req := func(action, res string, tags map[string]string) *Request {
		return &Request{Action: action, Resource: res, Resolve: func(r *Request, key string) {
			calls[key]++
			for k, v := range tags {
				r.Set("aws:ResourceTag/"+k, v)
			}
		}}
	}
	ps := &Policies{Identity: []*Policy{p}}
	if d := Evaluate(ps, req("s3:GetObject", "arn:aws:s3:::b/ann/x", map[string]string{"owner": "ann", "env": "dev"})); !d.Allowed {
		t.Errorf("owner's own prefix: %+v", d)
	}
	if d := Evaluate(ps, req("s3:GetObject", "arn:aws:s3:::b/ann/x", map[string]string{"owner": "ann", "env": "prod"})); !d.ExplicitDeny {
		t.Errorf("prod: %+v, want an explicit deny", d)
	}
	if d := Evaluate(ps, req("s3:GetObject", "arn:aws:s3:::b/bob/x", map[string]string{"owner": "ann"})); d.Allowed {
		t.Error("another owner's prefix allowed")
	}
	if d := Evaluate(ps, req("s3:PutObject", "arn:aws:s3:::b/ann/x", nil)); !d.ExplicitDeny {
		t.Errorf("Null on an untagged resource: %+v, want an explicit deny", d)
	}
	for k, n := range calls {
		if n > 4 { // one per Evaluate at most
			t.Errorf("%s resolved %d times in 4 calls", k, n)
		}
	}
	if calls["aws:resourcetag/env"] == 0 {
		t.Error("aws:ResourceTag/env never resolved")
	}
	plain, _ := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`), Identity)
	clear(calls)
	if d := Evaluate(&Policies{Identity: []*Policy{plain}}, req("s3:GetObject", "*", nil)); !d.Allowed || len(calls) != 0 {
		t.Errorf("no statement tests a tag: %+v, resolved %v", d, calls)
	}
}
