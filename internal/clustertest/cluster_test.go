package clustertest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/cluster"
)

var nimbusBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	bin, cleanup, err := Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	nimbusBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// TestCluster starts one three-node cluster and runs every cluster step
// on it: a harness start costs a minute or more on a loaded CI machine,
// and this package is CI's critical path. The steps that leave every node
// running go first (the independent ones in parallel: they use resources
// of their own), then those that kill nodes; each of those restarts what
// it killed, and Restore before every step makes sure the next one finds
// three ready nodes even after a failed step. Run one step with
// -run 'TestCluster/<Step>' (the cluster still starts once).
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nimbus processes")
	}
	c := Start(t, Options{Binary: nimbusBin, Partitionable: true,
		Args: []string{"--function-logs", "--async-delay-scale", "0.01"}})
	step := func(name string, f func(*testing.T, *Cluster)) {
		t.Run(name, func(t *testing.T) {
			c.Restore(t)
			f(t, c)
		})
	}
	step("Formation", formation)
	step("ProvisionedSplit", provisionedSplit)
	t.Run("Independent", func(t *testing.T) {
		for _, s := range []struct {
			name string
			f    func(*testing.T, *Cluster)
		}{
			{"QueuesAndTopics", queuesAndTopics},
			{"S3Boundary", s3Boundary},
			{"Tables", tables},
			{"WebSockets", webSockets},
		} {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				s.f(t, c)
			})
		}
	})
	step("SecretsAndKill9", secretsAndKill9)
	step("Kill9LosesNoAsyncEvent", kill9LosesNoAsyncEvent)
	step("TakeoverQuorumAndPartition", takeoverQuorumAndPartition)
	leaseGaps(t, c)
}

var leaseAnsweredRE = regexp.MustCompile(`msg="lease requests answered again".* lease=(\S+) after=(\S+)`)

// leaseGaps logs how long the nodes' lease requests went unanswered
// after the steps' kills and restarts (each node's lease loop logs it
// when the bucket answers again: a Raft election of the lease stream),
// the number behind the kill steps' warm-up guards. Never asserted.
func leaseGaps(t *testing.T, c *Cluster) {
	var gaps []time.Duration
	longest := ""
	for _, n := range c.Nodes {
		for _, m := range leaseAnsweredRE.FindAllStringSubmatch(n.Logs(), -1) {
			d, err := time.ParseDuration(m[2])
			if err != nil {
				continue
			}
			if len(gaps) == 0 || d > slices.Max(gaps) {
				longest = fmt.Sprintf("%s, lease %s", n.Name, m[1])
			}
			gaps = append(gaps, d)
		}
	}
	if len(gaps) == 0 {
		t.Log("lease requests: never unanswered")
		return
	}
	slices.Sort(gaps)
	t.Logf("lease requests went unanswered %d times after the kills, restarts and the partition (the cut-off node's whole cut included): median %s, longest %s (%s)",
		len(gaps), gaps[len(gaps)/2], gaps[len(gaps)-1], longest)
}

// formation checks what every later step relies on: one meta group of
// three with R3 streams and one set of secrets (the root credentials one
// node generated verify on every node; function credentials one node
// issues verify on another).
func formation(t *testing.T, c *Cluster) {
	creds := c.Credentials(t)
	ctx := t.Context()

	root0, err := auth.LoadRoot(c.Nodes[0].DataDir)
	if err != nil {
		t.Fatal(err)
	}
	key0, err := auth.LoadOrCreateSessionKey(c.Nodes[0].DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes[1:] {
		root, err := auth.LoadRoot(n.DataDir)
		if err != nil || root != root0 {
			t.Fatalf("%s root credentials %v (%v), want the cluster's %s", n.Name, root.AccessKeyID, err, root0.AccessKeyID)
		}
		// Function credentials are signed with the session key: one key,
		// so what one node issues verifies on every node.
		if key, err := auth.LoadOrCreateSessionKey(n.DataDir); err != nil || !bytes.Equal(key, key0) {
			t.Fatalf("%s has its own session key (%v)", n.Name, err)
		}
	}

	// Credentials a function gets on one node (signed with the session
	// key) are accepted by another; with any other key they are refused.
	// Its role (made on node 0, replicated) may read the cluster's status
	// under the default --iam enforce.
	ic := awsiam.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(c.Nodes[0].Endpoint),
		Credentials: credentials.StaticCredentialsProvider{Value: creds}})
	if _, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("fn"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("fn"), PolicyName: aws.String("status"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"nimbus:GetClusterStatus","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	issue := func(key []byte) aws.Credentials {
		iss, err := auth.NewIssuer(key, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		fc, err := iss.Issue("arn:aws:iam::000000000000:role/fn", "arn:aws:lambda:us-east-1:000000000000:function:fn")
		if err != nil {
			t.Fatal(err)
		}
		return aws.Credentials{AccessKeyID: fc.AccessKeyID, SecretAccessKey: fc.SecretAccessKey, SessionToken: fc.SessionToken}
	}
	var lastAnswer string
	Eventually(t, time.Minute, "node2 accepts function credentials of the cluster's session key", func() bool {
		code, body, err := c.Nodes[2].Get(ctx, issue(key0), "/_nimbus/cluster")
		lastAnswer = fmt.Sprintf("%d %s %v", code, body, err)
		if code != http.StatusOK {
			t.Log(lastAnswer)
		}
		return err == nil && code == http.StatusOK
	})
	if code, _, err := c.Nodes[2].Get(ctx, issue(bytes.Repeat([]byte{7}, 32)), "/_nimbus/cluster"); err != nil || code != http.StatusForbidden {
		t.Fatalf("credentials of a foreign session key: %d %v, want 403", code, err)
	}

	// Every node accepts the cluster's credentials and sees three nodes,
	// a coordinator and R3 streams.
	var first *cluster.Status
	var lastStatus string
	defer func() {
		if t.Failed() {
			t.Log("last status: " + lastStatus)
		}
	}()
	Eventually(t, time.Minute, "every node sees three current nodes and a coordinator", func() bool {
		for _, n := range c.Nodes {
			st, err := n.Status(ctx, creds)
			lastStatus = fmt.Sprintf("%s: %+v %v", n.Name, st, err)
			if err != nil || !st.Quorum || st.Coordinator == nil || len(st.Nodes) != 3 {
				return false
			}
			first = &st
		}
		return true
	})
	for _, s := range first.Streams {
		if s.Replicas != 3 || s.Leader == "" || len(s.Peers) != 2 {
			t.Errorf("stream %s: replicas %d, leader %q, peers %v; want R3 with a leader", s.Name, s.Replicas, s.Leader, s.Peers)
		}
	}
	for _, want := range []string{"KV_nimbus_state", "KV_nimbus_leases", "KV_nimbus_secrets"} {
		if !strings.Contains(fmt.Sprint(first.Streams), want) {
			t.Errorf("no stream %s in %v", want, first.Streams)
		}
	}

}

// takeoverQuorumAndPartition: the coordinator lease is taken over with a
// larger fencing token after its holder is killed with SIGKILL; /readyz
// is false on the last node once it has lost quorum; killed nodes rejoin;
// and a partition: one node's routes to both others cut.
func takeoverQuorumAndPartition(t *testing.T, c *Cluster) {
	creds := c.Credentials(t)
	ctx := t.Context()
	var first *cluster.Status
	Eventually(t, 2*time.Minute, "a node sees three current nodes and a coordinator", func() bool {
		st, err := c.Nodes[0].Status(ctx, creds)
		if err != nil || !st.Quorum || st.Coordinator == nil || len(st.Nodes) != 3 {
			return false
		}
		first = &st
		return true
	})
	lap := stopwatch(t)
	// Kill the coordinator; another node takes the lease over with a
	// larger fencing token.
	holder := c.Node(first.Coordinator.Holder)
	if holder == nil {
		t.Fatalf("coordinator %q is not a node of the cluster", first.Coordinator.Holder)
	}
	token := first.Coordinator.Token
	killed := time.Now()
	holder.Kill9(t)
	survivors := c.Live()
	var next *cluster.Status
	Eventually(t, 2*time.Minute, "a surviving node takes over the coordinator lease", func() bool {
		st, err := survivors[0].Status(ctx, creds)
		if err != nil || st.Coordinator == nil || st.Coordinator.Holder == holder.Name {
			return false
		}
		next = &st
		return true
	})
	lap("coordinator taken over")
	t.Logf("coordinator %s (token %d) killed; %s took over (token %d) %s later",
		holder.Name, token, next.Coordinator.Holder, next.Coordinator.Token, time.Since(killed).Round(100*time.Millisecond))
	if next.Coordinator.Token <= token {
		t.Fatalf("fencing token went from %d to %d; it must increase", token, next.Coordinator.Token)
	}
	// The killed node's share of provisionedSplit's configuration moves
	// to the survivors.
	if provisionedPlaced {
		provisionedTakenOver(t, survivors[0], creds, 2)
		lap("its provisioned share taken over")
	}
	for _, n := range survivors {
		if !n.Ready(ctx) {
			t.Errorf("%s not ready with two of three nodes up", n.Name)
		}
	}

	// Two of three down: the last node has no quorum and says so.
	last := survivors[1]
	survivors[0].Kill9(t)
	Eventually(t, 2*time.Minute, last.Name+" reports not ready without quorum", func() bool {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return !last.Ready(ctx)
	})

	lap("the last node reports no quorum")

	// The killed nodes come back (together) and the cluster serves again.
	c.Restore(t)
	lap("the killed nodes are back and all three ready")

	// A partition: node2's routes to both others cut (both ways). The
	// majority keeps serving; node2 reports not ready and refuses writes
	// rather than diverge; healed, it catches up with what the majority
	// wrote meanwhile, and all three agree on what the minority tried.
	minority := c.Nodes[2]
	iamOn := func(n *Node) *awsiam.Client {
		return awsiam.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint),
			Credentials: credentials.StaticCredentialsProvider{Value: creds}, RetryMaxAttempts: 1})
	}
	trust := aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	c.Partition(t, minority)
	Eventually(t, 2*time.Minute, minority.Name+" reports not ready once cut off", func() bool {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return !minority.Ready(ctx)
	})
	lap("the cut-off node reports not ready")
	for _, n := range c.Nodes[:2] {
		Eventually(t, 2*time.Minute, n.Name+" stays ready on the majority side", func() bool { return n.Ready(ctx) })
	}
	Eventually(t, 2*time.Minute, "the majority takes a write", func() bool {
		_, err := iamOn(c.Nodes[0]).CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("during-partition"), AssumeRolePolicyDocument: trust})
		var exists *iamtypes.EntityAlreadyExistsException
		return err == nil || errors.As(err, &exists) // an earlier try went through
	})
	lap("the majority took a write")
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	_, err := iamOn(minority).CreateRole(mctx, &awsiam.CreateRoleInput{RoleName: aws.String("on-the-minority"), AssumeRolePolicyDocument: trust})
	cancel()
	var re interface{ HTTPStatusCode() int }
	switch {
	case err == nil:
		t.Errorf("%s accepted a write while cut off from the majority", minority.Name)
	case !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable:
		// Cut off, the node cannot write: a transient refusal (503
		// ServiceUnavailable, which clients retry), not a failure.
		t.Errorf("%s refused a write while cut off with %v; want 503", minority.Name, err)
	default:
		t.Logf("%s refused a write while cut off: %v", minority.Name, err)
	}
	lap("the minority refused a write")
	c.Heal(t, minority)
	Eventually(t, 2*time.Minute, minority.Name+" ready again after the partition heals", func() bool { return minority.Ready(ctx) })
	Eventually(t, 2*time.Minute, minority.Name+" catches up with the majority's write", func() bool {
		_, err := iamOn(minority).GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String("during-partition")})
		return err == nil
	})
	lap("healed, caught up")
	var seen []bool
	for _, n := range c.Nodes {
		_, err := iamOn(n).GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String("on-the-minority")})
		var missing *iamtypes.NoSuchEntityException
		if err != nil && !errors.As(err, &missing) {
			t.Fatalf("%s: GetRole: %v", n.Name, err)
		}
		seen = append(seen, err == nil)
	}
	if seen[0] != seen[1] || seen[1] != seen[2] {
		t.Errorf("the nodes disagree after the partition about the role the minority tried to create: %v", seen)
	}
}

// stopwatch logs how long each phase of a step took (where a step's time
// goes, for making it cheaper; never asserted).
func stopwatch(t *testing.T) func(what string) {
	last := time.Now()
	return func(what string) {
		t.Helper()
		t.Logf("%s after %s", what, time.Since(last).Round(100*time.Millisecond))
		last = time.Now()
	}
}
