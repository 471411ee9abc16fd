package secretsmanager

import (
	"bytes"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/nimbus-serverless/nimbus/internal/kms"
)

// TestScheduledRotation: a rotation schedule's next time is stored with
// the secret, so a service started afresh over the same backbone (a
// restart, or another node) rotates the secret when its clock passes
// that time, and not before; the rotation runs once although two
// services look for due secrets; the next time moves forward.
func TestScheduledRotation(t *testing.T) {
	f := setup(t)
	c, ctx := f.c, t.Context()
	cr, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("sched"), SecretString: aws.String("initial")})
	if err != nil {
		t.Fatal(err)
	}
	fn := "arn:aws:lambda:us-east-1:123456789012:function:rotator"
	start := f.clk.now()
	if _, err := c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: cr.ARN, RotationLambdaARN: aws.String(fn),
		RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(2)}, RotateImmediately: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: cr.ARN})
	if err != nil || d.NextRotationDate == nil || d.NextRotationDate.Unix() != start.Add(48*time.Hour).Unix() {
		t.Fatalf("NextRotationDate %v (want %v) %v", d.NextRotationDate, start.Add(48*time.Hour), err)
	}
	if n, err := f.svc.RotateDue(ctx); n != 0 || err != nil {
		t.Fatalf("RotateDue at once = %d %v", n, err)
	}
	f.clk.add(47 * time.Hour)
	if n, err := f.svc.RotateDue(ctx); n != 0 || err != nil {
		t.Fatalf("RotateDue after 47 h = %d %v", n, err)
	}

	// "Restart": a new service over the same backbone, with the same
	// clock, finds the schedule where the old one left it.
	f.svc.Close()
	keys, err := kms.New(ctx, kms.Options{Store: f.st, MasterKey: bytes.Repeat([]byte{3}, kms.MasterKeySize),
		Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(Options{Store: f.st, Keys: keys, Functions: f.fn, Region: "us-east-1", AccountID: "123456789012", Now: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	second, err := New(Options{Store: f.st, Keys: keys, Functions: f.fn, Region: "us-east-1", AccountID: "123456789012", Now: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	f.clk.add(2 * time.Hour)
	n1, err1 := other.RotateDue(ctx)
	n2, err2 := second.RotateDue(ctx)
	if n1+n2 != 1 || err1 != nil || err2 != nil {
		t.Fatalf("RotateDue after 49 h = %d, %d (%v, %v); want one rotation", n1, n2, err1, err2)
	}
	select {
	case <-f.fn.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the scheduled rotation never reached finishSecret")
	}
	other.Close()
	second.Close()
	cur, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: cr.ARN})
	if err != nil || !bytes.HasPrefix([]byte(aws.ToString(cur.SecretString)), []byte("rotated-")) {
		t.Fatalf("current after the scheduled rotation: %+v %v", cur, err)
	}
	d, err = c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: cr.ARN})
	if err != nil || d.LastRotatedDate == nil || d.NextRotationDate == nil ||
		d.NextRotationDate.Unix() != f.clk.now().Add(48*time.Hour).Unix() {
		t.Fatalf("after the scheduled rotation: last %v next %v (now %v) %v", d.LastRotatedDate, d.NextRotationDate, f.clk.now(), err)
	}
	if n := len(f.fn.events); n != 4 {
		t.Fatalf("%d rotation steps invoked, want 4", n)
	}

	// Schedule expressions: rates of days or 4..24 hours, crons.
	for expr, ok := range map[string]bool{"rate(10 days)": true, "rate(4 hours)": true, "cron(0 16 1,15 * ? *)": true,
		"rate(1 hour)": false, "rate(30 minutes)": false, "rate(25 hours)": false, "cron(bad)": false, "every day": false} {
		_, err := c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: cr.ARN, RotateImmediately: aws.Bool(false),
			RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String(expr)}})
		if ok && err != nil {
			t.Errorf("%s: %v", expr, err)
		} else if !ok {
			wantCode(t, err, "InvalidParameterException")
		}
	}
	_, err = c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: cr.ARN, RotateImmediately: aws.Bool(false),
		RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)"), Duration: aws.String("25h")}})
	wantCode(t, err, "InvalidParameterException")
	if d, _ := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: cr.ARN}); d.NextRotationDate == nil ||
		!d.NextRotationDate.After(f.clk.now()) {
		t.Fatalf("cron NextRotationDate %v", d.NextRotationDate)
	}
	if _, err := c.CancelRotateSecret(ctx, &sm.CancelRotateSecretInput{SecretId: cr.ARN}); err != nil {
		t.Fatal(err)
	}
	f.clk.add(400 * 24 * time.Hour)
	keys2, _ := kms.New(ctx, kms.Options{Store: f.st, MasterKey: bytes.Repeat([]byte{3}, kms.MasterKeySize), Region: "us-east-1", AccountID: "123456789012"})
	third, err := New(Options{Store: f.st, Keys: keys2, Functions: f.fn, Region: "us-east-1", AccountID: "123456789012", Now: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(third.Close)
	if n, err := third.RotateDue(ctx); n != 0 || err != nil {
		t.Fatalf("RotateDue after CancelRotateSecret = %d %v", n, err)
	}
}

// FuzzRotationRules: rotation rules from a request never panic the
// validation or the next-time computation, and accepted rules give a time
// after the one they start from (or none).
func FuzzRotationRules(f *testing.F) {
	for _, s := range []string{"rate(10 days)", "rate(4 hours)", "cron(0 16 1,15 * ? *)", "cron(0 0 ? * MON#1 *)", "rate(0 days)",
		"cron(* * * * * 1970)", "24h", "1h", "0h", "+3h"} {
		f.Add(s, int64(0))
	}
	f.Add("", int64(30))
	from := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string, days int64) {
		for _, r := range []*RotationRules{
			{ScheduleExpression: &expr},
			{ScheduleExpression: aws.String("rate(5 days)"), Duration: &expr},
			{AutomaticallyAfterDays: &days},
		} {
			if checkRules(r) != nil {
				continue
			}
			if next := nextRotation(r, from); !next.IsZero() && !next.After(from) {
				t.Fatalf("%+v: next %v is not after %v", r, next, from)
			}
		}
	})
}
