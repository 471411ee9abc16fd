package secretsmanager

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// The steps of a rotation, in order, as Secrets Manager invokes them.
var rotationSteps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

func (s *Service) rotateSecret(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID           string `json:"SecretId"`
		ClientRequestToken string
		RotationLambdaARN  string
		RotationRules      *RotationRules
		RotateImmediately  *bool
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	token := in.ClientRequestToken
	if token == "" {
		token = newToken()
	} else if err := checkToken(token); err != nil {
		return nil, err
	}
	if err := checkRules(in.RotationRules); err != nil {
		return nil, err
	}
	sec, rev, err := s.live(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	if in.RotationLambdaARN != "" {
		if !strings.HasPrefix(in.RotationLambdaARN, "arn:aws:lambda:") {
			return nil, invalidParam("The RotationLambdaARN %s is not a Lambda function ARN.", in.RotationLambdaARN)
		}
		sec.RotationARN = in.RotationLambdaARN
	}
	if sec.RotationARN == "" {
		return nil, awsapi.ClientError("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
	}
	if s.fns == nil {
		return nil, awsapi.ClientError("InvalidRequestException", "This node cannot invoke rotation functions.")
	}
	if p := sec.staged(stagePending); p != nil && !contains(p.Stages, stageCurrent) && p.ID != token {
		return nil, awsapi.ClientError("InvalidRequestException",
			"A previous rotation isn't complete. That rotation will be reattempted.")
	}
	if in.RotationRules != nil {
		sec.Rules = in.RotationRules
	}
	rotateNow := in.RotateImmediately == nil || *in.RotateImmediately
	if rotateNow && sec.version(token) == nil {
		// As Secrets Manager does: the token is a version labelled
		// AWSPENDING before createSecret runs, which stores its value.
		v := &version{ID: token, Created: s.now().UTC(), Empty: true}
		sec.Versions = append(sec.Versions, v)
		sec.moveStage(stagePending, v)
	}
	sec.Rotation = true
	sec.LastChanged = s.now().UTC()
	sec.NextRotation = nextRotation(sec.Rules, sec.LastChanged)
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if !rotateNow {
		return out, nil // AWS would run testSecret alone; the schedule (schedule.go) rotates later
	}
	out["VersionId"] = token
	s.rotations.Add(1)
	go func() {
		defer s.rotations.Done()
		s.rotate(s.ctx, sec.ARN, sec.RotationARN, token)
	}()
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// rotate drives the rotation function through its four steps, as
// Secrets Manager does: each step is a synchronous invocation with
// {SecretId, ClientRequestToken, Step}; a failed step ends the rotation.
// After finishSecret the token's version must be AWSCURRENT.
func (s *Service) rotate(ctx context.Context, arn, fn, token string) {
	for _, step := range rotationSteps {
		payload, _ := json.Marshal(map[string]string{"SecretId": arn, "ClientRequestToken": token, "Step": step})
		ferr, err := s.fns.InvokeRotation(ctx, fn, payload)
		if err != nil || ferr != "" {
			s.log.Warn("secret rotation failed", "secret", arn, "step", step, "function_error", ferr, "err", err)
			return
		}
	}
	// Record the rotation even if the node is stopping now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	sec, rev, err := s.live(ctx, arn)
	if err != nil {
		s.log.Warn("secret rotation: read the secret", "secret", arn, "err", err)
		return
	}
	if v := sec.version(token); v == nil || !contains(v.Stages, stageCurrent) {
		s.log.Warn("secret rotation: finishSecret did not make the new version AWSCURRENT", "secret", arn)
		return
	}
	// A finished rotation leaves AWSCURRENT and AWSPREVIOUS.
	for _, v := range sec.Versions {
		v.Stages = slices.DeleteFunc(v.Stages, func(x string) bool { return x == stagePending })
	}
	sec.LastRotated = s.now().UTC()
	if sec.Rotation {
		sec.NextRotation = nextRotation(sec.Rules, sec.LastRotated)
	}
	if _, err := s.save(ctx, sec, rev); err != nil {
		s.log.Warn("secret rotation: record it", "secret", arn, "err", err)
	}
}

func (s *Service) cancelRotateSecret(ctx context.Context, body []byte) (any, error) {
	var in secretIDInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	sec, rev, err := s.live(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	sec.Rotation = false
	sec.NextRotation = time.Time{}
	sec.LastChanged = s.now().UTC()
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if p := sec.staged(stagePending); p != nil {
		out["VersionId"] = p.ID
	}
	return out, nil
}

// Character classes of GetRandomPassword.
const (
	lowers      = "abcdefghijklmnopqrstuvwxyz"
	uppers      = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits      = "0123456789"
	punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// PasswordOptions are GetRandomPassword's (and GenerateSecretString's)
// settings.
type PasswordOptions struct {
	PasswordLength          *int64
	ExcludeCharacters       string
	ExcludeNumbers          bool
	ExcludePunctuation      bool
	ExcludeUppercase        bool
	ExcludeLowercase        bool
	IncludeSpace            bool
	RequireEachIncludedType *bool
}

// RandomPassword makes a password as GetRandomPassword does.
func RandomPassword(o PasswordOptions) (string, error) {
	n := int64(32)
	if o.PasswordLength != nil {
		n = *o.PasswordLength
	}
	if n < 1 || n > 4096 {
		return "", awsapi.Validation("1 validation error detected: Value at 'passwordLength' failed to satisfy constraint: Member must have value between 1 and 4096")
	}
	if len(o.ExcludeCharacters) > 4096 {
		return "", awsapi.Validation("1 validation error detected: Value at 'excludeCharacters' failed to satisfy constraint: Member must have length less than or equal to 4096")
	}
	var classes []string
	add := func(skip bool, set string) {
		if skip {
			return
		}
		var b strings.Builder
		for _, c := range set {
			if !strings.ContainsRune(o.ExcludeCharacters, c) {
				b.WriteRune(c)
			}
		}
		if b.Len() > 0 {
			classes = append(classes, b.String())
		}
	}
	add(o.ExcludeLowercase, lowers)
	add(o.ExcludeUppercase, uppers)
	add(o.ExcludeNumbers, digits)
	add(o.ExcludePunctuation, punctuation)
	add(!o.IncludeSpace, " ")
	if len(classes) == 0 {
		return "", invalidParam("The options you chose leave no characters to make a password from.")
	}
	each := o.RequireEachIncludedType == nil || *o.RequireEachIncludedType
	if each && int(n) < len(classes) {
		return "", invalidParam("The password length is too short to include a character of each required type.")
	}
	all := strings.Join(classes, "")
	pick := func(set string) (byte, error) {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, err
		}
		return set[i.Int64()], nil
	}
	out := make([]byte, n)
	for i := range out {
		c, err := pick(all)
		if err != nil {
			return "", err
		}
		out[i] = c
	}
	if each {
		// Put one character of each class at distinct random places.
		perm, err := randPerm(int(n))
		if err != nil {
			return "", err
		}
		for k, cl := range classes {
			c, err := pick(cl)
			if err != nil {
				return "", err
			}
			out[perm[k]] = c
		}
	}
	return string(out), nil
}

func randPerm(n int) ([]int, error) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return nil, err
		}
		p[i], p[j.Int64()] = p[j.Int64()], p[i]
	}
	return p, nil
}

func (s *Service) getRandomPassword(_ context.Context, body []byte) (any, error) {
	var in PasswordOptions
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	p, err := RandomPassword(in)
	if err != nil {
		return nil, err
	}
	return map[string]string{"RandomPassword": p}, nil
}
