package dynamodb

import "strings"

// TableTags are the tags of the table an ARN names (a table, or one of
// its indexes or streams), for the aws:ResourceTag/<key> condition keys
// of a call on it (nil if there is no such table).
func (s *Service) TableTags(arn string) map[string]string {
	i := strings.Index(arn, ":table/")
	if i < 0 {
		return nil
	}
	name, _, _ := strings.Cut(arn[i+len(":table/"):], "/")
	t, ok := s.e.table(name)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(t.StoredTags))
	for _, tg := range t.StoredTags {
		out[tg.Key] = tg.Value
	}
	return out
}
