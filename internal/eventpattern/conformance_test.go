package eventpattern

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// ec2Event is the sample event of event-ruler's README ("Ruler by Example").
const ec2Event = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}`

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

// eventBridgeCases come from event-ruler's README, the EventBridge user
// guide's examples (content filtering, arrays, null and empty values) and
// the LocalStack bugs the issue lists.
var eventBridgeCases = []matchCase{
	// event-ruler README: every rule of "Simple matching" onward matches the sample event.
	{"readme simple", `{"detail-type":["EC2 Instance State-change Notification"],"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],"detail":{"state":["initializing","running"]}}`, ec2Event, true},
	{"readme prefix", `{"time":[{"prefix":"2017-10-02"}]}`, ec2Event, true},
	{"readme prefix ignore case", `{"source":[{"prefix":{"equals-ignore-case":"AWS.EC"}}]}`, ec2Event, true},
	{"readme suffix", `{"source":[{"suffix":"ec2"}]}`, ec2Event, true},
	{"readme suffix ignore case", `{"source":[{"suffix":{"equals-ignore-case":"EC2"}}]}`, ec2Event, true},
	{"readme equals ignore case", `{"source":[{"equals-ignore-case":"AWS.EC2"}]}`, ec2Event, true},
	{"readme wildcard", `{"source":[{"wildcard":"aws.*2"}]}`, ec2Event, true},
	{"readme anything-but", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, ec2Event, true},
	{"readme anything-but number", `{"detail":{"x-limit":[{"anything-but":123}]}}`, ec2Event, true},
	{"readme anything-but list", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, ec2Event, true},
	{"readme anything-but number list", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, ec2Event, true},
	{"readme anything-but prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, ec2Event, true},
	{"readme anything-but prefix list", `{"detail":{"state":[{"anything-but":{"prefix":["init","error"]}}]}}`, ec2Event, true},
	{"readme anything-but suffix", `{"detail":{"instance-id":[{"anything-but":{"suffix":"1234"}}]}}`, ec2Event, true},
	{"readme anything-but suffix list", `{"detail":{"instance-id":[{"anything-but":{"suffix":["1234","6789"]}}]}}`, ec2Event, true},
	{"readme anything-but ignore case", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":"Stopped"}}]}}`, ec2Event, true},
	{"readme anything-but ignore case list", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["Stopped","OverLoaded"]}}]}}`, ec2Event, true},
	{"readme anything-but wildcard", `{"detail":{"state":[{"anything-but":{"wildcard":"*/bin/*.jar"}}]}}`, ec2Event, true},
	{"readme anything-but wildcard list", `{"detail":{"state":[{"anything-but":{"wildcard":["*/bin/*.jar","*/bin/*.class"]}}]}}`, ec2Event, true},
	{"readme numeric", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`, ec2Event, true},
	{"readme cidr", `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, ec2Event, true},
	{"readme exists", `{"detail":{"c-count":[{"exists":true}]}}`, ec2Event, true},
	{"readme complex", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}],"source-ip":[{"cidr":"10.0.0.0/8"}]}}`, ec2Event, true},
	// and their negations
	{"exact mismatch", `{"source":["aws.s3"]}`, ec2Event, false},
	{"anything-but excludes", `{"detail":{"state":[{"anything-but":"running"}]}}`, ec2Event, false},
	{"anything-but prefix excludes", `{"detail":{"state":[{"anything-but":{"prefix":"run"}}]}}`, ec2Event, false},
	{"anything-but ignore case excludes", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":"RUNNING"}}]}}`, ec2Event, false},
	{"anything-but number excludes", `{"detail":{"c-count":[{"anything-but":[5]}]}}`, ec2Event, false},
	{"numeric out of range", `{"detail":{"c-count":[{"numeric":[">",5]}]}}`, ec2Event, false},
	{"numeric upper bound exclusive", `{"detail":{"c-count":[{"numeric":[">=",0,"<",5]}]}}`, ec2Event, false},
	{"cidr outside", `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, ec2Event, false},
	{"cidr ipv6", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db8::1"}`, true},
	{"cidr ipv6 outside", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db9::1"}`, false},
	{"cidr not an ip", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"ten"}`, false},
	{"exists false on present", `{"detail":{"c-count":[{"exists":false}]}}`, ec2Event, false},
	{"exists false on absent", `{"detail":{"e-count":[{"exists":false}]}}`, ec2Event, true},
	{"exists false on intermediate node", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail":{"c-count":{"c1":100}}}`, true},
	{"exists true on intermediate node", `{"detail":{"c-count":[{"exists":true}]}}`, `{"detail":{"c-count":{"c1":100}}}`, false},
	{"exists true on null", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
	{"exists false, parent absent", `{"detail":{"x":[{"exists":false}]}}`, `{"source":"s"}`, true},
	{"wildcard middle", `{"f":[{"wildcard":"*/lib/*"}]}`, `{"f":"/usr/lib/x.so"}`, true},
	{"wildcard no match", `{"f":[{"wildcard":"*/lib/*"}]}`, `{"f":"/usr/bin/x"}`, false},
	{"wildcard escaped star", `{"f":[{"wildcard":"a\\*b"}]}`, `{"f":"a*b"}`, true},
	{"wildcard escaped star literal only", `{"f":[{"wildcard":"a\\*b"}]}`, `{"f":"axb"}`, false},
	{"wildcard overlap", `{"f":[{"wildcard":"ab*ba"}]}`, `{"f":"aba"}`, false},
	{"wildcard star alone", `{"f":[{"wildcard":"*"}]}`, `{"f":""}`, true},
	{"wildcard only strings", `{"f":[{"wildcard":"*"}]}`, `{"f":5}`, false},
	{"equals-ignore-case unicode", `{"f":[{"equals-ignore-case":"STRASSE"}]}`, `{"f":"strasse"}`, true},
	// values and types
	{"string is not number", `{"n":["15"]}`, `{"n":15}`, false},
	{"number is not string", `{"n":[15]}`, `{"n":"15"}`, false},
	{"numeric is not string", `{"n":[{"numeric":["=",15]}]}`, `{"n":"15"}`, false},
	{"number exact matches numerically", `{"n":[15]}`, `{"n":1.5e1}`, true},
	{"boolean", `{"b":[true]}`, `{"b":true}`, true},
	{"boolean is not string", `{"b":[true]}`, `{"b":"true"}`, false},
	{"null matches null", `{"a":[null]}`, `{"a":null}`, true},
	{"null does not match absent", `{"a":[null]}`, `{"b":1}`, false},
	{"empty string", `{"a":[""]}`, `{"a":""}`, true},
	{"empty string does not match null", `{"a":[""]}`, `{"a":null}`, false},
	{"escaped string", `{"a":["x\"y\u00e9"]}`, `{"a":"x\"y\u00e9"}`, true},
	{"escaped key", `{"k\u00e9y":["v"]}`, `{"k\u00e9y":"v"}`, true},
	// arrays (EventBridge user guide: the intersection of the arrays is non-empty)
	{"event array intersects", `{"resources":["arn:a","arn:b"]}`, `{"resources":["arn:c","arn:b"]}`, true},
	{"event array disjoint", `{"resources":["arn:a"]}`, `{"resources":["arn:c","arn:b"]}`, false},
	{"readme employees", `{"employees":{"firstName":["Anna"]}}`, `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"},{"firstName":"Peter","lastName":"Jones"}]}`, true},
	{"readme employees nested arrays", `{"employees":{"firstName":["Anna"]}}`, `{"employees":[[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}],[{"firstName":"Peter","lastName":"Jones"}]]}`, true},
	{"readme array consistency", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"},{"firstName":"Peter","lastName":"Jones"}]}`, false},
	{"same element", `{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}`, `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, true},
	{"anything-but over array", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","y"]}`, true},
	{"anything-but over array all excluded", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","x"]}`, false},
	{"empty event array exists false", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
	{"empty event array exists true", `{"a":[{"exists":true}]}`, `{"a":[]}`, false},
	// $or (event-ruler README)
	{"or normal", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`, `{"source":"aws.cloudwatch","namespace":"AWS/ES"}`, true},
	{"or none", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`, `{"source":"aws.cloudwatch","namespace":"AWS/S3"}`, false},
	{"or nested and", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]},{"scope":["Service"]}]}`, `{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2","spaceId":1000}`, true},
	{"or nested and fails inner", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]},{"scope":["Service"]}]}`, `{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2","spaceId":1001}`, false},
	{"or in detail", `{"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`, `{"detail":{"detail-type":"CloudWatch Alarm State Change"}}`, true},
	{"$or as a field name", `{"source":["aws.cloudwatch"],"$or":{"metricType":["MetricType"]}}`, `{"source":"aws.cloudwatch","$or":{"metricType":"MetricType"}}`, true},
	{"$or with reserved keys is a field", `{"$or":[{"numeric":[">",1]},{"prefix":"abc"}]}`, `{"$or":"abcd"}`, true},
	// LocalStack regressions
	{"localstack 12148 empty prefix matches every string", `{"source":[{"prefix":""}]}`, ec2Event, true},
	{"localstack 12148 empty prefix needs a string", `{"source":[{"prefix":""}]}`, `{"source":5}`, false},
	{"localstack 9711 anything-but matches null", `{"detail":{"command":[{"anything-but":["no-message"]}]}}`, `{"detail":{"command":null,"payload":"baz"}}`, true},
	{"localstack 9711 anything-but string vs null", `{"detail":{"foo":[{"anything-but":["baz"]}]}}`, `{"detail":{"foo":null}}`, true},
	{"localstack 13268 anything-but does not match absent", `{"detail":{"foo":[{"anything-but":{"suffix":"x"}}]}}`, `{"detail":{"bar":"y"}}`, false},
	{"localstack 8512 exists on detail", `{"source":["core"],"detail":{"key":[{"exists":true}]}}`, `{"source":"core","detail":{"key":"value","payload":"baz"}}`, true},
	{"localstack 8512 exists false on detail", `{"source":["core"],"detail":{"key":[{"exists":false}]}}`, `{"source":"core","detail":{"no-key":"value"}}`, true},
	{"localstack 4198 extra detail fields ignored", `{"detail":{"EventType":["0"]}}`, `{"detail":{"EventType":"0","AnotherField":"blahblah"}}`, true},
	{"localstack 5701 nested object", `{"detail":{"object":{"key":[{"prefix":"uploads/"}]}}}`, `{"detail":{"bucket":{"name":"b"},"object":{"key":"uploads/a.png","size":10}}}`, true},
	{"localstack 5701 nested object mismatch", `{"detail":{"object":{"key":[{"prefix":"uploads/"}]}}}`, `{"detail":{"object":{"key":"other/a.png"}}}`, false},
	{"localstack 10147 detail and source", `{"detail":{"state":["Successful"]},"source":["myService"]}`, `{"id":"id","detail-type":"My Service","source":"myService","account":"000000000000","time":"2024-01-30T14:58:35Z","region":"us-east-2","resources":[],"detail":{"state":"Successful"}}`, true},
}

func TestEventBridgeConformance(t *testing.T) {
	runCases(t, EventBridge, eventBridgeCases)
}

func runCases(t *testing.T, d Dialect, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(d, []byte(tc.pattern))
			if err != nil {
				t.Fatalf("Compile(%s): %v", tc.pattern, err)
			}
			got, err := p.Match([]byte(tc.event))
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tc.want {
				t.Errorf("compiled matcher: got %v, want %v\npattern %s\nevent %s", got, tc.want, tc.pattern, tc.event)
			}
			naive, err := naiveMatch([]byte(tc.pattern), []byte(tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if naive != tc.want {
				t.Errorf("naive evaluator: got %v, want %v", naive, tc.want)
			}
		})
	}
}

// TestEventRulerNestedArrays is event-ruler's GenericMachineTest.nestedArraysTest
// with array-consistent matching (rulesForJSONEvent).
func TestEventRulerNestedArrays(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "event-ruler-"+name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	set := NewSet(
		mustCompileT(t, EventBridge, read("arrayRule1")),
		mustCompileT(t, EventBridge, read("arrayRule2")),
		mustCompileT(t, EventBridge, read("arrayRule3")),
	)
	want := map[string][]int{"arrayEvent1": {0, 1}, "arrayEvent2": nil, "arrayEvent3": nil, "arrayEvent4": {2}}
	for ev, w := range want {
		got, err := set.Match(read(ev), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(w) {
			t.Errorf("%s: matched rules %v, want %v", ev, got, w)
			continue
		}
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s: matched rules %v, want %v", ev, got, w)
			}
		}
	}
}

// TestEventRulerCorrectnessCases runs event-ruler's correctness cases
// through the compiled matcher and the naive evaluator, which must agree.
func TestEventRulerCorrectnessCases(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "event-ruler-correctness-cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name  string          `json:"name"`
		Rule  json.RawMessage `json:"rule"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 50 {
		t.Fatalf("read %d cases", len(cases))
	}
	for _, c := range cases {
		p := mustCompileT(t, EventBridge, c.Rule)
		got, err := p.Match(c.Event)
		if err != nil {
			t.Fatal(err)
		}
		want, err := naiveMatch(c.Rule, c.Event)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: compiled %v, naive %v", c.Name, got, want)
		}
	}
}

func mustCompileT(t testing.TB, d Dialect, b []byte) *Pattern {
	t.Helper()
	p, err := Compile(d, b)
	if err != nil {
		t.Fatalf("Compile(%s): %v", b, err)
	}
	return p
}

type errCase struct {
	name    string
	d       Dialect
	pattern string
	code    string
	message string
}

var errCases = []errCase{
	{"not json", EventBridge, `{"a":`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Filter is not valid JSON"},
	{"not an object", EventBridge, `["a"]`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Filter is not an object"},
	{"leaf not array (aws-cdk issue)", EventBridge, `{"source":["test.event-pattern"],"detail":{"lenderId":"LenderA"}}`, CodeInvalidEventPattern, `Event pattern is not valid. Reason: "lenderId" must be an object or an array`},
	{"empty array", EventBridge, `{"a":[]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Empty arrays are not allowed"},
	{"empty object", EventBridge, `{"a":{}}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Empty objects are not allowed"},
	{"two keys", EventBridge, `{"a":[{"prefix":"x","suffix":"y"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Only one key allowed in match expression"},
	{"unknown operator", EventBridge, `{"a":[{"contains":"x"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Unrecognized match type contains"},
	{"nested array value", EventBridge, `{"a":[["x"]]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Match value must be String, number, true, false, or null"},
	{"prefix number", EventBridge, `{"a":[{"prefix":1}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: prefix match pattern must be a string"},
	{"exists string", EventBridge, `{"a":[{"exists":"true"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: exists match pattern must be either true or false."},
	{"numeric not array", EventBridge, `{"a":[{"numeric":5}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Value of numeric must be an array."},
	{"numeric bad op", EventBridge, `{"a":[{"numeric":["!",5]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Unrecognized numeric range operator: !"},
	{"numeric string value", EventBridge, `{"a":[{"numeric":["=","5"]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Value of equals must be numeric"},
	{"numeric bottom above top", EventBridge, `{"a":[{"numeric":[">",5,"<",1]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Bottom must be less than top"},
	{"numeric too many", EventBridge, `{"a":[{"numeric":["<",5,">",1]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Too many elements in numeric expression"},
	{"numeric bad second op", EventBridge, `{"a":[{"numeric":[">",1,">",5]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Bad numeric range operator: >"},
	{"numeric too many terms", EventBridge, `{"a":[{"numeric":[">",1,"<",5,"<",6]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Too many terms in numeric range expression"},
	{"anything-but mixed", EventBridge, `{"a":[{"anything-but":["x",1]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Inside anything but list, either all values are number or string, mixed type is not supported"},
	{"anything-but null in list", EventBridge, `{"a":[{"anything-but":["x",null]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Inside anything-but list, start|null|boolean is not supported."},
	{"anything-but unsupported", EventBridge, `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Unsupported anything-but pattern: numeric"},
	{"anything-but empty prefix", EventBridge, `{"a":[{"anything-but":{"prefix":""}}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Null prefix/suffix not allowed"},
	{"wildcard consecutive", EventBridge, `{"a":[{"wildcard":"a**b"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Consecutive wildcard characters at pos 2"},
	{"wildcard bad escape", EventBridge, `{"a":[{"wildcard":"a\\b"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Invalid escape character at pos 1"},
	{"wildcard too complex", EventBridge, `{"a":[{"wildcard":"*a*a*a*a*a*a*"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character"},
	{"cidr no slash", EventBridge, `{"a":[{"cidr":"10.0.0.0"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Malformed CIDR, one '/' required"},
	{"cidr bad mask", EventBridge, `{"a":[{"cidr":"10.0.0.0/x"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Malformed CIDR, mask bits must be an integer"},
	{"cidr bad ip", EventBridge, `{"a":[{"cidr":"10.0.0/8"}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: Nonstandard IP address: 10.0.0"},
	{"or with one object", EventBridge, `{"$or":[{"a":["x"]}]}`, CodeInvalidEventPattern, "Event pattern is not valid. Reason: There must have at least 2 Objects in $or relationship."},
	{"too long", EventBridge, `{"a":["` + string(make([]byte, 4100)) + `"]}`, CodeValidation, "1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: Member must have length less than or equal to 4096"},
	// SNS
	{"sns empty array (aws-cdk 16549)", SNSAttributes, `{"Amount":[]}`, CodeInvalidParameter, "Invalid parameter: FilterPolicy: Empty arrays are not allowed"},
	{"sns six keys", SNSAttributes, `{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`, CodeInvalidParameter, "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"},
	{"sns too complex", SNSAttributes, `{"a":["1","2","3","4","5","6"],"b":["1","2","3","4","5"],"c":["1","2","3","4","5","6"]}`, CodeInvalidParameter, "Invalid parameter: FilterPolicy: Filter policy is too complex"},
	{"sns nested attributes", SNSAttributes, `{"a":{"b":["x"]}}`, CodeInvalidParameter, "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"},
	{"sns body nested too complex", SNSBody, `{"a":{"b":{"c":["1","2","3","4"]}},"d":{"e":["1","2","3","4","5","6","7"]}}`, CodeInvalidParameter, "Invalid parameter: FilterPolicy: Filter policy is too complex"},
	{"sns no wildcard", SNSBody, `{"a":[{"wildcard":"x*"}]}`, CodeInvalidParameter, "Invalid parameter: FilterPolicy: Unrecognized match type wildcard"},
	{"sns anything-but suffix", SNSAttributes, `{"a":[{"anything-but":{"suffix":"x"}}]}`, CodeInvalidParameter, "Invalid parameter: FilterPolicy: Unsupported anything-but pattern: suffix"},
	{"sns prefix ignore case", SNSAttributes, `{"a":[{"prefix":{"equals-ignore-case":"x"}}]}`, CodeInvalidParameter, "Invalid parameter: FilterPolicy: prefix match pattern must be a string"},
	// Lambda
	{"lambda invalid", Lambda, `{"body":{"a":"x"}}`, CodeInvalidParameterValue, "Invalid filter pattern definition."},
	{"lambda no cidr", Lambda, `{"a":[{"cidr":"10.0.0.0/8"}]}`, CodeInvalidParameterValue, "Invalid filter pattern definition."},
	{"lambda no wildcard", Lambda, `{"a":[{"wildcard":"*"}]}`, CodeInvalidParameterValue, "Invalid filter pattern definition."},
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.d, []byte(tc.pattern))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile(%s) = %v, want *Error", tc.pattern, err)
			}
			if e.Code != tc.code || e.Message != tc.message {
				t.Errorf("got %s %q\nwant %s %q", e.Code, e.Message, tc.code, tc.message)
			}
		})
	}
}

func TestSNSCombinationsAtTheLimit(t *testing.T) {
	// The SNS guide's example: 4 values three levels deep and 3 values two
	// levels deep make 4*3 * 3*2 = 72 combinations, accepted.
	if _, err := Compile(SNSBody, []byte(`{"key_a":{"key_b":{"key_c":["1","2","3","4"]}},"key_d":{"key_e":["1","2","3"]}}`)); err != nil {
		t.Fatal(err)
	}
	// 5 * 5 * 6 = 150 is still allowed.
	if _, err := Compile(SNSAttributes, []byte(`{"a":["1","2","3","4","5"],"b":["1","2","3","4","5"],"c":["1","2","3","4","5","6"]}`)); err != nil {
		t.Fatal(err)
	}
	// An empty policy accepts every message.
	p := mustCompileT(t, SNSAttributes, []byte(`{}`))
	if ok, _ := p.MatchAttributes(nil); !ok {
		t.Error("empty policy did not match")
	}
}
