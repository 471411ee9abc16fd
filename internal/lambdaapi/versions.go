package lambdaapi

import (
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/registry"
)

type publishVersionRequest struct {
	CodeSha256  *string `json:"CodeSha256"`
	Description *string `json:"Description"`
	RevisionID  *string `json:"RevisionId"`
	PublishTo   *string `json:"PublishTo"`
}

func (h *Handler) publishVersion(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	var req publishVersionRequest
	if err := c.decodeValidated(&req, func(v *verrs) { v.maxLen(req.Description, "description", function.MaxDescription) }); err != nil {
		return err
	}
	if req.PublishTo != nil && *req.PublishTo != "" {
		return notSupported("PublishTo is")
	}
	cfg, err := h.reg.PublishVersion(c.r.Context(), name, registry.PublishInput{
		CodeSha256: deref(req.CodeSha256), RevisionID: deref(req.RevisionID), Description: deref(req.Description),
	})
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusCreated, h.reveal(c.r.Context(), cfg))
}

type listVersionsResponse struct {
	Versions   []*function.Config `json:"Versions"`
	NextMarker string             `json:"NextMarker,omitempty"`
}

func (h *Handler) listVersions(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	var v verrs
	maxItems := parseMaxItems(&v, q.Get("MaxItems"), 10000)
	if err := v.err(); err != nil {
		return err
	}
	versions, err := h.reg.ListVersions(c.r.Context(), name)
	if err != nil {
		return err
	}
	page, next, err := paginate(versions, functionKey, q.Get("Marker"), maxItems)
	if err != nil {
		return err
	}
	for _, cfg := range page {
		listView(cfg)
	}
	h.revealAll(c.r.Context(), page)
	return c.writeJSON(http.StatusOK, listVersionsResponse{Versions: page, NextMarker: next})
}

type routingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

type aliasRequest struct {
	Name            *string        `json:"Name"`
	FunctionVersion *string        `json:"FunctionVersion"`
	Description     *string        `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig"`
	RevisionID      *string        `json:"RevisionId"`
}

func (req *aliasRequest) validate(v *verrs, create bool) {
	if create {
		validateAliasName(v, req.Name, "name")
	}
	validateVersion(v, req.FunctionVersion, "functionVersion", create)
	v.maxLen(req.Description, "description", function.MaxDescription)
	if req.RoutingConfig != nil {
		validateRouting(v, req.RoutingConfig.AdditionalVersionWeights)
	}
}

func (req *aliasRequest) routing() *function.RoutingConfig {
	if req.RoutingConfig == nil || len(req.RoutingConfig.AdditionalVersionWeights) == 0 {
		return nil
	}
	return &function.RoutingConfig{AdditionalVersionWeights: req.RoutingConfig.AdditionalVersionWeights}
}

func (h *Handler) createAlias(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	var req aliasRequest
	if err := c.decodeValidated(&req, func(v *verrs) { req.validate(v, true) }); err != nil {
		return err
	}
	a, err := h.reg.CreateAlias(c.r.Context(), name, function.Alias{
		Name: *req.Name, FunctionVersion: *req.FunctionVersion, Description: deref(req.Description),
		RoutingConfig: req.routing(),
	})
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusCreated, a)
}

// aliasRef reads the {fn} and {alias} path parameters.
func (h *Handler) aliasRef(c *call) (name, alias string, err error) {
	name, _, err = h.functionRef(c, false)
	if err != nil {
		return "", "", err
	}
	alias = c.params["alias"]
	var v verrs
	validateAliasName(&v, &alias, "name")
	if err := v.err(); err != nil {
		return "", "", err
	}
	return name, alias, nil
}

func (h *Handler) getAlias(c *call) error {
	name, alias, err := h.aliasRef(c)
	if err != nil {
		return err
	}
	a, err := h.reg.GetAlias(c.r.Context(), name, alias)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, a)
}

func (h *Handler) updateAlias(c *call) error {
	name, alias, err := h.aliasRef(c)
	if err != nil {
		return err
	}
	var req aliasRequest
	if err := c.decodeValidated(&req, func(v *verrs) { req.validate(v, false) }); err != nil {
		return err
	}
	a, err := h.reg.UpdateAlias(c.r.Context(), name, alias, deref(req.RevisionID), func(a *function.Alias) {
		if req.FunctionVersion != nil {
			a.FunctionVersion = *req.FunctionVersion
		}
		if req.Description != nil {
			a.Description = *req.Description
		}
		if req.RoutingConfig != nil {
			a.RoutingConfig = req.routing()
		}
	})
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, a)
}

func (h *Handler) deleteAlias(c *call) error {
	name, alias, err := h.aliasRef(c)
	if err != nil {
		return err
	}
	if err := h.reg.DeleteAlias(c.r.Context(), name, alias); err != nil {
		return err
	}
	return c.noContent()
}

type listAliasesResponse struct {
	Aliases    []*function.Alias `json:"Aliases"`
	NextMarker string            `json:"NextMarker,omitempty"`
}

func (h *Handler) listAliases(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	var v verrs
	fv := q.Get("FunctionVersion")
	if fv != "" {
		validateVersion(&v, &fv, "functionVersion", false)
	}
	maxItems := parseMaxItems(&v, q.Get("MaxItems"), 10000)
	if err := v.err(); err != nil {
		return err
	}
	aliases, err := h.reg.ListAliases(c.r.Context(), name, fv)
	if err != nil {
		return err
	}
	page, next, err := paginate(aliases, func(a *function.Alias) string { return a.Name }, q.Get("Marker"), maxItems)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, listAliasesResponse{Aliases: page, NextMarker: next})
}
