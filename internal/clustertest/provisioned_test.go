package clustertest

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// provisionedKey is the configuration provisionedSplit makes, as nodes
// report it (cluster.ProvisionedKey).
const provisionedKey = "prov:1"

// provisionedPlaced is set once provisionedSplit has placed it (a step
// run alone has nothing to take over).
var provisionedPlaced bool

// provisionedSplit: provisioned concurrency 3 of a version is placed
// across the three nodes (one environment each, not three per node) and
// every node reports the configuration READY with 3 allocated.
// takeoverQuorumAndPartition later checks that a killed node's share is
// taken over by the survivors.
func provisionedSplit(t *testing.T, c *Cluster) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	creds := c.Credentials(t)
	ctx := t.Context()
	client := func(n *Node) *lambda.Client {
		return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
	}
	admin := client(c.Nodes[0])
	ic := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.Nodes[0].Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
	role, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("prov"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("prov"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: role.Role.Arn, Publish: true,
		Code: &types.FunctionCode{ZipFile: pyZip(t, floodPy)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("prov"), Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(3),
	}); err != nil {
		t.Fatal(err)
	}
	var last string
	for _, n := range c.Nodes {
		Eventually(t, 3*time.Minute, n.Name+" reports provisioned concurrency 3 READY", func() bool {
			out, err := client(n).GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
				FunctionName: aws.String("prov"), Qualifier: aws.String("1")})
			if err != nil {
				last = err.Error()
				return false
			}
			last = fmt.Sprintf("%s %d", out.Status, aws.ToInt32(out.AllocatedProvisionedConcurrentExecutions))
			return out.Status == types.ProvisionedConcurrencyStatusEnumReady && aws.ToInt32(out.AllocatedProvisionedConcurrentExecutions) == 3
		})
	}
	t.Logf("every node reports %s", last)
	Eventually(t, time.Minute, "one provisioned environment on each node", func() bool {
		st, err := c.Nodes[1].Status(ctx, creds)
		if err != nil || len(st.Members) != 3 {
			return false
		}
		last = fmt.Sprint(st.Members)
		for _, m := range st.Members {
			if m.Provisioned[provisionedKey] != 1 {
				return false
			}
		}
		return true
	})
	t.Logf("members: %s", last)
	provisionedPlaced = true
}

// provisionedTakenOver waits until the live nodes (seen from n) are
// survivors and hold the whole configuration between them.
func provisionedTakenOver(t *testing.T, n *Node, creds aws.Credentials, survivors int) {
	t.Helper()
	ctx := t.Context()
	var last string
	Eventually(t, 3*time.Minute, fmt.Sprintf("%d surviving nodes hold provisioned concurrency 3", survivors), func() bool {
		st, err := n.Status(ctx, creds)
		if err != nil || len(st.Members) != survivors {
			return false
		}
		sum := 0
		for _, m := range st.Members {
			sum += m.Provisioned[provisionedKey]
		}
		last = fmt.Sprint(st.Members)
		return sum == 3
	})
	t.Logf("after the kill: %s", last)
}
