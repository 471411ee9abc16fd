package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Tag is a schedule group's tag (schedules take none on AWS).
type Tag struct {
	Key   string
	Value string
}

const maxTags = 200

var (
	groupArnPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:aws(-[a-z]+)?:scheduler:[a-z0-9\-]+:\d{12}:schedule-group/([0-9a-zA-Z\-_.]+)$`)
	})
	clientTokenPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9\-_]{1,64}$`) })
)

func checkTags(tags []Tag) error {
	if len(tags) > maxTags {
		return validation("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxTags)
	}
	for _, t := range tags {
		if len(t.Key) < 1 || len(t.Key) > 128 {
			return validation("1 validation error detected: Value '%s' at 'tags.member.key' failed to satisfy constraint: Member must have length between 1 and 128", t.Key)
		}
		if len(t.Value) < 1 || len(t.Value) > 256 {
			return validation("1 validation error detected: Value '%s' at 'tags.member.value' failed to satisfy constraint: Member must have length between 1 and 256", t.Value)
		}
	}
	return nil
}

// mergeTags sets add's tags on tags (a key's later value wins).
func mergeTags(tags, add []Tag) []Tag {
	out := slices.Clone(tags)
	for _, t := range add {
		i := slices.IndexFunc(out, func(o Tag) bool { return o.Key == t.Key })
		if i >= 0 {
			out[i].Value = t.Value
		} else {
			out = append(out, t)
		}
	}
	return out
}

// serveTags answers TagResource (POST), UntagResource (DELETE) and
// ListTagsForResource (GET) on /tags/{schedule group ARN}.
func (s *Service) serveTags(r *http.Request, body []byte) (any, error) {
	arn := strings.TrimPrefix(r.URL.Path, "/tags/")
	m := groupArnPattern().FindStringSubmatch(arn)
	if m == nil {
		return nil, validation("1 validation error detected: Value '%s' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:aws(-[a-z]+)?:scheduler:[a-z0-9\\-]+:\\d{12}:schedule-group\\/[0-9a-zA-Z-_.]+$", arn)
	}
	name := m[2]
	if arn != s.groupArn(name) {
		return nil, notFound("Schedule group %s does not exist.", arn)
	}
	ctx := r.Context()
	key := groupKey(name)
	var g Group
	rev, err := getJSON(ctx, s.kv, key, &g)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, notFound("Schedule group %s does not exist.", name)
	}
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case http.MethodGet:
		return map[string]any{"Tags": nonNil(g.Tags)}, nil
	case http.MethodPost:
		var in struct{ Tags []Tag }
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, validation("The request body is not valid JSON.")
		}
		if in.Tags == nil {
			return nil, validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
		}
		if err := checkTags(in.Tags); err != nil {
			return nil, err
		}
		g.Tags = mergeTags(g.Tags, in.Tags)
		if len(g.Tags) > maxTags {
			return nil, validation("A schedule group takes at most %d tags.", maxTags)
		}
	case http.MethodDelete:
		keys := r.URL.Query()["TagKeys"]
		if keys == nil {
			return nil, validation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
		}
		g.Tags = slices.DeleteFunc(g.Tags, func(t Tag) bool { return slices.Contains(keys, t.Key) })
	default:
		return nil, &apiError{http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("No EventBridge Scheduler operation is %s %s.", r.Method, r.URL.Path)}
	}
	b, _ := json.Marshal(g)
	if _, err := s.kv.Update(ctx, key, b, rev); err != nil {
		return nil, conflict("Schedule group %s was changed by another request; retry.", name)
	}
	return struct{}{}, nil
}

// Idempotency: a create with a ClientToken records (token, request) for
// tokenTTL in the bucket TokenBucket; the same token with the same
// request answers the first request's result, with another request a
// ConflictException.

// TokenBucket holds the ClientTokens of recent creates and deletes
// (entries expire after tokenTTL).
const TokenBucket = "nimbus_scheduler_tokens"

const (
	tokenTTL = time.Hour
	// tokenWait bounds how long a request waits for another request with
	// its ClientToken to finish before answering ConflictException.
	tokenWait = 10 * time.Second
	// tokenStale is how long a claim may stay pending before another
	// request with the token takes it over (its node died mid-request).
	tokenStale = 30 * time.Second
)

// tokenRecord is a ClientToken's claim. A request claims its token
// pending, does its work and records it done; a second request with the
// token waits while the claim is pending, so it never answers an ARN
// whose create has not finished.
//
//	claim (create-if-absent) ──► pending ──finishToken──► done (answered to repeats)
//	                               │ └──── work failed: releaseToken ──► (absent)
//	                               └─ pending past tokenStale: taken over by a repeat
type tokenRecord struct {
	Request string // sha256 of the operation, name and body without ClientToken
	Arn     string
	Pending bool      `json:",omitempty"`
	Claimed time.Time `json:",omitzero"`
}

func openTokens(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      TokenBucket,
		Description: "Nimbus EventBridge Scheduler ClientTokens of recent creates",
		History:     1,
		TTL:         tokenTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", TokenBucket, err)
	}
	return kv, nil
}

// requestDigest names a create request apart from its ClientToken.
func requestDigest(op, name string, body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		m = nil
	}
	delete(m, "ClientToken")
	canon, _ := json.Marshal(m) // keys sorted
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s", op, name, canon))
	return hex.EncodeToString(sum[:])
}

// claimToken records token for the request (digest) that makes arn. It
// returns the earlier result's ARN when token was already used by the
// same request (done true; if that request is still running, once it
// finished), ConflictException when by another one. A caller that gets
// neither does the work, then calls finishToken, or releaseToken if the
// work failed.
func (s *Service) claimToken(ctx context.Context, token, digest, arn string) (prior string, done bool, err error) {
	if token == "" {
		return "", false, nil
	}
	if !clientTokenPattern().MatchString(token) {
		return "", false, validation("1 validation error detected: Value '%s' at 'clientToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9-_]+$ and have length between 1 and 64", token)
	}
	key := hexName(token)
	claim, _ := json.Marshal(tokenRecord{Request: digest, Arn: arn, Pending: true, Claimed: s.clock.Now().UTC()})
	wctx, cancel := context.WithTimeout(ctx, tokenWait)
	defer cancel()
	for {
		_, err = s.tokens.Create(wctx, key, claim)
		if err == nil {
			return "", false, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", false, fmt.Errorf("record client token: %w", err)
		}
		prior, done, retry, err := s.awaitToken(wctx, token, key, digest, claim)
		if !retry {
			return prior, done, err
		}
	}
}

// awaitToken follows a claimed token until its request is done (its
// result), released (retry: claim again) or stale (taken over: the
// caller does the work).
func (s *Service) awaitToken(ctx context.Context, token, key, digest string, claim []byte) (prior string, done, retry bool, err error) {
	w, err := s.tokens.Watch(ctx, key)
	if err != nil {
		return "", false, false, fmt.Errorf("watch client token: %w", err)
	}
	defer func() { _ = w.Stop() }()
	seen := false
	for {
		select {
		case <-ctx.Done():
			if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
				return "", false, false, err
			}
			return "", false, false, conflict("A request with the ClientToken %s is still in progress; retry.", token)
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return "", false, true, nil
			case e == nil && !seen:
				return "", false, true, nil // gone (expired) before the watch: claim it again
			case e == nil:
				continue
			case e.Operation() != jetstream.KeyValuePut:
				return "", false, true, nil // released: claim it again
			}
			seen = true
			var rec tokenRecord
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				return "", false, false, fmt.Errorf("read client token: %w", err)
			}
			if rec.Request != digest {
				return "", false, false, conflict("The ClientToken %s was already used with a different request.", token)
			}
			if !rec.Pending {
				return rec.Arn, true, false, nil
			}
			if s.clock.Now().Sub(rec.Claimed) > tokenStale {
				if _, err := s.tokens.Update(ctx, key, claim, e.Revision()); err == nil {
					return "", false, false, nil
				}
			}
		}
	}
}

// finishToken records token's request as done: repeats answer arn.
func (s *Service) finishToken(ctx context.Context, token, digest, arn string) {
	if token == "" {
		return
	}
	b, _ := json.Marshal(tokenRecord{Request: digest, Arn: arn})
	if _, err := s.tokens.Put(ctx, hexName(token), b); err != nil {
		s.log.Warn("record client token done", "err", err)
	}
}

// releaseToken forgets token after its request failed, so a retry runs.
func (s *Service) releaseToken(ctx context.Context, token string) {
	if token != "" {
		_ = s.tokens.Delete(ctx, hexName(token))
	}
}
