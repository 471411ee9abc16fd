package dynamodb

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestGetItemRawAnswer: GetItem answers the stored item's bytes without
// decoding them; they must be what encoding the decoded item gives, for
// every type and for strings JSON escapes.
func TestGetItemRawAnswer(t *testing.T) {
	svc, _, _ := serve(t)
	h := svc.h
	call := func(op, body string) answer {
		t.Helper()
		a := h.serve(t.Context(), TargetPrefix+op, "", []byte(body))
		if a.status != 200 {
			t.Fatalf("%s: %d %s", op, a.status, a.body)
		}
		return a
	}
	call("CreateTable", `{"TableName":"raw","BillingMode":"PAY_PER_REQUEST",
		"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}`)
	call("PutItem", `{"TableName":"raw","Item":{"pk":{"S":"k<&>\"\\\u2028é\u0001"},"n":{"N":"-0012.50"},"b":{"B":"AAEC"},
		"t":{"BOOL":true},"z":{"NULL":true},"m":{"M":{"a<":{"L":[{"S":"x"},{"NS":["3","1.0"]}]}}},"ss":{"SS":["b","a"]},
		"bs":{"BS":["AQ==","Ag=="]},"e":{"S":""},"\u00e9":{"M":{}}}}`)
	key := `{"TableName":"raw","Key":{"pk":{"S":"k<&>\"\\\u2028é\u0001"}}}`
	got := call("GetItem", key).body
	var in itemInput
	if err := decode([]byte(key), &in); err != nil {
		t.Fatal(err)
	}
	out, err := svc.getItem(&in, false)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("raw answer\n%s\ndecoded and encoded\n%s", got, want.Bytes())
	}
	if a := call("GetItem", `{"TableName":"raw","Key":{"pk":{"S":"absent"}}}`); string(a.body) != "{}\n" {
		t.Fatalf("absent item: %s", a.body)
	}
}
