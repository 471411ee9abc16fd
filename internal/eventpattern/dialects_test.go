package eventpattern

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// SNS filter policies on message attributes: the SNS developer guide's
// examples (attribute-based filtering, String.Array, Number) and the
// type rules.
func TestSNSAttributes(t *testing.T) {
	attrs := []Attribute{
		{Name: "customer_interests", Type: "String.Array", Value: `["basketball", "rugby", "soccer"]`},
		{Name: "store", Type: "String", Value: "example_corp"},
		{Name: "event", Type: "String", Value: "order_placed"},
		{Name: "price_usd", Type: "Number", Value: "210.75"},
		{Name: "encrypted", Type: "Binary", Value: "AAEC"},
		{Name: "quantity", Type: "String", Value: "15"},
		{Name: "source_ip", Type: "String", Value: "192.168.1.7"},
	}
	cases := []struct {
		name   string
		policy string
		want   bool
	}{
		{"guide example", `{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],"customer_interests":["rugby","football","baseball"],"price_usd":[{"numeric":[">=",100]}]}`, true},
		{"string array element", `{"customer_interests":["soccer"]}`, true},
		{"string array no element", `{"customer_interests":["tennis"]}`, false},
		{"number attribute numeric", `{"price_usd":[{"numeric":[">",200,"<=",210.75]}]}`, true},
		{"number attribute exact", `{"price_usd":[210.75]}`, true},
		{"string attribute is not a number", `{"quantity":[15]}`, false},
		{"string attribute numeric never matches", `{"quantity":[{"numeric":["=",15]}]}`, false},
		{"string attribute exact string", `{"quantity":["15"]}`, true},
		{"prefix", `{"event":[{"prefix":"order_"}]}`, true},
		{"suffix", `{"event":[{"suffix":"_placed"}]}`, true},
		{"equals-ignore-case", `{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}]}`, true},
		{"anything-but prefix", `{"event":[{"anything-but":{"prefix":"order"}}]}`, false},
		{"exists", `{"store":[{"exists":true}]}`, true},
		{"not exists", `{"coupon":[{"exists":false}]}`, true},
		{"absent attribute", `{"coupon":["x"]}`, false},
		{"anything-but needs the attribute", `{"coupon":[{"anything-but":"x"}]}`, false},
		{"binary is never compared", `{"encrypted":[{"exists":true}]}`, false},
		{"cidr", `{"source_ip":[{"cidr":"192.168.1.0/24"}]}`, true},
		{"or", `{"$or":[{"store":["other"]},{"event":["order_placed"]}]}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompileT(t, SNSAttributes, []byte(tc.policy))
			got, err := p.MatchAttributes(attrs)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSNSAttributeValuesAreData: attribute names and values with JSON
// syntax in them are compared as data, never spliced into the document.
func TestSNSAttributeValuesAreData(t *testing.T) {
	p := mustCompileT(t, SNSAttributes, []byte(`{"a":["x"]}`))
	for _, attrs := range [][]Attribute{
		{{Name: "b", Type: "String", Value: `","a":"x`}},
		{{Name: `b":"x","a`, Type: "String", Value: "x"}},
		{{Name: "a", Type: "Number", Value: `1,"a":"x"`}},
		{{Name: "a", Type: "String.Array", Value: `["y"],"a":"x"`}},
	} {
		got, err := p.MatchAttributes(attrs)
		if err != nil {
			t.Fatal(err)
		}
		if got {
			t.Errorf("attributes %+v matched {\"a\":[\"x\"]}", attrs)
		}
	}
	// An invalid String.Array is compared as the string it is.
	q := mustCompileT(t, SNSAttributes, []byte(`{"a":["[x"]}`))
	if ok, _ := q.MatchAttributes([]Attribute{{Name: "a", Type: "String.Array", Value: "[x"}}); !ok {
		t.Error("invalid String.Array not compared as a string")
	}
}

// SNS filter policies on the message body (FilterPolicyScope MessageBody):
// nested policies match nested JSON.
func TestSNSBody(t *testing.T) {
	runCases(t, SNSBody, []matchCase{
		{"guide nested", `{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],"customer_interests":["rugby","football","baseball"],"price_usd":[{"numeric":[">=",100]}]}`,
			`{"store":"example_corp","event":"order_placed","customer_interests":["soccer","rugby","hockey"],"price_usd":210.75}`, true},
		{"nested object", `{"order":{"status":["paid"]}}`, `{"order":{"status":"paid","id":1}}`, true},
		{"nested mismatch", `{"order":{"status":["paid"]}}`, `{"order":{"status":"open"}}`, false},
		{"exists false", `{"order":{"coupon":[{"exists":false}]}}`, `{"order":{"status":"paid"}}`, true},
		{"null", `{"order":{"coupon":[null]}}`, `{"order":{"coupon":null}}`, true},
	})
	p := mustCompileT(t, SNSBody, []byte(`{"a":["x"]}`))
	if _, err := p.Match([]byte("plain text body")); err == nil {
		t.Error("a body that is not JSON matched without an error")
	}
}

// Lambda FilterCriteria: the Lambda developer guide's filter rule syntax
// and envelope handling, and LocalStack 10325 (exists:false in an SQS
// body filter).
func TestLambdaFilters(t *testing.T) {
	sqs := func(body string) []byte {
		return []byte(`{"messageId":"1","receiptHandle":"h","body":` + string(appendJSONString(nil, body)) +
			`,"attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{},"eventSource":"aws:sqs"}`)
	}
	kinesis := func(data string) []byte {
		return []byte(`{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"p","sequenceNumber":"1","data":"` +
			base64.StdEncoding.EncodeToString([]byte(data)) + `","approximateArrivalTimestamp":1545084650.987},"eventSource":"aws:kinesis","eventName":"aws:kinesis:record"}`)
	}
	kafka := func(value string) []byte {
		return []byte(`{"topic":"mytopic","partition":0,"offset":15,"timestamp":1545084650987,"timestampType":"CREATE_TIME","value":"` +
			base64.StdEncoding.EncodeToString([]byte(value)) + `","headers":[]}`)
	}
	cases := []struct {
		name    string
		filters []string
		record  []byte
		env     Envelope
		want    bool
	}{
		{"no filters", nil, sqs("x"), EnvelopeSQS, true},
		{"sqs json body", []string{`{"body":{"RequestCode":["BBBB"]}}`}, sqs(`{"RequestCode":"BBBB"}`), EnvelopeSQS, true},
		{"sqs json body mismatch", []string{`{"body":{"RequestCode":["BBBB"]}}`}, sqs(`{"RequestCode":"AAAA"}`), EnvelopeSQS, false},
		{"sqs plain body", []string{`{"body":["hello"]}`}, sqs("hello"), EnvelopeSQS, true},
		{"sqs plain body vs object filter", []string{`{"body":{"a":["x"]}}`}, sqs("hello"), EnvelopeSQS, false},
		{"sqs metadata", []string{`{"attributes":{"ApproximateReceiveCount":["1"]}}`}, sqs("x"), EnvelopeSQS, true},
		{"any filter passes", []string{`{"body":{"a":["x"]}}`, `{"body":{"a":["y"]}}`}, sqs(`{"a":"y"}`), EnvelopeSQS, true},
		{"localstack 10325 exists false", []string{`{"body":{"testItem":[{"exists":false}]}}`}, sqs(`{"other":"x"}`), EnvelopeSQS, true},
		{"localstack 10325 exists false present", []string{`{"body":{"testItem":[{"exists":false}]}}`}, sqs(`{"testItem":"x"}`), EnvelopeSQS, false},
		{"numeric in body", []string{`{"body":{"Price":[{"numeric":[">",10,"<=",20]}]}}`}, sqs(`{"Price":15}`), EnvelopeSQS, true},
		{"kinesis data", []string{`{"data":{"tire_pressure":[{"numeric":["<",32]}]}}`}, kinesis(`{"tire_pressure":31}`), EnvelopeKinesis, true},
		{"kinesis data mismatch", []string{`{"data":{"tire_pressure":[{"numeric":["<",32]}]}}`}, kinesis(`{"tire_pressure":33}`), EnvelopeKinesis, false},
		{"kinesis filters see only data", []string{`{"kinesis":{"partitionKey":["p"]}}`}, kinesis(`{"a":1}`), EnvelopeKinesis, false},
		{"kinesis filters see only data 2", []string{`{"eventSource":["aws:kinesis"]}`}, kinesis(`{"a":1}`), EnvelopeKinesis, false},
		{"kinesis data absent key", []string{`{"data":{"a":[{"exists":false}]}}`}, kinesis(`{"b":1}`), EnvelopeKinesis, true},
		{"kafka json value", []string{`{"value":{"device_ID":[{"prefix":"AB"}]}}`}, kafka(`{"device_ID":"AB1234","session":{"duration":162}}`), EnvelopeKafka, true},
		{"kafka plain value", []string{`{"value":[{"prefix":"Hello"}]}`}, kafka("Hello, this is a test."), EnvelopeKafka, true},
		{"kafka plain value mismatch", []string{`{"value":[{"prefix":"Bye"}]}`}, kafka("Hello, this is a test."), EnvelopeKafka, false},
		{"dynamodb", []string{`{"eventName":["INSERT"],"dynamodb":{"NewImage":{"id":{"BOOL":[true]}}}}`},
			[]byte(`{"eventName":"INSERT","dynamodb":{"Keys":{"id":{"S":"1"}},"NewImage":{"id":{"BOOL":true}}}}`), EnvelopeDynamoDB, true},
		{"dynamodb mismatch", []string{`{"eventName":["MODIFY"]}`}, []byte(`{"eventName":"INSERT","dynamodb":{}}`), EnvelopeDynamoDB, false},
		{"not", []string{`{"body":{"Weather":[{"anything-but":["Raining"]}]}}`}, sqs(`{"Weather":"Sunny"}`), EnvelopeSQS, true},
		{"begins with", []string{`{"body":{"Region":[{"prefix":"us-"}]}}`}, sqs(`{"Region":"us-west-2"}`), EnvelopeSQS, true},
		{"ends with", []string{`{"body":{"FileName":[{"suffix":".png"}]}}`}, sqs(`{"FileName":"a.png"}`), EnvelopeSQS, true},
		{"empty", []string{`{"body":{"LastName":[""]}}`}, sqs(`{"LastName":""}`), EnvelopeSQS, true},
		{"null", []string{`{"body":{"UserID":[null]}}`}, sqs(`{"UserID":null}`), EnvelopeSQS, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := CompileFilters(tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Match(tc.record, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLambdaFilterLimit(t *testing.T) {
	six := []string{`{"a":["1"]}`, `{"a":["2"]}`, `{"a":["3"]}`, `{"a":["4"]}`, `{"a":["5"]}`, `{"a":["6"]}`}
	_, err := CompileFilters(six)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidParameterValue {
		t.Fatalf("six filters: %v, want InvalidParameterValueException", err)
	}
	if _, err := CompileFilters(six[:5]); err != nil {
		t.Fatalf("five filters: %v", err)
	}
}

// TestMatchDoesNotAllocate holds the rule: once compiled, matching
// allocates nothing per event beyond what decoding needs (here, nothing:
// the parsed event is pooled).
func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop events on purpose")
	}
	patterns := []string{
		`{"source":["aws.ec2"],"detail":{"state":["running","stopped"]}}`,
		`{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`,
		`{"source":[{"suffix":"ec2"}],"detail":{"instance-id":[{"wildcard":"i-*a0*"}]}}`,
		`{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"x-limit":[{"anything-but":[100,200]}]}}`,
		`{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}],"e":[{"exists":false}]}}`,
		`{"source":[{"equals-ignore-case":"AWS.EC2"}],"$or":[{"region":["us-east-1"]},{"account":["1"]}]}`,
	}
	var ps []*Pattern
	for _, s := range patterns {
		ps = append(ps, MustCompile(EventBridge, s))
	}
	set := NewSet(ps...)
	ev := []byte(ec2Event)
	dst := make([]int, 0, len(ps))
	got, _ := set.Match(ev, dst)
	if len(got) != len(ps) {
		t.Fatalf("matched %v, want all %d", got, len(ps))
	}
	allocs := testing.AllocsPerRun(200, func() {
		dst, _ = set.Match(ev, dst[:0])
	})
	if allocs != 0 {
		t.Errorf("Set.Match allocates %.1f times per event", allocs)
	}
	allocs = testing.AllocsPerRun(200, func() {
		_, _ = ps[0].Match(ev)
	})
	if allocs != 0 {
		t.Errorf("Pattern.Match allocates %.1f times per event", allocs)
	}
}

func TestParseIPAgreesWithNetip(t *testing.T) {
	for _, s := range []string{"10.0.0.1", "0.0.0.0", "255.255.255.255", "256.0.0.1", "010.0.0.1", "1.2.3", "1.2.3.4.5",
		"1..2.3", "", ".1.2.3", "1.2.3.", "::1", "2001:db8::1", "fe80::1%eth0", "::ffff:1.2.3.4", "a.b.c.d", "1.2.3.04"} {
		want, err := netip.ParseAddr(s)
		wantOK := err == nil && want.Zone() == ""
		got, ok := parseIP([]byte(s))
		if ok != wantOK || (ok && got != want) {
			t.Errorf("parseIP(%q) = %v %v, want %v %v", s, got, ok, want, wantOK)
		}
	}
}

func TestFoldPrefixAgreesWithEqualFold(t *testing.T) {
	words := []string{"", "a", "A", "k", "K", "\u212a", "s", "S", "\u017f", "straße", "STRASSE", "Σίσυφος", "ΣΊΣΥΦΟΣ", "aws.EC2", "AWS.ec2", "a\xffb", "A\xffB", "é", "É"}
	for _, a := range words {
		for _, b := range words {
			want := strings.EqualFold(a, b)
			if got := foldPrefix([]byte(a), b) == len(a); got != want {
				t.Errorf("fold-equal(%q, %q) = %v, strings.EqualFold %v", a, b, got, want)
			}
		}
	}
}

// TestSetAgreesWithPatterns: a Set (which pre-selects candidates by exact
// strings) reports exactly the patterns that match one by one.
func TestSetAgreesWithPatterns(t *testing.T) {
	cases := append(append([]matchCase{}, eventBridgeCases...), rulerTestCases...)
	var ps []*Pattern
	for _, c := range cases {
		ps = append(ps, MustCompile(EventBridge, c.pattern))
	}
	set := NewSet(ps...)
	if len(set.indexes) == 0 || len(set.always) == 0 {
		t.Fatalf("expected both indexed and unindexed patterns: %d indexes, %d always", len(set.indexes), len(set.always))
	}
	for _, c := range cases {
		got, err := set.Match([]byte(c.event), nil)
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		for i, p := range ps {
			if ok, _ := p.Match([]byte(c.event)); ok {
				want = append(want, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("event of %q: set matched %v, patterns one by one %v", c.name, got, want)
		}
	}
}
