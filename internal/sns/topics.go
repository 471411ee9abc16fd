package sns

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	maxTags      = 50
	topicsPage   = 100
	subsPage     = 100
	fifoNameHelp = "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
)

// checkTopicAttr validates one settable topic attribute; creating says
// whether the topic is being created (FifoTopic may only be set then).
func checkTopicAttr(name, value string, fifo, creating bool) *Error {
	switch name {
	case "DisplayName":
		if len(value) > 100 {
			return invalidParameter("DisplayName")
		}
	case "Policy", "DeliveryPolicy", "DataProtectionPolicy":
		if value != "" && !isJSONObject(value) {
			return invalidParameter("%s: the value is not a JSON object", name)
		}
		if name == "DataProtectionPolicy" {
			return unsupported("DataProtectionPolicy")
		}
	case "TracingConfig":
		if value != "PassThrough" && value != "Active" {
			return invalidParameter("TracingConfig: Invalid value [%s] for TracingConfig. Valid values are PassThrough and Active", value)
		}
	case "SignatureVersion":
		if value != "1" && value != "2" {
			return invalidParameter("SignatureVersion: Invalid value [%s] for SignatureVersion. Valid values are 1 and 2", value)
		}
	case "FifoTopic":
		if !creating {
			return invalidParameter("AttributeName: FifoTopic can only be set when the topic is created")
		}
		if value != "true" && value != "false" {
			return invalidParameter("FifoTopic: Invalid value [%s] for FifoTopic", value)
		}
	case "ContentBasedDeduplication":
		if value != "true" && value != "false" {
			return invalidParameter("ContentBasedDeduplication: Invalid value [%s]", value)
		}
		if !fifo && value == "true" {
			return invalidParameter("ContentBasedDeduplication: Content based deduplication can only be set for FIFO topics")
		}
	case "FifoThroughputScope":
		if value != "Topic" && value != "MessageGroup" {
			return invalidParameter("FifoThroughputScope: Invalid value [%s]. Valid values are Topic and MessageGroup", value)
		}
		if !fifo {
			return invalidParameter("FifoThroughputScope: FifoThroughputScope can only be set for FIFO topics")
		}
	case "KmsMasterKeyId":
		if value != "" {
			return unsupported("KmsMasterKeyId (Nimbus has no KMS; topics are stored unencrypted on the node's disk)")
		}
	case "ArchivePolicy":
		return unsupported("ArchivePolicy (message archiving and replay)")
	default:
		if isFeedbackAttr(name) {
			return nil // recorded: Nimbus writes no delivery status logs
		}
		return invalidParameter("AttributeName")
	}
	return nil
}

// isFeedbackAttr: the <Protocol>{Success,Failure}FeedbackRoleArn and
// …SuccessFeedbackSampleRate attributes (delivery status logging).
func isFeedbackAttr(name string) bool {
	for _, p := range []string{"HTTP", "Lambda", "SQS", "Firehose", "Application"} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			switch rest {
			case "SuccessFeedbackRoleArn", "FailureFeedbackRoleArn", "SuccessFeedbackSampleRate":
				return true
			}
		}
	}
	return false
}

func isJSONObject(s string) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal([]byte(s), &m) == nil && m != nil
}

func checkTags(tags []tag) *Error {
	if len(tags) > maxTags {
		return newErr(http.StatusBadRequest, "TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return invalidParameter("Tags: a tag key must be 1 to 128 characters and a value at most 256")
		}
	}
	return nil
}

func (s *Service) createTopic(r *http.Request, f url.Values) (func(*xw), error) {
	name := f.Get("Name")
	attrs, perr := attributeMap(f, "Attributes")
	if perr != nil {
		return nil, perr
	}
	tags, perr := tagList(f, "Tags")
	if perr != nil {
		return nil, perr
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	fifo := strings.EqualFold(attrs["FifoTopic"], "true")
	switch {
	case fifo && (!strings.HasSuffix(name, ".fifo") || !validTopicName(name)):
		return nil, invalidParameter(fifoNameHelp)
	case !fifo && (strings.HasSuffix(name, ".fifo") || !validTopicName(name)):
		if strings.HasSuffix(name, ".fifo") && validTopicName(name) {
			return nil, invalidParameter(fifoNameHelp)
		}
		return nil, invalidParameter("Topic Name")
	}
	for k, v := range attrs {
		if err := checkTopicAttr(k, v, fifo, true); err != nil {
			return nil, err
		}
	}
	if fifo {
		attrs["FifoTopic"] = "true"
	} else {
		delete(attrs, "FifoTopic")
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	ctx := r.Context()
	t := &topic{Name: name, Account: s.account, Attrs: attrs, Tags: tags, Created: s.now().UnixMilli()}
	for range 3 {
		err := s.putTopic(ctx, t, 0)
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
		old, _, gerr := s.getTopic(ctx, s.account, name)
		if gerr != nil {
			var e *Error
			if errors.As(gerr, &e) {
				continue // deleted meanwhile: create again
			}
			return nil, gerr
		}
		// CreateTopic is idempotent for the same attributes and tags.
		for k, v := range attrs {
			if old.Attrs[k] != v {
				return nil, invalidParameter("Attributes Reason: Topic already exists with different attributes")
			}
		}
		if len(tags) > 0 && !sameTags(old.Tags, tags) {
			return nil, invalidParameter("Tags Reason: Topic already exists with different tags")
		}
		break
	}
	arn := s.topicArn(s.account, name)
	return func(x *xw) { x.elem("TopicArn", arn) }, nil
}

func sameTags(a, b []tag) bool {
	m := map[string]string{}
	for _, t := range a {
		m[t.Key] = t.Value
	}
	n := map[string]string{}
	for _, t := range b {
		n[t.Key] = t.Value
	}
	return maps.Equal(m, n)
}

// topicFromForm reads the topic a request's TopicArn names.
func (s *Service) topicFromForm(r *http.Request, f url.Values, member string) (*topic, uint64, error) {
	arn := f.Get(member)
	if arn == "" {
		return nil, 0, invalidParameter("%s", member)
	}
	account, name, ok := s.parseTopicArn(arn)
	if !ok {
		return nil, 0, s.badTopicArn(arn, member, f.Get("Action"))
	}
	return s.getTopic(r.Context(), account, name)
}

func (s *Service) deleteTopic(r *http.Request, f url.Values) (func(*xw), error) {
	account, name, ok := s.parseTopicArn(f.Get("TopicArn"))
	if !ok {
		return nil, invalidParameter("TopicArn")
	}
	ctx := r.Context()
	// Deleting a topic that does not exist is not an error (AWS).
	if err := s.kv.Delete(ctx, topicKey(account, name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("delete topic %s: %w", name, err)
	}
	subs, err := s.subscriptions(ctx, account, name)
	if err != nil {
		return nil, err
	}
	for _, sub := range subs {
		if err := s.kv.Delete(ctx, subKey(account, name, sub.ID)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("delete subscription %s: %w", sub.ID, err)
		}
	}
	// Unsubscribed subscriptions can no longer be restored.
	tombs, err := s.entries(ctx, "u."+account+"."+keyName(name)+".*")
	if err != nil {
		return nil, err
	}
	for _, v := range tombs {
		var tomb removed
		if json.Unmarshal(v, &tomb) == nil {
			_ = s.kv.Delete(ctx, removedKey(account, name, tomb.Sub.ID))
		}
	}
	return nil, nil
}

// pageToken is an opaque NextToken naming the last item answered.
func pageToken(last string) string { return base64.RawURLEncoding.EncodeToString([]byte(last)) }

func readToken(tok string) (string, *Error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", invalidParameter("NextToken")
	}
	return string(b), nil
}

func (s *Service) listTopics(r *http.Request, f url.Values) (func(*xw), error) {
	after, perr := readToken(f.Get("NextToken"))
	if perr != nil {
		return nil, perr
	}
	vals, err := s.entries(r.Context(), "t."+s.account+".*")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(vals))
	for _, v := range vals {
		var t topic
		if json.Unmarshal(v, &t) == nil {
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	i := sort.SearchStrings(names, after)
	if after != "" && i < len(names) && names[i] == after {
		i++
	}
	page := names[i:]
	next := ""
	if len(page) > topicsPage {
		page = page[:topicsPage]
		next = pageToken(page[len(page)-1])
	}
	return func(x *xw) {
		x.open("Topics")
		for _, n := range page {
			x.open("member")
			x.elem("TopicArn", s.topicArn(s.account, n))
			x.close("member")
		}
		x.close("Topics")
		if next != "" {
			x.elem("NextToken", next)
		}
	}, nil
}

// defaultPolicy is the access policy AWS gives a new topic.
func (s *Service) defaultPolicy(arn string) string {
	return `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},` +
		`"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],` +
		`"Resource":"` + arn + `","Condition":{"StringEquals":{"AWS:SourceOwner":"` + s.account + `"}}}]}`
}

const effectiveDeliveryPolicy = `{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}`

func (s *Service) getTopicAttributes(r *http.Request, f url.Values) (func(*xw), error) {
	t, _, err := s.topicFromForm(r, f, "TopicArn")
	if err != nil {
		return nil, err
	}
	subs, err := s.subscriptions(r.Context(), t.Account, t.Name)
	if err != nil {
		return nil, err
	}
	confirmed, pending := 0, 0
	for _, sub := range subs {
		if sub.Confirmed {
			confirmed++
		} else {
			pending++
		}
	}
	arn := s.topicArn(t.Account, t.Name)
	attrs := map[string]string{
		"TopicArn": arn, "Owner": t.Account, "Policy": s.defaultPolicy(arn), "DisplayName": "",
		"SubscriptionsConfirmed": strconv.Itoa(confirmed), "SubscriptionsPending": strconv.Itoa(pending),
		"SubscriptionsDeleted": "0", "EffectiveDeliveryPolicy": effectiveDeliveryPolicy,
	}
	if t.fifo() {
		attrs["FifoTopic"] = "true"
		attrs["ContentBasedDeduplication"] = "false"
	}
	maps.Copy(attrs, t.Attrs)
	if p := t.Attrs["DeliveryPolicy"]; p != "" {
		attrs["EffectiveDeliveryPolicy"] = p
	}
	return func(x *xw) { x.entries("Attributes", attrs) }, nil
}

func (s *Service) setTopicAttributes(r *http.Request, f url.Values) (func(*xw), error) {
	name, value := f.Get("AttributeName"), f.Get("AttributeValue")
	ctx := r.Context()
	for range 5 {
		t, rev, err := s.topicFromForm(r, f, "TopicArn")
		if err != nil {
			return nil, err
		}
		if err := checkTopicAttr(name, value, t.fifo(), false); err != nil {
			return nil, err
		}
		if t.Attrs == nil {
			t.Attrs = map[string]string{}
		}
		t.Attrs[name] = value
		err = s.putTopic(ctx, t, rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // changed meanwhile: read again
		}
		return nil, err
	}
	return nil, newErr(http.StatusBadRequest, "ConcurrentAccess", "Can't perform multiple operations on a topic simultaneously.")
}

// taggedTopic reads the topic a ResourceArn names (ResourceNotFound if none).
func (s *Service) taggedTopic(r *http.Request, f url.Values) (*topic, uint64, error) {
	account, name, ok := s.parseTopicArn(f.Get("ResourceArn"))
	if !ok {
		return nil, 0, invalidParameter("ResourceArn")
	}
	t, rev, err := s.getTopic(r.Context(), account, name)
	var e *Error
	if errors.As(err, &e) && e.Code == "NotFound" {
		return nil, 0, resourceNotFound()
	}
	return t, rev, err
}

func (s *Service) updateTags(r *http.Request, f url.Values, change func(*topic) *Error) (func(*xw), error) {
	for range 5 {
		t, rev, err := s.taggedTopic(r, f)
		if err != nil {
			return nil, err
		}
		if perr := change(t); perr != nil {
			return nil, perr
		}
		err = s.putTopic(r.Context(), t, rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return func(*xw) {}, nil
	}
	return nil, newErr(http.StatusBadRequest, "ConcurrentAccess", "Can't perform multiple operations on a tag simultaneously.")
}

func (s *Service) tagResource(r *http.Request, f url.Values) (func(*xw), error) {
	tags, perr := tagList(f, "Tags")
	if perr != nil {
		return nil, perr
	}
	return s.updateTags(r, f, func(t *topic) *Error {
		for _, nt := range tags {
			i := slices.IndexFunc(t.Tags, func(x tag) bool { return x.Key == nt.Key })
			if i >= 0 {
				t.Tags[i] = nt
			} else {
				t.Tags = append(t.Tags, nt)
			}
		}
		return checkTags(t.Tags)
	})
}

func (s *Service) untagResource(r *http.Request, f url.Values) (func(*xw), error) {
	keys, perr := stringList(f, "TagKeys")
	if perr != nil {
		return nil, perr
	}
	return s.updateTags(r, f, func(t *topic) *Error {
		t.Tags = slices.DeleteFunc(t.Tags, func(x tag) bool { return slices.Contains(keys, x.Key) })
		return nil
	})
}

func (s *Service) listTagsForResource(r *http.Request, f url.Values) (func(*xw), error) {
	t, _, err := s.taggedTopic(r, f)
	if err != nil {
		return nil, err
	}
	return func(x *xw) {
		x.open("Tags")
		for _, tg := range t.Tags {
			x.open("member")
			x.elem("Key", tg.Key)
			x.elem("Value", tg.Value)
			x.close("member")
		}
		x.close("Tags")
	}, nil
}
