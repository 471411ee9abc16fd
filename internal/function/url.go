package function

import (
	"crypto/rand"
	"time"
)

// Function URL auth types and invoke modes (botocore's FunctionUrlAuthType
// and InvokeMode enums).
const (
	URLAuthNone         = "NONE"
	URLAuthIAM          = "AWS_IAM"
	InvokeBuffered      = "BUFFERED"
	InvokeStream        = "RESPONSE_STREAM"
	URLIDLength         = 32
	MaxStreamedResponse = 200 * 1024 * 1024 // RESPONSE_STREAM's soft limit
)

// URLTimeFormat is how function URL configurations write CreationTime and
// LastModifiedTime (ISO-8601 with microseconds, UTC).
const URLTimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatURLTime renders t the way function URL configurations do.
func FormatURLTime(t time.Time) string { return t.UTC().Format(URLTimeFormat) }

// URLConfig is a function URL as stored: the wire FunctionUrlConfig minus
// FunctionUrl (which depends on the node's address and is rendered by the
// API edge from URLID), plus the id and the qualifier it serves.
type URLConfig struct {
	// URLID is the 32 lowercase alphanumerics of <url-id>.lambda-url.<region>...
	URLID string `json:"UrlId"`
	// Qualifier is $LATEST (an unqualified URL) or an alias name.
	Qualifier        string `json:"Qualifier"`
	FunctionArn      string `json:"FunctionArn"`
	AuthType         string `json:"AuthType"`
	Cors             *Cors  `json:"Cors,omitempty"`
	InvokeMode       string `json:"InvokeMode"`
	CreationTime     string `json:"CreationTime"`
	LastModifiedTime string `json:"LastModifiedTime"`
}

// Cors is a function URL's cross-origin resource sharing configuration.
type Cors struct {
	AllowCredentials *bool    `json:"AllowCredentials,omitempty"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           *int     `json:"MaxAge,omitempty"`
}

// Mode returns the invoke mode, BUFFERED when unset.
func (u *URLConfig) Mode() string {
	if u.InvokeMode == "" {
		return InvokeBuffered
	}
	return u.InvokeMode
}

// Clone returns a deep copy of u.
func (u *URLConfig) Clone() *URLConfig {
	out := *u
	if u.Cors != nil {
		c := *u.Cors
		c.AllowHeaders = append([]string(nil), u.Cors.AllowHeaders...)
		c.AllowMethods = append([]string(nil), u.Cors.AllowMethods...)
		c.AllowOrigins = append([]string(nil), u.Cors.AllowOrigins...)
		c.ExposeHeaders = append([]string(nil), u.Cors.ExposeHeaders...)
		if u.Cors.AllowCredentials != nil {
			b := *u.Cors.AllowCredentials
			c.AllowCredentials = &b
		}
		if u.Cors.MaxAge != nil {
			n := *u.Cors.MaxAge
			c.MaxAge = &n
		}
		out.Cors = &c
	}
	return &out
}

// NewURLID returns a random function URL id: 32 characters of [a-z0-9],
// like AWS's.
func NewURLID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, URLIDLength)
	_, _ = rand.Read(b)
	for i := range b {
		// 252 = 7*36: values at or above it would bias; redraw them.
		for b[i] >= 252 {
			var one [1]byte
			_, _ = rand.Read(one[:])
			b[i] = one[0]
		}
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ValidURLID reports whether s has the shape of a function URL id.
func ValidURLID(s string) bool {
	if len(s) != URLIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// URLDomain is the host name of a function URL on Nimbus:
// <url-id>.lambda-url.<region>.localhost (AWS's ends in .on.aws). Names
// under .localhost resolve to loopback without any DNS setup (curl and
// browsers do so themselves).
func URLDomain(urlID, region string) string {
	return urlID + ".lambda-url." + region + ".localhost"
}

// URL is the FunctionUrl of a function URL served on port:
// http://<domain>:<port>/, or https:// when the node serves HTTPS.
func URL(urlID, region, port string, https bool) string {
	host := URLDomain(urlID, region)
	if https {
		if port != "" && port != "443" {
			host += ":" + port
		}
		return "https://" + host + "/"
	}
	if port != "" && port != "80" {
		host += ":" + port
	}
	return "http://" + host + "/"
}
