package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcS3 = "S3"

func addS3(c *clients, ps map[string]stack.Provider) {
	ps["AWS::S3::Bucket"] = &bucketProvider{c}
	ps["AWS::S3::BucketPolicy"] = &bucketPolicyProvider{c}
}

// --- AWS::S3::Bucket ----------------------------------------------------

type s3Filter struct {
	S3Key *struct {
		Rules []struct{ Name, Value string }
	}
}

type s3NotificationConfiguration struct {
	EventBridgeConfiguration *struct{ EventBridgeEnabled bool }
	LambdaConfigurations     []struct {
		Event    string
		Filter   *s3Filter
		Function string
	}
	QueueConfigurations []struct {
		Event  string
		Filter *s3Filter
		Queue  string
	}
	TopicConfigurations []struct {
		Event  string
		Filter *s3Filter
		Topic  string
	}
}

// bucketProps are AWS::S3::Bucket's properties. Those configuring what
// Nimbus does not implement are accepted by the schema and refused by
// name. PublicAccessBlockConfiguration is S3's PutPublicAccessBlock
// (applied first, so the template's bucket policy is judged by it; a
// setting left out is false, as on AWS, and removing the property deletes
// the configuration). OwnershipControls and AccessControl are
// S3's (internal/s3/acl.go): on AWS's default, BucketOwnerEnforced, an
// AccessControl other than Private fails as it fails on AWS.
type bucketProps struct {
	BucketName                     *string
	NotificationConfiguration      *s3NotificationConfiguration
	VersioningConfiguration        *struct{ Status string }
	Tags                           []tag
	PublicAccessBlockConfiguration *struct {
		BlockPublicAcls, BlockPublicPolicy, IgnorePublicAcls, RestrictPublicBuckets *bool
	}
	OwnershipControls *struct {
		Rules []struct{ ObjectOwnership string }
	}
	AccessControl           *string
	AccelerateConfiguration any
	AnalyticsConfigurations any
	BucketEncryption        *struct {
		ServerSideEncryptionConfiguration []struct {
			ServerSideEncryptionByDefault *struct {
				SSEAlgorithm   string
				KMSMasterKeyID *string
			}
			BucketKeyEnabled *bool
		}
	}
	CorsConfiguration *struct {
		CorsRules []struct {
			AllowedHeaders, AllowedMethods, AllowedOrigins, ExposedHeaders []string
			ID                                                             *string
			MaxAge                                                         *int32
		}
	}
	IntelligentTieringConfigurations any
	InventoryConfigurations          any
	LifecycleConfiguration           *struct {
		Rules []lifecycleRuleProps
		// TransitionDefaultMinimumObjectSize is about transitions, which
		// Nimbus refuses: accepted and ignored.
		TransitionDefaultMinimumObjectSize *string
	}
	LoggingConfiguration       any
	MetadataTableConfiguration any
	MetricsConfigurations      any
	ObjectLockConfiguration    any
	ObjectLockEnabled          any
	ReplicationConfiguration   any
	WebsiteConfiguration       any
}

// refusals names the properties Nimbus does not implement.
func (bp *bucketProps) refusals(logicalID string) error {
	for _, x := range []struct {
		name string
		set  bool
	}{
		{"AccelerateConfiguration", bp.AccelerateConfiguration != nil}, {"AnalyticsConfigurations", bp.AnalyticsConfigurations != nil},
		{"IntelligentTieringConfigurations", bp.IntelligentTieringConfigurations != nil},
		{"InventoryConfigurations", bp.InventoryConfigurations != nil},
		{"LoggingConfiguration", bp.LoggingConfiguration != nil}, {"MetadataTableConfiguration", bp.MetadataTableConfiguration != nil},
		{"MetricsConfigurations", bp.MetricsConfigurations != nil}, {"ObjectLockConfiguration", bp.ObjectLockConfiguration != nil},
		{"ObjectLockEnabled", bp.ObjectLockEnabled != nil}, {"ReplicationConfiguration", bp.ReplicationConfiguration != nil},
		{"WebsiteConfiguration", bp.WebsiteConfiguration != nil},
	} {
		if x.set {
			return fmt.Errorf("%s: Nimbus does not implement the S3 bucket property %s yet", logicalID, x.name)
		}
	}
	return nil
}

// ownership is OwnershipControls' setting ("" when none is given).
func (bp *bucketProps) ownership() string {
	if bp.OwnershipControls == nil || len(bp.OwnershipControls.Rules) == 0 {
		return ""
	}
	return bp.OwnershipControls.Rules[0].ObjectOwnership
}

// cannedACL is S3's name of an AccessControl value: PublicRead is
// public-read ("" when none is given).
func cannedACL(v *string) string {
	var b strings.Builder
	for i, c := range aws.ToString(v) {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

type bucketProvider struct{ c *clients }

// bucketName is a bucket's generated name, as CloudFormation makes it:
// <stack>-<logical id>-<random>, lower-cased, at most 63 characters.
func bucketName(stackName, logicalID string) string {
	n := strings.ToLower(physicalName(stackName, logicalID, 63))
	var b strings.Builder
	for _, c := range n {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' {
			b.WriteRune(c)
		}
	}
	return strings.Trim(b.String(), "-.")
}

func (p *bucketProvider) attrs(r *stack.Request, name string) map[string]any {
	return map[string]any{
		"Arn":                 "arn:aws:s3:::" + name,
		"DomainName":          name + ".s3.localhost",
		"DualStackDomainName": name + ".s3.dualstack." + r.Region + ".localhost",
		"RegionalDomainName":  name + ".s3." + r.Region + ".localhost",
	}
}

func (p *bucketProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var bp bucketProps
	if err := props(r, &bp); err != nil {
		return nil, err
	}
	if err := bp.refusals(r.LogicalID); err != nil {
		return nil, err
	}
	name := aws.ToString(bp.BucketName)
	if name == "" {
		name = bucketName(r.StackName, r.LogicalID)
	}
	in := &s3.CreateBucketInput{Bucket: &name, ACL: s3types.BucketCannedACL(cannedACL(bp.AccessControl))}
	if o := bp.ownership(); o != "" {
		in.ObjectOwnership = s3types.ObjectOwnership(o)
	}
	if r.Region != "" && r.Region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(r.Region)}
	}
	if _, err := p.c.s3.CreateBucket(ctx, in); err != nil {
		return nil, apiError(svcS3, err)
	}
	if err := p.configure(ctx, name, &bp, nil); err != nil {
		if _, derr := p.c.s3.DeleteBucket(context.WithoutCancel(ctx), &s3.DeleteBucketInput{Bucket: &name}); derr != nil {
			p.c.log.Warn("undo bucket create", "bucket", name, "err", derr)
		}
		return nil, err
	}
	return &stack.Result{PhysicalID: name, Attrs: p.attrs(r, name)}, nil
}

// configure applies the notification configuration and tags (those that
// changed from prev, all when prev is nil).
func (p *bucketProvider) configure(ctx context.Context, name string, bp *bucketProps, ch map[string]bool) error {
	if pab := bp.PublicAccessBlockConfiguration; (ch == nil && pab != nil) || (ch != nil && ch["PublicAccessBlockConfiguration"]) {
		var err error
		if pab == nil {
			_, err = p.c.s3.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: &name})
		} else {
			_, err = p.c.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &name,
				PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
					BlockPublicAcls: aws.Bool(aws.ToBool(pab.BlockPublicAcls)), BlockPublicPolicy: aws.Bool(aws.ToBool(pab.BlockPublicPolicy)),
					IgnorePublicAcls: aws.Bool(aws.ToBool(pab.IgnorePublicAcls)), RestrictPublicBuckets: aws.Bool(aws.ToBool(pab.RestrictPublicBuckets))}})
		}
		if err != nil {
			return apiError(svcS3, err)
		}
	}
	if ch == nil || ch["NotificationConfiguration"] {
		if _, err := p.c.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &name,
			NotificationConfiguration: notificationConfiguration(bp.NotificationConfiguration)}); err != nil {
			return apiError(svcS3, err)
		}
	}
	if vc := bp.VersioningConfiguration; (ch == nil && vc != nil) || (ch != nil && ch["VersioningConfiguration"]) {
		status := s3types.BucketVersioningStatusSuspended // a versioned bucket never returns to unversioned
		if vc != nil {
			status = s3types.BucketVersioningStatus(vc.Status)
		}
		if _, err := p.c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &name,
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: status}}); err != nil {
			return apiError(svcS3, err)
		}
	}
	if ch == nil || ch["LifecycleConfiguration"] {
		if err := p.putLifecycle(ctx, name, bp, ch != nil); err != nil {
			return err
		}
	}
	if ch == nil || ch["CorsConfiguration"] {
		if err := p.putCORS(ctx, name, bp, ch != nil); err != nil {
			return err
		}
	}
	if (ch == nil && bp.BucketEncryption != nil) || (ch != nil && ch["BucketEncryption"]) {
		if err := p.putEncryption(ctx, name, bp); err != nil {
			return err
		}
	}
	if ch != nil && ch["OwnershipControls"] {
		var err error
		if o := bp.ownership(); o != "" {
			_, err = p.c.s3.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &name,
				OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnership(o)}}}})
		} else {
			_, err = p.c.s3.DeleteBucketOwnershipControls(ctx, &s3.DeleteBucketOwnershipControlsInput{Bucket: &name})
		}
		if err != nil {
			return apiError(svcS3, err)
		}
	}
	if ch != nil && ch["AccessControl"] {
		acl := cannedACL(bp.AccessControl)
		if acl == "" {
			acl = "private"
		}
		if _, err := p.c.s3.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &name, ACL: s3types.BucketCannedACL(acl)}); err != nil {
			return apiError(svcS3, err)
		}
	}
	if ch == nil || ch["Tags"] {
		if len(bp.Tags) == 0 {
			if ch != nil {
				if _, err := p.c.s3.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: &name}); err != nil {
					return apiError(svcS3, err)
				}
			}
			return nil
		}
		ts := make([]s3types.Tag, 0, len(bp.Tags))
		for _, t := range bp.Tags {
			ts = append(ts, s3types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
		}
		if _, err := p.c.s3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &name, Tagging: &s3types.Tagging{TagSet: ts}}); err != nil {
			return apiError(svcS3, err)
		}
	}
	return nil
}

// putEncryption applies BucketEncryption (its removal returns the bucket
// to S3's default, SSE-S3).
func (p *bucketProvider) putEncryption(ctx context.Context, name string, bp *bucketProps) error {
	if bp.BucketEncryption == nil {
		if _, err := p.c.s3.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: &name}); err != nil {
			return apiError(svcS3, err)
		}
		return nil
	}
	var rules []s3types.ServerSideEncryptionRule
	for _, r := range bp.BucketEncryption.ServerSideEncryptionConfiguration {
		rule := s3types.ServerSideEncryptionRule{BucketKeyEnabled: r.BucketKeyEnabled}
		if d := r.ServerSideEncryptionByDefault; d != nil {
			rule.ApplyServerSideEncryptionByDefault = &s3types.ServerSideEncryptionByDefault{
				SSEAlgorithm: s3types.ServerSideEncryption(d.SSEAlgorithm), KMSMasterKeyID: d.KMSMasterKeyID}
		}
		rules = append(rules, rule)
	}
	if _, err := p.c.s3.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &name,
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: rules}}); err != nil {
		return apiError(svcS3, err)
	}
	return nil
}

// lifecycleRuleProps is a rule of AWS::S3::Bucket's LifecycleConfiguration.
type lifecycleRuleProps struct {
	ID                                string
	Prefix                            *string
	Status                            string
	ExpirationInDays                  *int32
	ExpirationDate                    *string
	ExpiredObjectDeleteMarker         *bool
	NoncurrentVersionExpirationInDays *int32
	NoncurrentVersionExpiration       *struct {
		NoncurrentDays          *int32
		NewerNoncurrentVersions *int32
	}
	AbortIncompleteMultipartUpload *struct{ DaysAfterInitiation *int32 }
	TagFilters                     []tag
	ObjectSizeGreaterThan          *string
	ObjectSizeLessThan             *string
	Transitions                    any
	Transition                     any
	NoncurrentVersionTransitions   any
	NoncurrentVersionTransition    any
}

// lifecycleRule is the S3 API's form of a template's rule.
func lifecycleRule(r lifecycleRuleProps) (s3types.LifecycleRule, error) {
	out := s3types.LifecycleRule{ID: aws.String(r.ID), Status: s3types.ExpirationStatus(r.Status)}
	if r.ID == "" {
		out.ID = nil
	}
	if r.Transitions != nil || r.Transition != nil || r.NoncurrentVersionTransitions != nil || r.NoncurrentVersionTransition != nil {
		return out, fmt.Errorf("Nimbus does not implement lifecycle transitions (one storage class)") //nolint:staticcheck // a sentence
	}
	size := func(v *string) (*int64, error) {
		if v == nil {
			return nil, nil
		}
		n, err := strconv.ParseInt(*v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ObjectSize %q is not a number", *v)
		}
		return &n, nil
	}
	gt, err := size(r.ObjectSizeGreaterThan)
	if err != nil {
		return out, err
	}
	lt, err := size(r.ObjectSizeLessThan)
	if err != nil {
		return out, err
	}
	and := &s3types.LifecycleRuleAndOperator{Prefix: r.Prefix, ObjectSizeGreaterThan: gt, ObjectSizeLessThan: lt}
	for _, t := range r.TagFilters {
		and.Tags = append(and.Tags, s3types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	n := len(and.Tags)
	for _, set := range []bool{r.Prefix != nil, gt != nil, lt != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		out.Filter = &s3types.LifecycleRuleFilter{And: and}
	case len(and.Tags) == 1:
		out.Filter = &s3types.LifecycleRuleFilter{Tag: &and.Tags[0]}
	case gt != nil:
		out.Filter = &s3types.LifecycleRuleFilter{ObjectSizeGreaterThan: gt}
	case lt != nil:
		out.Filter = &s3types.LifecycleRuleFilter{ObjectSizeLessThan: lt}
	default:
		out.Filter = &s3types.LifecycleRuleFilter{Prefix: aws.String(aws.ToString(r.Prefix))}
	}
	if r.ExpirationInDays != nil || r.ExpirationDate != nil || r.ExpiredObjectDeleteMarker != nil {
		out.Expiration = &s3types.LifecycleExpiration{Days: r.ExpirationInDays, ExpiredObjectDeleteMarker: r.ExpiredObjectDeleteMarker}
		if r.ExpirationDate != nil {
			d, err := time.Parse(time.RFC3339, *r.ExpirationDate)
			if err != nil {
				if d, err = time.Parse("2006-01-02", *r.ExpirationDate); err != nil {
					return out, fmt.Errorf("ExpirationDate %q is not an ISO 8601 date", *r.ExpirationDate)
				}
			}
			out.Expiration.Date = &d
		}
	}
	if ne := r.NoncurrentVersionExpiration; ne != nil {
		out.NoncurrentVersionExpiration = &s3types.NoncurrentVersionExpiration{NoncurrentDays: ne.NoncurrentDays, NewerNoncurrentVersions: ne.NewerNoncurrentVersions}
	} else if r.NoncurrentVersionExpirationInDays != nil {
		out.NoncurrentVersionExpiration = &s3types.NoncurrentVersionExpiration{NoncurrentDays: r.NoncurrentVersionExpirationInDays}
	}
	if a := r.AbortIncompleteMultipartUpload; a != nil {
		out.AbortIncompleteMultipartUpload = &s3types.AbortIncompleteMultipartUpload{DaysAfterInitiation: a.DaysAfterInitiation}
	}
	return out, nil
}

// putLifecycle applies LifecycleConfiguration (removing the rules when it
// is gone and there were some).
func (p *bucketProvider) putLifecycle(ctx context.Context, name string, bp *bucketProps, update bool) error {
	if bp.LifecycleConfiguration == nil || len(bp.LifecycleConfiguration.Rules) == 0 {
		if update {
			if _, err := p.c.s3.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: &name}); err != nil {
				return apiError(svcS3, err)
			}
		}
		return nil
	}
	var rules []s3types.LifecycleRule
	for _, r := range bp.LifecycleConfiguration.Rules {
		lr, err := lifecycleRule(r)
		if err != nil {
			return fmt.Errorf("LifecycleConfiguration: %w", err)
		}
		rules = append(rules, lr)
	}
	if _, err := p.c.s3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &name,
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: rules}}); err != nil {
		return apiError(svcS3, err)
	}
	return nil
}

// putCORS applies CorsConfiguration (removing the rules when it is gone
// and there were some).
func (p *bucketProvider) putCORS(ctx context.Context, name string, bp *bucketProps, update bool) error {
	if bp.CorsConfiguration == nil || len(bp.CorsConfiguration.CorsRules) == 0 {
		if update {
			if _, err := p.c.s3.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: &name}); err != nil {
				return apiError(svcS3, err)
			}
		}
		return nil
	}
	var rules []s3types.CORSRule
	for _, r := range bp.CorsConfiguration.CorsRules {
		rules = append(rules, s3types.CORSRule{AllowedHeaders: r.AllowedHeaders, AllowedMethods: r.AllowedMethods,
			AllowedOrigins: r.AllowedOrigins, ExposeHeaders: r.ExposedHeaders, ID: r.ID, MaxAgeSeconds: r.MaxAge})
	}
	if _, err := p.c.s3.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &name,
		CORSConfiguration: &s3types.CORSConfiguration{CORSRules: rules}}); err != nil {
		return apiError(svcS3, err)
	}
	return nil
}

func s3FilterOf(f *s3Filter) *s3types.NotificationConfigurationFilter {
	if f == nil || f.S3Key == nil {
		return nil
	}
	out := &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{}}
	for _, r := range f.S3Key.Rules {
		out.Key.FilterRules = append(out.Key.FilterRules, s3types.FilterRule{Name: s3types.FilterRuleName(strings.ToLower(r.Name)), Value: aws.String(r.Value)})
	}
	return out
}

func notificationConfiguration(nc *s3NotificationConfiguration) *s3types.NotificationConfiguration {
	out := &s3types.NotificationConfiguration{}
	if nc == nil {
		return out
	}
	for _, l := range nc.LambdaConfigurations {
		out.LambdaFunctionConfigurations = append(out.LambdaFunctionConfigurations, s3types.LambdaFunctionConfiguration{
			LambdaFunctionArn: aws.String(l.Function), Events: []s3types.Event{s3types.Event(l.Event)}, Filter: s3FilterOf(l.Filter)})
	}
	for _, q := range nc.QueueConfigurations {
		out.QueueConfigurations = append(out.QueueConfigurations, s3types.QueueConfiguration{
			QueueArn: aws.String(q.Queue), Events: []s3types.Event{s3types.Event(q.Event)}, Filter: s3FilterOf(q.Filter)})
	}
	for _, t := range nc.TopicConfigurations {
		out.TopicConfigurations = append(out.TopicConfigurations, s3types.TopicConfiguration{
			TopicArn: aws.String(t.Topic), Events: []s3types.Event{s3types.Event(t.Event)}, Filter: s3FilterOf(t.Filter)})
	}
	if eb := nc.EventBridgeConfiguration; eb != nil && eb.EventBridgeEnabled {
		out.EventBridgeConfiguration = &s3types.EventBridgeConfiguration{}
	}
	return out
}

func (p *bucketProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var bp bucketProps
	if err := props(r, &bp); err != nil {
		return nil, err
	}
	if err := bp.refusals(r.LogicalID); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "BucketName") {
		return nil, replace(r.LogicalID, "BucketName")
	}
	if err := p.configure(ctx, prev.PhysicalID, &bp, ch); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: p.attrs(r, prev.PhysicalID)}, nil
}

// Delete removes the bucket; like CloudFormation, it fails on a bucket
// that still holds objects (BucketNotEmpty).
func (p *bucketProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &cur.PhysicalID})
	return ignoreNotFound(svcS3, err)
}

// --- AWS::S3::BucketPolicy ----------------------------------------------

type bucketPolicyProps struct {
	Bucket         string
	PolicyDocument any
}

type bucketPolicyProvider struct{ c *clients }

func (p *bucketPolicyProvider) put(ctx context.Context, r *stack.Request) (string, error) {
	var bp bucketPolicyProps
	if err := props(r, &bp); err != nil {
		return "", err
	}
	if err := requireProps(r.LogicalID, r.Properties, "Bucket", "PolicyDocument"); err != nil {
		return "", err
	}
	doc, ok := bp.PolicyDocument.(string)
	if !ok {
		b, err := json.Marshal(bp.PolicyDocument)
		if err != nil {
			return "", fmt.Errorf("encode PolicyDocument: %w", err)
		}
		doc = string(b)
	}
	if _, err := p.c.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bp.Bucket, Policy: &doc}); err != nil {
		return "", apiError(svcS3, err)
	}
	return bp.Bucket, nil
}

func (p *bucketPolicyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	b, err := p.put(ctx, r)
	if err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: b}, nil
}

func (p *bucketPolicyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if anyChanged(changed(prev.Properties, r.Properties), "Bucket") {
		return nil, replace(r.LogicalID, "Bucket")
	}
	b, err := p.put(ctx, r)
	if err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: b}, nil
}

func (p *bucketPolicyProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &cur.PhysicalID})
	return ignoreNotFound(svcS3, err)
}
