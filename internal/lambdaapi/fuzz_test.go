package lambdaapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// FuzzInvokeRequest feeds arbitrary headers and payloads to the Invoke
// request checks. They must not panic; what they accept must be what a
// function may receive, and what they refuse must be a 400 client error.
func FuzzInvokeRequest(f *testing.F) {
	f.Add("", "", "", []byte(`{"a":1}`))
	f.Add("RequestResponse", "Tail", "eyJjdXN0b20iOnt9fQ==", []byte(``))
	f.Add("DryRun", "None", "bm90IGpzb24=", []byte(`{"a":`))
	f.Add("Event", "Tail", "e30=", []byte("\xff\xfe"))
	f.Add("x", "y", "!!!", []byte(`nope`))
	f.Add("", "", "", []byte("[1,2,\x01]"))
	f.Fuzz(func(t *testing.T, invType, logType, clientContext string, payload []byte) {
		hd := http.Header{}
		hd.Set("X-Amz-Invocation-Type", invType)
		hd.Set("X-Amz-Log-Type", logType)
		hd.Set("X-Amz-Client-Context", clientContext)
		opts, err := parseInvokeHeaders(hd)
		if err != nil {
			if e := awsapi.As(err); e == nil || e.Status != 400 {
				t.Fatalf("header error %v is not a 400 client error", err)
			}
		} else {
			switch opts.invocationType {
			case "RequestResponse", "Event", "DryRun":
			default:
				t.Fatalf("accepted invocation type %q", opts.invocationType)
			}
			if opts.clientContext != nil && (!json.Valid(opts.clientContext) || opts.clientContext[0] != '{') {
				t.Fatalf("accepted client context %q", opts.clientContext)
			}
		}
		out, err := checkPayload(payload)
		if err != nil {
			e := awsapi.As(err)
			if e == nil || e.Status != 400 || e.Code != "InvalidRequestContentException" ||
				!strings.HasPrefix(e.Message, "Could not parse request body into json: Could not parse payload into json: ") {
				t.Fatalf("payload error %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("accepted payload %q is not JSON", out)
		}
	})
}

// FuzzRoute sends arbitrary methods and paths through the router and the
// whole handler. Nothing may panic; every answer must carry a request id,
// and every error X-Amzn-ErrorType and a JSON body.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{
		"/2015-03-31/functions", "/2015-03-31/functions/", "/2015-03-31/functions/f",
		"/2015-03-31/functions/f:1/configuration", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af",
		"/2015-03-31/functions/f/aliases/live", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:f",
		"/2016-08-19/account-settings", "/_nimbus/code/00?X-Nimbus-Expires=1", "//", "/%zz", "/2015-03-31/functions/%2F",
		"/2015-03-31/functions/f/invocations?Qualifier=$LATEST",
		"/2017-10-31/functions/f/concurrency", "/2019-09-30/functions/f/concurrency",
		"/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1",
		"/2019-09-30/functions/f/provisioned-concurrency?List=ALL&MaxItems=0",
		"/2021-10-31/functions/f/url", "/2021-10-31/functions/f/url?Qualifier=%24LATEST", "/2021-10-31/functions/f/urls?MaxItems=0",
		"/2015-03-31/functions/f/policy", "/2015-03-31/functions/f/policy/sid?RevisionId=x",
		"/2021-11-15/functions/f/response-streaming-invocations",
		"/2018-10-31/layers", "/2018-10-31/layers?find=LayerVersion&Arn=arn:aws:lambda:us-east-1:000000000000:layer:l:1",
		"/2018-10-31/layers?CompatibleRuntime=python3.12&MaxItems=1", "/2018-10-31/layers/l/versions",
		"/2018-10-31/layers/arn:aws:lambda:us-east-1:000000000000:layer:l/versions/1",
		"/2018-10-31/layers/l/versions/1/policy", "/2018-10-31/layers/l/versions/-1/policy/s",
	} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	f.Add("DELETE", "/2015-03-31/functions/f?Qualifier=1")
	e := newEnv(f)
	e.create(f, "f", nil)
	f.Fuzz(func(t *testing.T, method, target string) {
		rt, params := match(method, target)
		if rt != nil {
			for k, v := range params {
				if v == "" {
					t.Fatalf("route %s matched %q with empty %s", rt.op, target, k)
				}
			}
		}
		if !validMethod(method) {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := httptest.NewRequestWithContext(context.Background(), "GET", "/", nil)
		req.Method, req.URL, req.RequestURI = method, u, target
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Header().Get(awsapi.HeaderRequestID) == "" {
			t.Fatalf("%s %s: no request id", method, target)
		}
		if w.Code >= 300 {
			if w.Header().Get("X-Amzn-ErrorType") == "" || !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s: error %d without type or JSON body: %q", method, target, w.Code, w.Body)
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// FuzzEventInvokeConfig feeds arbitrary Put/UpdateFunctionEventInvokeConfig
// bodies to their parser. It must not panic; what it accepts must be
// within the model's bounds with something set, and what it refuses must
// be a 400 client error.
func FuzzEventInvokeConfig(f *testing.F) {
	f.Add([]byte(`{"MaximumRetryAttempts":1}`))
	f.Add([]byte(`{"MaximumEventAgeInSeconds":60,"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:lambda:us-east-1:000000000000:function:d"}}}`))
	f.Add([]byte(`{"DestinationConfig":{"OnSuccess":{"Destination":""}}}`))
	f.Add([]byte(`{"MaximumRetryAttempts":-1,"MaximumEventAgeInSeconds":99999}`))
	f.Add([]byte(`{"DestinationConfig":{"OnSuccess":{"Destination":"kafka://x"}}}`))
	f.Add([]byte(`{"MaximumRetryAttempts":"two"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Add([]byte("{\"DestinationConfig\":{\"OnFailure\":{\"Destination\":\"arn:aws:sqs::\xff\"}}}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseEventInvokeConfig(body)
		if err != nil {
			if e := awsapi.As(err); e == nil || e.Status != 400 {
				t.Fatalf("error %v is not a 400 client error", err)
			}
			return
		}
		if req.MaximumRetryAttempts == nil && req.MaximumEventAgeInSeconds == nil && req.DestinationConfig == nil {
			t.Fatal("accepted a request that sets nothing")
		}
		if p := req.MaximumRetryAttempts; p != nil && (*p < 0 || *p > 2) {
			t.Fatalf("accepted MaximumRetryAttempts %d", *p)
		}
		if p := req.MaximumEventAgeInSeconds; p != nil && (*p < 60 || *p > 21600) {
			t.Fatalf("accepted MaximumEventAgeInSeconds %d", *p)
		}
		d := normalizeDestinations(req.DestinationConfig)
		for _, arn := range []string{d.OnSuccess.Destination, d.OnFailure.Destination} {
			if len(arn) > maxDestinationArn || !destinationArnRE().MatchString(arn) {
				t.Fatalf("accepted destination %q", arn)
			}
		}
	})
}

// FuzzLayerARN feeds arbitrary strings to the layer name and layer version
// ARN parsers. They must not panic; what they accept must render back to
// an ARN (or name) that parses to the same reference.
func FuzzLayerARN(f *testing.F) {
	for _, s := range []string{
		"l", "arn:aws:lambda:us-east-1:000000000000:layer:l", "arn:aws:lambda:us-east-1:000000000000:layer:l:1",
		"arn:aws-cn:lambda:cn-north-1:123456789012:layer:my-layer_2:007", "arn:aws:lambda:us-east-1:000000000000:layer:l:0",
		"arn:aws:lambda:us-east-1:000000000000:layer:l:99999999999999999999", "arn:aws:lambda:::awslayer:x", "a:b", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ref, ok := function.ParseLayerVersionARN(s); ok {
			if ref.Version < 1 || ref.Name == "" || ref.Account == "" || len(s) > function.MaxLayerName {
				t.Fatalf("accepted %q as %+v", s, ref)
			}
			again, ok := function.ParseLayerVersionARN(ref.String())
			if !ok || again != ref {
				t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, ref, ref.String(), again, ok)
			}
		}
		if ref, ok := function.ParseLayerName(s); ok {
			if ref.Version != 0 || ref.Name == "" || len(s) > function.MaxLayerName {
				t.Fatalf("accepted layer name %q as %+v", s, ref)
			}
			again, ok := function.ParseLayerName(ref.String())
			if !ok || again != ref {
				t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, ref, ref.String(), again, ok)
			}
		}
	})
}
