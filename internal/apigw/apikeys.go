package apigw

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// API keys and usage plans (REST APIs): a method with apiKeyRequired
// needs an enabled key in X-API-Key that a usage plan covering the API's
// stage holds; the plan's throttle (or the stage's within the plan)
// applies per key, and its quota per key and period. Keys and plans are
// account-wide, in one backbone document (apigw.keys). Quota counts are
// kept in memory per node (a restart or a second node starts them over);
// API Gateway documents quotas as best effort too.

const keysKey = keyPrefix + "keys"

type keysDoc struct {
	Keys  []*apiKey    `json:"keys"`
	Plans []*usagePlan `json:"plans"`
}

type apiKey struct {
	CreatedDate     int64             `json:"createdDate"`
	CustomerID      string            `json:"customerId,omitempty"`
	Description     string            `json:"description,omitempty"`
	Enabled         bool              `json:"enabled"`
	ID              string            `json:"id"`
	LastUpdatedDate int64             `json:"lastUpdatedDate"`
	Name            string            `json:"name,omitempty"`
	StageKeys       []string          `json:"stageKeys"`
	Tags            map[string]string `json:"tags,omitempty"`
	Value           string            `json:"value,omitempty"`
}

type throttleSettings struct {
	BurstLimit *int     `json:"burstLimit,omitempty"`
	RateLimit  *float64 `json:"rateLimit,omitempty"`
}

type quotaSettings struct {
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
	Period string `json:"period"`
}

type apiStage struct {
	APIID    string                       `json:"apiId"`
	Stage    string                       `json:"stage"`
	Throttle map[string]*throttleSettings `json:"throttle,omitempty"`
}

type usagePlan struct {
	APIStages   []apiStage        `json:"apiStages"`
	Description string            `json:"description,omitempty"`
	ID          string            `json:"id"`
	KeyIDs      []string          `json:"keyIds,omitempty"`
	Name        string            `json:"name"`
	Quota       *quotaSettings    `json:"quota,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Throttle    *throttleSettings `json:"throttle,omitempty"`
}

// wire is a plan as the API shows it (without its keys).
func (p usagePlan) wire() usagePlan {
	p.KeyIDs = nil
	return p
}

func (d *keysDoc) key(id string) *apiKey {
	for _, k := range d.Keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// readKeys reads the keys document; absent is empty.
func (g *Gateway) readKeys(c *call) (*keysDoc, error) {
	var doc keysDoc
	if _, err := g.docs.get(c.r.Context(), keysKey, &doc); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return &doc, nil
}

// changeKeys updates the keys document, creating it the first time.
func (g *Gateway) changeKeys(c *call, change func(d *keysDoc) error) error {
	ctx := c.r.Context()
	if _, err := g.docs.st.Get(ctx, keysKey); errors.Is(err, store.ErrNotFound) {
		if err := g.docs.create(ctx, keysKey, &keysDoc{}); err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	_, err := update(ctx, g.docs, keysKey, notFound("Invalid API Key identifier specified"), change)
	return err
}

func randomKeyValue() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 40)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (g *Gateway) createAPIKey(c *call) error {
	var in struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Enabled     bool              `json:"enabled"`
		Value       string            `json:"value"`
		CustomerID  string            `json:"customerId"`
		Tags        map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.Value != "" && len(in.Value) < 20 {
		return badRequest("API Key value should be at least 20 characters")
	}
	now := g.epoch()
	k := &apiKey{ID: newID(10), Name: in.Name, Description: in.Description, Enabled: in.Enabled, Value: in.Value,
		CustomerID: in.CustomerID, Tags: in.Tags, CreatedDate: now, LastUpdatedDate: now, StageKeys: []string{}}
	if k.Value == "" {
		k.Value = randomKeyValue()
	}
	if err := g.changeKeys(c, func(d *keysDoc) error {
		if slices.ContainsFunc(d.Keys, func(o *apiKey) bool { return o.Value == k.Value }) {
			return conflict("API Key already exists")
		}
		d.Keys = append(d.Keys, k)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, k)
}

func keyView(k apiKey, include bool) apiKey {
	if !include {
		k.Value = ""
	}
	return k
}

func (g *Gateway) getAPIKeys(c *call) error {
	doc, err := g.readKeys(c)
	if err != nil {
		return err
	}
	include, _ := strconv.ParseBool(c.r.URL.Query().Get("includeValues"))
	items := make([]apiKey, 0, len(doc.Keys))
	for _, k := range doc.Keys {
		items = append(items, keyView(*k, include))
	}
	return c.json(http.StatusOK, map[string]any{"item": items})
}

func (g *Gateway) getAPIKey(c *call) error {
	doc, err := g.readKeys(c)
	if err != nil {
		return err
	}
	k := doc.key(c.params["api_Key"])
	if k == nil {
		return notFound("Invalid API Key identifier specified")
	}
	include, _ := strconv.ParseBool(c.r.URL.Query().Get("includeValue"))
	return c.json(http.StatusOK, keyView(*k, include))
}

func (g *Gateway) deleteAPIKey(c *call) error {
	id := c.params["api_Key"]
	if err := g.changeKeys(c, func(d *keysDoc) error {
		if d.key(id) == nil {
			return notFound("Invalid API Key identifier specified")
		}
		d.Keys = slices.DeleteFunc(d.Keys, func(k *apiKey) bool { return k.ID == id })
		for _, p := range d.Plans {
			p.KeyIDs = slices.DeleteFunc(p.KeyIDs, func(k string) bool { return k == id })
		}
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}

func (g *Gateway) createUsagePlan(c *call) error {
	var in struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		APIStages   []apiStage        `json:"apiStages"`
		Throttle    *throttleSettings `json:"throttle"`
		Quota       *quotaSettings    `json:"quota"`
		Tags        map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.Name == "" {
		return badRequest("Invalid input: name is required.")
	}
	if q := in.Quota; q != nil {
		if q.Period != "DAY" && q.Period != "WEEK" && q.Period != "MONTH" {
			return badRequest("Invalid quota period %s: must be DAY, WEEK or MONTH.", q.Period)
		}
		if q.Limit < 0 {
			return badRequest("Invalid quota limit %d.", q.Limit)
		}
	}
	for _, s := range in.APIStages {
		var rd restDoc
		if _, err := g.docs.get(c.r.Context(), restKey(s.APIID), &rd); err != nil || rd.stage(s.Stage) == nil {
			return badRequest("Invalid stage identifier specified")
		}
	}
	p := &usagePlan{ID: newID(6), Name: in.Name, Description: in.Description, APIStages: nonNil(in.APIStages),
		Throttle: in.Throttle, Quota: in.Quota, Tags: in.Tags}
	if err := g.changeKeys(c, func(d *keysDoc) error {
		d.Plans = append(d.Plans, p)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, p.wire())
}

func (g *Gateway) getUsagePlans(c *call) error {
	doc, err := g.readKeys(c)
	if err != nil {
		return err
	}
	items := make([]usagePlan, 0, len(doc.Plans))
	for _, p := range doc.Plans {
		items = append(items, p.wire())
	}
	return c.json(http.StatusOK, map[string]any{"item": items})
}

func (g *Gateway) getUsagePlan(c *call) error {
	doc, err := g.readKeys(c)
	if err != nil {
		return err
	}
	for _, p := range doc.Plans {
		if p.ID == c.params["usageplanId"] {
			return c.json(http.StatusOK, p.wire())
		}
	}
	return notFound("Invalid Usage Plan ID specified")
}

func (g *Gateway) deleteUsagePlan(c *call) error {
	id := c.params["usageplanId"]
	if err := g.changeKeys(c, func(d *keysDoc) error {
		if !slices.ContainsFunc(d.Plans, func(p *usagePlan) bool { return p.ID == id }) {
			return notFound("Invalid Usage Plan ID specified")
		}
		d.Plans = slices.DeleteFunc(d.Plans, func(p *usagePlan) bool { return p.ID == id })
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}

type usagePlanKey struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Value string `json:"value,omitempty"`
	Name  string `json:"name,omitempty"`
}

func (g *Gateway) createUsagePlanKey(c *call) error {
	var in struct {
		KeyID   string `json:"keyId"`
		KeyType string `json:"keyType"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.KeyType != "API_KEY" {
		return badRequest("Invalid keyType %s: must be API_KEY.", in.KeyType)
	}
	var out usagePlanKey
	if err := g.changeKeys(c, func(d *keysDoc) error {
		k := d.key(in.KeyID)
		if k == nil {
			return notFound("Invalid API Key identifier specified")
		}
		i := slices.IndexFunc(d.Plans, func(p *usagePlan) bool { return p.ID == c.params["usageplanId"] })
		if i < 0 {
			return notFound("Invalid Usage Plan ID specified")
		}
		if slices.Contains(d.Plans[i].KeyIDs, k.ID) {
			return conflict("Usage Plan %s cannot be added because API Key %s cannot reference multiple Usage Plans with the same API Stage", d.Plans[i].ID, k.ID)
		}
		d.Plans[i].KeyIDs = append(d.Plans[i].KeyIDs, k.ID)
		out = usagePlanKey{ID: k.ID, Type: "API_KEY", Value: k.Value, Name: k.Name}
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, out)
}

func (g *Gateway) getUsagePlanKeys(c *call) error {
	doc, err := g.readKeys(c)
	if err != nil {
		return err
	}
	for _, p := range doc.Plans {
		if p.ID != c.params["usageplanId"] {
			continue
		}
		items := []usagePlanKey{}
		for _, id := range p.KeyIDs {
			if k := doc.key(id); k != nil {
				items = append(items, usagePlanKey{ID: k.ID, Type: "API_KEY", Value: k.Value, Name: k.Name})
			}
		}
		return c.json(http.StatusOK, map[string]any{"item": items})
	}
	return notFound("Invalid Usage Plan ID specified")
}

// quotas counts requests per plan, key and period.
type quotas struct {
	mu sync.Mutex
	m  map[string]int // guarded by mu; plan|key|period start -> count
}

// periodStart is the start of the quota period containing now (UTC).
func periodStart(period string, now time.Time) string {
	now = now.UTC()
	switch period {
	case "WEEK":
		d := (int(now.Weekday()) + 6) % 7 // weeks start on Monday
		return now.AddDate(0, 0, -d).Format("2006-01-02")
	case "MONTH":
		return now.Format("2006-01")
	}
	return now.Format("2006-01-02")
}

// take counts one request; false when the quota is used up.
func (q *quotas) take(key string, limit int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.m[key] >= limit {
		return false
	}
	q.m[key]++
	return true
}

// takeQuota counts one request of key under plan's quota for the period
// starting at period: on this node, or cluster-wide on a cluster.
func (g *Gateway) takeQuota(ctx context.Context, plan, key, period string, limit int) bool {
	if c := g.limits.cluster; c != nil {
		return c.TakeQuota(ctx, "quota."+plan+"."+key+"."+period, limit)
	}
	return g.quota.take(plan+"|"+key+"|"+period, limit)
}

// checkAPIKey applies API keys and usage plans to a request for a method
// with apiKeyRequired; a non-nil answer refuses it.
func (g *Gateway) checkAPIKey(r *http.Request, apiID, stage, resourcePath, method string, now time.Time) *httpevent.Response {
	value := r.Header.Get("X-Api-Key")
	forbidden := func() *httpevent.Response { return httpevent.Message(http.StatusForbidden, "Forbidden") }
	if value == "" {
		return forbidden()
	}
	doc := g.docs.keys()
	if doc == nil {
		return forbidden()
	}
	var key *apiKey
	for _, k := range doc.Keys {
		if k.Value == value {
			key = k
			break
		}
	}
	if key == nil || !key.Enabled {
		return forbidden()
	}
	for _, p := range doc.Plans {
		if !slices.Contains(p.KeyIDs, key.ID) {
			continue
		}
		i := slices.IndexFunc(p.APIStages, func(s apiStage) bool { return s.APIID == apiID && s.Stage == stage })
		if i < 0 {
			continue
		}
		th := p.Throttle
		if t := p.APIStages[i].Throttle[resourcePath+"/"+method]; t != nil {
			th = t
		}
		if th != nil && !g.limits.allow("plan/"+p.ID+"/"+key.ID+"/"+resourcePath+"/"+method, th.RateLimit, th.BurstLimit, now) {
			g.stats.throttled.Add(1)
			return httpevent.Message(http.StatusTooManyRequests, "Too Many Requests")
		}
		if q := p.Quota; q != nil && !g.takeQuota(r.Context(), p.ID, key.ID, periodStart(q.Period, now), q.Limit) {
			g.stats.throttled.Add(1)
			return httpevent.Message(http.StatusTooManyRequests, "Limit Exceeded")
		}
		return nil
	}
	return forbidden()
}

// keys is the in-memory copy of the keys document, or nil.
func (d *docs) keys() *keysDoc {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.keysDoc
}

func decodeKeys(val []byte) (*keysDoc, error) {
	var doc keysDoc
	if err := json.Unmarshal(val, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}
