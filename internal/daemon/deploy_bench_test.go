package daemon

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// deployFunctions is how many functions each deploy benchmark makes.
const deployFunctions = 5

// BenchmarkDeploy measures what the stack engine adds to making
// functions: one op is five Python functions, made
//
//   - direct: with five CreateFunction calls (the baseline), or
//   - stack: with one CreateStack of a template naming an uploaded
//     artifact, until CREATE_COMPLETE (polled every 2 ms);
//   - stack-unchanged: an UpdateStack of the same template, refused with
//     "No updates are to be performed." (what a redeploy without changes
//     costs on the node).
//
// Read stack/direct within one run:
//
//	go test -run '^$' -bench Deploy -benchtime 20x ./internal/daemon/
func BenchmarkDeploy(b *testing.B) {
	n := startNode(b, b.TempDir())
	ctx := context.Background()
	zip := dirZip(b, "examples/hello-python")
	lc := lambda.NewFromConfig(n.awsConfig())
	cc := n.cfn()
	sha := uploadArtifact(b, n, zip)
	tmpl := deployTemplate(sha)

	i := 0     // names stay unique across -count repetitions of the sub-benchmarks
	made := "" // the first stack made, for stack-unchanged
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			i++
			for f := range deployFunctions {
				name := fmt.Sprintf("direct-%d-%d", i, f)
				_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
					FunctionName: aws.String(name), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
					Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip},
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("stack", func(b *testing.B) {
		for b.Loop() {
			i++
			name := fmt.Sprintf("bench-%d", i)
			if made == "" {
				made = name
			}
			if _, err := cc.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(tmpl)}); err != nil {
				b.Fatal(err)
			}
			if st := benchWaitStack(b, cc, name); st != cfntypes.StackStatusCreateComplete {
				b.Fatalf("stack %s: %s", name, st)
			}
		}
	})
	b.Run("stack-unchanged", func(b *testing.B) {
		for b.Loop() {
			_, err := cc.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String(made), TemplateBody: aws.String(tmpl)})
			if err == nil || !strings.Contains(err.Error(), "No updates are to be performed") {
				b.Fatalf("UpdateStack unchanged = %v", err)
			}
		}
	})
}

// deployTemplate is a plain template of deployFunctions Python functions
// from one uploaded artifact.
func deployTemplate(sha string) string {
	var sb strings.Builder
	sb.WriteString("Resources:\n")
	for f := range deployFunctions {
		fmt.Fprintf(&sb, `  Fn%d:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Role: %s
      Code: {S3Bucket: nimbus-artifacts, S3Key: %s}
`, f, testRole, sha)
	}
	return sb.String()
}

// benchWaitStack polls until the stack leaves *_IN_PROGRESS.
func benchWaitStack(b *testing.B, c *cloudformation.Client, name string) cfntypes.StackStatus {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.DescribeStacks(b.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			b.Fatal(err)
		}
		if st := out.Stacks[0].StackStatus; !strings.HasSuffix(string(st), "_IN_PROGRESS") {
			return st
		}
		if time.Now().After(deadline) {
			b.Fatalf("stack %s still in progress after 2 minutes", name)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
