package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcSQS = "Sqs"

func addQueues(c *clients, ps map[string]stack.Provider) {
	ps["AWS::SQS::Queue"] = &queueProvider{c}
	ps["AWS::SQS::QueuePolicy"] = &queuePolicyProvider{c}
}

// --- AWS::SQS::Queue ------------------------------------------------------

// queueProps are AWS::SQS::Queue's properties.
type queueProps struct {
	QueueName                     *string
	FifoQueue                     *bool
	ContentBasedDeduplication     *bool
	DeduplicationScope            *string
	FifoThroughputLimit           *string
	DelaySeconds                  *int64
	MaximumMessageSize            *int64
	MessageRetentionPeriod        *int64
	ReceiveMessageWaitTimeSeconds *int64
	VisibilityTimeout             *int64
	RedrivePolicy                 any // an object, or its JSON text
	RedriveAllowPolicy            any
	KmsMasterKeyId                *string //nolint:revive // CloudFormation's name
	KmsDataKeyReusePeriodSeconds  *int64
	SqsManagedSseEnabled          *bool
	Tags                          []tag
}

// jsonText is a policy property as an API takes it: CloudFormation
// accepts the JSON object or its text.
func jsonText(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("encode policy: %w", err)
		}
		return string(b), nil
	}
}

// attributes are qp's queue attributes as SetQueueAttributes takes them.
func (qp *queueProps) attributes() (map[string]string, error) {
	a := map[string]string{}
	num := func(name string, v *int64) {
		if v != nil {
			a[name] = strconv.FormatInt(*v, 10)
		}
	}
	num("DelaySeconds", qp.DelaySeconds)
	num("MaximumMessageSize", qp.MaximumMessageSize)
	num("MessageRetentionPeriod", qp.MessageRetentionPeriod)
	num("ReceiveMessageWaitTimeSeconds", qp.ReceiveMessageWaitTimeSeconds)
	num("VisibilityTimeout", qp.VisibilityTimeout)
	num("KmsDataKeyReusePeriodSeconds", qp.KmsDataKeyReusePeriodSeconds)
	if qp.ContentBasedDeduplication != nil {
		a["ContentBasedDeduplication"] = strconv.FormatBool(*qp.ContentBasedDeduplication)
	}
	if qp.DeduplicationScope != nil {
		a["DeduplicationScope"] = *qp.DeduplicationScope
	}
	if qp.FifoThroughputLimit != nil {
		a["FifoThroughputLimit"] = *qp.FifoThroughputLimit
	}
	if qp.KmsMasterKeyId != nil {
		a["KmsMasterKeyId"] = *qp.KmsMasterKeyId
	}
	if qp.SqsManagedSseEnabled != nil && *qp.SqsManagedSseEnabled {
		a["SqsManagedSseEnabled"] = "true"
	}
	for name, v := range map[string]any{"RedrivePolicy": qp.RedrivePolicy, "RedriveAllowPolicy": qp.RedriveAllowPolicy} {
		s, err := jsonText(v)
		if err != nil {
			return nil, err
		}
		if s != "" {
			a[name] = s
		}
	}
	return a, nil
}

type queueProvider struct{ c *clients }

func (p *queueProvider) region(r *stack.Request) (string, string) {
	region, acct := r.Region, r.AccountID
	if region == "" {
		region = p.c.opts.Region
	}
	if acct == "" {
		acct = p.c.opts.AccountID
	}
	return region, acct
}

func (p *queueProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var qp queueProps
	if err := props(r, &qp); err != nil {
		return nil, err
	}
	fifo := qp.FifoQueue != nil && *qp.FifoQueue
	name := derefOr(qp.QueueName, "")
	if name == "" {
		if fifo {
			name = physicalName(r.StackName, r.LogicalID, 75) + ".fifo"
		} else {
			name = physicalName(r.StackName, r.LogicalID, 80)
		}
	}
	attrs, err := qp.attributes()
	if err != nil {
		return nil, err
	}
	if fifo {
		attrs["FifoQueue"] = "true"
	}
	out, err := p.c.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs, Tags: tagMap(qp.Tags)})
	if err != nil {
		return nil, apiError(svcSQS, err)
	}
	return p.result(r, aws.ToString(out.QueueUrl), name), nil
}

func (p *queueProvider) result(r *stack.Request, url, name string) *stack.Result {
	region, acct := p.region(r)
	return &stack.Result{PhysicalID: url, Attrs: map[string]any{
		"Arn": "arn:aws:sqs:" + region + ":" + acct + ":" + name, "QueueName": name, "QueueUrl": url,
	}}
}

func (p *queueProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var qp queueProps
	if err := props(r, &qp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "QueueName", "FifoQueue") {
		return nil, replace(r.LogicalID, "QueueName or FifoQueue")
	}
	url := prev.PhysicalID
	name := url[strings.LastIndexByte(url, '/')+1:]
	attrs, err := qp.attributes()
	if err != nil {
		return nil, err
	}
	// Attributes no longer given return to SQS's defaults.
	defaults := map[string]string{"DelaySeconds": "0", "MaximumMessageSize": "1048576", "MessageRetentionPeriod": "345600",
		"ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "RedrivePolicy": "", "RedriveAllowPolicy": ""}
	for k, v := range defaults {
		if _, ok := attrs[k]; !ok && ch[k] {
			attrs[k] = v
		}
	}
	if len(attrs) > 0 {
		if _, err := p.c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: attrs}); err != nil {
			return nil, apiError(svcSQS, err)
		}
	}
	if ch["Tags"] {
		var old queueProps
		_ = propsOf(r.LogicalID, prev.Properties, &old)
		var gone []string
		for k := range tagMap(old.Tags) {
			if _, ok := tagMap(qp.Tags)[k]; !ok {
				gone = append(gone, k)
			}
		}
		if len(gone) > 0 {
			if _, err := p.c.sqs.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: &url, TagKeys: gone}); err != nil {
				return nil, apiError(svcSQS, err)
			}
		}
		if len(qp.Tags) > 0 {
			if _, err := p.c.sqs.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: &url, Tags: tagMap(qp.Tags)}); err != nil {
				return nil, apiError(svcSQS, err)
			}
		}
	}
	return p.result(r, url, name), nil
}

func (p *queueProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &cur.PhysicalID})
	return ignoreNotFound(svcSQS, err)
}

// --- AWS::SQS::QueuePolicy ------------------------------------------------

type queuePolicyProps struct {
	PolicyDocument any
	Queues         []string
}

type queuePolicyProvider struct{ c *clients }

func (p *queuePolicyProvider) apply(ctx context.Context, r *stack.Request) (*queuePolicyProps, error) {
	if err := requireProps(r.LogicalID, r.Properties, "PolicyDocument", "Queues"); err != nil {
		return nil, err
	}
	var pp queuePolicyProps
	if err := props(r, &pp); err != nil {
		return nil, err
	}
	doc, err := jsonText(pp.PolicyDocument)
	if err != nil {
		return nil, err
	}
	for _, url := range pp.Queues {
		if _, err := p.c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
			Attributes: map[string]string{"Policy": doc}}); err != nil {
			return nil, apiError(svcSQS, err)
		}
	}
	return &pp, nil
}

func (p *queuePolicyProvider) clear(ctx context.Context, queues []string) error {
	for _, url := range queues {
		_, err := p.c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
			Attributes: map[string]string{"Policy": ""}})
		if err := ignoreNotFound(svcSQS, err); err != nil {
			return err
		}
	}
	return nil
}

func (p *queuePolicyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	if _, err := p.apply(ctx, r); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: physicalName(r.StackName, r.LogicalID, 128)}, nil
}

func (p *queuePolicyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	pp, err := p.apply(ctx, r)
	if err != nil {
		return nil, err
	}
	var old queuePolicyProps
	_ = propsOf(r.LogicalID, prev.Properties, &old)
	var gone []string
	for _, q := range old.Queues {
		keep := false
		for _, n := range pp.Queues {
			keep = keep || n == q
		}
		if !keep {
			gone = append(gone, q)
		}
	}
	if err := p.clear(ctx, gone); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *queuePolicyProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	var pp queuePolicyProps
	_ = propsOf(r.LogicalID, cur.Properties, &pp)
	return p.clear(ctx, pp.Queues)
}
