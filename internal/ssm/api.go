package ssm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

func (s *Service) handler() *awsapi.JSONService {
	ops := map[string]func(*Service, context.Context, []byte) (any, error){
		"PutParameter":            (*Service).putParameter,
		"GetParameter":            (*Service).getParameter,
		"GetParameters":           (*Service).getParameters,
		"GetParametersByPath":     (*Service).getParametersByPath,
		"DeleteParameter":         (*Service).deleteParameter,
		"DeleteParameters":        (*Service).deleteParameters,
		"DescribeParameters":      (*Service).describeParameters,
		"GetParameterHistory":     (*Service).getParameterHistory,
		"LabelParameterVersion":   (*Service).labelParameterVersion,
		"UnlabelParameterVersion": (*Service).unlabelParameterVersion,
		"AddTagsToResource":       (*Service).addTags,
		"RemoveTagsFromResource":  (*Service).removeTags,
		"ListTagsForResource":     (*Service).listTags,
	}
	h := &awsapi.JSONService{Name: "AWS Systems Manager", Prefix: TargetPrefix, Protocol: awsapi.ProtocolJSON11,
		Ops: map[string]awsapi.JSONOp{}, Refused: refusedOps(), Internal: "InternalServerError", MaxBody: 1 << 20, Log: s.log}
	for name, f := range ops {
		h.Ops[name] = func(ctx context.Context, _ *http.Request, body []byte) (any, error) { return f(s, ctx, body) }
	}
	return h
}

func checkTags(tags []Tag) error {
	if len(tags) > 50 {
		return awsapi.ClientError("TooManyTagsError", "The Targets parameter includes too many tags. Remove one or more tags and try the command again.")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return validation("1 validation error detected: Value at 'tags' failed to satisfy constraint: tag keys have 1 to 128 characters, values up to 256")
		}
	}
	return nil
}

// PutInput is PutParameter's input.
type PutInput struct {
	Name           string
	Value          *string
	Type           string
	Description    *string
	KeyID          string `json:"KeyId"`
	Overwrite      bool
	AllowedPattern *string
	Tags           []Tag
	Tier           string
	Policies       string
	DataType       string
}

func (s *Service) putParameter(ctx context.Context, body []byte) (any, error) {
	var in PutInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	v, tier, err := s.Put(ctx, in)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Version": v, "Tier": tier}, nil
}

// Put stores a parameter version (PutParameter) and returns its version
// and tier. CloudFormation's AWS::SSM::Parameter calls it too.
func (s *Service) Put(ctx context.Context, in PutInput) (int64, string, error) {
	if err := checkName(in.Name); err != nil {
		return 0, "", err
	}
	if in.Value == nil || *in.Value == "" {
		return 0, "", validation("1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if in.Policies != "" {
		return 0, "", awsapi.ClientError("InvalidPolicyTypeException", "Nimbus does not implement parameter policies (Expiration, ExpirationNotification, NoChangeNotification).")
	}
	switch in.DataType {
	case "", "text":
	case "aws:ec2:image", "aws:ssm:integration":
		return 0, "", awsapi.ClientError("UnsupportedParameterType", "Nimbus does not validate data type %s (there are no EC2 images or integrations here).", in.DataType)
	default:
		return 0, "", validation("The following data type is not supported: %s (Data type names are all lowercase.)", in.DataType)
	}
	switch in.Type {
	case "", typeString, typeStringList, typeSecureString:
	default:
		return 0, "", validation("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	}
	if in.Overwrite && len(in.Tags) > 0 {
		return 0, "", validation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	}
	if err := checkTags(in.Tags); err != nil {
		return 0, "", err
	}
	if in.Description != nil && len(*in.Description) > 1024 {
		return 0, "", validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	p, rev, err := s.load(ctx, in.Name)
	exists := err == nil
	if err != nil && !awsapi.HasCode(err, "ParameterNotFound") {
		return 0, "", err
	}
	if exists && !in.Overwrite {
		return 0, "", awsapi.ClientError("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	}
	nv := &pversion{Type: in.Type, KeyID: in.KeyID, DataType: "text", Modified: s.now().UTC(),
		User: "arn:aws:iam::" + s.account + ":root"}
	if in.DataType != "" {
		nv.DataType = in.DataType
	}
	if exists {
		last := p.latest()
		if nv.Type == "" {
			nv.Type = last.Type
		}
		nv.Description, nv.AllowedPattern, nv.Tier = last.Description, last.AllowedPattern, last.Tier
		if nv.Type == typeSecureString && nv.KeyID == "" && last.Type == typeSecureString {
			nv.KeyID = last.KeyID
		}
	} else {
		if nv.Type == "" {
			return 0, "", validation("A parameter type is required when you create a parameter.")
		}
		p = &param{Name: in.Name, Tags: in.Tags}
	}
	if in.Description != nil {
		nv.Description = *in.Description
	}
	if in.AllowedPattern != nil {
		nv.AllowedPattern = *in.AllowedPattern
	}
	if nv.AllowedPattern != "" {
		re, err := regexp.Compile(nv.AllowedPattern)
		if err != nil || len(nv.AllowedPattern) > 1024 {
			return 0, "", validation("The AllowedPattern is not a valid regular expression.")
		}
		if !re.MatchString(*in.Value) {
			return 0, "", awsapi.ClientError("ParameterPatternMismatchException", "Parameter value, cannot be validated against allowedPattern: %s", nv.AllowedPattern)
		}
	}
	if nv.Type != typeSecureString && in.KeyID != "" {
		return 0, "", validation("KeyId is required for SecureString type parameter only.")
	}
	// Tiers: an advanced parameter stays advanced; Intelligent-Tiering
	// picks the tier the value needs.
	switch in.Tier {
	case "":
		if nv.Tier == "" {
			nv.Tier = tierStandard
		}
	case tierStandard:
		if nv.Tier == tierAdvanced {
			return 0, "", validation("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.")
		}
		nv.Tier = tierStandard
	case tierAdvanced:
		nv.Tier = tierAdvanced
	case tierIntelligent:
		if nv.Tier != tierAdvanced {
			nv.Tier = tierStandard
			if len(*in.Value) > maxStandardValue {
				nv.Tier = tierAdvanced
			}
		}
	default:
		return 0, "", validation("1 validation error detected: Value '%s' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]", in.Tier)
	}
	limit := maxStandardValue
	if nv.Tier == tierAdvanced {
		limit = maxAdvancedValue
	}
	if len(*in.Value) > limit {
		if nv.Tier == tierStandard {
			return 0, "", validation("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html")
		}
		return 0, "", validation("Advanced tier parameters support a maximum parameter value of 8192 characters.")
	}
	raw := []byte(*in.Value)
	if nv.Type == typeSecureString {
		if nv.KeyID == "" {
			nv.KeyID = "alias/aws/ssm"
		}
		sealed, _, err := s.keys.SealValue(ctx, nv.KeyID, raw, s.ectx(in.Name))
		if err != nil {
			if e := awsapi.As(err); e != nil {
				return 0, "", awsapi.ClientError("InvalidKeyId", "%s", e.Message)
			}
			return 0, "", err
		}
		raw = sealed
	}
	if exists {
		nv.Version = p.latest().Version + 1
		if len(p.Versions) >= maxVersions {
			if len(p.Versions[0].Labels) > 0 {
				return 0, "", awsapi.ClientError("ParameterMaxVersionLimitExceeded",
					"You attempted to create a new version of %s by calling the PutParameter API with the overwrite flag. Version %d, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.",
					in.Name, p.Versions[0].Version)
			}
		}
	} else {
		nv.Version = 1
	}
	// The value first, then the metadata that names it.
	_ = s.kv.Delete(ctx, valueKey(in.Name, nv.Version), 0) // one a crash left unacknowledged
	if _, err := s.kv.Create(ctx, valueKey(in.Name, nv.Version), raw); err != nil {
		if errors.Is(err, store.ErrExists) {
			return 0, "", awsapi.ClientError("TooManyUpdates", "There are concurrent updates for the resource that you are trying to modify. Retry the request.")
		}
		return 0, "", err
	}
	p.Versions = append(p.Versions, nv)
	var dropped *pversion
	if len(p.Versions) > maxVersions {
		dropped, p.Versions = p.Versions[0], p.Versions[1:]
	}
	if err := s.save(ctx, p, rev); err != nil {
		return 0, "", err
	}
	if dropped != nil {
		_ = s.kv.Delete(ctx, valueKey(in.Name, dropped.Version), 0)
	}
	return nv.Version, nv.Tier, nil
}

// Parameter is AWS's Parameter (GetParameter's answer).
type Parameter struct {
	Name             string
	Type             string
	Value            string
	Version          int64
	Selector         string `json:",omitempty"`
	SourceResult     string `json:",omitempty"`
	LastModifiedDate awsapi.Epoch
	ARN              string
	DataType         string
}

// Get reads a parameter by name (with an optional :version or :label
// selector), as GetParameter does. CloudFormation's {{resolve:ssm:...}}
// references call it.
func (s *Service) Get(ctx context.Context, raw string, decrypt bool) (*Parameter, error) {
	name, sel := selector(raw)
	if strings.HasPrefix(name, referencePrefix) {
		return s.reference(ctx, name, sel, decrypt)
	}
	if name == "" || len(name) > 2048 {
		return nil, validation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	p, _, err := s.load(ctx, name)
	if err != nil {
		return nil, err
	}
	v := p.latest()
	if sel != "" {
		if n, err := strconv.ParseInt(sel, 10, 64); err == nil {
			if v = p.version(n); v == nil {
				return nil, awsapi.ClientError("ParameterVersionNotFound",
					"Systems Manager could not find version %d of %s. Verify the version and try again.", n, name)
			}
		} else if v = p.labelled(sel); v == nil {
			return nil, awsapi.ClientError("ParameterVersionNotFound",
				"Systems Manager could not find label %s of %s. Verify the label and try again.", sel, name)
		}
	}
	val, err := s.value(ctx, p, v, decrypt)
	if err != nil {
		return nil, err
	}
	w := &Parameter{Name: name, Type: v.Type, Value: val, Version: v.Version, LastModifiedDate: awsapi.Epoch(v.Modified),
		ARN: s.arn(name), DataType: v.DataType}
	if sel != "" {
		w.Selector = ":" + sel
	}
	return w, nil
}

// reference reads /aws/reference/secretsmanager/<secret id>[:stage] from
// Secrets Manager, as Parameter Store does.
func (s *Service) reference(ctx context.Context, name, sel string, decrypt bool) (*Parameter, error) {
	if !decrypt {
		return nil, validation("WithDecryption flag must be True for retrieving a Secret Manager secret.")
	}
	if s.secrets == nil {
		return nil, notFound(name)
	}
	id := strings.TrimPrefix(name, referencePrefix)
	versionID, stage := "", ""
	if sel != "" {
		if len(sel) >= 32 && !strings.HasPrefix(sel, "AWS") {
			versionID = sel
		} else {
			stage = sel
		}
	}
	str, bin, ver, arn, err := s.secrets.GetValue(ctx, id, versionID, stage)
	if err != nil {
		if e := awsapi.As(err); e != nil && e.Code == "ResourceNotFoundException" {
			return nil, notFound(name)
		}
		return nil, err
	}
	val := ""
	if str != nil {
		val = *str
	} else {
		val = string(bin)
	}
	src, _ := json.Marshal(map[string]any{"ARN": arn, "Name": id, "VersionId": ver})
	w := &Parameter{Name: name, Type: typeSecureString, Value: val, Version: 0, SourceResult: string(src),
		LastModifiedDate: awsapi.Epoch(s.now()), ARN: arn, DataType: "text"}
	if sel != "" {
		w.Selector = ":" + sel
	}
	return w, nil
}

func (s *Service) getParameter(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name           string
		WithDecryption bool
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	p, err := s.Get(ctx, in.Name, in.WithDecryption)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Parameter": p}, nil
}

func (s *Service) getParameters(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Names          []string
		WithDecryption bool
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, validation("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	ps := []*Parameter{}
	invalid := []string{}
	for _, n := range in.Names {
		p, err := s.Get(ctx, n, in.WithDecryption)
		if err != nil {
			if awsapi.HasCode(err, "ParameterNotFound") || awsapi.HasCode(err, "ParameterVersionNotFound") {
				invalid = append(invalid, n)
				continue
			}
			return nil, err
		}
		ps = append(ps, p)
	}
	return map[string]any{"Parameters": ps, "InvalidParameters": invalid}, nil
}

// paramFilter is AWS's ParameterStringFilter.
type paramFilter struct {
	Key    string
	Option string
	Values []string
}

func checkFilters(fs []paramFilter, byPath bool) error {
	for _, f := range fs {
		switch {
		case f.Key == "Type", f.Key == "KeyId", f.Key == "Label", strings.HasPrefix(f.Key, "tag:"), f.Key == "DataType":
		case !byPath && (f.Key == "Name" || f.Key == "Path" || f.Key == "Tier"):
		default:
			return awsapi.ClientError("InvalidFilterKey", "The following filter key is not valid: %s", f.Key)
		}
		switch f.Option {
		case "", "Equals", "BeginsWith":
		case "Recursive", "OneLevel":
			if f.Key != "Path" {
				return awsapi.ClientError("InvalidFilterOption", "The filter option %s is valid for the Path key only.", f.Option)
			}
		case "Contains":
			if f.Key != "Name" {
				return awsapi.ClientError("InvalidFilterOption", "The filter option Contains is valid for the Name key only.")
			}
		default:
			return awsapi.ClientError("InvalidFilterOption", "The filter option %s is not valid.", f.Option)
		}
		if len(f.Values) == 0 && !strings.HasPrefix(f.Key, "tag:") {
			return awsapi.ClientError("InvalidFilterValue", "The filter %s needs a value.", f.Key)
		}
	}
	return nil
}

func under(name, path string, recursive bool) bool {
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	if !strings.HasPrefix(name, path) {
		return false
	}
	return recursive || !strings.Contains(name[len(path):], "/")
}

func matchOne(f paramFilter, got string) bool {
	for _, v := range f.Values {
		switch f.Option {
		case "BeginsWith":
			if strings.HasPrefix(got, v) {
				return true
			}
		case "Contains":
			if strings.Contains(got, v) {
				return true
			}
		default:
			if got == v {
				return true
			}
		}
	}
	return false
}

func (p *param) matches(f paramFilter) bool {
	v := p.latest()
	switch {
	case f.Key == "Type":
		return matchOne(f, v.Type)
	case f.Key == "KeyId":
		return v.Type == typeSecureString && matchOne(f, v.KeyID)
	case f.Key == "Tier":
		return matchOne(f, v.Tier)
	case f.Key == "DataType":
		return matchOne(f, v.DataType)
	case f.Key == "Name":
		n := p.Name
		if f.Option != "Contains" && !strings.HasPrefix(n, "/") {
			n2 := "/" + n
			return matchOne(f, n) || matchOne(f, n2)
		}
		return matchOne(f, n)
	case f.Key == "Path":
		for _, path := range f.Values {
			if under(p.Name, path, f.Option == "Recursive") {
				return true
			}
		}
		return false
	case f.Key == "Label":
		for _, ver := range p.Versions {
			for _, l := range ver.Labels {
				if matchOne(f, l) {
					return true
				}
			}
		}
		return false
	case strings.HasPrefix(f.Key, "tag:"):
		k := strings.TrimPrefix(f.Key, "tag:")
		for _, t := range p.Tags {
			if t.Key == k && (len(f.Values) == 0 || matchOne(f, t.Value)) {
				return true
			}
		}
		return false
	}
	return false
}

// all reads every parameter, sorted by name.
func (s *Service) all(ctx context.Context) ([]*param, error) {
	keys, err := s.kv.Keys(ctx, paramPrefix)
	if err != nil {
		return nil, err
	}
	var out []*param
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var p param
		if json.Unmarshal(e.Value, &p) != nil || len(p.Versions) == 0 {
			continue
		}
		out = append(out, &p)
	}
	slices.SortFunc(out, func(a, b *param) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// pageOf cuts items at token (an index) and n.
func pageOf[T any](items []T, token string, n int) ([]T, string, error) {
	start := 0
	if token != "" {
		i, err := strconv.Atoi(token)
		if err != nil || i < 0 || i > len(items) {
			return nil, "", awsapi.ClientError("InvalidNextToken", "The specified token isn't valid.")
		}
		start = i
	}
	end := min(start+n, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

func maxResults(v *int, dflt, most int) (int, error) {
	if v == nil {
		return dflt, nil
	}
	if *v < 1 || *v > most {
		return 0, validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d", *v, most)
	}
	return *v, nil
}

func (s *Service) getParametersByPath(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Path             string
		Recursive        bool
		ParameterFilters []paramFilter
		WithDecryption   bool
		MaxResults       *int
		NextToken        string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(in.Path, "/") || len(in.Path) > 2048 {
		return nil, validation("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).")
	}
	if strings.Count(strings.Trim(in.Path, "/"), "/") >= maxDepth {
		return nil, awsapi.ClientError("HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of 15 levels.")
	}
	if err := checkFilters(in.ParameterFilters, true); err != nil {
		return nil, err
	}
	n, err := maxResults(in.MaxResults, 10, 10)
	if err != nil {
		return nil, err
	}
	all, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	var hits []*param
	for _, p := range all {
		if !under(p.Name, in.Path, in.Recursive) {
			continue
		}
		ok := true
		for _, f := range in.ParameterFilters {
			ok = ok && p.matches(f)
		}
		if ok {
			hits = append(hits, p)
		}
	}
	got, next, err := pageOf(hits, in.NextToken, n)
	if err != nil {
		return nil, err
	}
	out := []*Parameter{}
	for _, p := range got {
		w, err := s.Get(ctx, p.Name, in.WithDecryption)
		if err != nil {
			if awsapi.HasCode(err, "ParameterNotFound") {
				continue
			}
			return nil, err
		}
		out = append(out, w)
	}
	res := map[string]any{"Parameters": out}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}

func (s *Service) remove(ctx context.Context, name string) error {
	if name == "" || len(name) > 2048 {
		return validation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	p, rev, err := s.load(ctx, name)
	if err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, paramKey(name), rev); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound(name)
		}
		if errors.Is(err, store.ErrConflict) {
			return awsapi.ClientError("TooManyUpdates", "There are concurrent updates for the resource that you are trying to modify. Retry the request.")
		}
		return err
	}
	for _, v := range p.Versions {
		if err := s.kv.Delete(ctx, valueKey(name, v.Version), 0); err != nil {
			s.log.Warn("delete a parameter version's value", "err", err)
		}
	}
	return nil
}

func (s *Service) deleteParameter(ctx context.Context, body []byte) (any, error) {
	var in struct{ Name string }
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, s.remove(ctx, in.Name)
}

// Delete removes a parameter (CloudFormation's AWS::SSM::Parameter).
func (s *Service) Delete(ctx context.Context, name string) error { return s.remove(ctx, name) }

func (s *Service) deleteParameters(ctx context.Context, body []byte) (any, error) {
	var in struct{ Names []string }
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, validation("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	deleted, invalid := []string{}, []string{}
	for _, n := range in.Names {
		if err := s.remove(ctx, n); err != nil {
			if awsapi.As(err) != nil {
				invalid = append(invalid, n)
				continue
			}
			return nil, err
		}
		deleted = append(deleted, n)
	}
	return map[string]any{"DeletedParameters": deleted, "InvalidParameters": invalid}, nil
}

func (s *Service) metadata(p *param, v *pversion) map[string]any {
	m := map[string]any{"Name": p.Name, "ARN": s.arn(p.Name), "Type": v.Type, "LastModifiedDate": awsapi.Epoch(v.Modified),
		"LastModifiedUser": v.User, "Version": v.Version, "Tier": v.Tier, "Policies": []any{}, "DataType": v.DataType}
	if v.Description != "" {
		m["Description"] = v.Description
	}
	if v.AllowedPattern != "" {
		m["AllowedPattern"] = v.AllowedPattern
	}
	if v.Type == typeSecureString {
		m["KeyId"] = v.KeyID
	}
	return m
}

func (s *Service) describeParameters(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Filters []struct {
			Key    string
			Values []string
		}
		ParameterFilters []paramFilter
		MaxResults       *int
		NextToken        string
		Shared           bool
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Filters) > 0 && len(in.ParameterFilters) > 0 {
		return nil, awsapi.ClientError("InvalidFilter", "You can use either Filters or ParameterFilters in a single request.")
	}
	fs := in.ParameterFilters
	for _, f := range in.Filters {
		fs = append(fs, paramFilter{Key: f.Key, Option: "Equals", Values: f.Values})
	}
	if err := checkFilters(fs, false); err != nil {
		return nil, err
	}
	n, err := maxResults(in.MaxResults, 50, 50)
	if err != nil {
		return nil, err
	}
	all, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	var hits []*param
	for _, p := range all {
		ok := true
		for _, f := range fs {
			ok = ok && p.matches(f)
		}
		if ok {
			hits = append(hits, p)
		}
	}
	got, next, err := pageOf(hits, in.NextToken, n)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(got))
	for _, p := range got {
		out = append(out, s.metadata(p, p.latest()))
	}
	res := map[string]any{"Parameters": out}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}

func (s *Service) getParameterHistory(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name           string
		WithDecryption bool
		MaxResults     *int
		NextToken      string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	n, err := maxResults(in.MaxResults, 50, 50)
	if err != nil {
		return nil, err
	}
	p, _, err := s.load(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	got, next, err := pageOf(p.Versions, in.NextToken, n)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(got))
	for _, v := range got {
		m := s.metadata(p, v)
		delete(m, "ARN")
		val, err := s.value(ctx, p, v, in.WithDecryption)
		if err != nil {
			return nil, err
		}
		m["Value"] = val
		m["Labels"] = v.Labels
		if v.Labels == nil {
			m["Labels"] = []string{}
		}
		out = append(out, m)
	}
	res := map[string]any{"Parameters": out}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}

// validLabel follows AWS's label rules: 1–100 characters of letters,
// digits, ".", "-" and "_", not starting with a digit, "aws" or "ssm".
func validLabel(l string) bool {
	if l == "" || len(l) > 100 || unicode.IsDigit(rune(l[0])) {
		return false
	}
	ll := strings.ToLower(l)
	if strings.HasPrefix(ll, "aws") || strings.HasPrefix(ll, "ssm") {
		return false
	}
	for _, c := range l {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

type labelInput struct {
	Name             string
	ParameterVersion *int64
	Labels           []string
}

func (s *Service) labelTarget(ctx context.Context, body []byte) (*labelInput, *param, uint64, *pversion, error) {
	var in labelInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, nil, 0, nil, err
	}
	if len(in.Labels) == 0 || len(in.Labels) > 10 {
		return nil, nil, 0, nil, validation("1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	p, rev, err := s.load(ctx, in.Name)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	v := p.latest()
	if in.ParameterVersion != nil {
		if v = p.version(*in.ParameterVersion); v == nil {
			return nil, nil, 0, nil, awsapi.ClientError("ParameterVersionNotFound",
				"Systems Manager could not find version %d of %s. Verify the version and try again.", *in.ParameterVersion, in.Name)
		}
	}
	return &in, p, rev, v, nil
}

func (s *Service) labelParameterVersion(ctx context.Context, body []byte) (any, error) {
	in, p, rev, v, err := s.labelTarget(ctx, body)
	if err != nil {
		return nil, err
	}
	invalid := []string{}
	for _, l := range in.Labels {
		if !validLabel(l) {
			invalid = append(invalid, l)
			continue
		}
		for _, o := range p.Versions {
			if o != v {
				o.Labels = slices.DeleteFunc(o.Labels, func(x string) bool { return x == l })
			}
		}
		if !slices.Contains(v.Labels, l) {
			v.Labels = append(v.Labels, l)
		}
	}
	if len(v.Labels) > 10 {
		return nil, awsapi.ClientError("ParameterVersionLabelLimitExceeded", "A parameter version can have a maximum of ten labels.")
	}
	if err := s.save(ctx, p, rev); err != nil {
		return nil, err
	}
	return map[string]any{"InvalidLabels": invalid, "ParameterVersion": v.Version}, nil
}

func (s *Service) unlabelParameterVersion(ctx context.Context, body []byte) (any, error) {
	in, p, rev, v, err := s.labelTarget(ctx, body)
	if err != nil {
		return nil, err
	}
	if in.ParameterVersion == nil {
		return nil, validation("1 validation error detected: Value null at 'parameterVersion' failed to satisfy constraint: Member must not be null")
	}
	removed, invalid := []string{}, []string{}
	for _, l := range in.Labels {
		if slices.Contains(v.Labels, l) {
			v.Labels = slices.DeleteFunc(v.Labels, func(x string) bool { return x == l })
			removed = append(removed, l)
		} else {
			invalid = append(invalid, l)
		}
	}
	if err := s.save(ctx, p, rev); err != nil {
		return nil, err
	}
	return map[string]any{"RemovedLabels": removed, "InvalidLabels": invalid}, nil
}

type tagInput struct {
	ResourceType string
	ResourceID   string `json:"ResourceId"`
	Tags         []Tag
	TagKeys      []string
}

func (s *Service) tagTarget(ctx context.Context, body []byte) (*tagInput, *param, uint64, error) {
	var in tagInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, nil, 0, err
	}
	if in.ResourceType != "Parameter" {
		return nil, nil, 0, awsapi.ClientError("InvalidResourceType", "Nimbus serves tags of parameters only (ResourceType Parameter), not %s.", in.ResourceType)
	}
	name, _ := selector(in.ResourceID)
	p, rev, err := s.load(ctx, name)
	if err != nil {
		if awsapi.HasCode(err, "ParameterNotFound") {
			return nil, nil, 0, awsapi.ClientError("InvalidResourceId", "The resource ID %s is not valid.", in.ResourceID)
		}
		return nil, nil, 0, err
	}
	return &in, p, rev, nil
}

func (s *Service) addTags(ctx context.Context, body []byte) (any, error) {
	in, p, rev, err := s.tagTarget(ctx, body)
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		if i := slices.IndexFunc(p.Tags, func(h Tag) bool { return h.Key == t.Key }); i >= 0 {
			p.Tags[i] = t
		} else {
			p.Tags = append(p.Tags, t)
		}
	}
	if err := checkTags(p.Tags); err != nil {
		return nil, err
	}
	return struct{}{}, s.save(ctx, p, rev)
}

func (s *Service) removeTags(ctx context.Context, body []byte) (any, error) {
	in, p, rev, err := s.tagTarget(ctx, body)
	if err != nil {
		return nil, err
	}
	p.Tags = slices.DeleteFunc(p.Tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	return struct{}{}, s.save(ctx, p, rev)
}

func (s *Service) listTags(ctx context.Context, body []byte) (any, error) {
	_, p, _, err := s.tagTarget(ctx, body)
	if err != nil {
		return nil, err
	}
	tags := p.Tags
	if tags == nil {
		tags = []Tag{}
	}
	return map[string]any{"TagList": tags}, nil
}
