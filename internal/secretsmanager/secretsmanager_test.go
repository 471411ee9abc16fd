package secretsmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rotationFunc plays a rotation function the way AWS's templates write
// them, calling the API through the SDK; it records the events it got.
type rotationFunc struct {
	c      *sm.Client
	mu     sync.Mutex
	events []map[string]string
	fail   string // the step to fail
	done   chan struct{}
}

func (f *rotationFunc) InvokeRotation(ctx context.Context, fn string, payload []byte) (string, error) {
	var ev map[string]string
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "", err
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
	if ev["Step"] == f.fail {
		return "Unhandled", nil
	}
	id, tok := aws.String(ev["SecretId"]), aws.String(ev["ClientRequestToken"])
	var err error
	switch ev["Step"] {
	case "createSecret":
		if _, err = f.c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: id, VersionStage: aws.String("AWSCURRENT")}); err != nil {
			break
		}
		_, err = f.c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: id, ClientRequestToken: tok,
			SecretString: aws.String("rotated-" + ev["ClientRequestToken"][:8]), VersionStages: []string{"AWSPENDING"}})
	case "testSecret":
		_, err = f.c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: id, VersionId: tok, VersionStage: aws.String("AWSPENDING")})
	case "finishSecret":
		var d *sm.DescribeSecretOutput
		if d, err = f.c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: id}); err != nil {
			break
		}
		cur := ""
		for v, st := range d.VersionIdsToStages {
			if slices.Contains(st, "AWSCURRENT") {
				cur = v
			}
		}
		_, err = f.c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"),
			MoveToVersionId: tok, RemoveFromVersionId: aws.String(cur)})
		close(f.done)
	}
	if err != nil {
		return "Unhandled", nil
	}
	return "", nil
}

type fixture struct {
	c   *sm.Client
	svc *Service
	st  *store.Store
	dir string
	clk *clock
	fn  *rotationFunc
}

func setup(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	clk := &clock{t: time.Now()}
	keys, err := kms.New(t.Context(), kms.Options{Store: st, MasterKey: bytes.Repeat([]byte{3}, kms.MasterKeySize),
		Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	fn := &rotationFunc{done: make(chan struct{})}
	svc, err := New(Options{Store: st, Keys: keys, Functions: fn, Region: "us-east-1", AccountID: "123456789012", Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	c := sm.New(sm.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	fn.c = c
	return &fixture{c: c, svc: svc, st: st, dir: dir, clk: clk, fn: fn}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func TestSecretLifecycleAndStages(t *testing.T) {
	f := setup(t)
	c, ctx := f.c, t.Context()
	cr, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String(`{"password":"one"}`),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(*cr.ARN, ":secret:prod/db-") || len(*cr.ARN) != len("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-")+6 {
		t.Fatalf("arn %s", *cr.ARN)
	}
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String("x")})
	wantCode(t, err, "ResourceExistsException")
	v2, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: cr.ARN, SecretString: aws.String(`{"password":"two"}`)})
	if err != nil {
		t.Fatal(err)
	}
	v3, err := c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("prod/db"), SecretString: aws.String(`{"password":"three"}`),
		Description: aws.String("the db")})
	if err != nil {
		t.Fatal(err)
	}
	// By stage, by version, by partial ARN.
	for _, c2 := range []struct {
		in   sm.GetSecretValueInput
		want string
	}{
		{sm.GetSecretValueInput{SecretId: aws.String("prod/db")}, "three"},
		{sm.GetSecretValueInput{SecretId: cr.ARN, VersionStage: aws.String("AWSPREVIOUS")}, "two"},
		{sm.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionId: cr.VersionId}, "one"},
		{sm.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db")}, "three"},
	} {
		out, err := c.GetSecretValue(ctx, &c2.in)
		if err != nil || !strings.Contains(*out.SecretString, c2.want) {
			t.Fatalf("get %+v: %v %v", c2.in, out, err)
		}
	}
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionId: v2.VersionId, VersionStage: aws.String("AWSCURRENT")})
	wantCode(t, err, "ResourceNotFoundException")
	d, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("prod/db")})
	if err != nil || len(d.VersionIdsToStages) != 2 || d.VersionIdsToStages[*v3.VersionId][0] != "AWSCURRENT" || *d.Description != "the db" {
		t.Fatalf("describe %+v %v", d, err)
	}
	// Idempotent retry of a token; a changed value under it is refused.
	tok := "11111111-2222-3333-4444-555555555555"
	for range 2 {
		if _, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("prod/db"), ClientRequestToken: aws.String(tok), SecretString: aws.String("four")}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("prod/db"), ClientRequestToken: aws.String(tok), SecretString: aws.String("five")})
	wantCode(t, err, "ResourceExistsException")
	// Binary, and size limits.
	if _, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2}}); err != nil {
		t.Fatal(err)
	}
	if out, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("bin")}); err != nil || !bytes.Equal(out.SecretBinary, []byte{0, 1, 2}) || out.SecretString != nil {
		t.Fatalf("binary: %v", err)
	}
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("big"), SecretString: aws.String(strings.Repeat("x", 65537))})
	wantCode(t, err, "ValidationException")

	// Delete with a recovery window: unreadable, restorable; then forced.
	_, err = c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("prod/db"), RecoveryWindowInDays: aws.Int64(6)})
	wantCode(t, err, "InvalidParameterException")
	_, err = c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("prod/db"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	wantCode(t, err, "InvalidParameterException")
	del, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("prod/db"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil || del.DeletionDate.Sub(f.clk.now()) < 7*24*time.Hour-time.Second {
		t.Fatalf("delete: %+v %v", del, err)
	}
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("prod/db")})
	wantCode(t, err, "InvalidRequestException")
	if !strings.Contains(err.Error(), "You can't perform this operation on the secret because it was marked for deletion") {
		t.Fatalf("message: %v", err)
	}
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String("x")})
	wantCode(t, err, "InvalidRequestException")
	ls, _ := c.ListSecrets(ctx, &sm.ListSecretsInput{})
	if len(ls.SecretList) != 1 {
		t.Fatalf("list without planned deletions: %d", len(ls.SecretList))
	}
	if _, err := c.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String("prod/db")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("prod/db")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("prod/db"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	f.clk.add(8 * 24 * time.Hour)
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("prod/db")})
	wantCode(t, err, "ResourceNotFoundException")
	if _, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("bin"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("bin")})
	wantCode(t, err, "ResourceNotFoundException")
	// No value record is left behind.
	if keys, _ := f.st.Keys(ctx, valuePrefix); len(keys) != 0 {
		t.Fatalf("values left after deletion: %v", keys)
	}
}

func TestRotationDrivesTheFourSteps(t *testing.T) {
	f := setup(t)
	c, ctx := f.c, t.Context()
	cr, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("rot"), SecretString: aws.String("initial")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("rot")})
	wantCode(t, err, "InvalidRequestException") // no function yet
	fn := "arn:aws:lambda:us-east-1:123456789012:function:rotator"
	out, err := c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("rot"), RotationLambdaARN: aws.String(fn),
		RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.fn.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the rotation never reached finishSecret")
	}
	f.svc.Close() // waits for the rotation to record itself
	f.fn.mu.Lock()
	var steps []string
	for _, ev := range f.fn.events {
		if ev["SecretId"] != *cr.ARN || ev["ClientRequestToken"] != *out.VersionId {
			t.Fatalf("event %v", ev)
		}
		steps = append(steps, ev["Step"])
	}
	f.fn.mu.Unlock()
	if !slices.Equal(steps, rotationSteps) {
		t.Fatalf("steps %v", steps)
	}
	cur, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("rot")})
	if err != nil || *cur.VersionId != *out.VersionId || !strings.HasPrefix(*cur.SecretString, "rotated-") {
		t.Fatalf("current after rotation: %+v %v", cur, err)
	}
	prev, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("rot"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || *prev.SecretString != "initial" {
		t.Fatalf("previous after rotation: %v", err)
	}
	d, _ := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("rot")})
	if !*d.RotationEnabled || d.LastRotatedDate == nil || *d.RotationLambdaARN != fn || d.NextRotationDate == nil {
		t.Fatalf("describe after rotation: %+v", d)
	}
	// Exactly one version is AWSCURRENT.
	n := 0
	for _, st := range d.VersionIdsToStages {
		if slices.Contains(st, "AWSCURRENT") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d versions AWSCURRENT", n)
	}
}

func TestListFiltersBatchPasswordPolicyTags(t *testing.T) {
	f := setup(t)
	c, ctx := f.c, t.Context()
	for i, n := range []string{"app/a", "app/b", "other/c"} {
		f.clk.add(time.Second)
		_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(n), SecretString: aws.String("v" + n),
			Tags: []types.Tag{{Key: aws.String("idx"), Value: aws.String(string(rune('0' + i)))}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var token *string
	for {
		out, err := c.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: aws.Int32(1), NextToken: token,
			Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"app/"}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.SecretList {
			names = append(names, *s.Name)
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	if !slices.Equal(names, []string{"app/a", "app/b"}) {
		t.Fatalf("filtered pages %v", names)
	}
	neg, _ := c.ListSecrets(ctx, &sm.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"!app/"}}}})
	if len(neg.SecretList) != 1 || *neg.SecretList[0].Name != "other/c" {
		t.Fatalf("negated filter %+v", neg.SecretList)
	}
	b, err := c.BatchGetSecretValue(ctx, &sm.BatchGetSecretValueInput{SecretIdList: []string{"app/a", "missing", "other/c"}})
	if err != nil || len(b.SecretValues) != 2 || len(b.Errors) != 1 || *b.Errors[0].ErrorCode != "ResourceNotFoundException" {
		t.Fatalf("batch %+v %v", b, err)
	}
	p, err := c.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{PasswordLength: aws.Int64(40), ExcludePunctuation: aws.Bool(true)})
	if err != nil || len(*p.RandomPassword) != 40 || strings.ContainsAny(*p.RandomPassword, punctuation) {
		t.Fatalf("password %v %v", p, err)
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"secretsmanager:DeleteSecret","Resource":"*"}]}`
	if _, err := c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("app/a"), ResourcePolicy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if g, err := c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("app/a")}); err != nil || *g.ResourcePolicy != pol {
		t.Fatalf("policy %v", err)
	}
	if _, err := c.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String("app/a"), TagKeys: []string{"idx"}}); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/a")}); len(d.Tags) != 0 {
		t.Fatalf("tags %+v", d.Tags)
	}
	_, err = c.ReplicateSecretToRegions(ctx, &sm.ReplicateSecretToRegionsInput{SecretId: aws.String("app/a"),
		AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("eu-west-1")}}})
	wantCode(t, err, "UnknownOperationException")
}

// TestAttacks: path-traversal names are refused; a customer key that is
// disabled makes the secret unreadable; no plaintext reaches the data
// directory's files; a value moved under another secret does not open.
func TestAttacks(t *testing.T) {
	f := setup(t)
	c, ctx := f.c, t.Context()
	for _, n := range []string{"../etc/passwd", "a/../../b", "./x", "a/./b", "a/.."} {
		_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(n), SecretString: aws.String("x")})
		wantCode(t, err, "InvalidParameterException")
	}
	_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("bad name"), SecretString: aws.String("x")})
	wantCode(t, err, "ValidationException")

	secret := "plaintext-" + newToken()
	a, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("a"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("b"), SecretString: aws.String("other")})
	if err != nil {
		t.Fatal(err)
	}
	// Copy a's sealed value over b's: it must not open as b.
	sa, _, _ := f.svc.get(ctx, "a")
	sb, _, _ := f.svc.get(ctx, "b")
	ea, err := f.st.Get(ctx, valueKey(sa.ID, *a.VersionId))
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := f.st.Get(ctx, valueKey(sb.ID, *b.VersionId))
	if _, err := f.st.Update(ctx, valueKey(sb.ID, *b.VersionId), ea.Value, eb.Revision); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("b")})
	wantCode(t, err, "DecryptionFailure")
	if strings.Contains(err.Error(), secret) {
		t.Fatal("the error carries the plaintext")
	}
	// No file under the data directory holds the plaintext.
	err = filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p) //nolint:gosec // G122: a test's own temp dir
		if err != nil {
			return nil //nolint:nilerr // a file the server is replacing
		}
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%s holds the secret in plain text", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
