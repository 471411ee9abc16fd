package daemon

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// TestUnsignedCodePathReachesOnlyCodeDownloads is the regression test of
// issue 13's first finding: unsigned requests to /_nimbus/code/... carrying
// X-Amz-Target: Logs_20140328.* ran the CloudWatch Logs API (reading and
// deleting other functions' logs). On a real node, each such request must
// be refused, and none of them may change anything.
func TestUnsignedCodePathReachesOnlyCodeDownloads(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	logs := cloudwatchlogs.NewFromConfig(n.awsConfig())
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: strPtr("/aws/lambda/secret")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, op, body string }{
		{"POST", "/_nimbus/code/x", "DescribeLogGroups", `{}`},
		{"GET", "/_nimbus/code/x", "DescribeLogGroups", `{}`},
		{"POST", "/_nimbus/code/x", "FilterLogEvents", `{"logGroupName":"/aws/lambda/secret"}`},
		{"POST", "/_nimbus/code/x", "CreateLogGroup", `{"logGroupName":"/pwned"}`},
		{"POST", "/_nimbus/code/x", "PutRetentionPolicy", `{"logGroupName":"/aws/lambda/secret","retentionInDays":1}`},
		{"POST", "/_nimbus/code/x", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/secret"}`},
		{"POST", "/_nimbus/code/", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/secret"}`},
		{"POST", "/_nimbus/code/../", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/secret"}`},
		{"DELETE", "/_nimbus/code/x/y", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/secret"}`},
	} {
		req, err := http.NewRequestWithContext(ctx, c.method, n.endpoint()+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", "Logs_20140328."+c.op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || strings.Contains(string(body), "logGroup") {
			t.Errorf("unsigned %s %s %s: %d %s, want a refusal", c.method, c.path, c.op, resp.StatusCode, body)
		}
	}
	out, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LogGroups) != 1 || *out.LogGroups[0].LogGroupName != "/aws/lambda/secret" || out.LogGroups[0].RetentionInDays != nil {
		t.Errorf("log groups changed by unsigned requests: %+v", out.LogGroups)
	}
}

func strPtr(s string) *string { return &s }
