package lambdaapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/code"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/registry"
)

// Lambda layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers,
// ListLayerVersions, DeleteLayerVersion and the layer version permissions
// (recorded, not evaluated: Nimbus serves one account). A layer's package
// is stored like a function's (content-addressed) and its Content.Location
// is a signed download link, as GetFunction's Code.Location. Functions
// name layer versions of this account and region in Layers; the worker
// extracts them, in order, into the environment's /opt.

// runtimeEnumText is the model's Runtime enum as a constraint text.
func runtimeEnumText() string { return "[" + strings.Join(modelRuntimes, ", ") + "]" }

// layerRef reads the {layer} path parameter: a layer name or the ARN of a
// layer of this account and region.
func (h *Handler) layerRef(c *call) (string, error) {
	raw := c.params["layer"]
	ref, ok := function.ParseLayerName(raw)
	if !ok {
		var v verrs
		if len(raw) > function.MaxLayerName {
			v.add(raw, "layerName", fmt.Sprintf("Member must have length less than or equal to %d", function.MaxLayerName))
		} else {
			v.add(raw, "layerName", "Member must satisfy regular expression pattern: "+function.LayerNamePattern)
		}
		return "", v.err()
	}
	if err := h.ownLayer(ref); err != nil {
		return "", err
	}
	return ref.Name, nil
}

// ownLayer refuses a layer ARN of another account or region: a Nimbus
// node serves one account in one region.
func (h *Handler) ownLayer(ref function.LayerRef) error {
	if ref.Account != "" && ref.Account != h.account {
		return awsapi.InvalidParameter("Layer %s belongs to account %s: this Nimbus node serves account %s only and cannot use other accounts' layers. Publish the layer here (aws lambda publish-layer-version) and use that ARN.", ref, ref.Account, h.account)
	}
	if ref.Region != "" && ref.Region != h.region {
		return awsapi.InvalidParameter("Layers are not in the same region as the function. Layers are expected to be in region %s.", h.region)
	}
	return nil
}

// layerVersionRef reads the {layer} and {version} path parameters.
func (h *Handler) layerVersionRef(c *call) (string, int64, error) {
	name, err := h.layerRef(c)
	if err != nil {
		return "", 0, err
	}
	n, err := layerVersionParam(c)
	if err != nil {
		return "", 0, err
	}
	return name, n, nil
}

// layerVersionParam reads the {version} path parameter.
func layerVersionParam(c *call) (int64, error) {
	s := c.params["version"]
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, awsapi.Validation("1 validation error detected: Value '%s' at 'versionNumber' failed to satisfy constraint: Member must be a number", s)
	}
	if n < 1 {
		return 0, awsapi.InvalidParameter("Layer Version Cannot be less than 1")
	}
	return n, nil
}

type layerContentInput struct {
	S3Bucket        *string `json:"S3Bucket"`
	S3Key           *string `json:"S3Key"`
	S3ObjectVersion *string `json:"S3ObjectVersion"`
	ZipFile         []byte  `json:"ZipFile"`
}

type publishLayerRequest struct {
	Description             *string            `json:"Description"`
	Content                 *layerContentInput `json:"Content"`
	CompatibleRuntimes      []string           `json:"CompatibleRuntimes"`
	LicenseInfo             *string            `json:"LicenseInfo"`
	CompatibleArchitectures []string           `json:"CompatibleArchitectures"`
}

func (req *publishLayerRequest) validate(v *verrs) {
	v.maxLen(req.Description, "description", function.MaxDescription)
	if req.Content == nil {
		v.add("null", "content", "Member must not be null")
	}
	validateCompatible(v, req.CompatibleRuntimes, req.CompatibleArchitectures)
	v.maxLen(req.LicenseInfo, "licenseInfo", function.MaxLicenseInfo)
}

// validateCompatible checks CompatibleRuntimes and CompatibleArchitectures
// against the model.
func validateCompatible(v *verrs, rts, archs []string) {
	list := func(s []string) string { return "[" + strings.Join(s, ", ") + "]" }
	if len(rts) > function.MaxCompatibleRuntimes {
		v.add(list(rts), "compatibleRuntimes", fmt.Sprintf("Member must have length less than or equal to %d", function.MaxCompatibleRuntimes))
	} else {
		for _, r := range rts {
			if !slices.Contains(modelRuntimes, r) {
				v.add(list(rts), "compatibleRuntimes", "Member must satisfy constraint: [Member must satisfy enum value set: "+runtimeEnumText()+"]")
				break
			}
		}
	}
	if len(archs) > function.MaxCompatibleArchitectures {
		v.add(list(archs), "compatibleArchitectures", fmt.Sprintf("Member must have length less than or equal to %d", function.MaxCompatibleArchitectures))
	} else {
		for _, a := range archs {
			if a != "x86_64" && a != "arm64" {
				v.add(list(archs), "compatibleArchitectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
				break
			}
		}
	}
}

// withLocation returns lv with a download link for its content.
func (h *Handler) withLocation(c *call, lv *function.LayerVersion) *function.LayerVersion {
	if lv.Content != nil {
		lv.Content.Location = h.codeURL(c.r, lv.Content.CodeSha256)
	}
	return lv
}

func (h *Handler) publishLayerVersion(c *call) error {
	name, err := h.layerRef(c)
	if err != nil {
		return err
	}
	var req publishLayerRequest
	if err := c.decodeValidatedUpTo(maxCodeRequest, &req, req.validate); err != nil {
		return err
	}
	ct := req.Content
	zip := ct.ZipFile
	switch {
	case ct.S3Bucket != nil || ct.S3Key != nil || ct.S3ObjectVersion != nil:
		if ct.ZipFile != nil {
			return awsapi.InvalidParameter("Please do not provide other LayerVersionContentInput parameters when providing a ZipFile.")
		}
		if zip, err = h.s3Code(c.r.Context(), ct.S3Bucket, ct.S3Key, ct.S3ObjectVersion); err != nil {
			return err
		}
	case ct.ZipFile == nil:
		return awsapi.InvalidParameter("Please provide a source for the layer content: Content.ZipFile or Content.S3Bucket and S3Key.")
	case len(ct.ZipFile) > function.MaxZippedSize:
		return tooLarge(maxCodeRequest, c.op)
	}
	info, err := code.Validate(zip, 0)
	if err != nil {
		return err
	}
	lv, err := h.reg.PublishLayerVersion(c.r.Context(), registry.LayerInput{
		Name: name, Zip: zip, UnzippedSize: info.UnzippedSize,
		Description: deref(req.Description), LicenseInfo: deref(req.LicenseInfo),
		CompatibleRuntimes: req.CompatibleRuntimes, CompatibleArchitectures: req.CompatibleArchitectures,
	})
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusCreated, h.withLocation(c, lv))
}

func (h *Handler) getLayerVersion(c *call) error {
	name, n, err := h.layerVersionRef(c)
	if err != nil {
		return err
	}
	lv, err := h.reg.LayerVersion(c.r.Context(), name, n)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, h.withLocation(c, lv))
}

// listLayersOrFind serves GET /2018-10-31/layers: ListLayers, or with
// find=LayerVersion GetLayerVersionByArn.
func (h *Handler) listLayersOrFind(c *call) error {
	q := c.r.URL.Query()
	if q.Get("find") == "LayerVersion" {
		c.op = "GetLayerVersionByArn"
		return h.getLayerVersionByArn(c)
	}
	var v verrs
	rt, arch := layerFilters(&v, q)
	maxItems := parseMaxItems(&v, q.Get("MaxItems"), maxPage)
	if err := v.err(); err != nil {
		return err
	}
	layers, err := h.reg.ListLayers(c.r.Context())
	if err != nil {
		return err
	}
	type item struct {
		LayerName             string                          `json:"LayerName"`
		LayerArn              string                          `json:"LayerArn"`
		LatestMatchingVersion *function.LayerVersionsListItem `json:"LatestMatchingVersion,omitempty"`
	}
	var items []item
	for _, l := range layers {
		for _, lv := range l.Versions {
			if matchesFilters(lv, rt, arch) {
				li := lv.ListItem()
				items = append(items, item{LayerName: l.Name, LayerArn: l.Arn, LatestMatchingVersion: &li})
				break
			}
		}
	}
	page, next, err := paginate(items, func(i item) string { return i.LayerName }, q.Get("Marker"), maxItems)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, struct {
		NextMarker string `json:"NextMarker,omitempty"`
		Layers     []item `json:"Layers"`
	}{next, page})
}

func (h *Handler) getLayerVersionByArn(c *call) error {
	raw := c.r.URL.Query().Get("Arn")
	ref, ok := function.ParseLayerVersionARN(raw)
	if !ok {
		var v verrs
		if raw == "" {
			v.add("null", "arn", "Member must not be null")
		} else if len(raw) > function.MaxLayerName {
			v.add(raw, "arn", fmt.Sprintf("Member must have length less than or equal to %d", function.MaxLayerName))
		} else {
			v.add(raw, "arn", "Member must satisfy regular expression pattern: "+function.LayerVersionARNPattern)
		}
		return v.err()
	}
	if err := h.ownLayer(ref); err != nil {
		return err
	}
	lv, err := h.reg.LayerVersion(c.r.Context(), ref.Name, ref.Version)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, h.withLocation(c, lv))
}

// layerFilters reads CompatibleRuntime and CompatibleArchitecture.
func layerFilters(v *verrs, q map[string][]string) (rt, arch string) {
	get := func(k string) string {
		if vs := q[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	rt, arch = get("CompatibleRuntime"), get("CompatibleArchitecture")
	if rt != "" && !slices.Contains(modelRuntimes, rt) {
		v.add(rt, "compatibleRuntime", "Member must satisfy enum value set: "+runtimeEnumText())
	}
	if arch != "" {
		v.enum(&arch, "compatibleArchitecture", "x86_64", "arm64")
	}
	return rt, arch
}

func matchesFilters(lv *function.LayerVersion, rt, arch string) bool {
	return (rt == "" || slices.Contains(lv.CompatibleRuntimes, rt)) &&
		(arch == "" || slices.Contains(lv.CompatibleArchitectures, arch))
}

func (h *Handler) listLayerVersions(c *call) error {
	name, err := h.layerRef(c)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	var v verrs
	rt, arch := layerFilters(&v, q)
	maxItems := parseMaxItems(&v, q.Get("MaxItems"), maxPage)
	if err := v.err(); err != nil {
		return err
	}
	versions, err := h.reg.ListLayerVersions(c.r.Context(), name)
	if err != nil {
		return err
	}
	var items []function.LayerVersionsListItem
	for _, lv := range versions {
		if matchesFilters(lv, rt, arch) {
			items = append(items, lv.ListItem())
		}
	}
	// Newest first; the marker orders descending versions ascending.
	key := func(i function.LayerVersionsListItem) string { return leftPad(math.MaxInt64-i.Version, 20) }
	page, next, err := paginate(items, key, q.Get("Marker"), maxItems)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, struct {
		NextMarker    string                           `json:"NextMarker,omitempty"`
		LayerVersions []function.LayerVersionsListItem `json:"LayerVersions"`
	}{next, page})
}

func (h *Handler) deleteLayerVersion(c *call) error {
	name, n, err := h.layerVersionRef(c)
	if err != nil {
		return err
	}
	if err := h.reg.DeleteLayerVersion(c.r.Context(), name, n); err != nil {
		return err
	}
	return c.noContent()
}

// Layer version permissions.

const (
	layerActionPattern    = `lambda:GetLayerVersion`
	layerPrincipalPattern = `\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root`
	organizationIDPattern = `o-[a-z0-9]{10,32}`
)

var (
	layerPrincipalRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:` + layerPrincipalPattern + `)$`) })
	organizationIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + organizationIDPattern + `$`) })
)

type addLayerPermissionRequest struct {
	StatementID    *string `json:"StatementId"`
	Action         *string `json:"Action"`
	Principal      *string `json:"Principal"`
	OrganizationID *string `json:"OrganizationId"`
}

func (req *addLayerPermissionRequest) validate(v *verrs) {
	v.statementID(req.StatementID)
	if req.Action == nil {
		v.add("null", "action", "Member must not be null")
	} else if *req.Action != layerActionPattern {
		v.add(*req.Action, "action", "Member must satisfy regular expression pattern: "+layerActionPattern)
	}
	if req.Principal == nil {
		v.add("null", "principal", "Member must not be null")
	} else {
		v.pattern(req.Principal, "principal", layerPrincipalRE(), layerPrincipalPattern)
	}
	if req.OrganizationID != nil {
		v.maxLen(req.OrganizationID, "organizationId", 34)
		if len(*req.OrganizationID) <= 34 {
			v.pattern(req.OrganizationID, "organizationId", organizationIDRE(), organizationIDPattern)
		}
	}
}

func (h *Handler) addLayerVersionPermission(c *call) error {
	name, n, err := h.layerVersionRef(c)
	if err != nil {
		return err
	}
	var req addLayerPermissionRequest
	if err := c.decodeValidated(&req, req.validate); err != nil {
		return err
	}
	if req.OrganizationID != nil && *req.OrganizationID != "" && *req.Principal != "*" {
		return awsapi.InvalidParameter("OrganizationId can only be specified with the principal '*'.")
	}
	st := struct {
		Sid       string                       `json:"Sid"`
		Effect    string                       `json:"Effect"`
		Principal string                       `json:"Principal"`
		Action    string                       `json:"Action"`
		Resource  string                       `json:"Resource"`
		Condition map[string]map[string]string `json:"Condition,omitempty"`
	}{*req.StatementID, "Allow", *req.Principal, *req.Action, function.LayerVersionARN(h.region, h.account, name, n), nil}
	if req.OrganizationID != nil && *req.OrganizationID != "" {
		st.Condition = map[string]map[string]string{"StringEquals": {"aws:PrincipalOrgID": *req.OrganizationID}}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return awsapi.Service("Could not encode the policy statement.")
	}
	rev, err := h.reg.AddLayerVersionPermission(c.r.Context(), name, n,
		registry.Statement{Sid: *req.StatementID, JSON: b}, c.r.URL.Query().Get("RevisionId"))
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusCreated, map[string]string{"Statement": string(b), "RevisionId": rev})
}

func (h *Handler) removeLayerVersionPermission(c *call) error {
	name, n, err := h.layerVersionRef(c)
	if err != nil {
		return err
	}
	sid := c.params["sid"]
	if len(sid) > 100 || !statementIDRE().MatchString(sid) {
		var v verrs
		v.add(sid, "statementId", "Member must satisfy regular expression pattern: "+statementIDPattern)
		return v.err()
	}
	if err := h.reg.RemoveLayerVersionPermission(c.r.Context(), name, n, sid, c.r.URL.Query().Get("RevisionId")); err != nil {
		return err
	}
	return c.noContent()
}

func (h *Handler) getLayerVersionPolicy(c *call) error {
	name, n, err := h.layerVersionRef(c)
	if err != nil {
		return err
	}
	stmts, rev, err := h.reg.LayerVersionPolicy(c.r.Context(), name, n)
	if err != nil {
		return err
	}
	return c.writePolicy(stmts, rev)
}

// Function layers.

// functionLayers checks a configuration's Layers (each a layer version
// ARN of this account and region, at most 5, one version per layer, each
// existing: keep lists versions the function already uses, which it may
// keep after they are deleted) and that the function's code (unzipped
// bytes) and the layers fit in function.MaxUnzippedSize together (newCode:
// the code is being uploaded, and the error is worded as AWS words it then).
func (h *Handler) functionLayers(c *call, arns []string, keep []function.Layer, codeUnzipped int64, newCode bool) ([]function.Layer, error) {
	var v verrs
	for _, a := range arns {
		if _, ok := function.ParseLayerVersionARN(a); !ok {
			v.add("["+strings.Join(arns, ", ")+"]", "layers", `Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]`)
			break
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if len(arns) > function.MaxLayers {
		return nil, awsapi.InvalidParameter("Cannot reference more than %d layers.", function.MaxLayers)
	}
	refs := make([]function.LayerRef, 0, len(arns))
	seen := map[string]string{}
	var builtin []function.Layer // AWS's Parameters and Secrets extension: no content, served by Nimbus
	for _, a := range arns {
		ref, _ := function.ParseLayerVersionARN(a)
		if function.IsBuiltinLayer(ref, h.account) {
			if ref.Region != h.region {
				return nil, awsapi.InvalidParameter("Layers are not in the same region as the function. Layers are expected to be in region %s.", h.region)
			}
			builtin = append(builtin, function.Layer{Arn: a})
			continue
		}
		if err := h.ownLayer(ref); err != nil {
			return nil, err
		}
		layer := a[:strings.LastIndexByte(a, ':')]
		if prev, dup := seen[layer]; dup {
			return nil, awsapi.InvalidParameter("Two different versions of the same layer are not allowed to be referenced in the same function. %s and %s are versions of the same layer.", prev, a)
		}
		seen[layer] = a
		refs = append(refs, ref)
	}
	resolved, err := h.reg.FunctionLayers(c.r.Context(), refs, keep)
	if err != nil {
		return nil, err
	}
	var layersSize int64
	out := make([]function.Layer, 0, len(resolved)+len(builtin))
	for _, l := range resolved {
		layersSize += l.UnzippedSize
		out = append(out, function.Layer{Arn: l.Arn, CodeSize: l.CodeSize})
	}
	out = append(out, builtin...)
	check := checkCombinedSize(codeUnzipped + layersSize)
	if newCode {
		check = checkCodeBeside(codeUnzipped, layersSize)
	}
	if check != nil {
		return nil, check
	}
	return out, nil
}

// checkCodeBeside refuses uploaded code that does not fit beside the
// function's layers in function.MaxUnzippedSize, as CreateFunction and
// UpdateFunctionCode word it: the limit they name is what the layers leave.
func checkCodeBeside(codeUnzipped, layersSize int64) error {
	if codeUnzipped+layersSize > function.MaxUnzippedSize {
		return awsapi.InvalidParameter("Unzipped size must be smaller than %d bytes", max(0, function.MaxUnzippedSize-layersSize))
	}
	return nil
}

// checkCombinedSize refuses a function whose code and layers take more
// than function.MaxUnzippedSize unzipped, in AWS's words.
func checkCombinedSize(total int64) error {
	if total > function.MaxUnzippedSize {
		return awsapi.InvalidParameter("Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", function.MaxUnzippedSize, total)
	}
	return nil
}

// unzippedSize is the unzipped size of the stored package codeSha256.
func (h *Handler) unzippedSize(c *call, codeSha256 string) (int64, error) {
	data, err := h.reg.Code(c.r.Context(), codeSha256)
	if err != nil {
		return 0, err
	}
	return code.UnzippedSize(data)
}
