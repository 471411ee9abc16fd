package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/uuid"
)

// secretsAndKill9 (docs/design/secrets.md): a secret, a
// SecureString and a KMS ciphertext written on one node are read on the
// others (every node derives the same master key from the cluster
// secret); then the node taking PutSecretValue calls is killed with
// SIGKILL mid-stream: every acknowledged version is still there with its
// value, read on another node and on the killed node once it is back, and
// exactly one version is AWSCURRENT. On the way, a web console session
// signed in on one node is accepted by another (the nodes share the
// session key its cookies are MAC'd with).
func secretsAndKill9(t *testing.T, c *Cluster) {
	creds := c.Credentials(t)
	provider := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	smc := func(n *Node) *sm.Client {
		return sm.New(sm.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint), Credentials: provider, RetryMaxAttempts: 1})
	}
	ctx := t.Context()
	a, b, d := c.Nodes[0], c.Nodes[1], c.Nodes[2]

	// Written on one node, read on the others.
	var arn string
	Eventually(t, time.Minute, "node0 creates a secret", func() bool {
		out, err := smc(a).CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("shared"), SecretString: aws.String("v0")})
		if err == nil {
			arn = aws.ToString(out.ARN)
		}
		return err == nil
	})
	for _, n := range []*Node{b, d} {
		v, err := smc(n).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil || aws.ToString(v.SecretString) != "v0" {
			t.Fatalf("%s reads the secret: %v %v", n.Name, v, err)
		}
	}
	ssmc := func(n *Node) *ssm.Client {
		return ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint), Credentials: provider})
	}
	if _, err := ssmc(b).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/shared/token"), Value: aws.String("tok"),
		Type: "SecureString"}); err != nil {
		t.Fatal(err)
	}
	if p, err := ssmc(d).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/shared/token"), WithDecryption: aws.Bool(true)}); err != nil ||
		aws.ToString(p.Parameter.Value) != "tok" {
		t.Fatalf("node2 reads node1's SecureString: %v", err)
	}
	kc := func(n *Node) *kms.Client {
		return kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint), Credentials: provider})
	}
	key, err := kc(d).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := kc(d).Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("across")})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := kc(a).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob}); err != nil || string(p.Plaintext) != "across" {
		t.Fatalf("node0 decrypts node2's ciphertext: %v", err)
	}

	consoleSessionOnEveryNode(t, a, d, creds)

	// PutSecretValue on node1 from two writers; node1 is killed after
	// some have been acknowledged.
	// Writers stop at 80 acknowledged versions: Secrets Manager keeps 100
	// (older unlabelled ones are deprecated), so every acknowledged one
	// must still be there.
	var mu sync.Mutex
	acked := map[string]string{} // version id -> value
	stop, ten := make(chan struct{}), make(chan struct{})
	var tenOnce sync.Once
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				select {
				case <-stop:
					return
				default:
				}
				if n >= 80 {
					return
				}
				tok, val := uuid.NewString(), fmt.Sprintf("w%d-%d-%s", w, i, uuid.NewString()[:8])
				out, err := smc(b).PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(arn),
					ClientRequestToken: aws.String(tok), SecretString: aws.String(val)})
				if err != nil {
					continue // refused, or not acknowledged before the kill
				}
				mu.Lock()
				acked[aws.ToString(out.VersionId)] = val
				if len(acked) >= 10 {
					tenOnce.Do(func() { close(ten) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-ten:
	case <-time.After(2 * time.Minute):
		close(stop)
		wg.Wait()
		t.Fatalf("ten PutSecretValue not acknowledged within 2 minutes (%d)", len(acked))
	}
	b.Kill9(t)
	close(stop)
	wg.Wait()
	if len(acked) > 90 {
		t.Fatalf("%d versions acknowledged: more than Secrets Manager keeps (100), the check would be void", len(acked))
	}
	check := func(n *Node) {
		t.Helper()
		var desc *sm.DescribeSecretOutput
		Eventually(t, 2*time.Minute, n.Name+" describes the secret", func() bool {
			desc, err = smc(n).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(arn)})
			return err == nil
		})
		current := 0
		for _, stages := range desc.VersionIdsToStages {
			if slices.Contains(stages, "AWSCURRENT") {
				current++
			}
		}
		if current != 1 {
			t.Errorf("%s: %d versions are AWSCURRENT: %v", n.Name, current, desc.VersionIdsToStages)
		}
		for id, val := range acked {
			v, err := smc(n).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String(id)})
			if err != nil || aws.ToString(v.SecretString) != val {
				t.Errorf("%s: acknowledged version %s lost: %v", n.Name, id, err)
			}
		}
	}
	check(d)
	b.Start(t)
	check(b)
	t.Logf("%d versions acknowledged before the kill", len(acked))
}

// consoleSessionOnEveryNode signs in to node a's web console with the
// root keys and uses the session cookie on node b: b knows the session
// and serves a call made with it.
func consoleSessionOnEveryNode(t *testing.T, a, b *Node, creds aws.Credentials) {
	t.Helper()
	ctx := t.Context()
	body := fmt.Sprintf(`{"accessKeyId":%q,"secretAccessKey":%q}`, creds.AccessKeyID, creds.SecretAccessKey)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.Endpoint+"/_nimbus/console/api/signin", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "nimbus_console" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusOK || cookie == nil {
		t.Fatalf("console sign-in on %s: %d, cookie %v", a.Name, resp.StatusCode, cookie)
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, b.Endpoint+"/_nimbus/console/api/session", nil)
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Principal, Csrf string }
	err = json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if err != nil || !strings.HasSuffix(s.Principal, ":root") || s.Csrf == "" {
		t.Fatalf("%s's console does not know %s's session: %+v %v", b.Name, a.Name, s, err)
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, b.Endpoint+"/_nimbus/console/api/aws",
		strings.NewReader(`{"service":"secretsmanager","method":"POST","path":"/","target":"secretsmanager.ListSecrets","contentType":"application/x-amz-json-1.1","body":"{}"}`))
	req.AddCookie(cookie)
	req.Header.Set("X-Nimbus-Csrf", s.Csrf)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ SecretList []struct{ Name string } }
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || len(out.SecretList) == 0 {
		t.Fatalf("a call with %s's session on %s: %d %v %+v", a.Name, b.Name, resp.StatusCode, err, out)
	}
}
