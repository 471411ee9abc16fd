package sns

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// tokenLifetime is how long a confirmation token confirms (AWS: 3 days).
const tokenLifetime = 72 * time.Hour

// pendingArn is what Subscribe and the list operations answer for a
// subscription not yet confirmed.
const (
	pendingArn  = "pending confirmation"
	pendingList = "PendingConfirmation"
)

// protocol facts.
var (
	deliveredProtocols = map[string]bool{"lambda": true, "sqs": true, "http": true, "https": true}
	// recordedProtocols are kept (pending confirmation, as AWS keeps them
	// until the recipient confirms) but never delivered: Nimbus sends no
	// email or SMS.
	recordedProtocols = map[string]string{"email": "email", "email-json": "email", "sms": "SMS"}
	refusedProtocols  = map[string]string{"application": "mobile push", "firehose": "Amazon Data Firehose"}
)

// checkEndpoint validates a subscription's endpoint for its protocol.
func (s *Service) checkEndpoint(t *topic, protocol, endpoint string) *Error {
	switch protocol {
	case "sqs":
		a, ok := deliver.Parse(endpoint)
		if !ok || a.Service != "sqs" || a.Resource == "" || strings.ContainsAny(a.Resource, ":/") {
			return invalidParameter("SQS endpoint ARN")
		}
		if strings.HasSuffix(a.Resource, ".fifo") && !t.fifo() {
			return invalidParameter("Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics")
		}
	case "lambda":
		if _, _, ok := deliver.FunctionName(endpoint); !ok {
			return invalidParameter("Lambda endpoint ARN")
		}
	case "http", "https":
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != protocol || u.Host == "" {
			return invalidParameter("Endpoint must match the specified protocol")
		}
		if !s.hostAllowed(u.Host) {
			return invalidParameter("Endpoint Reason: Nimbus delivers %s notifications only to loopback endpoints or hosts the node allows (--sns-allowed-hosts); %s is neither", protocol, u.Host)
		}
	case "email", "email-json":
		if !strings.Contains(endpoint, "@") {
			return invalidParameter("Email address")
		}
	case "sms":
		return invalidParameter("Endpoint Reason: Nimbus does not send SMS messages; sms subscriptions are not supported")
	}
	if t.fifo() && protocol != "sqs" {
		return invalidParameter("Invalid protocol type: %s. FIFO topics deliver only to Amazon SQS queues", protocol)
	}
	return nil
}

// compiledFilter compiles a subscription's filter policy in its scope.
func compiledFilter(attrs map[string]string) (*eventpattern.Pattern, *eventpattern.Error) {
	policy := attrs["FilterPolicy"]
	if policy == "" {
		return nil, nil
	}
	d := eventpattern.SNSAttributes
	if attrs["FilterPolicyScope"] == "MessageBody" {
		d = eventpattern.SNSBody
	}
	p, err := eventpattern.Compile(d, []byte(policy))
	if err != nil {
		var pe *eventpattern.Error
		if errors.As(err, &pe) {
			return nil, pe
		}
		return nil, &eventpattern.Error{Code: eventpattern.CodeInvalidParameter, Reason: err.Error(), Message: "Invalid parameter: FilterPolicy: " + err.Error()}
	}
	return p, nil
}

// checkSubAttrs validates a subscription's attributes as a whole; inSubscribe
// words errors as Subscribe does ("Attributes Reason: …").
func checkSubAttrs(t *topic, protocol string, attrs map[string]string, inSubscribe bool) *Error {
	wrap := func(reason string) *Error {
		if inSubscribe {
			return invalidParameter("Attributes Reason: %s", reason)
		}
		return invalidParameter("%s", reason)
	}
	for k, v := range attrs {
		switch k {
		case "RawMessageDelivery":
			if v != "true" && v != "false" {
				return wrap("RawMessageDelivery: Invalid value [" + v + "]. Must be true or false.")
			}
			if v == "true" && protocol != "sqs" && protocol != "http" && protocol != "https" && protocol != "firehose" {
				return wrap("RawMessageDelivery: Raw message delivery is only supported for Amazon SQS, HTTP/S and Firehose subscriptions")
			}
		case "FilterPolicy", "FilterPolicyScope":
		case "DeliveryPolicy":
			if v != "" && !isJSONObject(v) {
				return wrap("DeliveryPolicy: the value is not a JSON object")
			}
		case "RedrivePolicy":
			if v == "" {
				continue
			}
			var rp struct {
				DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			}
			if err := json.Unmarshal([]byte(v), &rp); err != nil {
				return wrap("RedrivePolicy: Redrive policy is not a valid JSON object")
			}
			a, ok := deliver.Parse(rp.DeadLetterTargetArn)
			if !ok || a.Service != "sqs" || a.Resource == "" {
				return wrap("RedrivePolicy: deadLetterTargetArn is an invalid arn")
			}
			if t.fifo() != strings.HasSuffix(a.Resource, ".fifo") {
				return wrap("RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO Topic, and a standard queue for a standard topic.")
			}
		case "SubscriptionRoleArn":
		case "ReplayPolicy":
			return unsupported("ReplayPolicy (message archiving and replay)")
		default:
			return invalidParameter("AttributeName")
		}
	}
	if sc := attrs["FilterPolicyScope"]; sc != "" && sc != "MessageAttributes" && sc != "MessageBody" {
		return wrap("FilterPolicyScope: Invalid filter policy scope, please use MessageAttributes or MessageBody")
	}
	if _, pe := compiledFilter(attrs); pe != nil {
		if inSubscribe {
			return invalidParameter("Attributes Reason: FilterPolicy: %s", pe.Reason)
		}
		return &Error{Status: http.StatusBadRequest, Code: pe.Code, Message: pe.Message}
	}
	return nil
}

func newToken() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) subscribe(r *http.Request, f url.Values) (func(*xw), error) {
	ctx := r.Context()
	protocol, endpoint := f.Get("Protocol"), f.Get("Endpoint")
	attrs, perr := attributeMap(f, "Attributes")
	if perr != nil {
		return nil, perr
	}
	t, _, err := s.topicFromForm(r, f, "TopicArn")
	if err != nil {
		return nil, err
	}
	if !deliveredProtocols[protocol] && recordedProtocols[protocol] == "" {
		if what, ok := refusedProtocols[protocol]; ok {
			return nil, invalidParameter("Protocol Reason: Nimbus does not deliver to %s (protocol %s)", what, protocol)
		}
		return nil, invalidParameter("Amazon SNS does not support this protocol")
	}
	if perr := s.checkEndpoint(t, protocol, endpoint); perr != nil {
		return nil, perr
	}
	if perr := checkSubAttrs(t, protocol, attrs, true); perr != nil {
		return nil, perr
	}
	returnArn := f.Get("ReturnSubscriptionArn") == "true"
	// Subscribe is idempotent for a (protocol, endpoint) of the topic.
	subs, err := s.subscriptions(ctx, t.Account, t.Name)
	if err != nil {
		return nil, err
	}
	for _, old := range subs {
		if old.Protocol != protocol || old.Endpoint != endpoint {
			continue
		}
		for k, v := range attrs {
			if old.Attrs[k] != v {
				return nil, invalidParameter("Attributes Reason: Subscription already exists with different attributes")
			}
		}
		arn := s.subArn(old)
		if !old.Confirmed && !returnArn {
			arn = pendingArn
		}
		return func(x *xw) { x.elem("SubscriptionArn", arn) }, nil
	}
	sub := &subscription{
		ID: uuid.NewString(), Account: t.Account, Topic: t.Name, Protocol: protocol, Endpoint: endpoint,
		Attrs: attrs, Confirmed: protocol == "sqs" || protocol == "lambda",
	}
	if !sub.Confirmed {
		sub.Token = newToken()
		sub.TokenExpires = s.now().Add(tokenLifetime).UnixMilli()
	}
	if err := s.putSub(ctx, sub, 0); err != nil {
		return nil, err
	}
	if recordedProtocols[protocol] != "" {
		s.log.Warn("sns subscription recorded but never delivered: Nimbus sends no "+recordedProtocols[protocol],
			"topic", t.Name, "protocol", protocol)
	}
	if protocol == "http" || protocol == "https" {
		// The confirmation request is sent by the fan-out, durably.
		if err := s.publishJob(ctx, subjectConfirm, &confirmJob{Account: sub.Account, Topic: sub.Topic, ID: sub.ID}, "confirm/"+sub.ID); err != nil {
			return nil, err
		}
	}
	arn := s.subArn(sub)
	if !sub.Confirmed && !returnArn {
		arn = pendingArn
	}
	return func(x *xw) { x.elem("SubscriptionArn", arn) }, nil
}

// subFromForm reads the subscription a request's SubscriptionArn names.
func (s *Service) subFromForm(r *http.Request, f url.Values) (*subscription, uint64, error) {
	account, topicName, id, ok := s.parseSubArn(f.Get("SubscriptionArn"))
	if !ok {
		return nil, 0, invalidParameter("SubscriptionArn")
	}
	return s.getSub(r.Context(), account, topicName, id)
}

// unsubscribe deletes a subscription. An http/https endpoint is sent an
// UnsubscribeConfirmation whose SubscribeURL restores the subscription:
// the deleted record is kept as a tombstone (removedKey) with a fresh
// token until tokenLifetime ends. signed is false for the UnsubscribeURL's
// unsigned GET, which a subscription confirmed with
// AuthenticateOnUnsubscribe refuses.
func (s *Service) unsubscribe(r *http.Request, f url.Values, signed bool) (func(*xw), error) {
	ctx := r.Context()
	sub, _, err := s.subFromForm(r, f)
	if err != nil {
		return nil, err
	}
	if !signed && sub.Authenticated {
		return nil, newErr(http.StatusForbidden, "AuthorizationError",
			"The subscription requires authentication to unsubscribe (AuthenticateOnUnsubscribe); sign the Unsubscribe request.")
	}
	notify := sub.Confirmed && (sub.Protocol == "http" || sub.Protocol == "https")
	if notify {
		tomb := removed{Sub: *sub, Token: newToken(), Expires: s.now().Add(tokenLifetime).UnixMilli()}
		b, _ := json.Marshal(tomb)
		if _, err := s.kv.Put(ctx, removedKey(sub.Account, sub.Topic, sub.ID), b); err != nil {
			return nil, fmt.Errorf("record unsubscribed %s: %w", sub.ID, err)
		}
		defer func() {
			job := &confirmJob{Account: sub.Account, Topic: sub.Topic, ID: sub.ID, Unsubscribed: true}
			if err := s.publishJob(ctx, subjectConfirm, job, "unsubscribe/"+sub.ID+"/"+tomb.Token[:16]); err != nil {
				s.log.Warn("unsubscribe confirmation not queued", "topic", sub.Topic, "err", err)
			}
		}()
	}
	if err := s.kv.Delete(ctx, subKey(sub.Account, sub.Topic, sub.ID)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("delete subscription %s: %w", sub.ID, err)
	}
	return nil, nil
}

// removed is an unsubscribed http/https subscription, restorable by the
// SubscribeURL of its UnsubscribeConfirmation until Expires (Unix ms).
type removed struct {
	Sub     subscription `json:"sub"`
	Token   string       `json:"token"`
	Expires int64        `json:"expires"`
}

func removedKey(account, topic, id string) string {
	return "u." + account + "." + keyName(topic) + "." + id
}

// restore brings back the unsubscribed subscription of topic t whose
// UnsubscribeConfirmation carried token (nil when none does). Expired
// tombstones met on the way are removed.
func (s *Service) restore(ctx context.Context, t *topic, token string) (*subscription, error) {
	vals, err := s.entries(ctx, "u."+t.Account+"."+keyName(t.Name)+".*")
	if err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	for _, v := range vals {
		var tomb removed
		if json.Unmarshal(v, &tomb) != nil {
			continue
		}
		key := removedKey(tomb.Sub.Account, tomb.Sub.Topic, tomb.Sub.ID)
		if now > tomb.Expires {
			_ = s.kv.Delete(ctx, key)
			continue
		}
		if tomb.Token == "" || subtle.ConstantTimeCompare([]byte(tomb.Token), []byte(token)) != 1 {
			continue
		}
		sub := tomb.Sub
		sub.Confirmed, sub.Token, sub.TokenExpires = true, "", 0
		if err := s.putSub(ctx, &sub, 0); err != nil {
			return nil, err
		}
		_ = s.kv.Delete(ctx, key)
		return &sub, nil
	}
	return nil, nil
}

// confirmSubscription confirms the pending subscription whose token f
// carries. signed says the request was signed (AuthenticateOnUnsubscribe
// may only be set then).
func (s *Service) confirmSubscription(r *http.Request, f url.Values, signed bool) (func(*xw), error) {
	token := f.Get("Token")
	if token == "" || len(token) > 2048 {
		return nil, invalidParameter("Token")
	}
	t, _, err := s.topicFromForm(r, f, "TopicArn")
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	subs, err := s.subscriptions(ctx, t.Account, t.Name)
	if err != nil {
		return nil, err
	}
	for _, sub := range subs {
		if sub.Token == "" || subtle.ConstantTimeCompare([]byte(sub.Token), []byte(token)) != 1 {
			continue
		}
		if s.now().UnixMilli() > sub.TokenExpires {
			break
		}
		cur, rev, err := s.getSub(ctx, sub.Account, sub.Topic, sub.ID)
		if err != nil {
			return nil, err
		}
		cur.Confirmed = true
		cur.Token, cur.TokenExpires = "", 0
		cur.Authenticated = signed && f.Get("AuthenticateOnUnsubscribe") == "true"
		if err := s.putSub(ctx, cur, rev); err != nil {
			return nil, err
		}
		arn := s.subArn(cur)
		return func(x *xw) { x.elem("SubscriptionArn", arn) }, nil
	}
	// The SubscribeURL of an UnsubscribeConfirmation restores what was
	// unsubscribed.
	sub, err := s.restore(ctx, t, token)
	if err != nil {
		return nil, err
	}
	if sub != nil {
		arn := s.subArn(sub)
		return func(x *xw) { x.elem("SubscriptionArn", arn) }, nil
	}
	return nil, invalidParameter("Token")
}

func (s *Service) listSubscriptions(r *http.Request, f url.Values, byTopic bool) (func(*xw), error) {
	after, perr := readToken(f.Get("NextToken"))
	if perr != nil {
		return nil, perr
	}
	topicName := "*"
	if byTopic {
		t, _, err := s.topicFromForm(r, f, "TopicArn")
		if err != nil {
			return nil, err
		}
		topicName = t.Name
	}
	subs, err := s.subscriptions(r.Context(), s.account, topicName)
	if err != nil {
		return nil, err
	}
	sort.Slice(subs, func(i, j int) bool { return s.subArn(subs[i]) < s.subArn(subs[j]) })
	i := sort.Search(len(subs), func(i int) bool { return s.subArn(subs[i]) > after })
	if after == "" {
		i = 0
	}
	page := subs[i:]
	next := ""
	if len(page) > subsPage {
		page = page[:subsPage]
		next = pageToken(s.subArn(page[len(page)-1]))
	}
	return func(x *xw) {
		x.open("Subscriptions")
		for _, sub := range page {
			x.open("member")
			arn := s.subArn(sub)
			if !sub.Confirmed {
				arn = pendingList
			}
			x.elem("SubscriptionArn", arn)
			x.elem("Owner", sub.Account)
			x.elem("Protocol", sub.Protocol)
			x.elem("Endpoint", sub.Endpoint)
			x.elem("TopicArn", s.topicArn(sub.Account, sub.Topic))
			x.close("member")
		}
		x.close("Subscriptions")
		if next != "" {
			x.elem("NextToken", next)
		}
	}, nil
}

func (s *Service) getSubscriptionAttributes(r *http.Request, f url.Values) (func(*xw), error) {
	sub, _, err := s.subFromForm(r, f)
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{
		"SubscriptionArn": s.subArn(sub), "TopicArn": s.topicArn(sub.Account, sub.Topic), "Owner": sub.Account,
		"Protocol": sub.Protocol, "Endpoint": sub.Endpoint, "RawMessageDelivery": "false",
		"PendingConfirmation":          fmt.Sprint(!sub.Confirmed),
		"ConfirmationWasAuthenticated": fmt.Sprint(sub.Confirmed && (sub.Protocol == "sqs" || sub.Protocol == "lambda" || sub.Authenticated)),
		"SubscriptionPrincipal":        "arn:aws:iam::" + sub.Account + ":root",
	}
	if sub.Protocol == "http" || sub.Protocol == "https" {
		attrs["EffectiveDeliveryPolicy"] = effectiveDeliveryPolicy
	}
	maps.Copy(attrs, sub.Attrs)
	if attrs["FilterPolicy"] != "" && attrs["FilterPolicyScope"] == "" {
		attrs["FilterPolicyScope"] = "MessageAttributes"
	}
	return func(x *xw) { x.entries("Attributes", attrs) }, nil
}

func (s *Service) setSubscriptionAttributes(r *http.Request, f url.Values) (func(*xw), error) {
	name, value := f.Get("AttributeName"), f.Get("AttributeValue")
	ctx := r.Context()
	for range 5 {
		sub, rev, err := s.subFromForm(r, f)
		if err != nil {
			return nil, err
		}
		t, _, err := s.getTopic(ctx, sub.Account, sub.Topic)
		if err != nil {
			return nil, err
		}
		attrs := maps.Clone(sub.Attrs)
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs[name] = value
		if value == "" && (name == "FilterPolicy" || name == "RedrivePolicy" || name == "DeliveryPolicy") {
			delete(attrs, name)
		}
		if perr := checkSubAttrs(t, sub.Protocol, attrs, false); perr != nil {
			return nil, perr
		}
		sub.Attrs = attrs
		err = s.putSub(ctx, sub, rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		return nil, err
	}
	return nil, newErr(http.StatusBadRequest, "ConcurrentAccess", "Can't perform multiple operations on a subscription simultaneously.")
}
