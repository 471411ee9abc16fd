package cli

import "testing"

func TestLocalURL(t *testing.T) {
	const ep = "http://127.0.0.1:4566"
	for _, c := range []struct {
		value, endpoint, want string
	}{
		{"https://abc123.execute-api.us-east-1.amazonaws.com/Prod/hello/", ep, "http://abc123.execute-api.us-east-1.localhost:4566/Prod/hello/"},
		{"https://abc123.execute-api.cn-north-1.amazonaws.com.cn/Prod?x=1", "http://localhost:9000", "http://abc123.execute-api.cn-north-1.localhost:9000/Prod?x=1"},
		{"https://xyz.lambda-url.eu-west-1.on.aws/", ep, "http://xyz.lambda-url.eu-west-1.localhost:4566/"},
		{"https://abc123.execute-api.us-east-1.amazonaws.com/Prod/", "http://10.0.0.5:4566", ""}, // remote node
		{"http://abc123.execute-api.us-east-1.localhost:4566/Prod/", ep, ""},                     // already local
		{"arn:aws:lambda:us-east-1:000000000000:function:f", ep, ""},                             // not a URL
		{"https://example.com/", ep, ""},                             // not AWS
		{"https://a.b.execute-api.us-east-1.amazonaws.com/", ep, ""}, // not an API id
	} {
		got, ok := localURL(c.value, c.endpoint)
		if ok != (c.want != "") || got != c.want {
			t.Errorf("localURL(%q, %q) = %q, %v; want %q", c.value, c.endpoint, got, ok, c.want)
		}
	}
}

func TestPathStyleURL(t *testing.T) {
	const ep = "http://127.0.0.1:4566"
	for _, c := range []struct {
		value, endpoint, want string
	}{
		{"https://abc123.execute-api.us-east-1.amazonaws.com/Prod/hello/", ep, ep + "/_aws/execute-api/abc123/Prod/hello/"},
		{"https://abc123.execute-api.us-east-1.amazonaws.com/Prod?x=1", "http://10.0.0.5:4566", "http://10.0.0.5:4566/_aws/execute-api/abc123/Prod?x=1"},
		{"https://xyz.lambda-url.eu-west-1.on.aws/", ep, ep + "/_aws/lambda-url/xyz/"},
		{"https://xyz.lambda-url.eu-west-1.on.aws", ep, ep + "/_aws/lambda-url/xyz/"},
		{"arn:aws:lambda:us-east-1:000000000000:function:f", ep, ""},
		{"https://example.com/", ep, ""},
		// The node's own names, as GetAtt ApiEndpoint and FunctionUrl answer.
		{"http://abc123.execute-api.us-east-1.localhost:4566/", ep, ep + "/_aws/execute-api/abc123/"},
		{"http://xyz.lambda-url.us-east-1.localhost:4566/", ep, ep + "/_aws/lambda-url/xyz/"},
		{"http://abc123.execute-api.us-east-1.localhost.evil.com/", ep, ""},
		{"http://localhost:4566/", ep, ""},
	} {
		got, ok := pathStyleURL(c.value, c.endpoint)
		if ok != (c.want != "") || got != c.want {
			t.Errorf("pathStyleURL(%q, %q) = %q, %v; want %q", c.value, c.endpoint, got, ok, c.want)
		}
	}
}
