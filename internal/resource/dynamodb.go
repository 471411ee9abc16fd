package resource

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcDynamoDB = "DynamoDb"

func addDynamoDB(c *clients, ps map[string]stack.Provider) {
	ps["AWS::DynamoDB::Table"] = &tableProvider{c}
}

// tableProps are AWS::DynamoDB::Table's properties.
type tableProps struct {
	TableName              *string
	AttributeDefinitions   []ddbtypes.AttributeDefinition
	KeySchema              []ddbtypes.KeySchemaElement
	GlobalSecondaryIndexes []ddbtypes.GlobalSecondaryIndex
	LocalSecondaryIndexes  []ddbtypes.LocalSecondaryIndex
	BillingMode            ddbtypes.BillingMode
	ProvisionedThroughput  *ddbtypes.ProvisionedThroughput
	StreamSpecification    *struct {
		StreamViewType ddbtypes.StreamViewType
		ResourcePolicy any
	}
	TimeToLiveSpecification *struct {
		AttributeName *string
		Enabled       bool
	}
	Tags                      []tag
	DeletionProtectionEnabled *bool
	TableClass                ddbtypes.TableClass
	// Accepted and not acted on: encryption, backups and insights have
	// no behaviour on a Nimbus node.
	SSESpecification                 any
	PointInTimeRecoverySpecification any
	ContributorInsightsSpecification any
	OnDemandThroughput               any
	WarmThroughput                   any
	ResourcePolicy                   any
	// Refused.
	KinesisStreamSpecification any
	ImportSourceSpecification  any
}

type tableProvider struct{ c *clients }

func (p *tableProvider) client() *dynamodb.Client { return p.c.dynamodb }

func (p *tableProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var tp tableProps
	if err := props(r, &tp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "KeySchema"); err != nil {
		return nil, err
	}
	if tp.KinesisStreamSpecification != nil || tp.ImportSourceSpecification != nil {
		return nil, fmt.Errorf("%s: Nimbus does not serve KinesisStreamSpecification or ImportSourceSpecification on DynamoDB tables", r.LogicalID)
	}
	name := derefOr(tp.TableName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 255)
	}
	in := &dynamodb.CreateTableInput{
		TableName: aws.String(name), AttributeDefinitions: tp.AttributeDefinitions, KeySchema: tp.KeySchema,
		GlobalSecondaryIndexes: tp.GlobalSecondaryIndexes, LocalSecondaryIndexes: tp.LocalSecondaryIndexes,
		BillingMode: tp.BillingMode, ProvisionedThroughput: tp.ProvisionedThroughput,
		DeletionProtectionEnabled: tp.DeletionProtectionEnabled, TableClass: tp.TableClass,
	}
	if len(tp.Tags) > 0 {
		for _, t := range tp.Tags {
			in.Tags = append(in.Tags, ddbtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
		}
	}
	if s := tp.StreamSpecification; s != nil {
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: s.StreamViewType}
	}
	out, err := p.client().CreateTable(ctx, in)
	if err != nil {
		return nil, apiError(svcDynamoDB, err)
	}
	if ttl := tp.TimeToLiveSpecification; ttl != nil && ttl.Enabled {
		if err := p.ttl(ctx, name, ttl.AttributeName, true); err != nil {
			if _, derr := p.client().DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); derr != nil && !notFound(derr) {
				p.c.log.Warn("undo table create", "table", name, "err", derr)
			}
			return nil, err
		}
	}
	if err := p.waitActive(ctx, name); err != nil {
		return nil, err
	}
	return tableResult(name, out.TableDescription), nil
}

func (p *tableProvider) ttl(ctx context.Context, name string, attr *string, on bool) error {
	_, err := p.client().UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: attr, Enabled: aws.Bool(on)}})
	return apiError(svcDynamoDB, err)
}

func (p *tableProvider) waitActive(ctx context.Context, name string) error {
	return poll(ctx, "table "+name, func(ctx context.Context) (bool, error) {
		d, err := p.client().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return false, apiError(svcDynamoDB, err)
		}
		return d.Table.TableStatus == ddbtypes.TableStatusActive, nil
	})
}

func tableResult(name string, d *ddbtypes.TableDescription) *stack.Result {
	attrs := map[string]any{"Arn": aws.ToString(d.TableArn)}
	if d.LatestStreamArn != nil {
		attrs["StreamArn"] = *d.LatestStreamArn
	}
	return &stack.Result{PhysicalID: name, Attrs: attrs}
}

func (p *tableProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var tp, old tableProps
	if err := props(r, &tp); err != nil {
		return nil, err
	}
	if err := propsOf(r.LogicalID, prev.Properties, &old); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "TableName", "KeySchema", "LocalSecondaryIndexes", "ImportSourceSpecification") {
		return nil, replace(r.LogicalID, "TableName, KeySchema or LocalSecondaryIndexes")
	}
	name := prev.PhysicalID
	c := p.client()
	if anyChanged(ch, "BillingMode", "ProvisionedThroughput", "DeletionProtectionEnabled", "TableClass") {
		in := &dynamodb.UpdateTableInput{TableName: aws.String(name), AttributeDefinitions: tp.AttributeDefinitions,
			DeletionProtectionEnabled: tp.DeletionProtectionEnabled, TableClass: tp.TableClass}
		if ch["BillingMode"] {
			in.BillingMode = tp.BillingMode
			if in.BillingMode == "" {
				in.BillingMode = ddbtypes.BillingModeProvisioned
			}
		}
		if ch["ProvisionedThroughput"] || in.BillingMode == ddbtypes.BillingModeProvisioned {
			in.ProvisionedThroughput = tp.ProvisionedThroughput
		}
		if _, err := c.UpdateTable(ctx, in); err != nil {
			return nil, apiError(svcDynamoDB, err)
		}
	}
	if ch["StreamSpecification"] {
		if old.StreamSpecification != nil {
			if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
				StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
				return nil, apiError(svcDynamoDB, err)
			}
		}
		if tp.StreamSpecification != nil {
			if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
				StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: tp.StreamSpecification.StreamViewType}}); err != nil {
				return nil, apiError(svcDynamoDB, err)
			}
		}
	}
	if ch["GlobalSecondaryIndexes"] {
		if err := p.updateIndexes(ctx, name, tp, old); err != nil {
			return nil, err
		}
	}
	if ch["TimeToLiveSpecification"] {
		var err error
		switch n, o := tp.TimeToLiveSpecification, old.TimeToLiveSpecification; {
		case n != nil && n.Enabled && (o == nil || !o.Enabled):
			err = p.ttl(ctx, name, n.AttributeName, true)
		case (n == nil || !n.Enabled) && o != nil && o.Enabled:
			err = p.ttl(ctx, name, o.AttributeName, false)
		}
		if err != nil {
			return nil, err
		}
	}
	if ch["Tags"] {
		if err := p.retag(ctx, name, old.Tags, tp.Tags); err != nil {
			return nil, err
		}
	}
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return nil, apiError(svcDynamoDB, err)
	}
	return tableResult(name, d.Table), nil
}

// updateIndexes deletes the GSIs the new properties drop and creates the
// ones they add (a changed index is deleted and created again).
func (p *tableProvider) updateIndexes(ctx context.Context, name string, tp, old tableProps) error {
	byName := func(ix []ddbtypes.GlobalSecondaryIndex) map[string]ddbtypes.GlobalSecondaryIndex {
		m := map[string]ddbtypes.GlobalSecondaryIndex{}
		for _, i := range ix {
			m[aws.ToString(i.IndexName)] = i
		}
		return m
	}
	now, before := byName(tp.GlobalSecondaryIndexes), byName(old.GlobalSecondaryIndexes)
	same := func(a, b ddbtypes.GlobalSecondaryIndex) bool {
		return fmt.Sprint(a.KeySchema, a.Projection) == fmt.Sprint(b.KeySchema, b.Projection)
	}
	c := p.client()
	for n, ix := range before {
		if cur, ok := now[n]; !ok || !same(cur, ix) {
			if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
				GlobalSecondaryIndexUpdates: []ddbtypes.GlobalSecondaryIndexUpdate{{Delete: &ddbtypes.DeleteGlobalSecondaryIndexAction{IndexName: aws.String(n)}}}}); err != nil {
				return apiError(svcDynamoDB, err)
			}
		}
	}
	for n, ix := range now {
		if prev, ok := before[n]; !ok || !same(prev, ix) {
			if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name), AttributeDefinitions: tp.AttributeDefinitions,
				GlobalSecondaryIndexUpdates: []ddbtypes.GlobalSecondaryIndexUpdate{{Create: &ddbtypes.CreateGlobalSecondaryIndexAction{
					IndexName: ix.IndexName, KeySchema: ix.KeySchema, Projection: ix.Projection, ProvisionedThroughput: ix.ProvisionedThroughput}}}}); err != nil {
				return apiError(svcDynamoDB, err)
			}
		}
	}
	return nil
}

func (p *tableProvider) retag(ctx context.Context, name string, old, cur []tag) error {
	d, err := p.client().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return apiError(svcDynamoDB, err)
	}
	arn := d.Table.TableArn
	keep := tagMap(cur)
	var drop []string
	for _, t := range old {
		if _, ok := keep[t.Key]; !ok {
			drop = append(drop, t.Key)
		}
	}
	if len(drop) > 0 {
		if _, err := p.client().UntagResource(ctx, &dynamodb.UntagResourceInput{ResourceArn: arn, TagKeys: drop}); err != nil {
			return apiError(svcDynamoDB, err)
		}
	}
	if len(cur) > 0 {
		var ts []ddbtypes.Tag
		for _, t := range cur {
			ts = append(ts, ddbtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
		}
		if _, err := p.client().TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: arn, Tags: ts}); err != nil {
			return apiError(svcDynamoDB, err)
		}
	}
	return nil
}

func (p *tableProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.client().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(cur.PhysicalID)})
	return ignoreNotFound(svcDynamoDB, err)
}
