package sns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
)

// HTTP/S endpoints: only loopback ones (a developer's local receiver) or
// hosts the operator allowed, checked at Subscribe and again when
// connecting: a name is only dialled at an address that is loopback,
// unless the name itself is allowed, so DNS cannot turn an endpoint into a
// probe of the node's network.

// hostAllowed reports whether an endpoint's host (host or host:port) may
// receive notifications.
func (s *Service) hostAllowed(hostport string) bool {
	hostport = strings.ToLower(hostport)
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if s.allowed[hostport] || s.allowed[host] {
		return true
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newHTTPClient is the client of HTTP/S deliveries: it dials allowed
// hosts as named, every other host only at loopback addresses, and does
// not follow redirects.
func (s *Service) newHTTPClient() *http.Client {
	loopbackOnly := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("sns: %s is not a loopback address", address)
		}
		return nil
	}}
	open := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if s.allowed[strings.ToLower(addr)] || s.allowed[strings.ToLower(host)] {
				return open.DialContext(ctx, network, addr)
			}
			return loopbackOnly.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// post sends one request to an endpoint; a 2xx answer is success, a 5xx,
// a 429 or no answer may pass later, any other answer cannot.
func (s *Service) post(ctx context.Context, endpoint string, body []byte, headers map[string]string) error {
	u, err := url.Parse(endpoint)
	if err != nil || !s.hostAllowed(u.Host) {
		return deliver.Undeliverable("endpoint %s is not allowed", endpoint)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return deliver.Undeliverable("endpoint %s: %v", endpoint, err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	req.Header.Set("User-Agent", "Amazon Simple Notification Service Agent")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", u.Host, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("post to %s: status %d", u.Host, resp.StatusCode)
	default:
		return deliver.Undeliverable("post to %s: status %d", u.Host, resp.StatusCode)
	}
}

// postNotification delivers d to its HTTP/S endpoint: the signed
// envelope, or with RawMessageDelivery the message itself.
func (s *Service) postNotification(ctx context.Context, d *delivery, version string, raw bool) error {
	headers := map[string]string{
		"x-amz-sns-message-type":     "Notification",
		"x-amz-sns-message-id":       d.msgID,
		"x-amz-sns-topic-arn":        d.topicArn,
		"x-amz-sns-subscription-arn": d.subArn,
	}
	var body []byte
	if raw {
		headers["x-amz-sns-rawdelivery"] = "true"
		body = []byte(bodyFor(d.msg, d.sub.Protocol))
	} else {
		body, _ = json.Marshal(s.notification(d, version))
	}
	return s.post(ctx, d.sub.Endpoint, body, headers)
}

// sendConfirmation posts a pending subscription's SubscriptionConfirmation
// (or an unsubscribed one's UnsubscribeConfirmation).
func (s *Service) sendConfirmation(ctx context.Context, job *confirmJob) error {
	if job.Unsubscribed {
		return s.sendUnsubscribed(ctx, job)
	}
	sub, _, err := s.getSub(ctx, job.Account, job.Topic, job.ID)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil // unsubscribed meanwhile
		}
		return err
	}
	if sub.Confirmed || sub.Token == "" {
		return nil
	}
	t, _, _ := s.getTopic(ctx, job.Account, job.Topic)
	arn := s.topicArn(job.Account, job.Topic)
	e := &envelope{
		Type: "SubscriptionConfirmation", MessageID: uuid.NewString(), Token: sub.Token, TopicArn: arn,
		Message:      "You have chosen to subscribe to the topic " + arn + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		SubscribeURL: s.endpoint + "/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(arn) + "&Token=" + sub.Token,
		Timestamp:    timestamp(s.now().UnixMilli()), SignatureVersion: s.signatureVersion(t),
		SigningCertURL: s.endpoint + CertPath,
	}
	e.Signature = s.signer.sign(e, e.SignatureVersion)
	body, _ := json.Marshal(e)
	return s.post(ctx, sub.Endpoint, body, map[string]string{
		"x-amz-sns-message-type": "SubscriptionConfirmation",
		"x-amz-sns-message-id":   e.MessageID,
		"x-amz-sns-topic-arn":    arn,
	})
}

// sendUnsubscribed posts an UnsubscribeConfirmation to an unsubscribed
// endpoint: its SubscribeURL (ConfirmSubscription with the tombstone's
// token) restores the subscription. Nothing is sent once the tombstone is
// gone (restored, or expired).
func (s *Service) sendUnsubscribed(ctx context.Context, job *confirmJob) error {
	e, err := s.kv.Get(ctx, removedKey(job.Account, job.Topic, job.ID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read unsubscribed %s: %w", job.ID, err)
	}
	var tomb removed
	if err := json.Unmarshal(e.Value(), &tomb); err != nil || s.now().UnixMilli() > tomb.Expires {
		return nil
	}
	t, _, _ := s.getTopic(ctx, job.Account, job.Topic)
	arn := s.topicArn(job.Account, job.Topic)
	subArn := s.subArn(&tomb.Sub)
	env := &envelope{
		Type: "UnsubscribeConfirmation", MessageID: uuid.NewString(), Token: tomb.Token, TopicArn: arn,
		Message:      "You have chosen to deactivate subscription " + subArn + ".\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
		SubscribeURL: s.endpoint + "/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(arn) + "&Token=" + tomb.Token,
		Timestamp:    timestamp(s.now().UnixMilli()), SignatureVersion: s.signatureVersion(t),
		SigningCertURL: s.endpoint + CertPath,
	}
	env.Signature = s.signer.sign(env, env.SignatureVersion)
	body, _ := json.Marshal(env)
	return s.post(ctx, tomb.Sub.Endpoint, body, map[string]string{
		"x-amz-sns-message-type":     "UnsubscribeConfirmation",
		"x-amz-sns-message-id":       env.MessageID,
		"x-amz-sns-topic-arn":        arn,
		"x-amz-sns-subscription-arn": subArn,
	})
}
