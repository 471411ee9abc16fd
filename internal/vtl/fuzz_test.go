package vtl

import (
	"errors"
	"testing"
)

// FuzzTemplate parses and evaluates arbitrary templates over arbitrary
// bodies: neither may panic, and evaluation must stay within its bounds.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`#set($r = $input.path('$'))#foreach($e in $r.a)$e.b#if($foreach.hasNext),#end#end`,
		`{"x": $input.json('$.x'), "q": "$util.escapeJavaScript($input.params('q'))"}`,
		`#if($a > 1 && !$b)#elseif($c)#{else}#end ## c
#* b *# #[[ raw ]]# \$x \#if`,
		`#set($m = {"a": [1..3], "b": 'x'})$m.a.get(0) ${m.b.toUpperCase()} $!m.c`,
		`$util.urlEncode($util.base64Decode($util.base64Encode("a b")))$input.path('$..n').size()`,
		`#foreach($i in [1..1000])#foreach($j in [1..1000])$i#end#end`,
	} {
		f.Add(s, `{"a":[{"b":1},{"b":"two"}],"x":[1.5,true,null],"n":{"n":2}}`)
	}
	f.Fuzz(func(t *testing.T, tpl, body string) {
		tm, err := Parse(tpl)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("parse error of type %T", err)
			}
			return
		}
		in := NewInput([]byte(body), mapOf("p", "1"), mapOf("q", body), nil)
		out, err := tm.Execute(Variables(in, nil, nil))
		if err == nil && len(out) > MaxOutput {
			t.Fatalf("output of %d bytes", len(out))
		}
	})
}
