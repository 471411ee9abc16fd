package resource

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcLambda = "Lambda"

func addLambda(c *clients, ps map[string]stack.Provider) {
	ps["AWS::Lambda::Function"] = &functionProvider{c}
}

// functionProps are AWS::Lambda::Function's properties.
type functionProps struct {
	Architectures                []types.Architecture
	Code                         *functionCode
	CodeSigningConfigArn         *string
	DeadLetterConfig             *types.DeadLetterConfig
	Description                  *string
	Environment                  *types.Environment
	EphemeralStorage             *types.EphemeralStorage
	FileSystemConfigs            []types.FileSystemConfig
	FunctionName                 *string
	Handler                      *string
	ImageConfig                  *types.ImageConfig
	KmsKeyArn                    *string
	Layers                       []string
	LoggingConfig                *types.LoggingConfig
	MemorySize                   *int64
	PackageType                  types.PackageType
	RecursiveLoop                *string
	ReservedConcurrentExecutions *int64
	Role                         *string
	Runtime                      types.Runtime
	RuntimeManagementConfig      *struct{ UpdateRuntimeOn, RuntimeVersionArn *string }
	SnapStart                    *types.SnapStart
	Tags                         []tag
	Timeout                      *int64
	TracingConfig                *types.TracingConfig
	VpcConfig                    *types.VpcConfig
}

// functionCode is AWS::Lambda::Function's Code.
type functionCode struct {
	S3Bucket, S3Key, S3ObjectVersion *string
	ZipFile                          *string
	ImageUri                         *string //nolint:revive // CloudFormation's name
	SourceKMSKeyArn                  *string
	S3ObjectStorageMode              *string
}

// configProps are the properties UpdateFunctionConfiguration changes.
var configProps = []string{
	"DeadLetterConfig", "Description", "Environment", "EphemeralStorage", "FileSystemConfigs",
	"Handler", "ImageConfig", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "Role",
	"Runtime", "SnapStart", "Timeout", "TracingConfig", "VpcConfig",
}

type functionProvider struct{ c *clients }

// unsupportedFunctionProps are AWS::Lambda::Function properties for
// features Nimbus does not have, refused by name (not as a schema error).
var unsupportedFunctionProps = map[string]string{
	"DurableConfig":          "Lambda durable functions",
	"CapacityProviderConfig": "Lambda managed instances",
}

func (p *functionProvider) decode(r *stack.Request, props map[string]any) (*functionProps, error) {
	for _, k := range slices.Sorted(maps.Keys(unsupportedFunctionProps)) {
		if _, ok := props[k]; ok {
			return nil, fmt.Errorf("%s: property %s needs %s, which Nimbus does not have yet", r.LogicalID, k, unsupportedFunctionProps[k])
		}
	}
	var fp functionProps
	if err := propsOf(r.LogicalID, props, &fp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, props, "Code", "Role"); err != nil {
		return nil, err
	}
	if fp.RuntimeManagementConfig != nil && fp.RuntimeManagementConfig.UpdateRuntimeOn != nil &&
		*fp.RuntimeManagementConfig.UpdateRuntimeOn != "Auto" {
		return nil, fmt.Errorf("%s: RuntimeManagementConfig UpdateRuntimeOn %s is not supported by Nimbus (runtimes are updated with Nimbus; use Auto)",
			r.LogicalID, *fp.RuntimeManagementConfig.UpdateRuntimeOn)
	}
	return &fp, nil
}

func (p *functionProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	fp, err := p.decode(r, r.Properties)
	if err != nil {
		return nil, err
	}
	code, err := p.c.functionCode(ctx, r.LogicalID, fp)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(fp.FunctionName)
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 64)
	}
	in := &lambda.CreateFunctionInput{
		FunctionName:         aws.String(name),
		Code:                 code,
		Role:                 fp.Role,
		Architectures:        fp.Architectures,
		CodeSigningConfigArn: fp.CodeSigningConfigArn,
		DeadLetterConfig:     fp.DeadLetterConfig,
		Description:          fp.Description,
		Environment:          fp.Environment,
		EphemeralStorage:     fp.EphemeralStorage,
		FileSystemConfigs:    fp.FileSystemConfigs,
		Handler:              fp.Handler,
		ImageConfig:          fp.ImageConfig,
		KMSKeyArn:            fp.KmsKeyArn,
		Layers:               fp.Layers,
		LoggingConfig:        fp.LoggingConfig,
		MemorySize:           i32(fp.MemorySize),
		PackageType:          fp.PackageType,
		Runtime:              fp.Runtime,
		SnapStart:            fp.SnapStart,
		Tags:                 tagMap(fp.Tags),
		Timeout:              i32(fp.Timeout),
		TracingConfig:        fp.TracingConfig,
		VpcConfig:            fp.VpcConfig,
	}
	out, err := p.c.lambda.CreateFunction(ctx, in)
	if err != nil {
		return nil, apiError(svcLambda, err)
	}
	undo := func(cause error) error {
		if _, err := p.c.lambda.DeleteFunction(context.WithoutCancel(ctx), &lambda.DeleteFunctionInput{FunctionName: &name}); err != nil && !notFound(err) {
			p.c.log.Warn("undo function create", "function", name, "err", err)
		}
		return cause
	}
	if err := p.c.waitFunction(ctx, name); err != nil {
		return nil, undo(err)
	}
	if fp.ReservedConcurrentExecutions != nil {
		if _, err := p.c.lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
			FunctionName: &name, ReservedConcurrentExecutions: i32(fp.ReservedConcurrentExecutions),
		}); err != nil {
			return nil, undo(apiError(svcLambda, err))
		}
	}
	return functionResult(name, aws.ToString(out.FunctionArn)), nil
}

func functionResult(name, arn string) *stack.Result {
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Arn": arn}}
}

func (p *functionProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	fp, err := p.decode(r, r.Properties)
	if err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "FunctionName", "PackageType") {
		return nil, replace(r.LogicalID, "FunctionName or PackageType")
	}
	name := prev.PhysicalID
	arn, _ := prev.Attrs["Arn"].(string)
	if arn == "" {
		cfg, err := p.c.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &name})
		if err != nil {
			return nil, apiError(svcLambda, err)
		}
		arn = aws.ToString(cfg.FunctionArn)
	}
	if anyChanged(ch, "Code", "Architectures") {
		code, err := p.c.functionCode(ctx, r.LogicalID, fp)
		if err != nil {
			return nil, err
		}
		archs := fp.Architectures
		if archs == nil {
			archs = []types.Architecture{types.ArchitectureX8664}
		}
		if _, err := p.c.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
			FunctionName: &name, Architectures: archs,
			ZipFile: code.ZipFile, ImageUri: code.ImageUri, S3Bucket: code.S3Bucket, S3Key: code.S3Key, S3ObjectVersion: code.S3ObjectVersion,
		}); err != nil {
			return nil, apiError(svcLambda, err)
		}
		if err := p.c.waitFunction(ctx, name); err != nil {
			return nil, err
		}
	}
	if anyChanged(ch, configProps...) {
		if _, err := p.c.lambda.UpdateFunctionConfiguration(ctx, configUpdate(name, fp)); err != nil {
			return nil, apiError(svcLambda, err)
		}
		if err := p.c.waitFunction(ctx, name); err != nil {
			return nil, err
		}
	}
	if ch["Tags"] {
		var old functionProps
		_ = propsOf(r.LogicalID, prev.Properties, &old) // applied before, so valid
		if err := p.c.retag(ctx, arn, tagMap(old.Tags), tagMap(fp.Tags)); err != nil {
			return nil, err
		}
	}
	if ch["ReservedConcurrentExecutions"] {
		if fp.ReservedConcurrentExecutions == nil {
			_, err = p.c.lambda.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: &name})
		} else {
			_, err = p.c.lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
				FunctionName: &name, ReservedConcurrentExecutions: i32(fp.ReservedConcurrentExecutions),
			})
		}
		if err != nil {
			return nil, apiError(svcLambda, err)
		}
	}
	return functionResult(name, arn), nil
}

// configUpdate is the UpdateFunctionConfiguration call that makes the
// function's configuration what fp says, resetting what fp leaves out to
// Lambda's defaults (a property removed from the template goes back to
// its default, as in CloudFormation).
func configUpdate(name string, fp *functionProps) *lambda.UpdateFunctionConfigurationInput {
	in := &lambda.UpdateFunctionConfigurationInput{
		FunctionName:      &name,
		DeadLetterConfig:  fp.DeadLetterConfig,
		Description:       fp.Description,
		Environment:       fp.Environment,
		EphemeralStorage:  fp.EphemeralStorage,
		FileSystemConfigs: fp.FileSystemConfigs,
		Handler:           fp.Handler,
		ImageConfig:       fp.ImageConfig,
		KMSKeyArn:         fp.KmsKeyArn,
		Layers:            fp.Layers,
		LoggingConfig:     fp.LoggingConfig,
		MemorySize:        i32(fp.MemorySize),
		Role:              fp.Role,
		Runtime:           fp.Runtime,
		SnapStart:         fp.SnapStart,
		Timeout:           i32(fp.Timeout),
		TracingConfig:     fp.TracingConfig,
		VpcConfig:         fp.VpcConfig,
	}
	if in.DeadLetterConfig == nil {
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String("")}
	}
	if in.Description == nil {
		in.Description = aws.String("")
	}
	if in.Environment == nil {
		in.Environment = &types.Environment{Variables: map[string]string{}}
	}
	if in.EphemeralStorage == nil {
		in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(512)}
	}
	if in.Layers == nil {
		in.Layers = []string{}
	}
	if in.LoggingConfig == nil {
		in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatText, LogGroup: aws.String("/aws/lambda/" + name)}
	}
	if in.MemorySize == nil {
		in.MemorySize = aws.Int32(128)
	}
	if in.Timeout == nil {
		in.Timeout = aws.Int32(3)
	}
	if in.TracingConfig == nil {
		in.TracingConfig = &types.TracingConfig{Mode: types.TracingModePassThrough}
	}
	return in
}

func (p *functionProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(cur.PhysicalID)})
	return ignoreNotFound(svcLambda, err)
}

// waitFunction waits until a function is Active and its last update is
// done, as CloudFormation does before it reports the resource complete.
func (c *clients) waitFunction(ctx context.Context, name string) error {
	return poll(ctx, "function "+name, func(ctx context.Context) (bool, error) {
		cfg, err := c.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &name})
		if err != nil {
			return false, apiError(svcLambda, err)
		}
		switch {
		case cfg.State == types.StateFailed:
			return false, fmt.Errorf("Resource handler returned message: %q (HandlerErrorCode: NotStabilized)", //nolint:staticcheck // CloudFormation's wording
				"Function "+name+" failed: "+aws.ToString(cfg.StateReason))
		case cfg.LastUpdateStatus == types.LastUpdateStatusFailed:
			return false, fmt.Errorf("Resource handler returned message: %q (HandlerErrorCode: NotStabilized)", //nolint:staticcheck // CloudFormation's wording
				"Function "+name+" update failed: "+aws.ToString(cfg.LastUpdateStatusReason))
		case cfg.State == types.StatePending, cfg.LastUpdateStatus == types.LastUpdateStatusInProgress:
			return false, nil
		}
		return true, nil
	})
}

// retag changes a Lambda resource's tags from old to cur.
func (c *clients) retag(ctx context.Context, arn string, old, cur map[string]string) error {
	var gone []string
	for k := range old {
		if _, ok := cur[k]; !ok {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		if _, err := c.lambda.UntagResource(ctx, &lambda.UntagResourceInput{Resource: &arn, TagKeys: gone}); err != nil {
			return apiError(svcLambda, err)
		}
	}
	if len(cur) > 0 && !maps.Equal(old, cur) {
		if _, err := c.lambda.TagResource(ctx, &lambda.TagResourceInput{Resource: &arn, Tags: cur}); err != nil {
			return apiError(svcLambda, err)
		}
	}
	return nil
}

// functionCode resolves a function's Code to what CreateFunction takes:
// an artifact `nimbus deploy` uploaded, or inline source zipped as
// CloudFormation zips it.
func (c *clients) functionCode(ctx context.Context, logicalID string, fp *functionProps) (*types.FunctionCode, error) {
	code := fp.Code
	switch {
	case code.ZipFile != nil:
		zf, err := inlineZip(*code.ZipFile, string(fp.Runtime))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", logicalID, err)
		}
		return &types.FunctionCode{ZipFile: zf}, nil
	case code.ImageUri != nil:
		return &types.FunctionCode{ImageUri: code.ImageUri}, nil
	case code.S3Bucket != nil && *code.S3Bucket == stack.ArtifactBucket:
		zf, err := c.artifact(ctx, logicalID, *code.S3Bucket, aws.ToString(code.S3Key))
		if err != nil {
			return nil, err
		}
		return &types.FunctionCode{ZipFile: zf}, nil
	case code.S3Bucket != nil:
		// A bucket of the node's S3: Lambda reads it (the stack engine
		// checked, when the stack was asked for, that its caller may).
		return &types.FunctionCode{S3Bucket: code.S3Bucket, S3Key: code.S3Key, S3ObjectVersion: code.S3ObjectVersion}, nil
	}
	return nil, fmt.Errorf("Properties validation failed for resource %s with message: #/Code: one of [ZipFile, S3Bucket, ImageUri] is required", logicalID) //nolint:staticcheck // CloudFormation's wording
}

// artifact reads s3://nimbus-artifacts/key, an artifact `nimbus deploy`
// uploaded.
func (c *clients) artifact(ctx context.Context, logicalID, bucket, key string) ([]byte, error) {
	if c.opts.Artifacts == nil {
		return nil, fmt.Errorf("%s: no artifact store for s3://%s/%s", logicalID, bucket, key)
	}
	data, err := c.opts.Artifacts.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%s: artifact s3://%s/%s (upload it with nimbus deploy): %w", logicalID, bucket, key, err)
	}
	return data, nil
}

// inlineZip zips a function's inline source (Code.ZipFile) as
// CloudFormation does: into one file named index with the runtime's
// extension, index.py for Python and index.js for Node.js (CloudFormation
// documents that inline Node.js code is a CommonJS module: "ES modules
// aren't supported for inline functions"). The zip is the same for the
// same source, so an unchanged template keeps the function's CodeSha256.
func inlineZip(src, runtime string) ([]byte, error) {
	var name string
	switch {
	case strings.HasPrefix(runtime, "python"):
		name = "index.py"
	case strings.HasPrefix(runtime, "nodejs"):
		name = "index.js"
	default:
		return nil, fmt.Errorf("Code.ZipFile (inline source) needs a Node.js or Python runtime, not %q", runtime) //nolint:staticcheck // CloudFormation's wording
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o644)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, fmt.Errorf("zip inline source: %w", err)
	}
	if _, err := w.Write([]byte(src)); err != nil {
		return nil, fmt.Errorf("zip inline source: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip inline source: %w", err)
	}
	return buf.Bytes(), nil
}
