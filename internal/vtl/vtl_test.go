package vtl

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mapOf(kv ...string) *Map {
	m := NewMap()
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	return m
}

// run evaluates tpl with API Gateway's variables over body.
func run(t *testing.T, tpl, body string) string {
	t.Helper()
	out, err := eval(tpl, body)
	if err != nil {
		t.Fatalf("template %q: %v", tpl, err)
	}
	return out
}

func eval(tpl, body string) (string, error) {
	tm, err := Parse(tpl)
	if err != nil {
		return "", err
	}
	in := NewInput([]byte(body), mapOf("petId", "42"), mapOf("type", "dog", "page", "2"),
		mapOf("Content-Type", "application/json", "X-Trace", `a"b`))
	ctx := NewMap()
	ctx.Set("stage", "prod")
	ctx.Set("requestId", "abcdefg-000-000-0000-abcdefg")
	ctx.Set("apiId", "abcd1234")
	ctx.Set("resourcePath", "/")
	ctx.Set("httpMethod", "GET")
	id := NewMap()
	id.Set("sourceIp", "192.0.2.1")
	id.Set("userAgent", "curl/7.84.0")
	ctx.Set("identity", id)
	ro := NewMap()
	ro.Set("header", NewMap())
	ctx.Set("responseOverride", ro)
	return tm.Execute(Variables(in, ctx, mapOf("url", "example.com")))
}

// sameJSON compares two JSON texts by value.
func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

const photos = `{
  "photos": {
    "page": 1, "pages": "1234", "perpage": 100, "total": "123398",
    "photo": [
      {"id": "12345678901", "owner": "23456789@A12", "secret": "abc123d456", "server": "1234", "farm": 1,
       "title": "Sample photo 1", "ispublic": true, "isfriend": false, "isfamily": false},
      {"id": "23456789012", "owner": "34567890@B23", "secret": "bcd234e567", "server": "2345", "farm": 2,
       "title": "Sample photo 2", "ispublic": true, "isfriend": false, "isfamily": false}
    ]
  }
}`

// API Gateway's documented mapping-template examples.
func TestDocumentedExamples(t *testing.T) {
	cases := []struct {
		name, tpl, body, want string
	}{
		{"photos output template", `#set($inputRoot = $input.path('$'))
{
  "photos": [
#foreach($elem in $inputRoot.photos.photo)
    {
      "id": "$elem.id",
      "photographedBy": "$elem.owner",
      "title": "$elem.title",
      "ispublic": $elem.ispublic,
      "isfriend": $elem.isfriend,
      "isfamily": $elem.isfamily
    }#if($foreach.hasNext),#end
#end
  ]
}`, photos, `{"photos":[
 {"id":"12345678901","photographedBy":"23456789@A12","title":"Sample photo 1","ispublic":true,"isfriend":false,"isfamily":false},
 {"id":"23456789012","photographedBy":"34567890@B23","title":"Sample photo 2","ispublic":true,"isfriend":false,"isfamily":false}]}`},
		{"photos input template with json()", `#set($inputRoot = $input.path('$'))
{
  "photos": {
    "page": $inputRoot.photos.page,
    "pages": "$inputRoot.photos.pages",
    "photo": $input.json('$.photos.photo[0]')
  }
}`, photos, `{"photos":{"page":1,"pages":"1234","photo":{"id":"12345678901","owner":"23456789@A12","secret":"abc123d456",
 "server":"1234","farm":1,"title":"Sample photo 1","ispublic":true,"isfriend":false,"isfamily":false}}}`},
		{"PetStore response", `#set($inputRoot = $input.path('$'))
[
#foreach($elem in $inputRoot)
  {
    "number": $elem.id,
    "class": "$elem.type",
    "salesPrice": $elem.price
  }#if($foreach.hasNext),#end

#end
]`, `[{"id":1,"type":"dog","price":249.99},{"id":2,"type":"cat","price":124.99},{"id":3,"type":"fish","price":0.99}]`,
			`[{"number":1,"class":"dog","salesPrice":249.99},{"number":2,"class":"cat","salesPrice":124.99},{"number":3,"class":"fish","salesPrice":0.99}]`},
		{"context variables", `{
    "stage" : "$context.stage",
    "request_id" : "$context.requestId",
    "api_id" : "$context.apiId",
    "resource_path" : "$context.resourcePath",
    "http_method" : "$context.httpMethod",
    "source_ip" : "$context.identity.sourceIp",
    "user-agent" : "$context.identity.userAgent",
    "api_key" : "$context.identity.apiKey"
}`, ``, `{"stage":"prod","request_id":"abcdefg-000-000-0000-abcdefg","api_id":"abcd1234","resource_path":"/",
 "http_method":"GET","source_ip":"192.0.2.1","user-agent":"curl/7.84.0","api_key":""}`},
		{"all request parameters", `#set($allParams = $input.params())
{
  "params" : {
    #foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
    "$type" : {
      #foreach($paramName in $params.keySet())
      "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
      #if($foreach.hasNext),#end
      #end
    }
    #if($foreach.hasNext),#end
    #end
  }
}`, ``, `{"params":{"path":{"petId":"42"},"querystring":{"type":"dog","page":"2"},
 "header":{"Content-Type":"application/json","X-Trace":"a\"b"}}}`},
		{"body and params for a Lambda non-proxy integration", `{
  "body" : $input.json('$'),
  "petId" : "$input.params('petId')",
  "type" : "$input.params('type')",
  "trace" : "$util.escapeJavaScript($input.params('x-trace'))",
  "missing" : "$input.params('nope')",
  "stage_url" : "$stageVariables.url"
}`, `{"a": [1, 2.5, "x"], "b": null}`, `{"body":{"a":[1,2.5,"x"],"b":null},"petId":"42","type":"dog","trace":"a\"b","missing":"","stage_url":"example.com"}`},
		{"Step Functions StartExecution", `#set($input = $input.json('$'))
{
  "input": "$util.escapeJavaScript($input)",
  "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:HelloWorld"
}`, `{"name": "o\"k"}`, `{"input":"{\"name\":\"o\\\"k\"}","stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:HelloWorld"}`},
		{"DynamoDB PutItem", `{
    "TableName": "Comments",
    "Item": {
        "commentId": {"S": "$context.requestId"},
        "pageId": {"S": "$input.path('$.pageId')"},
        "userName": {"S": "$input.path('$.userName')"},
        "message": {"S": "$input.path('$.message')"}
    }
}`, `{"pageId":"breaking-news","userName":"Just Saying","message":"Nice story"}`,
			`{"TableName":"Comments","Item":{"commentId":{"S":"abcdefg-000-000-0000-abcdefg"},"pageId":{"S":"breaking-news"},"userName":{"S":"Just Saying"},"message":{"S":"Nice story"}}}`},
		{"DynamoDB Query response", `#set($inputRoot = $input.path('$'))
{
    "comments": [
        #foreach($elem in $inputRoot.Items) {
            "commentId": "$elem.commentId.S",
            "userName": "$elem.userName.S",
            "message": "$elem.message.S"
        }#if($foreach.hasNext),#end
	#end
    ]
}`, `{"Count":2,"Items":[{"commentId":{"S":"1"},"userName":{"S":"a"},"message":{"S":"m1"}},{"commentId":{"S":"2"},"userName":{"S":"b"},"message":{"S":"m2"}}]}`,
			`{"comments":[{"commentId":"1","userName":"a","message":"m1"},{"commentId":"2","userName":"b","message":"m2"}]}`},
		{"parseJson", `#set($d = $util.parseJson($input.path('$.data')))
{"name": "$d.name", "n": $d.list.size(), "first": $d.list.get(0)}`, `{"data": "{\"name\":\"x\",\"list\":[7,8]}"}`, `{"name":"x","n":2,"first":7}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sameJSON(t, run(t, c.tpl, c.body), c.want)
		})
	}
}

func TestOutputs(t *testing.T) {
	cases := []struct{ tpl, body, want string }{
		// SQS's query request, as the SQS direct integration writes it.
		{`Action=SendMessage&MessageBody=$util.urlEncode($input.body)`, `{"a":"b c*~"}`, `Action=SendMessage&MessageBody=%7B%22a%22%3A%22b+c*%7E%22%7D`},
		{`$util.urlDecode("a+b%20c")`, ``, `a b c`},
		{`$util.base64Encode("hello")/$util.base64Decode("aGVsbG8=")`, ``, `aGVsbG8=/hello`},
		{`$util.escapeJavaScript("é\"/\n'")`, ``, `\u00E9\"\/\\n\'`},
		{`$util.escapeJavaScript($input.body)`, "a'b\n\t\x01", `a\'b\n\t\u0001`},
		{`$input.path('$').size() $input.path('$.a').size()`, `{"a":[1,2,3],"b":2}`, `2 3`},
		{`$input.json('$.a[*].n')|$input.json('$..n')|$input.json('$.a[-1]')|$input.json('$.a[0:2]')`, `{"a":[{"n":1},{"n":2},{"n":3}]}`, `[1,2,3]|[1,2,3]|{"n":3}|[{"n":1},{"n":2}]`},
		{`$input.json('$.missing')|$input.path('$.missing')|$input.json("$['a b']")`, `{"a b":1.0}`, `||1.0`},
		{`$input.path('$.f') $input.path('$.big') $input.path('$.small')`, `{"f":2.50,"big":1e21,"small":0.0001}`, `2.5 1.0E21 1.0E-4`},
		{`#set($x = 1)#set($y = $x + 2)$y $x.toString() #set($z = 7 / 2)$z #set($w = 7.0 / 2)$w ${x}px`, ``, `3 1 3 3.5 1px`},
		{`#set($s = "a" + 1 + "b")$s`, ``, `a1b`},
		{`#if($input.path('$.n') > 5)big#elseif($input.path('$.n') == 5)five#{else}small#end`, `{"n":5}`, `five`},
		{`#if(!$nope && $input.params('type') == "dog" and not false)yes#end`, ``, `yes`},
		{`#foreach($i in [1..5])#if($i == 4)#break#end$foreach.index:$foreach.count:$velocityCount #end`, ``, `0:1:1 1:2:2 2:3:3 `},
		{`#foreach($i in [3..1])$i#end`, ``, `321`},
		{`#set($m = {"a": 1, "b": 2})#foreach($k in $m.keySet())$k#if($foreach.hasNext),#end#end`, ``, `a,b`},
		{`#set($m = {"a": 1})#set($m.b = "two")$m $m.keySet() $m.get("b") $m.a`, ``, `{a=1, b=two} [a, b] two 1`},
		{`#set($l = [])#set($ok = $l.add("x"))$l.size() $l $l.isEmpty() $l.empty`, ``, `1 [x] false false`},
		{`$input.params('type').toUpperCase() $input.params('type').substring(1) $input.params('type').length() $input.params('type').replace("o", "0")`, ``, `DOG og 3 d0g`},
		{`"a,b,,c,,".split(",")`, ``, `"a,b,,c,,".split(",")`},
		{`#set($q = "a,b,,c,,")#set($p = $q.split(","))$p $p.size()`, ``, `[a, b, , c] 4`},
		{`#set($s = "x-1-2")$s.replaceAll("-(\d)", "[$1]") $s.matches("x.*") $s.indexOf("1") $s.contains("2")`, ``, `x[1][2] true 2 true`},
		{`## a comment
a#* block
comment *#b #[[$not #if]]# \$input \#if`, ``, "ab $not #if $input #if"},
		{`$nope|$!nope|${nope}|$nope.call()|#set($u = $nope)$u`, ``, `||||`},
		{`price: $5 # not a directive #fff $ alone`, ``, `price: $5 # not a directive #fff $ alone`},
		{`#set($context.responseOverride.status = 400)#set($context.responseOverride.header.x = "y")$context.responseOverride.status`, ``, `400`},
		{`#set($a = 1)
#set($b = 2)
  #if($a == 1)
x
  #end
y`, ``, "x\ny"},
		{`#stop after`, ``, ``},
		{`#set($n = 10)#foreach($i in [1..$n])$i#end`, ``, `12345678910`},
		{`$input.body`, `raw "text"`, `raw "text"`},
		{`#foreach($e in $input.path('$').entrySet())$e.key=$e.value;#end`, `{"x":1,"y":[true]}`, `x=1;y=[true];`},
	}
	for _, c := range cases {
		if got := run(t, c.tpl, c.body); got != c.want {
			t.Errorf("template %q:\n got %q\nwant %q", c.tpl, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tpl := range []string{
		`#if($a)x`, `#end`, `#foreach($a in $b)`, `#set($a 1)`, `#set(1 = 2)`, `#if($a`, `#macro(x)#end`,
		`#include("x")`, `${a`, `$a.b(`, `#*`, `#[[`, `#set($a = "x)`, `#foreach($a.b in $c)#end`, `#else`,
		`#if($a == )#end`, `#set($a.b() = 1)`,
	} {
		_, err := Parse(tpl)
		var e *Error
		if !errors.As(err, &e) || e.Line == 0 {
			t.Errorf("Parse(%q) = %v, want a positioned parse error", tpl, err)
		}
	}
	if _, err := Parse(strings.Repeat("x", MaxTemplate+1)); err == nil {
		t.Error("a template past MaxTemplate parsed")
	}
}

func TestEvalErrors(t *testing.T) {
	for _, c := range []struct{ tpl, body string }{
		{`$input.json('$.a')`, `not json`},
		{`$input.path('$[?(@.a)]')`, `{}`},
		{`$util.parseJson("{")`, ``},
		{`$util.base64Decode("!!")`, ``},
		{`#set($l = [1])$l.get(5)`, ``},
		{`#set($s = "abc")$s.substring(5)`, ``},
	} {
		if out, err := eval(c.tpl, c.body); err == nil {
			t.Errorf("template %q evaluated to %q, want an error", c.tpl, out)
		}
	}
}

// An attacker's templates: loops that multiply, output that grows, and
// strings that double are cut off with ErrLimit, never run unbounded.
func TestLimits(t *testing.T) {
	// #foreach stops after MaxLoop iterations.
	out := run(t, `#foreach($i in [1..5000])x#end`, ``)
	if len(out) != MaxLoop {
		t.Errorf("a 5,000-item loop wrote %d items, want %d", len(out), MaxLoop)
	}
	body := `{"l":[` + strings.TrimSuffix(strings.Repeat("1,", 3000), ",") + `]}`
	if out := run(t, `#foreach($i in $input.path('$.l'))x#end`, body); len(out) != MaxLoop {
		t.Errorf("a 3,000-item list loop wrote %d, want %d", len(out), MaxLoop)
	}
	for _, tpl := range []string{
		`#foreach($a in [1..1000])#foreach($b in [1..1000])#foreach($c in [1..1000])x#end#end#end`,
		`#set($s = "xxxxxxxxxxxxxxxx")#foreach($i in [1..40])#set($s = "$s$s")#end$s.length()`,
		`#set($s = "xxxxxxxxxxxxxxxx")#foreach($i in [1..40])#set($s = $s + $s)#end`,
		`#set($s = "xxxxxxxxxxxxxxxx")#foreach($i in [1..40])#set($s = $s.concat($s))#end`,
		`#set($s = "xxxxxxxxxxxxxxxx")#foreach($i in [1..40])#set($s = $s.replace("x", "xx"))#end`,
		`#foreach($a in [1..1000])#foreach($b in [1..1000])$input.body#end#end`,
		`#set($l = [1])#foreach($i in [1..30])#set($ok = $l.addAll($l))#end`,
	} {
		_, err := eval(tpl, strings.Repeat("y", 100_000))
		if !errors.Is(err, ErrLimit) {
			t.Errorf("template %q: err = %v, want ErrLimit", tpl, err)
		}
	}
}

func TestJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 0.5: "0.5", 1e7: "1.0E7", 1234567.5: "1234567.5", 0.001: "0.001", 1.5e-4: "1.5E-4", -2: "-2.0"} {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %q, want %q", f, got, want)
		}
	}
}
