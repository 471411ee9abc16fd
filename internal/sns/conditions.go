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
