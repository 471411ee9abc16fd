package daemon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/cfnapi"
	"github.com/nimbus-serverless/nimbus/internal/config"
)

func (n *node) cfn() *cloudformation.Client { return cloudformation.NewFromConfig(n.awsConfig()) }

func readQueryError(t *testing.T, body []byte) (typ, code, msg string) {
	t.Helper()
	var e struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Type    string   `xml:"Error>Type"`
		Code    string   `xml:"Error>Code"`
		Message string   `xml:"Error>Message"`
		ReqID   string   `xml:"RequestId"`
	}
	if err := xml.Unmarshal(body, &e); err != nil || e.ReqID == "" {
		t.Fatalf("not a query ErrorResponse (%v):\n%s", err, body)
	}
	return e.Type, e.Code, e.Message
}

// TestCloudFormationFrontDoor: the CloudFormation API answers the SDK
// through the front door, behind SigV4 for service "cloudformation", with
// query-protocol errors; the Lambda API beside it is unaffected.
func TestCloudFormationFrontDoor(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	c := n.cfn()

	ds, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	if err != nil || len(ds.Stacks) != 0 {
		t.Fatalf("DescribeStacks = %+v, %v", ds, err)
	}
	_, err = c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("nope")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || !strings.Contains(ae.ErrorMessage(), "nope does not exist") {
		t.Errorf("DescribeStacks of a missing stack = %v", err)
	}
	if ex, err := c.ListExports(ctx, &cloudformation.ListExportsInput{}); err != nil || len(ex.Exports) != 0 {
		t.Errorf("ListExports = %+v, %v", ex, err)
	}
	// TemplateURL names an object in one of the node's buckets: in AWS's
	// URL forms, or the node's own path-style address (what `aws
	// cloudformation deploy --s3-bucket` builds from its endpoint).
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("s"), TemplateURL: aws.String("https://s3.amazonaws.com/b/t")}); !errors.As(err, &ae) ||
		ae.ErrorCode() != "ValidationError" || !strings.Contains(ae.ErrorMessage(), "S3 error: NoSuchBucket") {
		t.Errorf("CreateStack with a TemplateURL of a missing bucket = %v", err)
	}
	s3c := s3.NewFromConfig(n.awsConfig(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("templates")}); err != nil {
		t.Fatal(err)
	}
	tmpl := "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: from-url\n"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("templates"), Key: aws.String("app/t.yaml"), Body: strings.NewReader(tmpl)}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"https://templates.s3.us-east-1.amazonaws.com/app/t.yaml", n.endpoint() + "/templates/app/t.yaml"} {
		v, err := c.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateURL: aws.String(u)})
		if err != nil || v == nil {
			t.Errorf("ValidateTemplate(%s) = %v", u, err)
		}
	}
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("from-url"),
		TemplateURL: aws.String(n.endpoint() + "/templates/app/t.yaml")}); err != nil {
		t.Fatalf("CreateStack from a TemplateURL: %v", err)
	}
	if err := cloudformation.NewStackCreateCompleteWaiter(c).Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("from-url")}, 2*time.Minute); err != nil {
		t.Fatalf("stack from a TemplateURL: %v", err)
	}
	if got, err := c.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("from-url")}); err != nil || !strings.Contains(aws.ToString(got.TemplateBody), "from-url") {
		t.Errorf("GetTemplate of a stack made from a TemplateURL = %v, %v", got, err)
	}
	if _, err := c.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateURL: aws.String("https://example.com/templates/app/t.yaml")}); !errors.As(err, &ae) ||
		ae.ErrorMessage() != "TemplateURL must be a supported URL." {
		t.Errorf("ValidateTemplate of a URL outside S3 = %v", err)
	}
	if _, err := n.client.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("the Lambda API beside it: %v", err)
	}

	// Wrong secret: 403 SignatureDoesNotMatch, in XML.
	bad := cloudformation.NewFromConfig(n.awsConfig(), func(o *cloudformation.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(n.creds().AccessKeyID, "wrong", "")
	})
	_, err = bad.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Errorf("DescribeStacks with a wrong secret = %v, want 403 SignatureDoesNotMatch", err)
	}

	form := url.Values{"Action": {"DescribeStacks"}, "Version": {"2010-05-15"}}.Encode()
	// Unsigned, routed by its Action: 403 MissingAuthenticationToken in XML.
	resp, err := http.Post(n.endpoint()+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	typ, code, _ := readQueryError(t, body)
	if resp.StatusCode != http.StatusForbidden || code != "MissingAuthenticationToken" || typ != "Sender" {
		t.Errorf("unsigned DescribeStacks = %d %s %s", resp.StatusCode, typ, code)
	}
	// Signed for another service: routed by the scope, so not to
	// CloudFormation (the Lambda API has no such route).
	resp, err = n.httpClient("lambda").Post(n.endpoint()+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(body, []byte("DescribeStacksResponse")) || resp.StatusCode < 400 {
		t.Errorf("a request signed for lambda reached CloudFormation: %d\n%s", resp.StatusCode, body)
	}
	// Signed for cloudformation: the form's answer.
	resp, err = n.httpClient("cloudformation").Post(n.endpoint()+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">`)) {
		t.Errorf("signed DescribeStacks = %d\n%s", resp.StatusCode, body)
	}
	// GET with the form in the query string.
	resp, err = n.httpClient("cloudformation").Get(n.endpoint() + "/?" + url.Values{"Action": {"ListExports"}, "Version": {"2010-05-15"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("<ListExportsResult>")) {
		t.Errorf("GET ListExports = %d\n%s", resp.StatusCode, body)
	}
	// A body over the bound is refused before it is read whole.
	big := url.Values{"Action": {"ValidateTemplate"}, "Version": {"2010-05-15"},
		"TemplateBody": {strings.Repeat("{", cfnapi.MaxRequestBytes/3+1)}}.Encode()
	resp, err = n.httpClient("cloudformation").Post(n.endpoint()+"/", "application/x-www-form-urlencoded", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, code, _ := readQueryError(t, body); resp.StatusCode != http.StatusRequestEntityTooLarge || code != "RequestEntityTooLarge" {
		t.Errorf("oversized request = %d %s", resp.StatusCode, code)
	}
}

// TestArtifactUpload: PUT and HEAD /_nimbus/artifacts/<sha256> on a real
// node, signed for "cloudformation"; the content is checked against the
// name and stored in the backbone.
func TestArtifactUpload(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	hc := n.httpClient("cloudformation")
	zip := zipFiles(t, map[string]zipEntry{"app.py": {data: []byte("def handler(e, c):\n    return e\n")}})
	sum := sha256.Sum256(zip)
	sha := hex.EncodeToString(sum[:])
	type answer struct {
		StatusCode int
		body       []byte
	}
	do := func(c *http.Client, method, sha string, body []byte) answer {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, n.endpoint()+"/_nimbus/artifacts/"+sha, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return answer{resp.StatusCode, b}
	}
	if r := do(hc, http.MethodHead, sha, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD before upload = %d", r.StatusCode)
	}
	if r := do(hc, http.MethodPut, sha, append(zip, 0)); r.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT of other content = %d", r.StatusCode)
	} else if _, code, msg := readQueryError(t, r.body); code != "ValidationError" || !strings.Contains(msg, "SHA-256") {
		t.Errorf("PUT of other content = %s %s", code, msg)
	}
	if r := do(hc, http.MethodPut, sha, zip); r.StatusCode != http.StatusOK {
		t.Fatalf("PUT = %d", r.StatusCode)
	}
	if r := do(hc, http.MethodHead, sha, nil); r.StatusCode != http.StatusOK {
		t.Errorf("HEAD after upload = %d", r.StatusCode)
	}
	got, err := n.d.st.GetCode(t.Context(), "artifact/"+sha)
	if err != nil || !bytes.Equal(got, zip) {
		t.Errorf("stored artifact = %d bytes, %v", len(got), err)
	}
	// Signed for another service, or by no one: refused in XML.
	if r := do(n.httpClient("lambda"), http.MethodPut, sha, zip); r.StatusCode != http.StatusForbidden {
		t.Errorf("PUT signed for lambda = %d", r.StatusCode)
	} else if _, code, _ := readQueryError(t, r.body); code != "SignatureDoesNotMatch" {
		t.Errorf("PUT signed for lambda = %s", code)
	}
	if r := do(http.DefaultClient, http.MethodPut, sha, zip); r.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned PUT = %d", r.StatusCode)
	}
}

// TestInProcessTransport: the resource providers' HTTP client serves
// requests with the node's front door without a socket (the endpoint's
// host does not resolve), signed and verified like any client's.
func TestInProcessTransport(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	hc, creds := n.d.providerClient()
	c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://in-process.invalid"),
		HTTPClient: hc, Credentials: creds})
	ctx := t.Context()
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("inproc"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: dirZip(t, "examples/hello-python")},
	})
	if err != nil {
		t.Fatalf("CreateFunction in-process: %v", err)
	}
	// The node's own clients see it.
	if f, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("inproc")}); err != nil || aws.ToString(f.Configuration.Handler) != "app.handler" {
		t.Fatalf("GetFunction = %+v, %v", f, err)
	}
	bad := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://in-process.invalid"),
		HTTPClient: hc, Credentials: credentials.NewStaticCredentialsProvider("AKIDWRONG", "x", "")})
	_, err = bad.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnrecognizedClientException" {
		t.Errorf("in-process call with unknown credentials = %v", err)
	}
}

// TestInProcessTransportInsecure: with --insecure-no-auth the providers
// sign with any static credentials and are served.
func TestInProcessTransportInsecure(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.InsecureNoAuth = true })
	hc, creds := n.d.providerClient()
	c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://in-process.invalid"),
		HTTPClient: hc, Credentials: creds})
	if _, err := c.ListFunctions(t.Context(), &lambda.ListFunctionsInput{}); err != nil {
		t.Fatal(err)
	}
}
