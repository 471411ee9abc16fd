package cfnapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/cfnapi"
	"github.com/nimbus-serverless/nimbus/internal/stack"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func newHandler(f *fakeStacks, a *fakeArtifacts, pageSize int) *cfnapi.Handler {
	return cfnapi.New(cfnapi.Options{
		Stacks: f, Artifacts: a, PageSize: pageSize, ParseTemplate: parseTemplate,
		NewRequestID: func() string { return "00000000-0000-4000-8000-000000000000" },
	})
}

// post sends a query-protocol POST of form to h.
func post(h http.Handler, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func form(action string, kv ...string) url.Values {
	v := url.Values{"Action": {action}, "Version": {"2010-05-15"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// TestGolden checks every operation's response (and the error shapes)
// byte for byte against testdata/*.xml; run with -update to rewrite them.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		form url.Values
	}{
		{"create-stack", form("CreateStack", "StackName", "new", "TemplateBody", sampleTemplate,
			"Parameters.member.1.ParameterKey", "Stage", "Parameters.member.1.ParameterValue", "prod",
			"Capabilities.member.1", "CAPABILITY_IAM", "Tags.member.1.Key", "team", "Tags.member.1.Value", "core")},
		{"create-stack-exists", form("CreateStack", "StackName", "app", "TemplateBody", sampleTemplate)},
		{"create-stack-template-url", form("CreateStack", "StackName", "new", "TemplateURL", "https://s3.amazonaws.com/b/t.yaml")},
		{"create-stack-no-template", form("CreateStack", "StackName", "new")},
		{"create-stack-no-name", form("CreateStack", "TemplateBody", sampleTemplate)},
		{"create-stack-bad-capability", form("CreateStack", "StackName", "new", "TemplateBody", sampleTemplate, "Capabilities.member.1", "CAPABILITY_ROOT")},
		{"update-stack", form("UpdateStack", "StackName", "app", "UsePreviousTemplate", "true",
			"Parameters.member.1.ParameterKey", "Stage", "Parameters.member.1.UsePreviousValue", "true")},
		{"delete-stack", form("DeleteStack", "StackName", "app")},
		{"describe-stacks", form("DescribeStacks")},
		{"describe-stacks-missing", form("DescribeStacks", "StackName", "nope")},
		{"list-stacks", form("ListStacks", "StackStatusFilter.member.1", "UPDATE_COMPLETE")},
		{"describe-stack-events", form("DescribeStackEvents", "StackName", "app")},
		{"describe-stack-resources", form("DescribeStackResources", "StackName", "app")},
		{"describe-stack-resources-physical", form("DescribeStackResources", "PhysicalResourceId", "app-FnRole-NOPQRSTUVWXYZ", "LogicalResourceId", "FnRole")},
		{"describe-stack-resource", form("DescribeStackResource", "StackName", "app", "LogicalResourceId", "Fn")},
		{"describe-stack-resource-missing", form("DescribeStackResource", "StackName", "app", "LogicalResourceId", "Nope")},
		{"list-stack-resources", form("ListStackResources", "StackName", "app")},
		{"get-template", form("GetTemplate", "StackName", "app")},
		{"get-template-processed", form("GetTemplate", "StackName", "app", "TemplateStage", "Processed")},
		{"get-template-summary", form("GetTemplateSummary", "TemplateBody", sampleTemplate)},
		{"validate-template", form("ValidateTemplate", "TemplateBody", sampleTemplate)},
		{"validate-template-bad", form("ValidateTemplate", "TemplateBody", "bad")},
		{"list-exports", form("ListExports")},
		{"unsupported-action", form("CancelUpdateStack", "StackName", "app")},
		{"unknown-action", form("CreateStacks", "StackName", "app")},
		{"wrong-version", url.Values{"Action": {"DescribeStacks"}, "Version": {"2011-01-01"}}},
		{"missing-action", url.Values{"Version": {"2010-05-15"}}},
	}
	h := newHandler(newFake(), &fakeArtifacts{}, 0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := post(h, c.form)
			got := fmt.Sprintf("HTTP %d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			checkWellFormed(t, rec.Body.Bytes())
			golden(t, c.name, got)
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".xml")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func checkWellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("response is not well-formed XML: %v\n%s", err, b)
		}
	}
}

// TestInputs checks what the engine is asked for each form.
func TestInputs(t *testing.T) {
	f := newFake()
	h := newHandler(f, nil, 0)
	rec := post(h, form("CreateStack", "StackName", "new", "TemplateBody", sampleTemplate,
		"Parameters.member.2.ParameterKey", "B", "Parameters.member.2.ParameterValue", "b",
		"Parameters.member.1.ParameterKey", "A", "Parameters.member.1.ParameterValue", "",
		"Capabilities.member.1", "CAPABILITY_IAM", "Capabilities.member.2", "CAPABILITY_AUTO_EXPAND",
		"Tags.member.1.Key", "nimbus:skip-unsupported", "Tags.member.1.Value", "true",
		"OnFailure", "DO_NOTHING"))
	if rec.Code != http.StatusOK {
		t.Fatalf("CreateStack = %d\n%s", rec.Code, rec.Body)
	}
	want := stack.CreateInput{
		StackName: "new", TemplateBody: sampleTemplate, Parameters: map[string]string{"A": "", "B": "b"},
		Capabilities: []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"},
		Tags:         map[string]string{"nimbus:skip-unsupported": "true"}, SkipUnsupported: true, DisableRollback: true,
	}
	if len(f.creates) != 1 || !reflect.DeepEqual(f.creates[0], want) {
		t.Fatalf("CreateStack input = %+v, want %+v", f.creates, want)
	}

	// Update: UsePreviousValue, tags left out (kept) vs sent empty (cleared).
	rec = post(h, form("UpdateStack", "StackName", "app", "TemplateBody", sampleTemplate,
		"Parameters.member.1.ParameterKey", "A", "Parameters.member.1.UsePreviousValue", "true",
		"Parameters.member.2.ParameterKey", "B", "Parameters.member.2.ParameterValue", "c"))
	if rec.Code != http.StatusOK {
		t.Fatalf("UpdateStack = %d\n%s", rec.Code, rec.Body)
	}
	rec = post(h, form("UpdateStack", "StackName", "app", "UsePreviousTemplate", "true", "Tags", ""))
	if rec.Code != http.StatusOK {
		t.Fatalf("UpdateStack = %d\n%s", rec.Code, rec.Body)
	}
	if len(f.updates) != 2 {
		t.Fatalf("updates = %+v", f.updates)
	}
	u := f.updates[0]
	if !reflect.DeepEqual(u.UsePrevious, []string{"A"}) || !reflect.DeepEqual(u.Parameters, map[string]string{"B": "c"}) || u.Tags != nil || u.UsePreviousTemplate {
		t.Errorf("first update = %+v", u)
	}
	u = f.updates[1]
	if !u.UsePreviousTemplate || u.TemplateBody != "" || u.Tags == nil || len(u.Tags) != 0 {
		t.Errorf("second update = %+v (want the previous template and the tags cleared)", u)
	}

	post(h, form("ListStacks", "StackStatusFilter.member.1", "CREATE_COMPLETE", "StackStatusFilter.member.2", "UPDATE_COMPLETE"))
	if len(f.filters) != 1 || !reflect.DeepEqual(f.filters[0], []string{"CREATE_COMPLETE", "UPDATE_COMPLETE"}) {
		t.Errorf("ListStacks filters = %v", f.filters)
	}

	// Refusals that never reach the engine.
	for _, c := range []struct {
		form url.Values
		msg  string
	}{
		{form("UpdateStack", "StackName", "app", "TemplateBody", "x", "UsePreviousTemplate", "true"), "both usePreviousTemplate"},
		{form("UpdateStack", "StackName", "app", "TemplateBody", "x", "Parameters.member.1.ParameterKey", "A",
			"Parameters.member.1.UsePreviousValue", "true", "Parameters.member.1.ParameterValue", "v"), "Cannot specify usePreviousValue"},
		{form("CreateStack", "StackName", "n", "TemplateBody", "x", "Parameters.member.1.ParameterKey", "A",
			"Parameters.member.1.UsePreviousValue", "true"), "only be used when updating"},
		{form("CreateStack", "StackName", "n", "TemplateBody", "x", "DisableRollback", "maybe"), "Member must be a boolean"},
		{form("CreateStack", "StackName", "n", "TemplateBody", "x", "DisableRollback", "true", "OnFailure", "ROLLBACK"), "not both"},
		{form("CreateStack", "StackName", "n", "TemplateBody", "x", "OnFailure", "DELETE"), "OnFailure DELETE"},
		{form("CreateStack", "StackName", "n", "TemplateBody", strings.Repeat("x", cfnapi.MaxTemplateBytes+1)), "less than or equal to 1048576"},
		{form("DescribeStackResources"), "Either StackName or PhysicalResourceId"},
		{form("GetTemplate", "StackName", "app", "TemplateStage", "Final"), "templateStage"},
		{form("DescribeStackEvents", "StackName", "app", "NextToken", "bm9wZQ"), "Invalid NextToken"},
	} {
		rec := post(h, c.form)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), c.msg) || !strings.Contains(rec.Body.String(), "<Code>ValidationError</Code>") {
			t.Errorf("%v = %d\n%s\nwant 400 ValidationError with %q", c.form.Get("Action"), rec.Code, rec.Body, c.msg)
		}
	}
	if len(f.creates) != 1 || len(f.updates) != 2 {
		t.Errorf("refused requests reached the engine: %d creates, %d updates", len(f.creates), len(f.updates))
	}
}

// TestGETAndLimits: the query string form of GET, a body over the limit,
// a non-form body, an internal error's text kept from the client.
func TestGETAndLimits(t *testing.T) {
	f := newFake()
	h := newHandler(f, nil, 0)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?Action=DescribeStacks&Version=2010-05-15&StackName=app", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<StackName>app</StackName>") {
		t.Fatalf("GET DescribeStacks = %d\n%s", rec.Code, rec.Body)
	}

	req := httptest.NewRequest(http.MethodPost, "/", io.LimitReader(zeros{}, cfnapi.MaxRequestBytes+10))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "<Type>Sender</Type>") {
		t.Errorf("oversized body = %d\n%s", rec.Code, rec.Body)
	}

	req = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Action":"DescribeStacks"}`))
	req.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("JSON body = %d\n%s", rec.Code, rec.Body)
	}

	f.fail = errors.New("nats: secret internal detail")
	rec = post(h, form("DescribeStacks"))
	body := rec.Body.String()
	if rec.Code != http.StatusInternalServerError || !strings.Contains(body, "<Code>InternalFailure</Code>") ||
		!strings.Contains(body, "<Type>Receiver</Type>") || strings.Contains(body, "secret") {
		t.Errorf("internal error = %d\n%s", rec.Code, body)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// TestPagination walks DescribeStackEvents pages of 2 and checks that an
// event added between pages does not shift them.
func TestPagination(t *testing.T) {
	f := newFake()
	h := newHandler(f, nil, 2)
	var seen []string
	token := ""
	for range 10 {
		v := form("DescribeStackEvents", "StackName", "app")
		if token != "" {
			v.Set("NextToken", token)
		}
		rec := post(h, v)
		var resp struct {
			Events []string `xml:"DescribeStackEventsResult>StackEvents>member>EventId"`
			Next   string   `xml:"DescribeStackEventsResult>NextToken"`
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != 200 {
			t.Fatalf("page = %d %v\n%s", rec.Code, err, rec.Body)
		}
		if len(resp.Events) > 2 {
			t.Fatalf("page of %d events, want at most 2", len(resp.Events))
		}
		seen = append(seen, resp.Events...)
		if token == "" {
			// A new event arrives after the first page.
			f.mu.Lock()
			f.events = append([]stack.Event{{EventID: "ev-6", StackID: stackID, StackName: "app", Timestamp: t0}}, f.events...)
			f.mu.Unlock()
		}
		if token = resp.Next; token == "" {
			break
		}
	}
	if want := []string{"ev-5", "ev-4", "ev-3", "ev-2", "ev-1"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("events over pages = %v, want %v", seen, want)
	}
}

// TestArtifacts: upload, hash mismatch, HEAD present and absent, bad
// names, size bound, methods.
func TestArtifacts(t *testing.T) {
	a := &fakeArtifacts{}
	h := newHandler(newFake(), a, 0)
	zip := []byte("PK\x03\x04 pretend zip")
	sum := sha256.Sum256(zip)
	sha := hex.EncodeToString(sum[:])
	do := func(method, path string, body []byte) *httptest.ResponseRecorder {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, r))
		return rec
	}
	if rec := do(http.MethodHead, "/_nimbus/artifacts/"+sha, nil); rec.Code != http.StatusNotFound {
		t.Errorf("HEAD before upload = %d", rec.Code)
	}
	if rec := do(http.MethodPut, "/_nimbus/artifacts/"+sha, append([]byte("x"), zip...)); rec.Code != http.StatusBadRequest ||
		!strings.Contains(rec.Body.String(), "not "+sha) {
		t.Errorf("PUT with wrong content = %d\n%s", rec.Code, rec.Body)
	}
	if ok, _ := a.Has(t.Context(), sha); ok {
		t.Fatal("a mismatching upload was stored")
	}
	if rec := do(http.MethodPut, "/_nimbus/artifacts/"+sha, zip); rec.Code != http.StatusOK {
		t.Fatalf("PUT = %d\n%s", rec.Code, rec.Body)
	}
	if !bytes.Equal(a.data[sha], zip) {
		t.Errorf("stored %q", a.data[sha])
	}
	if rec := do(http.MethodHead, "/_nimbus/artifacts/"+sha, nil); rec.Code != http.StatusOK {
		t.Errorf("HEAD after upload = %d", rec.Code)
	}
	for _, p := range []string{"/_nimbus/artifacts/", "/_nimbus/artifacts/" + strings.ToUpper(sha), "/_nimbus/artifacts/" + sha + "/x", "/_nimbus/artifacts/../" + sha} {
		if rec := do(http.MethodPut, p, zip); rec.Code != http.StatusBadRequest {
			t.Errorf("PUT %s = %d", p, rec.Code)
		}
	}
	if rec := do(http.MethodDelete, "/_nimbus/artifacts/"+sha, nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE = %d", rec.Code)
	}
	req := httptest.NewRequest(http.MethodPut, "/_nimbus/artifacts/"+sha, bytes.NewReader(zip))
	req.ContentLength = cfnapi.MaxArtifactBytes + 1
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT over the limit = %d", rec.Code)
	}
}
