package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/fakeclock"
)

// TestSchedulerWithCLIAndBoto3: on a real node, the AWS CLI creates a
// schedule whose target is a function and boto3 one whose target is the
// default event bus (a rule there sends the event on to the function);
// when the node's clock reaches their due times the function receives
// the schedule's input, and the event with the input as its detail.
func TestSchedulerWithCLIAndBoto3(t *testing.T) {
	needTool(t, "aws", "--version")
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the host's python3 must have boto3 in CI: %v", err)
		}
		t.Skip("the host's python3 has no boto3")
	}
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := fakeclock.New(t0)
	n := startNodeHooked(t, t.TempDir(), func(c *config.Config) { c.AsyncDelayScale = 0.01 }, hooks{clock: clock})
	s := newSink(t, n)
	dest := destination(t, n, s)
	ctx := t.Context()
	// The schedule's role may invoke the function; the rule on the bus
	// may too (the function's resource policy). The role may put events
	// on the default bus, where the to-bus schedule puts as it.
	createServiceRole(t, n, "scheduler", "scheduler.amazonaws.com", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"`+dest+`"},
	  {"Effect":"Allow","Action":"events:PutEvents","Resource":"arn:aws:events:`+n.d.cfg.Region+`:`+n.d.cfg.AccountID+`:event-bus/default"}]}`)

	cmd := exec.Command("aws", "--endpoint-url", n.endpoint(), "--output", "json", "scheduler", "create-schedule",
		"--name", "tick", "--schedule-expression", "rate(5 minutes)", "--flexible-time-window", "Mode=OFF",
		"--target", `{"Arn": "`+dest+`", "RoleArn": "arn:aws:iam::000000000000:role/scheduler", "Input": "{\"from\": \"scheduler\"}"}`)
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"ScheduleArn": "arn:aws:scheduler:`+n.d.cfg.Region+`:`+n.d.cfg.AccountID+`:schedule/default/tick"`) {
		t.Fatalf("aws scheduler create-schedule: %v\n%s", err, out)
	}
	cmd = exec.Command("aws", "--endpoint-url", n.endpoint(), "--output", "json", "scheduler", "create-schedule",
		"--name", "bad", "--schedule-expression", "cron(0 0 30 2 ? *)", "--flexible-time-window", "Mode=OFF",
		"--target", `{"Arn": "`+dest+`", "RoleArn": "arn:aws:iam::000000000000:role/scheduler"}`)
	cmd.Env = n.toolEnv()
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "ValidationException") {
		t.Errorf("a cron that never fires: %v\n%s", err, out)
	}

	eb := eventbridge.NewFromConfig(n.awsConfig())
	rule, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("from-scheduler"),
		EventPattern: aws.String(`{"source": ["nimbus.test"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	permit(t, n, "dest", "events.amazonaws.com", aws.ToString(rule.RuleArn))
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("from-scheduler"),
		Targets: []ebtypes.Target{{Id: aws.String("dest"), Arn: aws.String(dest)}}}); err != nil {
		t.Fatal(err)
	}
	creds := n.creds()
	script := `
import boto3, json, sys
sc = boto3.client("scheduler", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
sc.create_schedule_group(Name="team")
sc.create_schedule(Name="to-bus", GroupName="team", ScheduleExpression="at(2026-06-01T14:10:00)",
    ScheduleExpressionTimezone="Europe/Paris", FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
    Target={"Arn": sys.argv[4], "RoleArn": "arn:aws:iam::000000000000:role/scheduler", "Input": json.dumps({"k": 1}),
            "EventBridgeParameters": {"Source": "nimbus.test", "DetailType": "Tick"}})
got = sc.get_schedule(Name="to-bus", GroupName="team")
try:
    sc.get_schedule(Name="nope")
    missing = "found"
except sc.exceptions.ResourceNotFoundException:
    missing = "ResourceNotFoundException"
print(json.dumps({"arn": got["Arn"], "tz": got["ScheduleExpressionTimezone"], "missing": missing,
    "names": sorted(s["Name"] for s in sc.list_schedules()["Schedules"]),
    "groups": sorted(g["Name"] for g in sc.list_schedule_groups()["ScheduleGroups"])}))
`
	py := exec.Command("python3", "-c", script, n.endpoint(), creds.AccessKeyID, creds.SecretAccessKey,
		"arn:aws:events:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":event-bus/default")
	py.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	b, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, b)
	}
	var got struct {
		Arn, Tz, Missing string
		Names, Groups    []string
	}
	if err := json.Unmarshal(b, &got); err != nil || got.Tz != "Europe/Paris" || got.Missing != "ResourceNotFoundException" ||
		strings.Join(got.Names, ",") != "tick,to-bus" || strings.Join(got.Groups, ",") != "default,team" {
		t.Fatalf("boto3 saw %s (%v)", b, err)
	}

	clock.WaitFor(t, 1, clock.Now().Add(5*time.Minute))
	clock.Advance(5 * time.Minute)
	if rec := s.next(t); !jsonEqual(rec, `{"from": "scheduler"}`) {
		t.Errorf("the function received %s from the schedule", rec)
	}
	if st := n.d.sched.Stats(); st.Fired < 1 || st.Invocations < 1 {
		t.Errorf("scheduler stats %+v", st)
	}
	if n.d.metrics != nil {
		resp, err := http.Get(n.endpoint() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(b), "nimbus_scheduler_invocations_total") {
			t.Errorf("/metrics lacks the Scheduler counters")
		}
	}
	// 14:10 in Paris (summer time) is 12:10 UTC.
	clock.WaitFor(t, 1, clock.Now().Add(5*time.Minute))
	clock.Advance(5 * time.Minute)
	for range 3 {
		rec := s.next(t)
		var ev struct {
			Source    string          `json:"source"`
			Detail    json.RawMessage `json:"detail"`
			Resources []string        `json:"resources"`
		}
		if json.Unmarshal(rec, &ev) == nil && ev.Source == "nimbus.test" {
			if !jsonEqual(ev.Detail, `{"k": 1}`) || len(ev.Resources) != 1 || !strings.HasSuffix(ev.Resources[0], ":schedule/team/to-bus") {
				t.Errorf("the bus target's event %s", rec)
			}
			return
		}
	}
	t.Error("the event-bus target's event never reached the rule's function")
}
