package daemon

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/iam"
	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// Event source pollers read as the function's execution role
// (docs/design/access-control.md): Lambda's poller calls the source's API
// with the function's role, so the role (with the queue's policy) must
// allow what the poller calls. A mapping whose role does not is refused
// at CreateEventSourceMapping/UpdateEventSourceMapping with AWS's message,
// and a poller whose role loses the permission reads nothing until it
// has it again (LastProcessingResult says why).

// pollerActions are the actions Lambda's poller calls on a source, and
// AWS's message when the role lacks one ("%s" is the source's ARN, or the
// action for SQS).
func pollerActions(sourceArn string) (actions []string, msg func(action string) string) {
	switch deliver.Service(sourceArn) {
	case "sqs":
		return []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}, func(action string) string {
			return "The provided execution role does not have permissions to call " + strings.TrimPrefix(action, "sqs:") + " on SQS"
		}
	case "dynamodb":
		return []string{"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"},
			func(string) string {
				return "Cannot access stream " + sourceArn + ". Please ensure the role can perform the GetRecords, GetShardIterator, " +
					"DescribeStream, and ListStreams Actions on your stream in IAM."
			}
	case "kinesis":
		return []string{"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"},
			func(string) string {
				return "Cannot access stream " + sourceArn + ". Please ensure the role can perform the GetRecords, GetShardIterator, " +
					"DescribeStream, and ListShards Actions on your stream in IAM."
			}
	}
	return nil, nil
}

// roleSession is the caller a service acting as role is, with session
// name session: arn:aws:sts::<account>:assumed-role/<role>/<session>.
func (d *Daemon) roleSession(roleArn, session string) iam.Caller {
	role := roleArn[strings.LastIndexByte(roleArn, '/')+1:]
	return iam.Caller{ARN: "arn:aws:sts::" + d.cfg.AccountID + ":assumed-role/" + role + "/" + session, RoleArn: roleArn}
}

// roleMay decides whether role (acting through session) may perform
// action on resource, with the resource's own policy; "" if it may, else
// AWS's denial message.
func (d *Daemon) roleMay(ctx context.Context, roleArn, session, action, resource string) string {
	req := &policy.Request{Action: action, Resource: resource}
	now := time.Now().UTC()
	req.Set("aws:CurrentTime", now.Format(time.RFC3339))
	req.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	req.Resolve = d.iam.TagResolver(ctx, iam.TagSource{Resource: resource}) // the source's tags, if a policy asks
	prefix, _, _ := strings.Cut(action, ":")
	res, err := d.iam.ResourcePolicy(ctx, prefix, resource)
	if err != nil {
		d.log.Warn("iam: read resource policy", "resource", resource, "err", err)
	}
	c := d.roleSession(roleArn, session)
	if dec := d.iam.Authorize(c, req, res); !dec.Allowed {
		return dec.Message(c.ARN, action, resource)
	}
	return ""
}

// pollerAccess is esm.Options.Authorize: nil when the execution role of
// functionArn may read sourceArn as Lambda's poller does, else AWS's
// message (under --iam audit the denial is logged and allowed).
func (d *Daemon) pollerAccess(ctx context.Context, functionArn, sourceArn string) error {
	mode := d.cfg.IAMMode()
	if d.iam == nil || mode == config.IAMOff || d.cfg.InsecureNoAuth {
		return nil
	}
	actions, msg := pollerActions(sourceArn)
	name, q, ok := deliver.FunctionName(functionArn)
	if !ok || actions == nil {
		return nil
	}
	fn, err := d.reg.Resolve(ctx, name, q)
	if err != nil {
		return nil // the function is gone or unreadable: the invoke reports it
	}
	for _, a := range actions {
		res := sourceArn
		if a == "dynamodb:ListStreams" {
			res = "*" // ListStreams has no resource type
		}
		denied := d.roleMay(ctx, fn.Role, name, a, res)
		if denied == "" {
			continue
		}
		if mode == config.IAMAudit {
			d.log.Warn("iam audit: would deny", "principal", fn.Role, "action", a, "resource", res, "reason", denied)
			return nil
		}
		return errors.New(msg(a))
	}
	return nil
}

// pipeAccess is pipes.Options.Authorize: nil when a pipe's role trusts
// pipes.amazonaws.com and may read sourceArn as the pipe's poller does
// (the actions Lambda's pollers need), else why not (under --iam audit
// the denial is logged and allowed).
func (d *Daemon) pipeAccess(ctx context.Context, roleArn, sourceArn string) error {
	mode := d.cfg.IAMMode()
	if d.iam == nil || mode == config.IAMOff || d.cfg.InsecureNoAuth {
		return nil
	}
	denied := ""
	action, res := "sts:AssumeRole", roleArn
	if !d.iam.CanAssume(roleArn, "pipes.amazonaws.com") {
		denied = "pipes.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: " + roleArn +
			" (the role does not exist or its trust policy does not name the service)"
	} else {
		actions, _ := pollerActions(sourceArn)
		for _, a := range actions {
			action, res = a, sourceArn
			if a == "dynamodb:ListStreams" {
				res = "*"
			}
			if denied = d.roleMay(ctx, roleArn, "pipes", a, res); denied != "" {
				break
			}
		}
	}
	if denied == "" {
		return nil
	}
	if mode == config.IAMAudit {
		d.log.Warn("iam audit: would deny", "principal", roleArn, "action", action, "resource", res, "reason", denied)
		return nil
	}
	return errors.New(denied)
}
