package lambdaapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/code"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/registry"
)

// parseRef checks a FunctionName (name, partial or full ARN, optional
// :qualifier) and that it names this node's region and account.
func (h *Handler) parseRef(raw string) (awsapi.FunctionRef, error) {
	ref, err := awsapi.ParseFunctionRef(raw)
	if err != nil {
		return ref, err
	}
	if ref.Region != "" && ref.Region != h.region {
		return ref, awsapi.NotFound("Functions from '%s' are not reachable in this region ('%s')", ref.Region, h.region)
	}
	if ref.Account != "" && ref.Account != h.account {
		return ref, awsapi.NotFound("Function not found: %s", awsapi.FunctionARN(h.region, ref.Account, ref.Name, ref.Qualifier))
	}
	return ref, nil
}

// functionRef reads the {fn} path parameter. With withQuery the Qualifier
// query parameter is merged in (they must agree); otherwise a qualifier is
// refused, for operations that act on the function itself.
func (h *Handler) functionRef(c *call, withQuery bool) (name, qualifier string, err error) {
	ref, err := h.parseRef(c.params["fn"])
	if err != nil {
		return "", "", err
	}
	qualifier = ref.Qualifier
	if withQuery {
		q := c.r.URL.Query().Get("Qualifier")
		if q != "" {
			var v verrs
			if len(q) > 128 {
				v.add(q, "qualifier", "Member must have length less than or equal to 128")
			} else if !qualifierRE().MatchString(q) {
				v.add(q, "qualifier", "Member must satisfy regular expression pattern: "+qualifierPattern)
			}
			if err := v.err(); err != nil {
				return "", "", err
			}
			if qualifier != "" && qualifier != q {
				return "", "", awsapi.InvalidParameter("The derived qualifier from the function name does not match the specified qualifier.")
			}
			qualifier = q
		}
	} else if qualifier != "" {
		return "", "", awsapi.InvalidParameter("%s acts on the function, not on a version or alias: remove the qualifier %q from the FunctionName.", c.op, qualifier)
	}
	return ref.Name, qualifier, nil
}

// latestRef reads the {fn} path parameter of the operations that change
// $LATEST (UpdateFunctionConfiguration, UpdateFunctionCode): a qualifier
// is allowed only if it is $LATEST, and refused in AWS's words otherwise.
func (h *Handler) latestRef(c *call) (string, error) {
	ref, err := h.parseRef(c.params["fn"])
	if err != nil {
		return "", err
	}
	if ref.Qualifier != "" && ref.Qualifier != function.LatestVersion {
		return "", awsapi.InvalidParameter("Current operation does not support versions other than $LATEST. Please set the version to $LATEST or do not set a version in your request.")
	}
	return ref.Name, nil
}

type functionCode struct {
	ZipFile         []byte  `json:"ZipFile"`
	S3Bucket        *string `json:"S3Bucket"`
	S3Key           *string `json:"S3Key"`
	S3ObjectVersion *string `json:"S3ObjectVersion"`
	ImageURI        *string `json:"ImageUri"`
	SourceKMSKeyArn *string `json:"SourceKMSKeyArn"`
}

type createFunctionRequest struct {
	settings
	FunctionName         *string           `json:"FunctionName"`
	Code                 *functionCode     `json:"Code"`
	Publish              bool              `json:"Publish"`
	PackageType          *string           `json:"PackageType"`
	Tags                 map[string]string `json:"Tags"`
	Architectures        []string          `json:"Architectures"`
	CodeSigningConfigArn *string           `json:"CodeSigningConfigArn"`
	PublishTo            *string           `json:"PublishTo"`
	TenancyConfig        json.RawMessage   `json:"TenancyConfig"`
}

// imageNotSupported is the answer to container image functions.
var imageNotSupported = awsapi.InvalidParameter("Container image functions (PackageType Image, ImageUri) are not supported by Nimbus; package the function as a .zip file (PackageType Zip).")

// codeSource checks a FunctionCode and returns its zip (inline, or read
// from the node's S3 as the caller), validated, and the zip's unzipped
// size.
func (h *Handler) codeSource(ctx context.Context, fc *functionCode, op string) ([]byte, int64, error) {
	switch {
	case fc.ImageURI != nil:
		return nil, 0, imageNotSupported
	case fc.S3Bucket != nil || fc.S3Key != nil || fc.S3ObjectVersion != nil:
		if fc.ZipFile != nil {
			return nil, 0, awsapi.InvalidParameter("Please do not provide other FunctionCode parameters when providing a ZipFile.")
		}
		if fc.SourceKMSKeyArn != nil && *fc.SourceKMSKeyArn != "" {
			return nil, 0, notSupported("SourceKMSKeyArn is")
		}
		zip, err := h.s3Code(ctx, fc.S3Bucket, fc.S3Key, fc.S3ObjectVersion)
		if err != nil {
			return nil, 0, err
		}
		info, err := code.Validate(zip, 0)
		if err != nil {
			return nil, 0, err
		}
		return zip, info.UnzippedSize, nil
	case fc.ZipFile == nil:
		return nil, 0, awsapi.InvalidParameter("Please provide a source for function code.")
	case fc.SourceKMSKeyArn != nil && *fc.SourceKMSKeyArn != "":
		return nil, 0, notSupported("SourceKMSKeyArn is")
	}
	if len(fc.ZipFile) > function.MaxZippedSize {
		return nil, 0, tooLarge(maxCodeRequest, op)
	}
	info, err := code.Validate(fc.ZipFile, 0)
	if err != nil {
		return nil, 0, err
	}
	return fc.ZipFile, info.UnzippedSize, nil
}

func (h *Handler) createFunction(c *call) error {
	var req createFunctionRequest
	if err := c.decode(maxCodeRequest, &req); err != nil {
		return err
	}
	var v verrs
	if req.FunctionName == nil {
		v.add("null", "functionName", "Member must not be null")
	}
	if req.Role == nil {
		v.add("null", "role", "Member must not be null")
	}
	if req.Code == nil {
		v.add("null", "code", "Member must not be null")
	}
	req.validateModel(&v)
	v.enum(req.PackageType, "packageType", "Zip", "Image")
	validateArchitectures(&v, req.Architectures)
	if err := v.err(); err != nil {
		return err
	}
	ref, err := h.parseRef(*req.FunctionName)
	if err != nil {
		return err
	}
	if ref.Qualifier != "" {
		return awsapi.InvalidParameter("The function name must not include a version or alias qualifier: %s", *req.FunctionName)
	}
	name := ref.Name
	if req.PackageType != nil && *req.PackageType == "Image" {
		return imageNotSupported
	}
	if req.Runtime == nil || req.Handler == nil || *req.Handler == "" {
		return awsapi.InvalidParameter("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	switch {
	case req.CodeSigningConfigArn != nil && *req.CodeSigningConfigArn != "":
		return notSupported("Code signing (CodeSigningConfigArn) is")
	case req.PublishTo != nil && *req.PublishTo != "":
		return notSupported("PublishTo is")
	case present(req.TenancyConfig):
		return notSupported("TenancyConfig is")
	}
	if err := h.checkSettings(&req.settings); err != nil {
		return err
	}
	if err := h.checkRole(c.r.Context(), req.Role); err != nil {
		return err
	}
	if err := checkTags(req.Tags); err != nil {
		return err
	}
	zip, unzipped, err := h.codeSource(c.r.Context(), req.Code, c.op)
	if err != nil {
		return err
	}
	var layers []function.Layer
	if len(req.Layers) > 0 {
		if layers, err = h.functionLayers(c, req.Layers, nil, unzipped, true); err != nil {
			return err
		}
	}

	cfg := function.Config{
		FunctionName:     name,
		Timeout:          function.DefaultTimeout,
		MemorySize:       function.DefaultMemorySize,
		PackageType:      "Zip",
		Architectures:    []string{"x86_64"},
		TracingConfig:    &function.TracingConfig{Mode: "PassThrough"},
		EphemeralStorage: &function.EphemeralStorage{Size: function.DefaultEphemeralStorage},
		SnapStart:        &function.SnapStart{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig:    &function.LoggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + name},
	}
	if req.Architectures != nil {
		cfg.Architectures = req.Architectures
	}
	req.apply(&cfg)
	cfg.Layers = layers
	cfg.RuntimeVersionConfig = h.runtimeVersion(cfg.Runtime)
	if err := h.sealEnvironment(c.r.Context(), &cfg, ""); err != nil {
		return err
	}
	out, err := h.reg.CreateFunction(c.r.Context(), registry.CreateInput{Config: cfg, Zip: zip, Tags: req.Tags, Publish: req.Publish})
	if err != nil {
		return err
	}
	if req.Publish {
		// AWS answers CreateFunction with the unqualified ARN even when it
		// publishes version 1.
		out.FunctionArn = awsapi.FunctionARN(h.region, h.account, name, "")
	}
	// Nor does its answer have a LastUpdateStatus: a new function has not
	// been updated yet (GetFunction reports Successful from then on).
	out.LastUpdateStatus, out.LastUpdateStatusReason, out.LastUpdateStatusReasonCode = "", "", ""
	return c.writeJSON(http.StatusCreated, h.reveal(c.r.Context(), out))
}

// runtimeVersion is the RuntimeVersionConfig AWS reports for a managed
// runtime: arn:aws:lambda:<region>::runtime:<64 hex digits> names the
// runtime build. Nimbus has one build per runtime name per node, so the
// digits are a digest of the name: stable across updates and nodes.
func (h *Handler) runtimeVersion(runtime string) *function.RuntimeVersionConfig {
	if runtime == "" {
		return nil
	}
	sum := sha256.Sum256([]byte("nimbus runtime " + runtime))
	return &function.RuntimeVersionConfig{
		RuntimeVersionArn: "arn:aws:lambda:" + h.region + "::runtime:" + hex.EncodeToString(sum[:]),
	}
}

type getFunctionResponse struct {
	Configuration *function.Config  `json:"Configuration"`
	Code          *codeLocation     `json:"Code,omitempty"`
	Tags          map[string]string `json:"Tags,omitempty"`
	Concurrency   *concurrencyBody  `json:"Concurrency,omitempty"`
}

type codeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

func (h *Handler) getFunction(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	cfg, err := h.reg.Config(c.r.Context(), name, qualifier)
	if err != nil {
		return err
	}
	tags, err := h.reg.Tags(c.r.Context(), name)
	if err != nil {
		return err
	}
	resp := getFunctionResponse{
		Configuration: h.reveal(c.r.Context(), cfg),
		Code:          &codeLocation{RepositoryType: "S3", Location: h.codeURL(c.r, cfg.CodeSha256)},
		Tags:          tags,
	}
	if rc, ok := h.reg.ReservedConcurrency(name); ok {
		resp.Concurrency = &concurrencyBody{ReservedConcurrentExecutions: &rc}
	}
	return c.writeJSON(http.StatusOK, resp)
}

func (h *Handler) getFunctionConfiguration(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	cfg, err := h.reg.Config(c.r.Context(), name, qualifier)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, h.reveal(c.r.Context(), cfg))
}

// checkRole refuses a role Lambda cannot assume (with Options.Roles).
func (h *Handler) checkRole(ctx context.Context, role *string) error {
	if h.roles == nil || role == nil || h.roles.LambdaCanAssume(ctx, *role) {
		return nil
	}
	return awsapi.InvalidParameter("The role defined for the function cannot be assumed by Lambda.")
}

type updateConfigurationRequest struct {
	settings
	RevisionID *string `json:"RevisionId"`
}

func (h *Handler) updateFunctionConfiguration(c *call) error {
	name, err := h.latestRef(c)
	if err != nil {
		return err
	}
	var req updateConfigurationRequest
	if err := c.decodeValidated(&req, req.validateModel); err != nil {
		return err
	}
	if err := h.checkSettings(&req.settings); err != nil {
		return err
	}
	if err := h.checkRole(c.r.Context(), req.Role); err != nil {
		return err
	}
	var layers []function.Layer
	if len(req.Layers) > 0 {
		cur, err := h.reg.Config(c.r.Context(), name, "")
		if err != nil {
			return err
		}
		unzipped, err := h.unzippedSize(c, cur.CodeSha256)
		if err != nil {
			return err
		}
		if layers, err = h.functionLayers(c, req.Layers, cur.Layers, unzipped, false); err != nil {
			return err
		}
	}
	cfg, err := h.reg.UpdateConfiguration(c.r.Context(), name, deref(req.RevisionID), func(cfg *function.Config) error {
		prevKey := cfg.KMSKeyArn
		req.apply(cfg)
		if req.Layers != nil { // [] removes every layer
			cfg.Layers = layers
		}
		if req.Runtime != nil || cfg.RuntimeVersionConfig == nil {
			cfg.RuntimeVersionConfig = h.runtimeVersion(cfg.Runtime)
		}
		if cfg.PackageType == "Zip" && cfg.Handler == "" {
			return awsapi.InvalidParameter("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
		}
		return h.sealEnvironment(c.r.Context(), cfg, prevKey)
	})
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, h.reveal(c.r.Context(), cfg))
}

type updateCodeRequest struct {
	functionCode
	Publish       bool     `json:"Publish"`
	DryRun        bool     `json:"DryRun"`
	RevisionID    *string  `json:"RevisionId"`
	Architectures []string `json:"Architectures"`
	PublishTo     *string  `json:"PublishTo"`
}

func (h *Handler) updateFunctionCode(c *call) error {
	name, err := h.latestRef(c)
	if err != nil {
		return err
	}
	var req updateCodeRequest
	if err := c.decodeValidatedUpTo(maxCodeRequest, &req, func(v *verrs) { validateArchitectures(v, req.Architectures) }); err != nil {
		return err
	}
	if req.PublishTo != nil && *req.PublishTo != "" {
		return notSupported("PublishTo is")
	}
	zip, unzipped, err := h.codeSource(c.r.Context(), &req.functionCode, c.op)
	if err != nil {
		return err
	}
	if cur, err := h.reg.Config(c.r.Context(), name, ""); err == nil && len(cur.Layers) > 0 {
		if err := checkCodeBeside(unzipped, h.reg.LayersUnzippedSize(cur.Layers)); err != nil {
			return err
		}
	}
	cfg, err := h.reg.UpdateCode(c.r.Context(), name, registry.CodeUpdate{
		Zip: zip, Architectures: req.Architectures, RevisionID: deref(req.RevisionID),
		Publish: req.Publish, DryRun: req.DryRun,
	})
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, h.reveal(c.r.Context(), cfg))
}

func (h *Handler) deleteFunction(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	switch qualifier {
	case "":
		err = h.reg.DeleteFunction(c.r.Context(), name)
	case function.LatestVersion:
		err = awsapi.InvalidParameter("$LATEST version cannot be deleted without deleting the function.")
	default:
		err = h.reg.DeleteVersion(c.r.Context(), name, qualifier)
	}
	if err != nil {
		return err
	}
	return c.noContent()
}

type listFunctionsResponse struct {
	Functions  []*function.Config `json:"Functions"`
	NextMarker string             `json:"NextMarker,omitempty"`
}

func (h *Handler) listFunctions(c *call) error {
	q := c.r.URL.Query()
	var v verrs
	all := false
	if fv := q.Get("FunctionVersion"); fv != "" {
		v.enum(&fv, "functionVersion", "ALL")
		all = fv == "ALL"
	}
	if mr := q.Get("MasterRegion"); mr != "" && mr != "ALL" && !regionRE().MatchString(mr) {
		v.add(mr, "masterRegion", "Member must satisfy regular expression pattern: ALL|[a-z]{2}(-gov)?-[a-z]+-\\d{1}")
	}
	maxItems := parseMaxItems(&v, q.Get("MaxItems"), 10000)
	if err := v.err(); err != nil {
		return err
	}
	fns, err := h.reg.ListFunctions(c.r.Context(), all)
	if err != nil {
		return err
	}
	page, next, err := paginate(fns, functionKey, q.Get("Marker"), maxItems)
	if err != nil {
		return err
	}
	for _, f := range page {
		listView(f)
	}
	h.revealAll(c.r.Context(), page)
	return c.writeJSON(http.StatusOK, listFunctionsResponse{Functions: page, NextMarker: next})
}

// listView drops what list operations do not return: AWS documents that
// ListFunctions (and ListVersionsByFunction) return a subset of the
// configuration, without the state fields GetFunction has.
func listView(cfg *function.Config) {
	cfg.State, cfg.StateReason, cfg.StateReasonCode = "", "", ""
	cfg.LastUpdateStatus, cfg.LastUpdateStatusReason, cfg.LastUpdateStatusReasonCode = "", "", ""
	cfg.RuntimeVersionConfig = nil
}

// functionKey orders a listed configuration: name, then version.
func functionKey(cfg *function.Config) string {
	n := 0
	if cfg.Version != function.LatestVersion {
		n, _ = strconv.Atoi(cfg.Version)
	}
	return cfg.FunctionName + ":" + leftPad(int64(n), 10)
}

// leftPad writes n with zeros in front to width digits, so that the
// strings sort as the numbers do.
func leftPad(n int64, width int) string {
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", width-min(len(s), width)) + s
}

// defaultPage and maxPage bound list pages, as Lambda does (50).
const maxPage = 50

// parseMaxItems reads MaxItems: the model allows 1 to modelMax (10,000
// for functions, versions, aliases and URLs; 50 for layers); a page holds
// at most maxPage.
func parseMaxItems(v *verrs, s string, modelMax int) int {
	if s == "" {
		return maxPage
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		v.add(s, "maxItems", "Member must be a number")
		return maxPage
	}
	v.intRange(&n, "maxItems", 1, modelMax)
	return min(max(n, 1), maxPage)
}

// paginate returns the page of items (sorted by key) after marker and the
// marker of the next page ("" when this is the last).
func paginate[T any](items []T, key func(T) string, marker string, size int) ([]T, string, error) {
	start := 0
	if marker != "" {
		after, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil || len(after) == 0 {
			return nil, "", awsapi.InvalidParameter("Invalid marker: %s", marker)
		}
		for start < len(items) && key(items[start]) <= string(after) {
			start++
		}
	}
	end := min(start+size, len(items))
	page := items[start:end]
	if page == nil {
		page = []T{}
	}
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1])))
	}
	return page, next, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
