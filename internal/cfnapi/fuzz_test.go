package cfnapi_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfnapi"
)

var formSeeds = []string{
	"Action=CreateStack&Version=2010-05-15&StackName=a&TemplateBody=x&Parameters.member.1.ParameterKey=K&Parameters.member.1.ParameterValue=V",
	"Action=UpdateStack&StackName=a&UsePreviousTemplate=true&Parameters.member.01.ParameterKey=K&Parameters.member.1.UsePreviousValue=true",
	"Capabilities.member.2=CAPABILITY_IAM&Capabilities.member.1=CAPABILITY_AUTO_EXPAND&Capabilities.member.-1=x",
	"Tags.member.1.Key=nimbus%3Askip-unsupported&Tags.member.1.Value=true&Tags.member.9999999999999999999.Key=k",
	"Tags=&Parameters.member.1.=x&Parameters.member..Key=y&%zz",
	"Action=DescribeStackEvents&StackName=app&NextToken=ZXYtMw",
	"StackStatusFilter.member.1=CREATE_COMPLETE&StackStatusFilter.member.1.x=y",
	"Action=CreateChangeSet&Version=2010-05-15&StackName=app&ChangeSetName=cs&ChangeSetType=CREATE&TemplateBody=x&Tags=&NotificationARNs=",
	"Action=CreateChangeSet&StackName=app&ChangeSetName=cs&UsePreviousTemplate=true&ResourcesToImport.member.1.LogicalResourceId=X",
	"Action=DescribeChangeSet&ChangeSetName=arn%3Aaws%3Acloudformation%3Aus-east-1%3A000000000000%3AchangeSet%2Fcs%2F1&NextToken=Rm4",
	"Action=ExecuteChangeSet&ChangeSetName=empty&StackName=app&DisableRollback=maybe",
	"Action=DeleteChangeSet&ChangeSetName=cs&StackName=app",
	"Action=ListChangeSets&StackName=app&NextToken=x",
}

// FuzzParseForm: any body parses or is refused with a client error; list
// members come back in index order and never outnumber the keys.
func FuzzParseForm(f *testing.F) {
	for _, s := range formSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := cfnapi.ParseRequest(req)
		if err != nil {
			if e := awsapi.As(err); e == nil || e.Code != "ValidationError" {
				t.Fatalf("ParseRequest(%q) = %v, want a ValidationError", body, err)
			}
			return
		}
		for _, prefix := range []string{"Parameters", "Tags", "Capabilities", "StackStatusFilter"} {
			l := form.List(prefix)
			s := form.Structs(prefix)
			if len(l) > len(form.Values) || len(s) > len(form.Values) {
				t.Fatalf("%s: %d list entries and %d structs from %d keys", prefix, len(l), len(s), len(form.Values))
			}
			for _, m := range s {
				if len(m) == 0 {
					t.Fatalf("%s: an empty struct", prefix)
				}
			}
		}
	})
}

// FuzzRequest sends arbitrary forms to the whole handler (with the fake
// engine): every answer is 2xx or a 4xx ErrorResponse in well-formed XML,
// never a 5xx or a panic.
func FuzzRequest(f *testing.F) {
	for _, s := range formSeeds {
		f.Add(s)
	}
	for _, a := range []string{"CreateStack", "UpdateStack", "DeleteStack", "DescribeStacks", "ListStacks", "DescribeStackEvents",
		"DescribeStackResources", "DescribeStackResource", "ListStackResources", "GetTemplate", "GetTemplateSummary",
		"ValidateTemplate", "ListExports", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet", "ListChangeSets", "Nope"} {
		f.Add("Action=" + a + "&Version=2010-05-15&StackName=app&TemplateBody=t&LogicalResourceId=Fn&PhysicalResourceId=app-Fn-ABCDEFGHIJKLM&ChangeSetName=cs")
	}
	h := newHandler(newFake(), &fakeArtifacts{}, 2)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%q = %d\n%s", body, rec.Code, rec.Body)
		}
		d := xml.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		for {
			_, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%q: response is not well-formed XML: %v\n%s", body, err, rec.Body)
			}
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), "<ErrorResponse") {
			t.Fatalf("%q = %d without an ErrorResponse\n%s", body, rec.Code, rec.Body)
		}
	})
}
