package lambdaapi

import (
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Function URL configurations (/2021-10-31/functions/{fn}/url[s]). The
// registry stores them; package funcurl serves the URLs themselves.

// The Qualifier patterns AWS names when it refuses $LATEST and version
// numbers (its messages quote two different patterns; localstack's
// AWS-recorded snapshots).
const (
	urlQualifierPattern       = `((?!^\d+$)^[0-9a-zA-Z-_]+$)`
	urlQualifierNumberPattern = `(^\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))`
)

var urlQualifierRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-zA-Z_-]+$`) })

type corsRequest struct {
	AllowCredentials *bool    `json:"AllowCredentials"`
	AllowHeaders     []string `json:"AllowHeaders"`
	AllowMethods     []string `json:"AllowMethods"`
	AllowOrigins     []string `json:"AllowOrigins"`
	ExposeHeaders    []string `json:"ExposeHeaders"`
	MaxAge           *int     `json:"MaxAge"`
}

type urlConfigRequest struct {
	AuthType   *string      `json:"AuthType"`
	Cors       *corsRequest `json:"Cors"`
	InvokeMode *string      `json:"InvokeMode"`
}

// validate adds the service-model violations of req to v.
func (req *urlConfigRequest) validate(v *verrs, create bool) {
	if create && req.AuthType == nil {
		v.add("null", "authType", "Member must not be null")
	}
	v.enum(req.AuthType, "authType", function.URLAuthNone, function.URLAuthIAM)
	v.enum(req.InvokeMode, "invokeMode", function.InvokeBuffered, function.InvokeStream)
	c := req.Cors
	if c == nil {
		return
	}
	listLen := func(l []string, member string, maxItems, minLen, maxLen int) {
		if len(l) > maxItems {
			v.addRaw("Value '[" + joinQuoted(l) + "]' at '" + member + "' failed to satisfy constraint: Member must have length less than or equal to " + strconv.Itoa(maxItems))
			return
		}
		for _, s := range l {
			if len(s) > maxLen {
				v.addRaw("Value '[" + joinQuoted(l) + "]' at '" + member + "' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to " + strconv.Itoa(maxLen) + "]")
				return
			}
			if len(s) < minLen {
				v.addRaw("Value '[" + joinQuoted(l) + "]' at '" + member + "' failed to satisfy constraint: Member must satisfy constraint: [Member must have length greater than or equal to " + strconv.Itoa(minLen) + "]")
				return
			}
		}
	}
	listLen(c.AllowHeaders, "cors.allowHeaders", 100, 0, 1024)
	listLen(c.AllowMethods, "cors.allowMethods", 6, 0, 6)
	listLen(c.AllowOrigins, "cors.allowOrigins", 100, 1, 253)
	listLen(c.ExposeHeaders, "cors.exposeHeaders", 100, 0, 1024)
	v.intRange(c.MaxAge, "cors.maxAge", 0, 86400)
}

func joinQuoted(l []string) string {
	out := ""
	for i, s := range l {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

func (c *corsRequest) model() *function.Cors {
	if c == nil {
		return nil
	}
	return &function.Cors{
		AllowCredentials: c.AllowCredentials, AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods,
		AllowOrigins: c.AllowOrigins, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge,
	}
}

// urlConfigResponse is the wire FunctionUrlConfig (and the Create/Update
// answers, which are subsets of it).
type urlConfigResponse struct {
	FunctionURL      string         `json:"FunctionUrl"`
	FunctionArn      string         `json:"FunctionArn"`
	AuthType         string         `json:"AuthType"`
	Cors             *function.Cors `json:"Cors,omitempty"`
	CreationTime     string         `json:"CreationTime"`
	LastModifiedTime string         `json:"LastModifiedTime,omitempty"`
	InvokeMode       string         `json:"InvokeMode"`
}

// urlPort is the port FunctionUrl names: the configured one, else the
// port the client reached this API on.
func (h *Handler) urlPort(r *http.Request) string {
	if h.urlPortCfg != "" {
		return h.urlPortCfg
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		return port
	}
	return ""
}

func (h *Handler) urlView(r *http.Request, u *function.URLConfig, withModified bool) urlConfigResponse {
	out := urlConfigResponse{
		FunctionURL: function.URL(u.URLID, h.region, h.urlPort(r), h.urlHTTPS),
		FunctionArn: u.FunctionArn, AuthType: u.AuthType, Cors: u.Cors,
		CreationTime: u.CreationTime, InvokeMode: u.Mode(),
	}
	if withModified {
		out.LastModifiedTime = u.LastModifiedTime
	}
	return out
}

// urlRef reads the function and the URL qualifier (alias) of a function
// URL operation, refusing $LATEST and version numbers as AWS does.
func (h *Handler) urlRef(c *call) (name, qualifier string, err error) {
	name, qualifier, err = h.functionRef(c, true)
	if err != nil {
		return "", "", err
	}
	if qualifier == "" {
		return name, "", nil
	}
	var v verrs
	switch {
	case qualifier == function.LatestVersion:
		v.add(qualifier, "qualifier", "Member must satisfy regular expression pattern: "+urlQualifierPattern)
	case digitsRE().MatchString(qualifier):
		v.add(qualifier, "qualifier", "Member must satisfy regular expression pattern: "+urlQualifierNumberPattern)
	case !urlQualifierRE().MatchString(qualifier):
		v.add(qualifier, "qualifier", "Member must satisfy regular expression pattern: "+urlQualifierPattern)
	}
	if err := v.err(); err != nil {
		return "", "", err
	}
	return name, qualifier, nil
}

func (h *Handler) createFunctionURLConfig(c *call) error {
	name, qualifier, err := h.urlRef(c)
	if err != nil {
		return err
	}
	var req urlConfigRequest
	if err := c.decodeValidated(&req, func(v *verrs) { req.validate(v, true) }); err != nil {
		return err
	}
	u, err := h.reg.CreateURLConfig(c.r.Context(), name, function.URLConfig{
		Qualifier: qualifier, AuthType: *req.AuthType, Cors: req.Cors.model(), InvokeMode: deref(req.InvokeMode),
	})
	if err != nil {
		return err
	}
	if u.InvokeMode == "" {
		u.InvokeMode = function.InvokeBuffered
	}
	return c.writeJSON(http.StatusCreated, h.urlView(c.r, u, false))
}

func (h *Handler) getFunctionURLConfig(c *call) error {
	name, qualifier, err := h.urlRef(c)
	if err != nil {
		return err
	}
	u, err := h.reg.GetURLConfig(c.r.Context(), name, qualifier)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, h.urlView(c.r, u, true))
}

func (h *Handler) updateFunctionURLConfig(c *call) error {
	name, qualifier, err := h.urlRef(c)
	if err != nil {
		return err
	}
	var req urlConfigRequest
	if err := c.decodeValidated(&req, func(v *verrs) { req.validate(v, false) }); err != nil {
		return err
	}
	u, err := h.reg.UpdateURLConfig(c.r.Context(), name, qualifier, func(u *function.URLConfig) {
		if req.AuthType != nil {
			u.AuthType = *req.AuthType
		}
		if req.Cors != nil {
			u.Cors = req.Cors.model()
		}
		if req.InvokeMode != nil {
			u.InvokeMode = *req.InvokeMode
		}
	})
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, h.urlView(c.r, u, true))
}

func (h *Handler) deleteFunctionURLConfig(c *call) error {
	name, qualifier, err := h.urlRef(c)
	if err != nil {
		return err
	}
	if err := h.reg.DeleteURLConfig(c.r.Context(), name, qualifier); err != nil {
		return err
	}
	return c.noContent()
}

type listURLConfigsResponse struct {
	FunctionURLConfigs []urlConfigResponse `json:"FunctionUrlConfigs"`
	NextMarker         string              `json:"NextMarker,omitempty"`
}

func (h *Handler) listFunctionURLConfigs(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	var v verrs
	maxItems := parseMaxItems(&v, q.Get("MaxItems"), maxPage) // this operation's model caps it at 50
	if err := v.err(); err != nil {
		return err
	}
	urls, err := h.reg.ListURLConfigs(c.r.Context(), name)
	if err != nil {
		return err
	}
	page, next, err := paginate(urls, func(u *function.URLConfig) string { return u.FunctionArn }, q.Get("Marker"), maxItems)
	if err != nil {
		return err
	}
	out := listURLConfigsResponse{FunctionURLConfigs: make([]urlConfigResponse, 0, len(page)), NextMarker: next}
	for _, u := range page {
		out.FunctionURLConfigs = append(out.FunctionURLConfigs, h.urlView(c.r, u, true))
	}
	return c.writeJSON(http.StatusOK, out)
}
