package apigw

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// snapshot copies the resources (with methods) for a deployment.
func snapshot(rs []*restResource) []*restResource {
	b, _ := json.Marshal(rs)
	var out []*restResource
	_ = json.Unmarshal(b, &out)
	return out
}

func (g *Gateway) createDeploymentREST(c *call) error {
	var in struct {
		StageName           string            `json:"stageName"`
		StageDescription    string            `json:"stageDescription"`
		Description         string            `json:"description"`
		CacheClusterEnabled *bool             `json:"cacheClusterEnabled"`
		CacheClusterSize    string            `json:"cacheClusterSize"`
		Variables           map[string]string `json:"variables"`
		TracingEnabled      *bool             `json:"tracingEnabled"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.StageName != "" && !validStageName(in.StageName) {
		return badRequest("Stage name only allows a-zA-Z0-9_")
	}
	for k, v := range in.Variables {
		if !validStageVariable(k, v) {
			return badRequest("Invalid stage variable %s", k)
		}
	}
	dep := &restDeployment{ID: newID(6), Description: in.Description, CreatedDate: g.epoch()}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		hasMethod := false
		for _, r := range d.Resources {
			for _, m := range r.ResourceMethods {
				hasMethod = true
				if m.MethodIntegration == nil {
					return badRequest("No integration defined for method")
				}
			}
		}
		if !hasMethod {
			return badRequest("The REST API doesn't contain any methods")
		}
		dep.Resources = snapshot(d.Resources)
		d.Deployments = append(d.Deployments, dep)
		if in.StageName != "" {
			now := g.epoch()
			st := d.stage(in.StageName)
			if st == nil {
				st = &restStage{StageName: in.StageName, CreatedDate: now, MethodSettings: map[string]*methodSetting{},
					CacheClusterStatus: "NOT_AVAILABLE", Description: in.StageDescription}
				d.Stages = append(d.Stages, st)
			}
			st.DeploymentID, st.LastUpdatedDate = dep.ID, now
			if in.Variables != nil {
				st.Variables = in.Variables
			}
			if in.CacheClusterEnabled != nil {
				st.setCache(*in.CacheClusterEnabled, in.CacheClusterSize)
			}
			if in.TracingEnabled != nil {
				st.TracingEnabled = *in.TracingEnabled
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if in.StageName != "" {
		g.cache.flush(c.params["restapi_id"] + "|" + in.StageName + "|")
	}
	wire := *dep
	wire.Resources = nil
	return c.json(http.StatusCreated, wire)
}

func (g *Gateway) getDeployments(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	items := make([]restDeployment, 0, len(doc.Deployments))
	for _, d := range doc.Deployments {
		w := *d
		w.Resources = nil
		items = append(items, w)
	}
	return c.json(http.StatusOK, map[string]any{"item": items})
}

func (s *restStage) setCache(enabled bool, size string) {
	s.CacheClusterEnabled = enabled
	if enabled {
		s.CacheClusterStatus = "AVAILABLE"
		if size == "" && s.CacheClusterSize == "" {
			size = "0.5"
		}
	} else {
		s.CacheClusterStatus = "NOT_AVAILABLE"
	}
	if size != "" {
		s.CacheClusterSize = size
	}
}

func (g *Gateway) createStageREST(c *call) error {
	var in struct {
		StageName           *string           `json:"stageName"`
		DeploymentID        *string           `json:"deploymentId"`
		Description         string            `json:"description"`
		CacheClusterEnabled bool              `json:"cacheClusterEnabled"`
		CacheClusterSize    string            `json:"cacheClusterSize"`
		Variables           map[string]string `json:"variables"`
		TracingEnabled      bool              `json:"tracingEnabled"`
		Tags                map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.StageName == nil || in.DeploymentID == nil {
		return badRequest("Invalid input: stageName and deploymentId are required.")
	}
	if !validStageName(*in.StageName) {
		return badRequest("Stage name only allows a-zA-Z0-9_")
	}
	for k, v := range in.Variables {
		if !validStageVariable(k, v) {
			return badRequest("Invalid stage variable %s", k)
		}
	}
	now := g.epoch()
	st := &restStage{StageName: *in.StageName, DeploymentID: *in.DeploymentID, Description: in.Description,
		Variables: in.Variables, TracingEnabled: in.TracingEnabled, Tags: in.Tags, CreatedDate: now, LastUpdatedDate: now,
		MethodSettings: map[string]*methodSetting{}, CacheClusterStatus: "NOT_AVAILABLE"}
	st.setCache(in.CacheClusterEnabled, in.CacheClusterSize)
	if _, err := g.changeREST(c, func(d *restDoc) error {
		if !slices.ContainsFunc(d.Deployments, func(x *restDeployment) bool { return x.ID == st.DeploymentID }) {
			return badRequest("Invalid deployment identifier specified")
		}
		if d.stage(st.StageName) != nil {
			return conflict("Stage already exists")
		}
		d.Stages = append(d.Stages, st)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, st)
}

func (g *Gateway) getStageREST(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	if s := doc.stage(c.params["stage_name"]); s != nil {
		return c.json(http.StatusOK, s)
	}
	return notFound("Invalid Stage identifier specified")
}

func (g *Gateway) getStagesREST(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"item": nonNil(doc.Stages)})
}

func (g *Gateway) deleteStageREST(c *call) error {
	name := c.params["stage_name"]
	if _, err := g.changeREST(c, func(d *restDoc) error {
		i := slices.IndexFunc(d.Stages, func(s *restStage) bool { return s.StageName == name })
		if i < 0 {
			return notFound("Invalid Stage identifier specified")
		}
		d.Stages = slices.Delete(d.Stages, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	g.cache.flush(c.params["restapi_id"] + "|" + name + "|")
	return c.noContent(http.StatusAccepted)
}

func (g *Gateway) updateStageREST(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	name := c.params["stage_name"]
	var out *restStage
	if _, err := g.changeREST(c, func(d *restDoc) error {
		st := d.stage(name)
		if st == nil {
			return notFound("Invalid Stage identifier specified")
		}
		for _, p := range in.PatchOperations {
			if err := st.patch(d, p); err != nil {
				return err
			}
		}
		st.LastUpdatedDate = g.epoch()
		out = st
		return nil
	}); err != nil {
		return err
	}
	g.cache.flush(c.params["restapi_id"] + "|" + name + "|")
	return c.json(http.StatusOK, out)
}

// patch applies one UpdateStage operation: variables, cache cluster,
// description, deployment, tracing, and method settings at
// /<resource-path>/<METHOD>/<group>/<setting> (resource path with "/"
// written "~1", or "*/*" for every method).
func (s *restStage) patch(d *restDoc, p patchOp) error {
	path := strings.TrimPrefix(p.Path, "/")
	bad := func() error { return badRequest("Invalid patch path /%s", path) }
	if v, ok := strings.CutPrefix(path, "variables/"); ok {
		switch p.Op {
		case "replace", "add":
			if !validStageVariable(v, p.Value) {
				return badRequest("Invalid stage variable %s", v)
			}
			if s.Variables == nil {
				s.Variables = map[string]string{}
			}
			s.Variables[v] = p.Value
		case "remove":
			delete(s.Variables, v)
		default:
			return bad()
		}
		return nil
	}
	switch path {
	case "cacheClusterEnabled":
		s.setCache(p.Value == "true", "")
		return nil
	case "cacheClusterSize":
		s.CacheClusterSize = p.Value
		return nil
	case "description":
		s.Description = p.Value
		return nil
	case "tracingEnabled":
		s.TracingEnabled = p.Value == "true"
		return nil
	case "deploymentId":
		if !slices.ContainsFunc(d.Deployments, func(x *restDeployment) bool { return x.ID == p.Value }) {
			return badRequest("Invalid deployment identifier specified")
		}
		s.DeploymentID = p.Value
		return nil
	}
	parts := strings.Split(path, "/")
	if len(parts) != 4 {
		return bad()
	}
	key := parts[0] + "/" + parts[1]
	if p.Op == "remove" {
		delete(s.MethodSettings, key)
		return nil
	}
	ms := s.MethodSettings[key]
	if ms == nil {
		ms = newMethodSetting()
		// With the stage cache on, new settings cache (GET only for */*;
		// see serveREST), as API Gateway enables caching with the cache.
		ms.CachingEnabled = s.CacheClusterEnabled
		if base := s.MethodSettings["*/*"]; base != nil && key != "*/*" {
			c := *base
			ms = &c
		}
	}
	v := p.Value
	num := func() (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return 0, badRequest("Invalid value %q for /%s", v, path)
		}
		return f, nil
	}
	switch parts[2] + "/" + parts[3] {
	case "throttling/rateLimit":
		f, err := num()
		if err != nil {
			return err
		}
		ms.ThrottlingRateLimit = f
	case "throttling/burstLimit":
		f, err := num()
		if err != nil {
			return err
		}
		ms.ThrottlingBurstLimit = int(f)
	case "caching/enabled":
		ms.CachingEnabled = v == "true"
	case "caching/ttlInSeconds":
		f, err := num()
		if err != nil || f > 3600 {
			return badRequest("Invalid cache TTL %q: must be between 0 and 3600.", v)
		}
		ms.CacheTTLInSeconds = int(f)
	case "caching/dataEncrypted":
		ms.CacheDataEncrypted = v == "true"
	case "caching/requireAuthorizationForCacheControl":
		ms.RequireAuthorizationForCacheControl = v == "true"
	case "caching/unauthorizedCacheControlHeaderStrategy":
		ms.UnauthorizedCacheControlHeaderStrategy = v
	case "logging/loglevel":
		ms.LoggingLevel = v
	case "logging/dataTrace":
		ms.DataTraceEnabled = v == "true"
	case "metrics/enabled":
		ms.MetricsEnabled = v == "true"
	default:
		return bad()
	}
	if s.MethodSettings == nil {
		s.MethodSettings = map[string]*methodSetting{}
	}
	s.MethodSettings[key] = ms
	return nil
}
