package lambdaapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

func TestFunctionConcurrencyAPI(t *testing.T) {
	e := newEnv(t)
	e.create(t, "f", nil)
	r := e.do(t, "PUT", "/2017-10-31/functions/f/concurrency", []byte(`{}`), nil)
	if r.status != http.StatusBadRequest || r.header.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Fatalf("missing ReservedConcurrentExecutions: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/2017-10-31/functions/f/concurrency", []byte(`{"ReservedConcurrentExecutions":-1}`), nil)
	if r.status != http.StatusBadRequest || r.message(t) != "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0" {
		t.Fatalf("negative: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/2017-10-31/functions/f/concurrency", []byte(`{"ReservedConcurrentExecutions":901}`), nil)
	if r.status != http.StatusBadRequest || r.message(t) != "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]." {
		t.Fatalf("over the reservable: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/2017-10-31/functions/f/concurrency", []byte(`{"ReservedConcurrentExecutions":900}`), nil)
	if r.status != http.StatusOK || string(r.body) != "{\"ReservedConcurrentExecutions\":900}\n" {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/2016-08-19/account-settings", nil, nil)
	var as accountSettings
	mustJSON(t, r.body, &as)
	if as.AccountLimit.UnreservedConcurrentExecutions != 100 {
		t.Errorf("unreserved %d, want 100", as.AccountLimit.UnreservedConcurrentExecutions)
	}
	r = e.do(t, "GET", "/2019-09-30/functions/missing/concurrency", nil, nil)
	if r.status != http.StatusNotFound {
		t.Errorf("missing function: %d %s", r.status, r.body)
	}
	r = e.do(t, "DELETE", "/2017-10-31/functions/f/concurrency", nil, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/2019-09-30/functions/f/concurrency", nil, nil)
	if r.status != http.StatusOK || string(r.body) != "{}\n" {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
}

func TestProvisionedConcurrencyAPI(t *testing.T) {
	e := newEnv(t)
	e.create(t, "f", nil)
	body, _ := json.Marshal(map[string]int{"ProvisionedConcurrentExecutions": 1})
	r := e.do(t, "PUT", "/2019-09-30/functions/f/provisioned-concurrency", body, nil)
	if r.status != http.StatusBadRequest || r.header.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Fatalf("no qualifier: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=$LATEST", body, nil)
	if r.status != http.StatusBadRequest || r.message(t) != "Provisioned Concurrency Configs cannot be applied to unpublished function versions." {
		t.Fatalf("$LATEST: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=7", body, nil)
	if r.status != http.StatusNotFound {
		t.Fatalf("missing version: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/2015-03-31/functions/f/versions", []byte(`{}`), nil); r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1", []byte(`{"ProvisionedConcurrentExecutions":0}`), nil)
	if r.status != http.StatusBadRequest || r.header.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Fatalf("zero: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1", body, nil)
	var pc provisionedConfig
	mustJSON(t, r.body, &pc)
	if r.status != http.StatusAccepted || pc.Status != "IN_PROGRESS" || pc.RequestedProvisionedConcurrentExecutions != 1 || pc.LastModified == "" {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/2019-09-30/functions/f/provisioned-concurrency?List=ALL", nil, nil)
	var list listProvisionedResponse
	mustJSON(t, r.body, &list)
	if r.status != http.StatusOK || len(list.ProvisionedConcurrencyConfigs) != 1 || list.ProvisionedConcurrencyConfigs[0].FunctionArn != arnPrefix+"f:1" {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	r = e.do(t, "DELETE", "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1", nil, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1", nil, nil)
	if r.status != http.StatusNotFound || r.header.Get("X-Amzn-ErrorType") != "ProvisionedConcurrencyConfigNotFoundException" {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
}

// FuzzConcurrencyBodies sends arbitrary bodies and qualifiers to the
// concurrency operations: nothing may panic, and every refusal is an
// AWS-style error.
func FuzzConcurrencyBodies(f *testing.F) {
	f.Add(0, "", []byte(`{"ReservedConcurrentExecutions":5}`))
	f.Add(1, "1", []byte(`{"ProvisionedConcurrentExecutions":2}`))
	f.Add(1, "live", []byte(`{"ProvisionedConcurrentExecutions":"x"}`))
	f.Add(0, "", []byte(`{"ReservedConcurrentExecutions":1e99}`))
	f.Add(1, "$LATEST", []byte(`nope`))
	e := newEnv(f)
	e.create(f, "f", nil)
	f.Fuzz(func(t *testing.T, op int, qualifier string, body []byte) {
		path := "/2017-10-31/functions/f/concurrency"
		if op%2 != 0 {
			path = "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=" + url.QueryEscape(qualifier)
		}
		r := e.do(t, "PUT", path, body, nil)
		if r.status >= 300 && (r.header.Get("X-Amzn-ErrorType") == "" || !json.Valid(r.body)) {
			t.Fatalf("%s %q: %d without an AWS error: %s", path, body, r.status, r.body)
		}
	})
}
