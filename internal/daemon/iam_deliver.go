package daemon

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/iam"
	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// Service principals and service roles (docs/design/access-control.md):
// a delivery a service hands over on its own behalf carries a
// deliver.Source, and the node's delivery router asks deliveryGuard
// before the target gets it.
//
//   - A service acting for one of its resources (S3 for a bucket, SNS for
//     a topic, EventBridge for a rule) invoking a function, sending to a
//     queue or publishing to a topic is judged by the target's resource
//     policy alone (AddPermission, AWS::Lambda::Permission; the queue's
//     or topic's Policy), with Principal.Service, aws:SourceArn and
//     aws:SourceAccount, as Lambda, SQS and SNS do.
//   - A service acting as a role (a schedule's RoleArn, an EventBridge
//     target's RoleArn, a function's execution role for its async
//     destinations and dead-letter queue) is judged by the role's policies for the target's
//     action (lambda:InvokeFunction, sqs:SendMessage, sns:Publish,
//     states:StartExecution, events:PutEvents), with the target's resource
//     policy.
//
// A denial is undeliverable (it cannot pass until a policy changes): the
// service drops or dead-letters it as it does any undeliverable event.

// targetAction is the IAM action a service needs to hand a payload to arn.
func targetAction(arn string) string {
	switch deliver.Service(arn) {
	case "lambda":
		return "lambda:InvokeFunction"
	case "sqs":
		return "sqs:SendMessage"
	case "sns":
		return "sns:Publish"
	case "states":
		return "states:StartExecution"
	case "events":
		return "events:PutEvents"
	case "kinesis":
		return "kinesis:PutRecord"
	}
	return ""
}

// deliveryGuard decides a delivery with a Source (deliver.Router.Guard).
func (d *Daemon) deliveryGuard(ctx context.Context, del *deliver.Delivery) error {
	src := del.Source
	action := targetAction(del.TargetArn)
	if d.iam == nil || action == "" {
		return nil
	}
	mode := d.cfg.IAMMode()
	if mode == config.IAMOff {
		return nil
	}
	req := &policy.Request{Action: action, Resource: del.TargetArn}
	now := time.Now().UTC()
	req.Set("aws:CurrentTime", now.Format(time.RFC3339))
	req.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	req.Resolve = d.iam.TagResolver(ctx, iam.TagSource{Resource: del.TargetArn}) // the target's tags, if a policy asks
	prefix, _, _ := strings.Cut(action, ":")
	res, err := d.iam.ResourcePolicy(ctx, prefix, del.TargetArn)
	if err != nil {
		d.log.Warn("iam: read resource policy", "resource", del.TargetArn, "err", err)
	}
	var dec policy.Decision
	var principal string
	switch {
	case src.RoleArn != "":
		role := src.RoleArn[strings.LastIndexByte(src.RoleArn, '/')+1:]
		session := strings.TrimSuffix(src.Service, ".amazonaws.com")
		if fn, _, ok := deliver.FunctionName(src.Arn); ok && src.Service == "lambda.amazonaws.com" {
			session = fn // a function's session is named after it
		}
		if session == "" {
			session = "nimbus"
		}
		principal = "arn:aws:sts::" + d.cfg.AccountID + ":assumed-role/" + role + "/" + session
		if src.Service != "" && !d.iam.CanAssume(src.RoleArn, src.Service) {
			// The service cannot become the role (it does not exist, or
			// its trust policy does not name the service): nothing it
			// would do as the role happens.
			return d.guardDenied(mode, src, src.Service, "sts:AssumeRole", src.RoleArn, src.Service+
				" is not authorized to perform: sts:AssumeRole on resource: "+src.RoleArn+
				" (the role does not exist or its trust policy does not name the service)")
		}
		dec = d.iam.Authorize(iam.Caller{ARN: principal, RoleArn: src.RoleArn}, req, res)
	case src.Service != "" && (deliver.Service(del.TargetArn) == "lambda" || deliver.Service(del.TargetArn) == "sqs" ||
		deliver.Service(del.TargetArn) == "sns"):
		if name, q, ok := deliver.FunctionName(del.TargetArn); ok && !d.functionExists(ctx, name, q) {
			return nil // the target answers that it does not exist
		}
		// A queue or topic, like a function, takes a service's delivery
		// only when its own policy names the service (and, as AWS
		// advises, the source): the queue policy SAM writes for an SNS
		// subscription or an EventBridge target.
		principal = src.Service
		req.Principal = policy.Principal{Service: src.Service}
		if src.Arn != "" {
			req.Set("aws:SourceArn", src.Arn)
		}
		if src.Account != "" {
			req.Set("aws:SourceAccount", src.Account)
		}
		if strings.HasSuffix(src.Service, "cloudwatch.amazonaws.com") && src.Account != "" {
			// SNS's legacy key: the account a service publishes for. Only
			// CloudWatch's alarm actions carry it, so the default topic
			// policy admits the account's own alarms and nothing else.
			req.Set("AWS:SourceOwner", src.Account)
		}
		ps := &policy.Policies{}
		if res != nil {
			ps.Resource = append(ps.Resource, res)
		}
		dec = policy.Evaluate(ps, req)
	default:
		return nil
	}
	if dec.Allowed {
		return nil
	}
	return d.guardDenied(mode, src, principal, action, del.TargetArn, dec.Message(principal, action, del.TargetArn))
}

// guardDenied is a delivery's denial: logged and let through under
// --iam audit, else undeliverable with AWS's message.
func (d *Daemon) guardDenied(mode string, src *deliver.Source, principal, action, resource, msg string) error {
	if mode == config.IAMAudit {
		d.log.Warn("iam audit: would deny", "principal", principal, "action", action, "resource", resource,
			"source", src.Arn, "reason", msg)
		return nil
	}
	d.log.Warn("iam: delivery denied", "principal", principal, "action", action, "resource", resource, "source", src.Arn)
	return deliver.Undeliverable("%s", msg)
}

// functionExists reports whether name (at qualifier) is a function; an
// error reading it counts as existing, so the policy still decides.
func (d *Daemon) functionExists(ctx context.Context, name, qualifier string) bool {
	_, err := d.reg.Resolve(ctx, name, qualifier)
	return !errors.Is(err, errdefs.ErrNotFound)
}
