package resource

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcSNS = "Sns"

func addTopics(c *clients, ps map[string]stack.Provider) {
	ps["AWS::SNS::Topic"] = &topicProvider{c}
	ps["AWS::SNS::Subscription"] = &subscriptionProvider{c}
	ps["AWS::SNS::TopicPolicy"] = &topicPolicyProvider{c}
}

// --- AWS::SNS::Topic ------------------------------------------------------

type topicProps struct {
	TopicName                 *string
	DisplayName               *string
	FifoTopic                 *bool
	ContentBasedDeduplication *bool
	FifoThroughputScope       *string
	KmsMasterKeyId            *string //nolint:revive // CloudFormation's name
	SignatureVersion          *string
	TracingConfig             *string
	DeliveryPolicy            any
	DataProtectionPolicy      any
	ArchivePolicy             any
	Subscription              []struct{ Endpoint, Protocol string }
	Tags                      []tag
}

// attributes are tp's topic attributes as CreateTopic takes them.
func (tp *topicProps) attributes() (map[string]string, error) {
	a := map[string]string{}
	str := func(name string, v *string) {
		if v != nil {
			a[name] = *v
		}
	}
	str("DisplayName", tp.DisplayName)
	str("FifoThroughputScope", tp.FifoThroughputScope)
	str("KmsMasterKeyId", tp.KmsMasterKeyId)
	str("SignatureVersion", tp.SignatureVersion)
	str("TracingConfig", tp.TracingConfig)
	if tp.FifoTopic != nil && *tp.FifoTopic {
		a["FifoTopic"] = "true"
	}
	if tp.ContentBasedDeduplication != nil {
		a["ContentBasedDeduplication"] = strconv.FormatBool(*tp.ContentBasedDeduplication)
	}
	for name, v := range map[string]any{"DeliveryPolicy": tp.DeliveryPolicy, "DataProtectionPolicy": tp.DataProtectionPolicy, "ArchivePolicy": tp.ArchivePolicy} {
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

type topicProvider struct{ c *clients }

func (p *topicProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var tp topicProps
	if err := props(r, &tp); err != nil {
		return nil, err
	}
	name := derefOr(tp.TopicName, "")
	if name == "" {
		if tp.FifoTopic != nil && *tp.FifoTopic {
			name = physicalName(r.StackName, r.LogicalID, 251) + ".fifo"
		} else {
			name = physicalName(r.StackName, r.LogicalID, 256)
		}
	}
	attrs, err := tp.attributes()
	if err != nil {
		return nil, err
	}
	in := &sns.CreateTopicInput{Name: &name, Attributes: attrs}
	for _, t := range tp.Tags {
		in.Tags = append(in.Tags, snstypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	out, err := p.c.sns.CreateTopic(ctx, in)
	if err != nil {
		return nil, apiError(svcSNS, err)
	}
	arn := aws.ToString(out.TopicArn)
	for _, s := range tp.Subscription {
		if _, err := p.c.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &arn, Protocol: aws.String(s.Protocol), Endpoint: aws.String(s.Endpoint)}); err != nil {
			if _, derr := p.c.sns.DeleteTopic(context.WithoutCancel(ctx), &sns.DeleteTopicInput{TopicArn: &arn}); derr != nil {
				p.c.log.Warn("undo topic create", "topic", arn, "err", derr)
			}
			return nil, apiError(svcSNS, err)
		}
	}
	return topicResult(arn), nil
}

func topicResult(arn string) *stack.Result {
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{"TopicArn": arn, "TopicName": arn[strings.LastIndexByte(arn, ':')+1:]}}
}

func (p *topicProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var tp, old topicProps
	if err := props(r, &tp); err != nil {
		return nil, err
	}
	_ = propsOf(r.LogicalID, prev.Properties, &old)
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "TopicName", "FifoTopic") {
		return nil, replace(r.LogicalID, "TopicName or FifoTopic")
	}
	arn := prev.PhysicalID
	attrs, err := tp.attributes()
	if err != nil {
		return nil, err
	}
	oldAttrs, _ := old.attributes()
	for k, v := range attrs {
		if k == "FifoTopic" || oldAttrs[k] == v {
			continue
		}
		if _, err := p.c.sns.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: &arn, AttributeName: aws.String(k), AttributeValue: aws.String(v)}); err != nil {
			return nil, apiError(svcSNS, err)
		}
	}
	if ch["Subscription"] {
		want := map[string]bool{}
		for _, s := range tp.Subscription {
			want[s.Protocol+" "+s.Endpoint] = true
		}
		have := map[string]bool{}
		subs, err := p.c.sns.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: &arn})
		if err != nil {
			return nil, apiError(svcSNS, err)
		}
		for _, s := range subs.Subscriptions {
			key := aws.ToString(s.Protocol) + " " + aws.ToString(s.Endpoint)
			have[key] = true
			if !want[key] && strings.HasPrefix(aws.ToString(s.SubscriptionArn), "arn:") {
				if _, err := p.c.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: s.SubscriptionArn}); ignoreNotFound(svcSNS, err) != nil {
					return nil, apiError(svcSNS, err)
				}
			}
		}
		for _, s := range tp.Subscription {
			if have[s.Protocol+" "+s.Endpoint] {
				continue
			}
			if _, err := p.c.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &arn, Protocol: aws.String(s.Protocol), Endpoint: aws.String(s.Endpoint)}); err != nil {
				return nil, apiError(svcSNS, err)
			}
		}
	}
	if ch["Tags"] {
		var gone []string
		for k := range tagMap(old.Tags) {
			if _, ok := tagMap(tp.Tags)[k]; !ok {
				gone = append(gone, k)
			}
		}
		if len(gone) > 0 {
			if _, err := p.c.sns.UntagResource(ctx, &sns.UntagResourceInput{ResourceArn: &arn, TagKeys: gone}); err != nil {
				return nil, apiError(svcSNS, err)
			}
		}
		if len(tp.Tags) > 0 {
			in := &sns.TagResourceInput{ResourceArn: &arn}
			for _, t := range tp.Tags {
				in.Tags = append(in.Tags, snstypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
			}
			if _, err := p.c.sns.TagResource(ctx, in); err != nil {
				return nil, apiError(svcSNS, err)
			}
		}
	}
	return topicResult(arn), nil
}

func (p *topicProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.sns.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: &cur.PhysicalID})
	return ignoreNotFound(svcSNS, err)
}

// --- AWS::SNS::Subscription -------------------------------------------------

type subscriptionProps struct {
	TopicArn            string
	Protocol            string
	Endpoint            *string
	FilterPolicy        any
	FilterPolicyScope   *string
	RawMessageDelivery  *bool
	RedrivePolicy       any
	DeliveryPolicy      any
	ReplayPolicy        any
	SubscriptionRoleArn *string
	Region              *string
}

func (sp *subscriptionProps) attributes() (map[string]string, error) {
	a := map[string]string{}
	for name, v := range map[string]any{"FilterPolicy": sp.FilterPolicy, "RedrivePolicy": sp.RedrivePolicy,
		"DeliveryPolicy": sp.DeliveryPolicy, "ReplayPolicy": sp.ReplayPolicy} {
		s, err := jsonText(v)
		if err != nil {
			return nil, err
		}
		if s != "" {
			a[name] = s
		}
	}
	if sp.FilterPolicyScope != nil {
		a["FilterPolicyScope"] = *sp.FilterPolicyScope
	}
	if sp.RawMessageDelivery != nil {
		a["RawMessageDelivery"] = strconv.FormatBool(*sp.RawMessageDelivery)
	}
	if sp.SubscriptionRoleArn != nil {
		a["SubscriptionRoleArn"] = *sp.SubscriptionRoleArn
	}
	return a, nil
}

type subscriptionProvider struct{ c *clients }

func (p *subscriptionProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	if err := requireProps(r.LogicalID, r.Properties, "TopicArn", "Protocol"); err != nil {
		return nil, err
	}
	var sp subscriptionProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	attrs, err := sp.attributes()
	if err != nil {
		return nil, err
	}
	out, err := p.c.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &sp.TopicArn, Protocol: &sp.Protocol, Endpoint: sp.Endpoint,
		Attributes: attrs, ReturnSubscriptionArn: true})
	if err != nil {
		return nil, apiError(svcSNS, err)
	}
	arn := aws.ToString(out.SubscriptionArn)
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{"Arn": arn}}, nil
}

func (p *subscriptionProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var sp, old subscriptionProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	_ = propsOf(r.LogicalID, prev.Properties, &old)
	if anyChanged(changed(prev.Properties, r.Properties), "TopicArn", "Protocol", "Endpoint", "Region") {
		return nil, replace(r.LogicalID, "TopicArn, Protocol, Endpoint or Region")
	}
	attrs, err := sp.attributes()
	if err != nil {
		return nil, err
	}
	oldAttrs, _ := old.attributes()
	for k := range oldAttrs {
		if _, ok := attrs[k]; !ok {
			attrs[k] = "" // removed: back to none
			if k == "RawMessageDelivery" {
				attrs[k] = "false"
			}
		}
	}
	for k, v := range attrs {
		if oldAttrs[k] == v {
			continue
		}
		if _, err := p.c.sns.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: &prev.PhysicalID,
			AttributeName: aws.String(k), AttributeValue: aws.String(v)}); err != nil {
			return nil, apiError(svcSNS, err)
		}
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: map[string]any{"Arn": prev.PhysicalID}}, nil
}

func (p *subscriptionProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if !strings.HasPrefix(cur.PhysicalID, "arn:") {
		return nil
	}
	_, err := p.c.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: &cur.PhysicalID})
	return ignoreNotFound(svcSNS, err)
}

// --- AWS::SNS::TopicPolicy --------------------------------------------------

type topicPolicyProps struct {
	PolicyDocument any
	Topics         []string
}

type topicPolicyProvider struct{ c *clients }

func (p *topicPolicyProvider) set(ctx context.Context, topics []string, doc string) error {
	for _, t := range topics {
		_, err := p.c.sns.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(t),
			AttributeName: aws.String("Policy"), AttributeValue: aws.String(doc)})
		if doc == "" {
			err = ignoreNotFound(svcSNS, err)
		}
		if err != nil {
			return apiError(svcSNS, err)
		}
	}
	return nil
}

func (p *topicPolicyProvider) apply(ctx context.Context, r *stack.Request) error {
	if err := requireProps(r.LogicalID, r.Properties, "PolicyDocument", "Topics"); err != nil {
		return err
	}
	var pp topicPolicyProps
	if err := props(r, &pp); err != nil {
		return err
	}
	doc, err := jsonText(pp.PolicyDocument)
	if err != nil {
		return err
	}
	return p.set(ctx, pp.Topics, doc)
}

func (p *topicPolicyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	if err := p.apply(ctx, r); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: physicalName(r.StackName, r.LogicalID, 128)}, nil
}

func (p *topicPolicyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if err := p.apply(ctx, r); err != nil {
		return nil, err
	}
	var pp, old topicPolicyProps
	_ = propsOf(r.LogicalID, r.Properties, &pp)
	_ = propsOf(r.LogicalID, prev.Properties, &old)
	var gone []string
	for _, t := range old.Topics {
		keep := false
		for _, n := range pp.Topics {
			keep = keep || n == t
		}
		if !keep {
			gone = append(gone, t)
		}
	}
	if err := p.set(ctx, gone, ""); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *topicPolicyProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	var pp topicPolicyProps
	_ = propsOf(r.LogicalID, cur.Properties, &pp)
	return p.set(ctx, pp.Topics, "")
}
