package daemon

import (
	"strings"
	"testing"
)

func TestFoldedTwins(t *testing.T) {
	for body, want := range map[string]string{
		`{"QueueUrl":"a","queueurl":"b"}`:              "QueueUrl queueurl",
		`{"StreamName":"a","ſtreamName":"b"}`:          "StreamName ſtreamName",
		`{"KeyId":"a","\u212aeyId":"b"}`:               "KeyId \u212aeyId",
		`{"QueueUrl":"a","QueueUrl":"b"}`:              "",
		`{"A":{"b":1,"B":2},"c":[{"d":1}]}`:            "",
		`["QueueUrl","queueurl"]`:                      "",
		`{"QueueUrl":"a","MessageBody":"x","queue":1}`: "",
		`not json`: "",
	} {
		a, b := foldedTwins([]byte(body))
		if got := strings.TrimSpace(a + " " + b); got != want {
			t.Errorf("%s: got %q, want %q", body, got, want)
		}
	}
}

func FuzzFoldedTwins(f *testing.F) {
	f.Add([]byte(`{"QueueUrl":"a","queueurl":"b"}`))
	f.Add([]byte(`{"a":{"b":[1,2,{"c":"d"}]},"A":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, b := foldedTwins(body)
		if (a == "") != (b == "") || a != "" && (a == b || !strings.EqualFold(a, b)) {
			t.Fatalf("foldedTwins(%q) = %q, %q", body, a, b)
		}
	})
}
