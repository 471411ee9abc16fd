package dynamodb

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// The wire shapes of tables, as DynamoDB's model names them. The same
// structure is the stored table record.

type attrDef struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type keyElem struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type projection struct {
	ProjectionType   string   `json:"ProjectionType,omitempty"`
	NonKeyAttributes []string `json:"NonKeyAttributes,omitempty"`
}

type throughput struct {
	ReadCapacityUnits      *int64   `json:"ReadCapacityUnits,omitempty"`
	WriteCapacityUnits     *int64   `json:"WriteCapacityUnits,omitempty"`
	NumberOfDecreasesToday *int64   `json:"NumberOfDecreasesToday,omitempty"`
	LastIncreaseDateTime   *float64 `json:"LastIncreaseDateTime,omitempty"`
}

type indexDesc struct {
	IndexName             string      `json:"IndexName"`
	KeySchema             []keyElem   `json:"KeySchema"`
	Projection            projection  `json:"Projection"`
	IndexStatus           string      `json:"IndexStatus,omitempty"`
	Backfilling           *bool       `json:"Backfilling,omitempty"`
	ProvisionedThroughput *throughput `json:"ProvisionedThroughput,omitempty"`
	IndexSizeBytes        *int64      `json:"IndexSizeBytes,omitempty"`
	ItemCount             *int64      `json:"ItemCount,omitempty"`
	IndexArn              string      `json:"IndexArn,omitempty"`
}

type streamSpec struct {
	StreamEnabled  bool   `json:"StreamEnabled"`
	StreamViewType string `json:"StreamViewType,omitempty"`
}

type billingSummary struct {
	BillingMode                       string   `json:"BillingMode"`
	LastUpdateToPayPerRequestDateTime *float64 `json:"LastUpdateToPayPerRequestDateTime,omitempty"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// tableDesc is a table's record and its TableDescription.
type tableDesc struct {
	TableName                 string          `json:"TableName"`
	TableArn                  string          `json:"TableArn"`
	TableID                   string          `json:"TableId"`
	TableStatus               string          `json:"TableStatus"`
	CreationDateTime          float64         `json:"CreationDateTime"`
	AttributeDefinitions      []attrDef       `json:"AttributeDefinitions"`
	KeySchema                 []keyElem       `json:"KeySchema"`
	ProvisionedThroughput     *throughput     `json:"ProvisionedThroughput,omitempty"`
	BillingModeSummary        *billingSummary `json:"BillingModeSummary,omitempty"`
	LocalSecondaryIndexes     []indexDesc     `json:"LocalSecondaryIndexes,omitempty"`
	GlobalSecondaryIndexes    []indexDesc     `json:"GlobalSecondaryIndexes,omitempty"`
	StreamSpecification       *streamSpec     `json:"StreamSpecification,omitempty"`
	LatestStreamLabel         string          `json:"LatestStreamLabel,omitempty"`
	LatestStreamArn           string          `json:"LatestStreamArn,omitempty"`
	DeletionProtectionEnabled bool            `json:"DeletionProtectionEnabled"`
	TableSizeBytes            int64           `json:"TableSizeBytes"`
	ItemCount                 int64           `json:"ItemCount"`
	TableClassSummary         *struct {
		TableClass string `json:"TableClass"`
	} `json:"TableClassSummary,omitempty"`

	// Stored only (describe leaves them out of TableDescription).
	StoredTags    []tag       `json:"NimbusTags,omitempty"`
	StoredTTL     string      `json:"NimbusTTLAttribute,omitempty"`
	StoredTTLOn   bool        `json:"NimbusTTLEnabled,omitempty"`
	StreamHistory []streamRef `json:"NimbusStreams,omitempty"`
}

// streamRef is one stream a table had (a disabled stream stays readable
// for 24 hours).
type streamRef struct {
	Arn      string  `json:"Arn"`
	Label    string  `json:"Label"`
	ViewType string  `json:"ViewType"`
	Disabled float64 `json:"Disabled,omitempty"`
}

// schema is a key schema resolved: names and types of the hash and range
// key attributes.
type schema struct {
	hash, rng         string
	hashType, rngType Kind
}

func (s schema) has(name string) bool { return name == s.hash || (s.rng != "" && name == s.rng) }

func (t *tableDesc) attrType(name string) Kind {
	for _, d := range t.AttributeDefinitions {
		if d.AttributeName == name {
			k, _ := kindByName(d.AttributeType)
			return k
		}
	}
	return 0
}

func (t *tableDesc) schemaOf(ks []keyElem) schema {
	var s schema
	for _, k := range ks {
		if k.KeyType == "HASH" {
			s.hash, s.hashType = k.AttributeName, t.attrType(k.AttributeName)
		} else {
			s.rng, s.rngType = k.AttributeName, t.attrType(k.AttributeName)
		}
	}
	return s
}

func (t *tableDesc) schema() schema { return t.schemaOf(t.KeySchema) }

// index finds a secondary index by name.
func (t *tableDesc) index(name string) (*indexDesc, bool) {
	for i := range t.GlobalSecondaryIndexes {
		if t.GlobalSecondaryIndexes[i].IndexName == name {
			return &t.GlobalSecondaryIndexes[i], true
		}
	}
	for i := range t.LocalSecondaryIndexes {
		if t.LocalSecondaryIndexes[i].IndexName == name {
			return &t.LocalSecondaryIndexes[i], false
		}
	}
	return nil, false
}

func (t *tableDesc) indexes() []*indexDesc {
	var out []*indexDesc
	for i := range t.GlobalSecondaryIndexes {
		out = append(out, &t.GlobalSecondaryIndexes[i])
	}
	for i := range t.LocalSecondaryIndexes {
		out = append(out, &t.LocalSecondaryIndexes[i])
	}
	return out
}

var tableNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`) })

func checkTableName(field, name string) error {
	switch {
	case len(name) < 3:
		return validationf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to 3", name, field)
	case len(name) > 255:
		return validationf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to 255", name, field)
	case !tableNameRE().MatchString(name):
		return validationf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name, field)
	}
	return nil
}

// createTableInput is CreateTable's request.
type createTableInput struct {
	TableName              string      `json:"TableName"`
	AttributeDefinitions   []attrDef   `json:"AttributeDefinitions"`
	KeySchema              []keyElem   `json:"KeySchema"`
	LocalSecondaryIndexes  []indexDesc `json:"LocalSecondaryIndexes"`
	GlobalSecondaryIndexes []indexDesc `json:"GlobalSecondaryIndexes"`
	BillingMode            string      `json:"BillingMode"`
	ProvisionedThroughput  *throughput `json:"ProvisionedThroughput"`
	StreamSpecification    *streamSpec `json:"StreamSpecification"`
	Tags                   []tag       `json:"Tags"`
	TableClass             string      `json:"TableClass"`
	DeletionProtection     bool        `json:"DeletionProtectionEnabled"`
	SSESpecification       *struct {
		Enabled bool `json:"Enabled"`
	} `json:"SSESpecification"`
}

func checkKeySchema(what string, ks []keyElem) error {
	if len(ks) == 0 {
		return validationf("1 validation error detected: Value '[]' at '%s' failed to satisfy constraint: Member must have length greater than or equal to 1", what)
	}
	if len(ks) > 2 {
		return validationf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to 2", what)
	}
	if ks[0].KeyType != "HASH" {
		return validationf("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
	}
	if len(ks) == 2 {
		if ks[1].KeyType != "RANGE" {
			return validationf("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
		}
		if ks[0].AttributeName == ks[1].AttributeName {
			return validationf("Both the Hash Key and the Range Key element in the KeySchema have the same name")
		}
	}
	for _, k := range ks {
		if k.AttributeName == "" || len(k.AttributeName) > 255 {
			return validationf("1 validation error detected: Value '%s' at '%s.attributeName' failed to satisfy constraint: Member must have length between 1 and 255", k.AttributeName, what)
		}
	}
	return nil
}

func checkProjection(p *projection, what string) error {
	switch p.ProjectionType {
	case "":
		p.ProjectionType = "ALL"
		if len(p.NonKeyAttributes) > 0 {
			return validationf("One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
		}
	case "ALL", "KEYS_ONLY":
		if len(p.NonKeyAttributes) > 0 {
			return validationf("One or more parameter values were invalid: ProjectionType is %s, but NonKeyAttributes is specified", p.ProjectionType)
		}
	case "INCLUDE":
		if len(p.NonKeyAttributes) == 0 {
			return validationf("One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
		}
		if len(p.NonKeyAttributes) > 100 {
			return validationf("One or more parameter values were invalid: Number of projected attributes in all indexes exceeds limit of 100, provided: %d", len(p.NonKeyAttributes))
		}
	default:
		return validationf("1 validation error detected: Value '%s' at '%s.projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]", p.ProjectionType, what)
	}
	return nil
}

func checkThroughput(mode string, t *throughput, what string) error {
	if mode == "PAY_PER_REQUEST" {
		if t != nil && (t.ReadCapacityUnits != nil || t.WriteCapacityUnits != nil) {
			return validationf("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
		return nil
	}
	if t == nil || t.ReadCapacityUnits == nil || t.WriteCapacityUnits == nil {
		if what == "table" {
			return validationf("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
		}
		return validationf("One or more parameter values were invalid: ProvisionedThroughput must be specified for index: %s", what)
	}
	if *t.ReadCapacityUnits < 1 || *t.WriteCapacityUnits < 1 {
		return validationf("One or more parameter values were invalid: Given value %d for ReadCapacityUnits is out of bounds", *t.ReadCapacityUnits)
	}
	return nil
}

func checkStreamSpec(s *streamSpec) error {
	if s == nil {
		return nil
	}
	if s.StreamEnabled {
		switch s.StreamViewType {
		case "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES":
		case "":
			return validationf("One or more parameter values were invalid: StreamViewType is required when StreamEnabled is true")
		default:
			return validationf("1 validation error detected: Value '%s' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]", s.StreamViewType)
		}
	} else if s.StreamViewType != "" {
		return validationf("One or more parameter values were invalid: StreamViewType cannot be specified when StreamEnabled is false")
	}
	return nil
}

// buildTable checks a CreateTable request as DynamoDB does and returns
// the new table's record (status and ARNs filled by the caller).
func buildTable(in *createTableInput) (*tableDesc, error) {
	if err := checkTableName("tableName", in.TableName); err != nil {
		return nil, err
	}
	if err := checkKeySchema("keySchema", in.KeySchema); err != nil {
		return nil, err
	}
	if len(in.AttributeDefinitions) == 0 {
		return nil, validationf("1 validation error detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null")
	}
	defined := map[string]string{}
	for _, d := range in.AttributeDefinitions {
		switch d.AttributeType {
		case "S", "N", "B":
		default:
			return nil, validationf("1 validation error detected: Value '%s' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", d.AttributeType)
		}
		if _, dup := defined[d.AttributeName]; dup {
			return nil, validationf("Cannot have two attributes with the same name. Attribute: %s", d.AttributeName)
		}
		defined[d.AttributeName] = d.AttributeType
	}
	mode := in.BillingMode
	if mode == "" {
		mode = "PROVISIONED"
	}
	if mode != "PROVISIONED" && mode != "PAY_PER_REQUEST" {
		return nil, validationf("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", mode)
	}
	if err := checkThroughput(mode, in.ProvisionedThroughput, "table"); err != nil {
		return nil, err
	}
	if err := checkStreamSpec(in.StreamSpecification); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	var keyNames []string
	useKeys := func(ks []keyElem) {
		for _, k := range ks {
			if !used[k.AttributeName] {
				used[k.AttributeName] = true
				keyNames = append(keyNames, k.AttributeName)
			}
		}
	}
	useKeys(in.KeySchema)
	names := map[string]bool{}
	if len(in.LocalSecondaryIndexes) > 5 {
		return nil, validationf("One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5")
	}
	if len(in.GlobalSecondaryIndexes) > 20 {
		return nil, validationf("One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20")
	}
	for i := range in.LocalSecondaryIndexes {
		ix := &in.LocalSecondaryIndexes[i]
		if err := checkIndex(ix, names, "localSecondaryIndexes"); err != nil {
			return nil, err
		}
		if len(in.KeySchema) < 2 {
			return nil, validationf("One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex")
		}
		if len(ix.KeySchema) != 2 || ix.KeySchema[0].AttributeName != in.KeySchema[0].AttributeName {
			return nil, validationf("One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: %s. index hash key: %s, table hash key: %s",
				ix.IndexName, ix.KeySchema[0].AttributeName, in.KeySchema[0].AttributeName)
		}
		useKeys(ix.KeySchema)
		ix.ProvisionedThroughput = nil
	}
	for i := range in.GlobalSecondaryIndexes {
		ix := &in.GlobalSecondaryIndexes[i]
		if err := checkIndex(ix, names, "globalSecondaryIndexes"); err != nil {
			return nil, err
		}
		if err := checkThroughput(mode, ix.ProvisionedThroughput, ix.IndexName); err != nil {
			return nil, err
		}
		useKeys(ix.KeySchema)
	}
	for _, n := range keyNames {
		if _, ok := defined[n]; !ok {
			var defs []string
			for _, d := range in.AttributeDefinitions {
				defs = append(defs, d.AttributeName)
			}
			return nil, validationf("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]",
				strings.Join(keyNames, ", "), strings.Join(defs, ", "))
		}
	}
	if len(defined) != len(keyNames) {
		return nil, validationf("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	t := &tableDesc{
		TableName:                 in.TableName,
		AttributeDefinitions:      in.AttributeDefinitions,
		KeySchema:                 in.KeySchema,
		LocalSecondaryIndexes:     in.LocalSecondaryIndexes,
		GlobalSecondaryIndexes:    in.GlobalSecondaryIndexes,
		StoredTags:                in.Tags,
		DeletionProtectionEnabled: in.DeletionProtection,
	}
	zero := int64(0)
	if mode == "PAY_PER_REQUEST" {
		t.BillingModeSummary = &billingSummary{BillingMode: mode}
		t.ProvisionedThroughput = &throughput{ReadCapacityUnits: &zero, WriteCapacityUnits: &zero, NumberOfDecreasesToday: &zero}
	} else {
		pt := *in.ProvisionedThroughput
		pt.NumberOfDecreasesToday = &zero
		t.ProvisionedThroughput = &pt
	}
	for i := range t.GlobalSecondaryIndexes {
		ix := &t.GlobalSecondaryIndexes[i]
		ix.IndexStatus = "ACTIVE"
		if mode == "PAY_PER_REQUEST" {
			ix.ProvisionedThroughput = &throughput{ReadCapacityUnits: &zero, WriteCapacityUnits: &zero, NumberOfDecreasesToday: &zero}
		}
	}
	if s := in.StreamSpecification; s != nil && s.StreamEnabled {
		t.StreamSpecification = s
	}
	if in.TableClass != "" {
		t.TableClassSummary = &struct {
			TableClass string `json:"TableClass"`
		}{in.TableClass}
	}
	return t, nil
}

func checkIndex(ix *indexDesc, names map[string]bool, what string) error {
	if len(ix.IndexName) < 3 || len(ix.IndexName) > 255 || !tableNameRE().MatchString(ix.IndexName) {
		return validationf("1 validation error detected: Value '%s' at '%s.1.member.indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", ix.IndexName, what)
	}
	if names[ix.IndexName] {
		return validationf("One or more parameter values were invalid: Duplicate index name: %s", ix.IndexName)
	}
	names[ix.IndexName] = true
	if err := checkKeySchema(what+".1.member.keySchema", ix.KeySchema); err != nil {
		return err
	}
	return checkProjection(&ix.Projection, what)
}

// arns fills a new table's ARNs and identifiers.
func (t *tableDesc) setArns(region, account, id string, now float64) {
	t.TableArn = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, t.TableName)
	t.TableID = id
	t.CreationDateTime = now
	for _, ix := range t.indexes() {
		ix.IndexArn = t.TableArn + "/index/" + ix.IndexName
	}
}

// describe is the table's TableDescription (the record without its
// stored-only fields), a copy the caller may change.
func (t *tableDesc) describe() *tableDesc {
	c := t.clone()
	c.StoredTags, c.StoredTTL, c.StoredTTLOn, c.StreamHistory = nil, "", false, nil
	return c
}

// clone copies a record deeply enough that changing the copy's indexes,
// tags and stream history leaves the original as it was.
func (t *tableDesc) clone() *tableDesc {
	c := *t
	c.AttributeDefinitions = slices.Clone(t.AttributeDefinitions)
	c.KeySchema = slices.Clone(t.KeySchema)
	c.GlobalSecondaryIndexes = slices.Clone(t.GlobalSecondaryIndexes)
	c.LocalSecondaryIndexes = slices.Clone(t.LocalSecondaryIndexes)
	c.StoredTags = slices.Clone(t.StoredTags)
	c.StreamHistory = slices.Clone(t.StreamHistory)
	return &c
}
