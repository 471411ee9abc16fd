package daemon

import "testing"

// StartLiveTail is authorised on every log group it tails (names or
// ARNs), not on the first one only.
func TestLiveTailOperationChecksEveryGroup(t *testing.T) {
	m := jsonFields([]byte(`{"logGroupIdentifiers":["/aws/lambda/a","arn:aws:logs:us-east-1:1:log-group:/aws/lambda/b"]}`))
	o := liveTailOperation(operation{service: "logs", name: "StartLiveTail"}, m, "arn:aws:logs:us-east-1:1:log-group:")
	if o.action != "logs:StartLiveTail" || o.resource != "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/a:*" {
		t.Errorf("first check %s on %s", o.action, o.resource)
	}
	if len(o.also) != 1 || o.also[0] != (check{"logs:StartLiveTail", "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/b:*"}) {
		t.Errorf("further checks %v", o.also)
	}
}
