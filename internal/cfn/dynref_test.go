package cfn

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDynamicRef(t *testing.T) {
	for _, c := range []struct {
		in   string
		want DynamicRef
		bad  bool
	}{
		{in: "ssm:/app/x", want: DynamicRef{Service: "ssm", Name: "/app/x"}},
		{in: "ssm:/app/x:3", want: DynamicRef{Service: "ssm", Name: "/app/x", Version: "3"}},
		{in: "ssm:/app/x:latest", bad: true},
		{in: "ssm-secure:pw:2", want: DynamicRef{Service: "ssm-secure", Name: "pw", Version: "2"}},
		{in: "secretsmanager:db", want: DynamicRef{Service: "secretsmanager", Name: "db"}},
		{in: "secretsmanager:db:SecretString:password", want: DynamicRef{Service: "secretsmanager", Name: "db", JSONKey: "password"}},
		{in: "secretsmanager:db:SecretString:password:AWSPREVIOUS", want: DynamicRef{Service: "secretsmanager", Name: "db", JSONKey: "password", VersionStage: "AWSPREVIOUS"}},
		{in: "secretsmanager:db:SecretString:::0123", want: DynamicRef{Service: "secretsmanager", Name: "db", VersionID: "0123"}},
		{in: "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:SecretString:k",
			want: DynamicRef{Service: "secretsmanager", Name: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", JSONKey: "k"}},
		{in: "secretsmanager:db:SecretBinary", bad: true},
		{in: "secretsmanager:db:SecretString:k:AWSCURRENT:0123", bad: true},
		{in: "secretsmanager:arn:aws:secretsmanager", bad: true},
		{in: "s3:bucket/key", bad: true},
		{in: "ssm", bad: true},
		{in: "ssm:", bad: true},
	} {
		got, err := ParseDynamicRef(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%s: accepted as %+v", c.in, got)
			}
			continue
		}
		c.want.Text = "{{resolve:" + c.in + "}}"
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestEvalResolvesDynamicReferences(t *testing.T) {
	vals := map[string]string{"ssm:/a": "A", "secretsmanager:s": "S"}
	env := &Env{Dynamic: func(r DynamicRef) (string, error) {
		v, ok := vals[r.Service+":"+r.Name]
		if !ok {
			return "", errors.New("no " + r.Name)
		}
		return v, nil
	}}
	got, err := Eval(map[string]any{"x": "a={{resolve:ssm:/a}} s={{resolve:secretsmanager:s}}", "l": []any{"{{resolve:ssm:/a:1}}"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if m["x"] != "a=A s=S" || m["l"].([]any)[0] != "A" {
		t.Fatalf("%v", got)
	}
	if _, err := Eval("{{resolve:ssm:/missing}}", env); err == nil || !strings.Contains(err.Error(), "no /missing") {
		t.Fatalf("missing: %v", err)
	}
	if _, err := Eval("{{resolve:ssm:/a", env); err == nil {
		t.Fatal("an unclosed reference was accepted")
	}
	// Without a resolver, references are refused as before.
	if _, err := Eval("{{resolve:ssm:/a}}", &Env{}); err == nil {
		t.Fatal("a reference resolved without a resolver")
	}
}

func TestSSMParameterTypes(t *testing.T) {
	tmpl, err := Parse([]byte(`{"Parameters": {"A": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/a"},
		"L": {"Type": "AWS::SSM::Parameter::Value<List<String>>"}}, "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) (string, error) {
		return map[string]string{"/a": "alpha", "/l": "x, y,z"}[name], nil
	}
	ps, err := tmpl.ResolveParametersWith(map[string]string{"L": "/l"}, Pseudo{}, read)
	if err != nil {
		t.Fatal(err)
	}
	if ps["A"] != "alpha" || strings.Join(ps["L"].([]string), "|") != "x|y|z" {
		t.Fatalf("%v", ps)
	}
	if _, err := tmpl.ResolveParameters(map[string]string{"L": "/l"}, Pseudo{}); err == nil {
		t.Fatal("SSM parameter types resolved without a reader")
	}
}

// FuzzDynamicRefs: the reference parser and the substitution never panic,
// and a string without "{{resolve:" comes back unchanged.
func FuzzDynamicRefs(f *testing.F) {
	f.Add("{{resolve:ssm:/a/b:3}}")
	f.Add("x{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:n:SecretString:k::v}}y")
	f.Add("{{resolve:ssm-secure:p}}{{resolve:")
	f.Add("}}{{resolve:}}")
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		out, err := resolveString(s, func(r DynamicRef) (string, error) {
			if r.Name == "" {
				t.Fatalf("a reference without a name was accepted: %q", s)
			}
			return "V", nil
		}, &n)
		if !strings.Contains(s, "{{resolve:") && (err != nil || out != s) {
			t.Fatalf("%q changed to %q (%v)", s, out, err)
		}
		if i := strings.Index(s, "{{resolve:"); i >= 0 {
			_, _ = ParseDynamicRef(s[i+len("{{resolve:"):])
		}
	})
}
