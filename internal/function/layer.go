package function

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Layer limits from the Lambda API reference.
const (
	// MaxLayers is how many layers one function may use.
	MaxLayers = 5
	// MaxLayerName is the length limit of a LayerName (name or ARN).
	MaxLayerName = 140
	// MaxLicenseInfo is the length limit of a layer's LicenseInfo.
	MaxLicenseInfo = 512
	// MaxCompatibleRuntimes and MaxCompatibleArchitectures bound the
	// lists a layer version declares.
	MaxCompatibleRuntimes      = 15
	MaxCompatibleArchitectures = 2
)

// LayerVersion is a published layer version as the Lambda API answers it
// (GetLayerVersionResponse, PublishLayerVersionResponse). Content.Location
// is filled per request (a signed download link), never stored.
type LayerVersion struct {
	Content                 *LayerContent `json:"Content,omitempty"`
	LayerArn                string        `json:"LayerArn"`
	LayerVersionArn         string        `json:"LayerVersionArn"`
	Description             string        `json:"Description"`
	CreatedDate             string        `json:"CreatedDate"`
	Version                 int64         `json:"Version"`
	CompatibleRuntimes      []string      `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string        `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures []string      `json:"CompatibleArchitectures,omitempty"`
}

// LayerContent is a layer version's package (LayerVersionContentOutput).
type LayerContent struct {
	Location   string `json:"Location,omitempty"`
	CodeSha256 string `json:"CodeSha256"`
	CodeSize   int64  `json:"CodeSize"`
}

// LayerVersionsListItem is a layer version in ListLayerVersions and
// ListLayers: the version without its content.
type LayerVersionsListItem struct {
	LayerVersionArn         string   `json:"LayerVersionArn"`
	Version                 int64    `json:"Version"`
	Description             string   `json:"Description"`
	CreatedDate             string   `json:"CreatedDate"`
	CompatibleRuntimes      []string `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string   `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures []string `json:"CompatibleArchitectures,omitempty"`
}

// ListItem is v as list operations show it.
func (v *LayerVersion) ListItem() LayerVersionsListItem {
	return LayerVersionsListItem{
		LayerVersionArn: v.LayerVersionArn, Version: v.Version, Description: v.Description,
		CreatedDate: v.CreatedDate, CompatibleRuntimes: v.CompatibleRuntimes, LicenseInfo: v.LicenseInfo,
		CompatibleArchitectures: v.CompatibleArchitectures,
	}
}

// LayerARN is the ARN of layer name (all its versions).
func LayerARN(region, account, name string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":layer:" + name
}

// LayerVersionARN is the ARN of version n of layer name.
func LayerVersionARN(region, account, name string, n int64) string {
	return LayerARN(region, account, name) + ":" + strconv.FormatInt(n, 10)
}

// LayerRef is what a LayerName or a layer version ARN names.
type LayerRef struct {
	Partition string // "" for a plain name
	Region    string // "" for a plain name
	Account   string // "" for a plain name
	Name      string
	Version   int64 // 0 when none was given
}

// The service model's patterns.
const (
	LayerNamePattern       = `(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+`
	LayerVersionARNPattern = `arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+`
)

var (
	layerNameRE       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:` + LayerNamePattern + `)$`) })
	layerVersionARNRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + LayerVersionARNPattern + `$`) })
)

// ParseLayerName parses a LayerName parameter: a layer name or a layer
// ARN (without a version). ok is false when s breaks the model's pattern
// or length (1 to 140).
func ParseLayerName(s string) (LayerRef, bool) {
	if len(s) < 1 || len(s) > MaxLayerName || !layerNameRE().MatchString(s) {
		return LayerRef{}, false
	}
	if !strings.HasPrefix(s, "arn:") {
		return LayerRef{Name: s}, true
	}
	p := strings.Split(s, ":")
	return LayerRef{Partition: p[1], Region: p[3], Account: p[4], Name: p[6]}, true
}

// ParseLayerVersionARN parses a layer version ARN
// (arn:aws:lambda:<region>:<account>:layer:<name>:<version>). ok is false
// when s breaks the model's pattern or length (1 to 140), or the version
// is not a number from 1 to 2^63-1.
func ParseLayerVersionARN(s string) (LayerRef, bool) {
	if len(s) < 1 || len(s) > MaxLayerName || !layerVersionARNRE().MatchString(s) {
		return LayerRef{}, false
	}
	p := strings.Split(s, ":")
	n, err := strconv.ParseInt(p[7], 10, 64)
	if err != nil || n < 1 {
		return LayerRef{}, false
	}
	return LayerRef{Partition: p[1], Region: p[3], Account: p[4], Name: p[6], Version: n}, true
}

// String is the ARN ref names (with its version when it has one), or its
// plain name.
func (r LayerRef) String() string {
	if r.Account == "" {
		return r.Name
	}
	s := fmt.Sprintf("arn:%s:lambda:%s:%s:layer:%s", r.Partition, r.Region, r.Account, r.Name)
	if r.Version > 0 {
		s += ":" + strconv.FormatInt(r.Version, 10)
	}
	return s
}

// ParamsSecretsLayer is the name of AWS's Parameters and Secrets Lambda
// Extension layer ("-Arm64" for arm64). AWS publishes it from accounts of
// its own (177933569100 in us-east-1); Nimbus serves its protocol itself
// (package secretsext), so a function may name AWS's ARN unchanged.
const ParamsSecretsLayer = "AWS-Parameters-and-Secrets-Lambda-Extension"

// IsBuiltinLayer reports whether ref is a layer Nimbus provides itself
// rather than stores: AWS's Parameters and Secrets extension, named by an
// ARN of another account than own (a layer of that name published in
// this account is an ordinary layer).
func IsBuiltinLayer(ref LayerRef, own string) bool {
	return ref.Account != "" && ref.Account != own &&
		(ref.Name == ParamsSecretsLayer || ref.Name == ParamsSecretsLayer+"-Arm64")
}
