package sns

import "context"

// TopicTags are the tags of the topic arn, for the aws:ResourceTag/<key>
// condition keys of a call on it (nil if there is no such topic).
func (s *Service) TopicTags(ctx context.Context, arn string) map[string]string {
	account, name, ok := s.parseTopicArn(arn)
	if !ok {
		return nil
	}
	t, _, err := s.getTopic(ctx, account, name)
	if err != nil {
		return nil
	}
	out := make(map[string]string, len(t.Tags))
	for _, tg := range t.Tags {
		out[tg.Key] = tg.Value
	}
	return out
}

// AccessPolicy is the access policy of the topic arn as IAM evaluates
// it: its Policy attribute, or the default policy AWS gives a new topic
// (GetTopicAttributes shows it) when none was set; "" if there is no
// such topic. The default policy's AWS:SourceOwner condition holds only
// for deliveries made on the account's behalf by a service that sets it
// (CloudWatch alarm actions): a direct call carries no AWS:SourceOwner,
// so for users and roles the default policy grants nothing, and only
// their identity policies (or root) may use the topic.
func (s *Service) AccessPolicy(ctx context.Context, arn string) string {
	account, name, ok := s.parseTopicArn(arn)
	if !ok {
		return ""
	}
	t, _, err := s.getTopic(ctx, account, name)
	if err != nil {
		return ""
	}
	if p := t.Attrs["Policy"]; p != "" {
		return p
	}
	return s.defaultPolicy(s.topicArn(t.Account, t.Name))
}
