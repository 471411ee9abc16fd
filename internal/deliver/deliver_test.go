package deliver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRouter(t *testing.T) {
	r := NewRouter()
	var got []string
	r.Handle("sqs", Func(func(_ context.Context, d *Delivery) error {
		got = append(got, d.TargetArn)
		return nil
	}))
	if err := r.Deliver(t.Context(), &Delivery{TargetArn: "arn:aws:sqs:us-east-1:000000000000:q"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("delivered %v", got)
	}
	err := r.Deliver(t.Context(), &Delivery{TargetArn: "arn:aws:states:us-east-1:000000000000:stateMachine:m"})
	if !errors.Is(err, ErrUndeliverable) || !strings.Contains(err.Error(), "AWS Step Functions") {
		t.Fatalf("unserved service: %v", err)
	}
	for arn, ok := range map[string]bool{
		"arn:aws:sqs:us-east-1:000000000000:q":                 true,
		"arn:aws:sqs:us-east-1:000000000000:q/x":               false,
		"arn:aws:sqs:us-east-1:000000000000:":                  false,
		"arn:aws:lambda:us-east-1:000000000000:function:f":     false, // not registered
		"arn:aws:sns:us-east-1:000000000000:t":                 false,
		"nope":                                                 false,
		"arn:aws:states:us-east-1:000000000000:stateMachine:m": false,
	} {
		if err := r.Check(arn); (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want ok=%v", arn, err, ok)
		}
	}
	r.Handle("lambda", Func(func(context.Context, *Delivery) error { return nil }))
	if err := r.Check("arn:aws:lambda:us-east-1:000000000000:function:f:live"); err != nil {
		t.Error(err)
	}
	if err := r.Check("arn:aws:lambda:us-east-1:000000000000:layer:f"); err == nil {
		t.Error("a layer ARN passed as a function")
	}
}

func TestRetry(t *testing.T) {
	n := 0
	flaky := Func(func(context.Context, *Delivery) error {
		n++
		if n < 3 {
			return errors.New("busy")
		}
		return nil
	})
	p := Policy{Attempts: 5, Backoff: func(int) time.Duration { return 0 }}
	if err := Retry(t.Context(), flaky, &Delivery{}, p); err != nil || n != 3 {
		t.Fatalf("Retry = %v after %d attempts, want success on the 3rd", err, n)
	}
	n = 0
	never := Func(func(context.Context, *Delivery) error { n++; return Undeliverable("gone") })
	if err := Retry(t.Context(), never, &Delivery{}, p); !errors.Is(err, ErrUndeliverable) || n != 1 {
		t.Fatalf("undeliverable retried: %v after %d", err, n)
	}
	n = 0
	busy := Func(func(context.Context, *Delivery) error { n++; return errors.New("busy") })
	if err := Retry(t.Context(), busy, &Delivery{}, p); err == nil || n != 5 {
		t.Fatalf("Retry = %v after %d attempts, want failure after 5", err, n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	n = 0
	if err := Retry(ctx, busy, &Delivery{}, Policy{Attempts: 5, Backoff: func(int) time.Duration { return time.Hour }}); !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("cancelled Retry = %v after %d", err, n)
	}
}

// FuzzParse: target ARNs come from clients.
func FuzzParse(f *testing.F) {
	f.Add("arn:aws:sqs:us-east-1:000000000000:q")
	f.Add("arn:aws:lambda:us-east-1:000000000000:function:f:1")
	f.Add("arn::::::")
	f.Fuzz(func(t *testing.T, arn string) {
		a, ok := Parse(arn)
		if ok && "arn:"+a.Partition+":"+a.Service+":"+a.Region+":"+a.Account+":"+a.Resource != arn {
			t.Fatalf("Parse(%q) = %+v does not rebuild the ARN", arn, a)
		}
		if name, _, ok := FunctionName(arn); ok && (name == "" || strings.Contains(name, ":")) {
			t.Fatalf("FunctionName(%q) = %q", arn, name)
		}
		_ = NewRouter().Check(arn)
	})
}

// TestRouterGuard: a delivery with a Source reaches its target only when
// the guard lets it; one without a Source is not asked about.
func TestRouterGuard(t *testing.T) {
	r := NewRouter()
	var got []string
	r.Handle("lambda", Func(func(_ context.Context, d *Delivery) error {
		got = append(got, string(d.Body))
		return nil
	}))
	var asked []string
	r.Guard(func(_ context.Context, d *Delivery) error {
		asked = append(asked, d.Source.Arn)
		if d.Source.Arn != "arn:aws:s3:::allowed" {
			return Undeliverable("denied")
		}
		return nil
	})
	fn := "arn:aws:lambda:us-east-1:000000000000:function:f"
	if err := r.Deliver(t.Context(), &Delivery{TargetArn: fn, Body: []byte("ok"), Source: &Source{Service: "s3.amazonaws.com", Arn: "arn:aws:s3:::allowed"}}); err != nil {
		t.Fatal(err)
	}
	err := r.Deliver(t.Context(), &Delivery{TargetArn: fn, Body: []byte("evil"), Source: &Source{Service: "s3.amazonaws.com", Arn: "arn:aws:s3:::other"}})
	if !errors.Is(err, ErrUndeliverable) {
		t.Errorf("refused delivery: %v", err)
	}
	if err := r.Deliver(t.Context(), &Delivery{TargetArn: fn, Body: []byte("internal")}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "ok,internal" || len(asked) != 2 {
		t.Errorf("delivered %v, guard asked about %v", got, asked)
	}
}

// TestRouterAuthorize: a service that hands a delivery over another way
// (Scheduler putting on a bus) asks the guard through Authorize.
func TestRouterAuthorize(t *testing.T) {
	r := NewRouter()
	d := &Delivery{TargetArn: "arn:aws:events:us-east-1:000000000000:event-bus/default", Source: &Source{RoleArn: "arn:aws:iam::000000000000:role/r"}}
	if err := r.Authorize(context.Background(), d); err != nil {
		t.Fatalf("no guard: %v", err)
	}
	r.Guard(func(context.Context, *Delivery) error { return Undeliverable("denied") })
	if err := r.Authorize(context.Background(), d); !errors.Is(err, ErrUndeliverable) {
		t.Fatalf("guarded: %v", err)
	}
	if err := r.Authorize(context.Background(), &Delivery{TargetArn: d.TargetArn}); err != nil {
		t.Fatalf("no source: %v", err)
	}
	var none *Router
	if err := none.Authorize(context.Background(), d); err != nil {
		t.Fatalf("nil router: %v", err)
	}
}
