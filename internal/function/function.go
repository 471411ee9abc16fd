// Package function owns the data model of a Lambda function as Nimbus stores
// and serves it: the FunctionConfiguration of $LATEST and of each published
// version, aliases, and the limits and enumerations that validate them. The
// JSON form of these types is the Lambda wire form (botocore's
// lambda/2015-03-31 model), so the control plane stores and answers the same
// bytes. It imports only awsapi; every other package may import it.
package function

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Limits and defaults from the Lambda API reference.
const (
	DefaultTimeout          = 3     // seconds
	MaxTimeout              = 900   // seconds
	DefaultMemorySize       = 128   // MB
	MinMemorySize           = 128   // MB
	MaxMemorySize           = 10240 // MB
	DefaultEphemeralStorage = 512   // MB
	MinEphemeralStorage     = 512   // MB
	MaxEphemeralStorage     = 10240 // MB
	MaxZippedSize           = 50 * 1024 * 1024
	MaxUnzippedSize         = 250 * 1024 * 1024
	MaxEnvironmentBytes     = 4 * 1024
	MaxSyncPayload          = 6 * 1024 * 1024 // 6291456, invocation request
	MaxSyncResponse         = 6*1024*1024 + 100
	MaxAsyncPayload         = 1024 * 1024
	MaxLogTail              = 4 * 1024
	MaxDescription          = 256
	LatestVersion           = "$LATEST"
)

// Function states and update statuses as the SDK waiters expect them.
const (
	StatePending     = "Pending"
	StateActive      = "Active"
	StateFailed      = "Failed"
	UpdateInProgress = "InProgress"
	UpdateSuccessful = "Successful"
	UpdateFailed     = "Failed"
)

// LastModifiedFormat is how Lambda writes LastModified:
// 2024-01-02T15:04:05.000+0000.
const LastModifiedFormat = "2006-01-02T15:04:05.000-0700"

// FormatLastModified renders t the way Lambda does.
func FormatLastModified(t time.Time) string { return t.UTC().Format(LastModifiedFormat) }

// Config is a FunctionConfiguration: the $LATEST configuration of a function
// or the frozen configuration of a published version.
type Config struct {
	FunctionName               string                `json:"FunctionName"`
	FunctionArn                string                `json:"FunctionArn"`
	Runtime                    string                `json:"Runtime,omitempty"`
	Role                       string                `json:"Role"`
	Handler                    string                `json:"Handler,omitempty"`
	CodeSize                   int64                 `json:"CodeSize"`
	Description                string                `json:"Description"`
	Timeout                    int                   `json:"Timeout"`
	MemorySize                 int                   `json:"MemorySize"`
	LastModified               string                `json:"LastModified"`
	CodeSha256                 string                `json:"CodeSha256"` // base64 of the zip's SHA-256
	Version                    string                `json:"Version"`
	Environment                *Environment          `json:"Environment,omitempty"`
	TracingConfig              *TracingConfig        `json:"TracingConfig,omitempty"`
	RevisionId                 string                `json:"RevisionId"`
	State                      string                `json:"State,omitempty"`
	StateReason                string                `json:"StateReason,omitempty"`
	StateReasonCode            string                `json:"StateReasonCode,omitempty"`
	LastUpdateStatus           string                `json:"LastUpdateStatus,omitempty"`
	LastUpdateStatusReason     string                `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string                `json:"LastUpdateStatusReasonCode,omitempty"`
	PackageType                string                `json:"PackageType"`
	Architectures              []string              `json:"Architectures"`
	EphemeralStorage           *EphemeralStorage     `json:"EphemeralStorage,omitempty"`
	LoggingConfig              *LoggingConfig        `json:"LoggingConfig,omitempty"`
	DeadLetterConfig           *DeadLetterConfig     `json:"DeadLetterConfig,omitempty"`
	Layers                     []Layer               `json:"Layers,omitempty"`
	SnapStart                  *SnapStart            `json:"SnapStart,omitempty"`
	RuntimeVersionConfig       *RuntimeVersionConfig `json:"RuntimeVersionConfig,omitempty"`
	// KMSKeyArn is the customer managed KMS key the environment
	// variables are encrypted with at rest (Environment.Sealed).
	KMSKeyArn string `json:"KMSKeyArn,omitempty"`

	// Network is the function's outbound network policy, from its
	// NetworkTag tag ("" for the server's default); Resolve fills it. Not
	// part of the AWS shape, never stored in the configuration.
	Network string `json:"-"`
}

// NetworkTag is the function tag that sets its outbound network:
// NetworkNone (its environment's loopback only) or NetworkEgress (out
// through the host, never to the host itself).
const (
	NetworkTag    = "nimbus:network"
	NetworkNone   = "none"
	NetworkEgress = "egress"
)

// Environment is the function's environment variables.
type Environment struct {
	Variables map[string]string `json:"Variables"`
	// Sealed holds the variables encrypted under the function's KMSKeyArn
	// when it has one (Variables is then nil): the stored form. The API
	// answers the opened Variables, or Error when they cannot be opened;
	// an environment opens them when it starts.
	Sealed []byte `json:"Sealed,omitempty"`
	// Error is why the API could not open Sealed (EnvironmentError).
	Error *EnvironmentError `json:"Error,omitempty"`
}

// EnvironmentError is Lambda's EnvironmentError: the variables could not
// be decrypted.
type EnvironmentError struct {
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

// TracingConfig is the X-Ray mode: Active or PassThrough.
type TracingConfig struct {
	Mode string `json:"Mode"`
}

// EphemeralStorage is the size of /tmp in MB.
type EphemeralStorage struct {
	Size int `json:"Size"`
}

// LoggingConfig is the function's log format, levels and group.
type LoggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

// DeadLetterConfig names where failed async events go.
type DeadLetterConfig struct {
	TargetArn string `json:"TargetArn,omitempty"`
}

// Layer is a layer version a function uses, in the order the function
// lists them (later layers overwrite earlier ones' files in /opt).
type Layer struct {
	Arn      string `json:"Arn"` // the layer version ARN
	CodeSize int64  `json:"CodeSize"`

	// CodeSha256 is the layer version's package; the registry's Resolve
	// fills it for the worker. Not part of the AWS shape, never stored in
	// the configuration.
	CodeSha256 string `json:"-"`
}

// SnapStart is reported as off; Nimbus has no snapshots yet.
type SnapStart struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

// RuntimeVersionConfig names the runtime build a function runs on.
type RuntimeVersionConfig struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn,omitempty"`
}

// Alias is an AliasConfiguration.
type Alias struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig,omitempty"`
	RevisionId      string         `json:"RevisionId"`
}

// RoutingConfig sends a share of an alias's traffic to another version.
type RoutingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights,omitempty"`
}

// MemoryMB returns the configured memory or the default.
func (c *Config) MemoryMB() int {
	if c.MemorySize == 0 {
		return DefaultMemorySize
	}
	return c.MemorySize
}

// TimeoutSeconds returns the configured timeout or the default.
func (c *Config) TimeoutSeconds() int {
	if c.Timeout == 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// EphemeralMB returns the /tmp size or the default.
func (c *Config) EphemeralMB() int {
	if c.EphemeralStorage == nil || c.EphemeralStorage.Size == 0 {
		return DefaultEphemeralStorage
	}
	return c.EphemeralStorage.Size
}

// Variables returns the function's environment variables (never nil).
func (c *Config) Variables() map[string]string {
	if c.Environment == nil || c.Environment.Variables == nil {
		return map[string]string{}
	}
	return c.Environment.Variables
}

// CodeSha256 returns Lambda's CodeSha256 (base64 of the SHA-256) of zip.
func CodeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// CodeKey turns a CodeSha256 into the hex name under which the code package
// is stored and cached. It returns "" for a malformed value.
func CodeKey(codeSha256 string) string {
	raw, err := base64.StdEncoding.DecodeString(codeSha256)
	if err != nil || len(raw) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(raw)
}

// Asynchronous invocation limits and defaults (PutFunctionEventInvokeConfig).
const (
	DefaultMaximumRetryAttempts     = 2
	MaxMaximumRetryAttempts         = 2
	DefaultMaximumEventAgeInSeconds = 21600
	MinMaximumEventAgeInSeconds     = 60
	MaxMaximumEventAgeInSeconds     = 21600
)

// EventInvokeConfig is a FunctionEventInvokeConfig: how asynchronous
// invocations of a function, version or alias are retried and where their
// records go. Unset members are nil (AWS answers them absent, and the
// defaults apply).
type EventInvokeConfig struct {
	LastModified             float64            `json:"LastModified"` // epoch seconds, as the wire's Date
	FunctionArn              string             `json:"FunctionArn"`
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        *DestinationConfig `json:"DestinationConfig,omitempty"`
}

// DestinationConfig names the targets of invocation records.
type DestinationConfig struct {
	OnSuccess *OnDestination `json:"OnSuccess,omitempty"`
	OnFailure *OnDestination `json:"OnFailure,omitempty"`
}

// OnDestination is OnSuccess or OnFailure: one destination ARN.
type OnDestination struct {
	Destination string `json:"Destination,omitempty"`
}

// RetryAttempts returns MaximumRetryAttempts or its default.
func (e *EventInvokeConfig) RetryAttempts() int {
	if e == nil || e.MaximumRetryAttempts == nil {
		return DefaultMaximumRetryAttempts
	}
	return *e.MaximumRetryAttempts
}

// MaxEventAge returns MaximumEventAgeInSeconds (or its default) as a duration.
func (e *EventInvokeConfig) MaxEventAge() time.Duration {
	if e == nil || e.MaximumEventAgeInSeconds == nil {
		return DefaultMaximumEventAgeInSeconds * time.Second
	}
	return time.Duration(*e.MaximumEventAgeInSeconds) * time.Second
}

// OnSuccessArn returns the on-success destination, or "".
func (e *EventInvokeConfig) OnSuccessArn() string {
	if e == nil || e.DestinationConfig == nil || e.DestinationConfig.OnSuccess == nil {
		return ""
	}
	return e.DestinationConfig.OnSuccess.Destination
}

// OnFailureArn returns the on-failure destination, or "".
func (e *EventInvokeConfig) OnFailureArn() string {
	if e == nil || e.DestinationConfig == nil || e.DestinationConfig.OnFailure == nil {
		return ""
	}
	return e.DestinationConfig.OnFailure.Destination
}
