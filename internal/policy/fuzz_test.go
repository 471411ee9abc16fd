package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// FuzzParse: any document either is refused with an *Error or compiles
// into a policy that evaluates any request without panicking, the same
// way twice.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		stmt(`{"Effect":"Allow","Action":"lambda:*","Resource":"*"}`),
		stmt(`{"Effect":"Deny","NotAction":["s3:Get*"],"NotResource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":["a*"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`),
		stmt(`{"Effect":"Allow","Principal":{"AWS":["` + acct + `","` + roleArn + `"],"Service":"s3.amazonaws.com"},"Action":"sqs:SendMessage","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"}}}`),
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2020-01-01"},"Null":{"x":"true"},"NumericEquals":{"n":1},"Bool":{"b":true},"BinaryEquals":{"k":"YQ=="}}}}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username, 'x'}${*}${?}"}]}`,
		`{}`, `[]`, `null`, `{"Statement":null}`,
	} {
		f.Add([]byte(s), uint8(0), "lambda:GetFunction", fnArn, "alice")
	}
	f.Fuzz(func(t *testing.T, doc []byte, kind uint8, action, resource, username string) {
		k := Kind(kind % 3)
		p, err := Parse(doc, k)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		ps := &Policies{}
		if k == Identity {
			ps.Identity = []*Policy{p}
			ps.Boundary = p
		} else {
			ps.Resource = []*Policy{p}
		}
		for _, pr := range []Principal{session(), user(), {Service: "s3.amazonaws.com"}} {
			r := &Request{Principal: pr, Action: action, Resource: resource}
			r.Set("aws:username", username)
			r.Set("aws:TagKeys", username, action)
			r.Set("aws:SourceIp", "10.1.2.3")
			a, b := Evaluate(ps, r), Evaluate(ps, r)
			if a != b {
				t.Fatalf("two evaluations differ: %+v %+v", a, b)
			}
		}
	})
}

// FuzzGlob checks glob against a regular expression built from the same
// pattern (the naive implementation).
func FuzzGlob(f *testing.F) {
	for _, c := range [][2]string{{"a*b?c", "aXXbYc"}, {"*", ""}, {"**a", "ba"}, {"?*?", "ab"}, {"a\x00*", "a*"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 64 || len(s) > 64 {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)\A`)
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case c == '*':
				re.WriteString(`.*`)
			case c == '?':
				re.WriteString(`.`)
			case c == 0 && i+1 < len(p):
				i++
				re.WriteString(regexp.QuoteMeta(string(rune(p[i]))))
			default:
				re.WriteString(regexp.QuoteMeta(string(rune(c))))
			}
		}
		re.WriteString(`\z`)
		// Byte-wise: the regexp must see bytes, not runes.
		rx, err := regexp.Compile(re.String())
		if err != nil {
			t.Skip()
		}
		if got, want := glob(p, s), rx.MatchString(latin1(s)); got != want {
			t.Fatalf("glob(%q, %q) = %v, regexp says %v", p, s, got, want)
		}
	})
}

// latin1 maps each byte to one rune, so '.' of a regexp matches one byte.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// BenchmarkEvaluate: a role with 10 attached policies of 20 statements
// each (the sizing), a request allowed by the last statement of
// the last policy, with conditions on the way.
func BenchmarkEvaluate(b *testing.B) {
	ps := &Policies{}
	for i := 0; i < 10; i++ {
		var sts []string
		for j := 0; j < 20; j++ {
			sts = append(sts, fmt.Sprintf(`{"Sid":"s%d","Effect":"Allow","Action":["sqs:SendMessage","dynamodb:Get*","s3:%dGetObject"],`+
				`"Resource":"arn:aws:dynamodb:us-east-1:%s:table/t%d-%d","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}`, j, j, acct, i, j))
		}
		if i == 9 {
			sts[19] = `{"Sid":"s19","Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:*:` + acct + `:function:my-*",` +
				`"Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"},"Bool":{"aws:SecureTransport":"false"}}}`
		}
		ps.Identity = append(ps.Identity, mustParse(b, stmt(strings.Join(sts, ",")), Identity))
	}
	r := &Request{Principal: session(), Action: "lambda:InvokeFunction", Resource: fnArn}
	r.Set("aws:RequestedRegion", "us-east-1")
	r.Set("aws:SecureTransport", "false")
	b.ReportAllocs()
	for b.Loop() {
		if !Evaluate(ps, r).Allowed {
			b.Fatal("denied")
		}
	}
}
