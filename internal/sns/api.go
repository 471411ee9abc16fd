package sns

import (
	"io"
	"net/http"
	"net/url"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// maxRequestBody bounds a request's form: a 256 KiB message (or batch)
// percent-encoded three times over, with room for attributes.
const maxRequestBody = 1 << 20

// IsConfirmLink recognises the links SNS's messages carry, which need no
// signature, as in AWS: a SubscribeURL (GET
// /?Action=ConfirmSubscription&TopicArn=…&Token=…), authenticated by its
// token, and an UnsubscribeURL (GET /?Action=Unsubscribe&SubscriptionArn=…),
// authenticated by the subscription ARN's random id (a subscription
// confirmed with AuthenticateOnUnsubscribe refuses it).
func IsConfirmLink(r *http.Request) bool {
	if r.Method != http.MethodGet || r.URL.Path != "/" {
		return false
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Signature") != "" || q.Get("X-Amz-Credential") != "" || r.Header.Get("Authorization") != "" {
		return false
	}
	switch q.Get("Action") {
	case "ConfirmSubscription":
		return q.Has("Token")
	case "Unsubscribe":
		return q.Has("SubscriptionArn")
	}
	return false
}

// ConfirmLinks serves only ConfirmSubscription and Unsubscribe, from their
// query strings (the SubscribeURL's and UnsubscribeURL's GET).
func (s *Service) ConfirmLinks() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := awsapi.NewRequestID()
		q := r.URL.Query()
		var (
			out func(*xw)
			err error
		)
		switch op := q.Get("Action"); op {
		case "ConfirmSubscription":
			out, err = s.confirmSubscription(r, q, false)
		case "Unsubscribe":
			out, err = s.unsubscribe(r, q, false)
		default:
			err = newErr(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this endpoint.", op)
		}
		if err != nil {
			writeError(w, s.log, reqID, err)
			return
		}
		s.write(w, q.Get("Action"), reqID, out)
	})
}

// ServeHTTP serves the query-protocol API (authenticated by the front
// door for signing name "sns").
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewRequestID()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeError(w, s.log, reqID, newErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body too large."))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, s.log, reqID, invalidParameter("The request body is not a valid form."))
		return
	}
	for k, v := range r.URL.Query() {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	op := form.Get("Action")
	out, err := s.dispatch(r, op, form)
	if err != nil {
		writeError(w, s.log, reqID, err)
		return
	}
	s.write(w, op, reqID, out)
}

func (s *Service) write(w http.ResponseWriter, op, reqID string, out func(*xw)) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", reqID)
	_, _ = w.Write(response(op, reqID, out))
}

// unsupportedOps are SNS operations Nimbus refuses by name (mobile push,
// SMS, data protection, permissions).
var unsupportedOps = map[string]string{
	"AddPermission": "permissions (set the topic's Policy attribute instead)", "RemovePermission": "permissions (set the topic's Policy attribute instead)",
	"CheckIfPhoneNumberIsOptedOut": "SMS", "CreateSMSSandboxPhoneNumber": "SMS", "DeleteSMSSandboxPhoneNumber": "SMS",
	"GetSMSAttributes": "SMS", "GetSMSSandboxAccountStatus": "SMS", "ListOriginationNumbers": "SMS",
	"ListPhoneNumbersOptedOut": "SMS", "ListSMSSandboxPhoneNumbers": "SMS", "OptInPhoneNumber": "SMS",
	"SetSMSAttributes": "SMS", "VerifySMSSandboxPhoneNumber": "SMS",
	"CreatePlatformApplication": "mobile push", "CreatePlatformEndpoint": "mobile push", "DeleteEndpoint": "mobile push",
	"DeletePlatformApplication": "mobile push", "GetEndpointAttributes": "mobile push", "GetPlatformApplicationAttributes": "mobile push",
	"ListEndpointsByPlatformApplication": "mobile push", "ListPlatformApplications": "mobile push",
	"SetEndpointAttributes": "mobile push", "SetPlatformApplicationAttributes": "mobile push",
	"GetDataProtectionPolicy": "message data protection", "PutDataProtectionPolicy": "message data protection",
}

func (s *Service) dispatch(r *http.Request, op string, f url.Values) (func(*xw), error) {
	switch op {
	case "CreateTopic":
		return s.createTopic(r, f)
	case "DeleteTopic":
		return s.deleteTopic(r, f)
	case "ListTopics":
		return s.listTopics(r, f)
	case "GetTopicAttributes":
		return s.getTopicAttributes(r, f)
	case "SetTopicAttributes":
		return s.setTopicAttributes(r, f)
	case "TagResource":
		return s.tagResource(r, f)
	case "UntagResource":
		return s.untagResource(r, f)
	case "ListTagsForResource":
		return s.listTagsForResource(r, f)
	case "Subscribe":
		return s.subscribe(r, f)
	case "Unsubscribe":
		return s.unsubscribe(r, f, true)
	case "ConfirmSubscription":
		return s.confirmSubscription(r, f, true)
	case "ListSubscriptions":
		return s.listSubscriptions(r, f, false)
	case "ListSubscriptionsByTopic":
		return s.listSubscriptions(r, f, true)
	case "GetSubscriptionAttributes":
		return s.getSubscriptionAttributes(r, f)
	case "SetSubscriptionAttributes":
		return s.setSubscriptionAttributes(r, f)
	case "Publish":
		return s.publish(r, f)
	case "PublishBatch":
		return s.publishBatch(r, f)
	}
	if what, ok := unsupportedOps[op]; ok {
		return nil, invalidParameter("Action %s: Nimbus does not serve SNS %s", op, what)
	}
	return nil, newErr(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this endpoint.", op)
}
