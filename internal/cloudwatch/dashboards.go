package cloudwatch

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Dashboards are stored as CloudWatch keeps them: the body as given. The
// body is checked for CloudWatch's dashboard structure; widget types
// and properties Nimbus's own views (nimbus top) do not read are kept
// and named in dashboardValidationMessages, not refused.

const maxDashboardBody = 1 << 20

var dashboardNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// PutDashboardInput is PutDashboard's request.
type PutDashboardInput struct {
	DashboardName string `json:"DashboardName"`
	DashboardBody string `json:"DashboardBody"`
	Tags          []Tag  `json:"Tags,omitempty"`
}

// DashboardValidationMessage is one finding about a dashboard body.
type DashboardValidationMessage struct {
	DataPath string `json:"DataPath,omitempty"`
	Message  string `json:"Message,omitempty"`
}

// PutDashboardOutput is PutDashboard's answer.
type PutDashboardOutput struct {
	DashboardValidationMessages []DashboardValidationMessage `json:"DashboardValidationMessages"`
}

// DashboardNameInput is GetDashboard's request.
type DashboardNameInput struct {
	DashboardName string `json:"DashboardName"`
}

// GetDashboardOutput is GetDashboard's answer.
type GetDashboardOutput struct {
	DashboardArn  string `json:"DashboardArn"`
	DashboardBody string `json:"DashboardBody"`
	DashboardName string `json:"DashboardName"`
}

// DeleteDashboardsInput is DeleteDashboards' request.
type DeleteDashboardsInput struct {
	DashboardNames []string `json:"DashboardNames"`
}

// ListDashboardsInput is ListDashboards' request.
type ListDashboardsInput struct {
	DashboardNamePrefix string `json:"DashboardNamePrefix,omitempty"`
	NextToken           string `json:"NextToken,omitempty"`
}

// DashboardEntry is one dashboard of ListDashboards.
type DashboardEntry struct {
	DashboardName string `json:"DashboardName"`
	DashboardArn  string `json:"DashboardArn"`
	LastModified  Time   `json:"LastModified"`
	Size          int64  `json:"Size"`
}

// ListDashboardsOutput is ListDashboards' answer.
type ListDashboardsOutput struct {
	DashboardEntries []DashboardEntry `json:"DashboardEntries"`
	NextToken        string           `json:"NextToken,omitempty"`
}

type dashboardRecord struct {
	Name         string `json:"name"`
	Body         string `json:"body"`
	LastModified Time   `json:"modified"`
	Tags         []Tag  `json:"tags,omitempty"`
}

func dashboardKey(name string) string { return "dashboard." + hex.EncodeToString([]byte(name)) }

func (s *Service) dashboardArn(name string) string {
	return "arn:aws:cloudwatch::" + s.opts.AccountID + ":dashboard/" + name
}

func dashboardNotFound(name string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusNotFound, Code: "DashboardNotFoundError", Type: "User",
		Message: fmt.Sprintf("Dashboard %s does not exist", truncate(name, 256))}
}

func dashboardInvalid(msgs []DashboardValidationMessage) *awsapi.Error {
	parts := make([]string, 0, len(msgs))
	for _, m := range msgs {
		parts = append(parts, m.DataPath+": "+m.Message)
	}
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "DashboardInvalidInputError", Type: "User",
		Message: "The field DashboardBody has errors: " + strings.Join(parts, "; ")}
}

// widgetTypes are CloudWatch's widget types; known marks the ones whose
// properties Nimbus reads.
var widgetTypes = map[string]bool{"metric": true, "text": true, "alarm": true, "log": false, "explorer": false,
	"custom": false, "alarm-status": false}

// checkDashboardBody returns the errors (the body is refused) and the
// warnings (the body is stored) of a dashboard body.
func checkDashboardBody(body string) (errs, warns []DashboardValidationMessage) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc == nil {
		return []DashboardValidationMessage{{DataPath: "/", Message: "The dashboard body is not a JSON object."}}, nil
	}
	var widgets []map[string]json.RawMessage
	raw, ok := doc["widgets"]
	if !ok {
		return []DashboardValidationMessage{{DataPath: "/widgets", Message: "Should have required property 'widgets'"}}, nil
	}
	if err := json.Unmarshal(raw, &widgets); err != nil {
		return []DashboardValidationMessage{{DataPath: "/widgets", Message: "Should be array of objects"}}, nil
	}
	for i, w := range widgets {
		p := fmt.Sprintf("/widgets/%d", i)
		var typ string
		if err := json.Unmarshal(w["type"], &typ); err != nil || typ == "" {
			errs = append(errs, DashboardValidationMessage{DataPath: p + "/type", Message: "Should have required property 'type'"})
			continue
		}
		known, exists := widgetTypes[typ]
		if !exists {
			errs = append(errs, DashboardValidationMessage{DataPath: p + "/type", Message: fmt.Sprintf("Should be equal to one of the allowed values, not %q", truncate(typ, 32))})
			continue
		}
		for _, f := range []struct {
			name   string
			lo, hi int
		}{{"x", 0, 23}, {"y", 0, 1 << 20}, {"width", 1, 24}, {"height", 1, 1000}} {
			if v, ok := w[f.name]; ok {
				var n int
				if json.Unmarshal(v, &n) != nil || n < f.lo || n > f.hi {
					errs = append(errs, DashboardValidationMessage{DataPath: p + "/" + f.name,
						Message: fmt.Sprintf("Should be an integer from %d to %d", f.lo, f.hi)})
				}
			}
		}
		var props map[string]json.RawMessage
		if err := json.Unmarshal(w["properties"], &props); err != nil || props == nil {
			errs = append(errs, DashboardValidationMessage{DataPath: p + "/properties", Message: "Should have required property 'properties'"})
			continue
		}
		switch typ {
		case "metric":
			var metrics []json.RawMessage
			if v, ok := props["metrics"]; ok {
				if json.Unmarshal(v, &metrics) != nil {
					errs = append(errs, DashboardValidationMessage{DataPath: p + "/properties/metrics", Message: "Should be array"})
				}
			} else if _, ok := props["query"]; !ok {
				errs = append(errs, DashboardValidationMessage{DataPath: p + "/properties", Message: "Should have required property 'metrics'"})
			}
		case "text":
			if _, ok := props["markdown"]; !ok {
				errs = append(errs, DashboardValidationMessage{DataPath: p + "/properties", Message: "Should have required property 'markdown'"})
			}
		case "alarm":
			if _, ok := props["alarms"]; !ok {
				errs = append(errs, DashboardValidationMessage{DataPath: p + "/properties", Message: "Should have required property 'alarms'"})
			}
		}
		if !known {
			warns = append(warns, DashboardValidationMessage{DataPath: p + "/type",
				Message: fmt.Sprintf("The widget type %q is stored as given; Nimbus does not render it.", typ)})
		}
	}
	return errs, warns
}

func (s *Service) putDashboard(ctx context.Context, in *PutDashboardInput) (*PutDashboardOutput, error) {
	switch {
	case in.DashboardName == "":
		return nil, errMissing("DashboardName")
	case !dashboardNamePattern.MatchString(in.DashboardName):
		return nil, dashboardInvalid([]DashboardValidationMessage{{DataPath: "/DashboardName",
			Message: "The dashboard name must be 1 to 255 letters, digits, dashes and underscores."}})
	case in.DashboardBody == "":
		return nil, errMissing("DashboardBody")
	case len(in.DashboardBody) > maxDashboardBody:
		return nil, dashboardInvalid([]DashboardValidationMessage{{DataPath: "/", Message: "The dashboard body is larger than 1 MB."}})
	}
	errs, warns := checkDashboardBody(in.DashboardBody)
	if len(errs) > 0 {
		return nil, dashboardInvalid(errs)
	}
	rec := dashboardRecord{Name: in.DashboardName, Body: in.DashboardBody, LastModified: Time{s.now().UTC()}, Tags: in.Tags}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode dashboard: %w", err)
	}
	if _, err := s.kv.Put(ctx, dashboardKey(in.DashboardName), b); err != nil {
		return nil, fmt.Errorf("write dashboard: %w", err)
	}
	if warns == nil {
		warns = []DashboardValidationMessage{}
	}
	return &PutDashboardOutput{DashboardValidationMessages: warns}, nil
}

func (s *Service) getDashboardRecord(ctx context.Context, name string) (*dashboardRecord, error) {
	e, err := s.kv.Get(ctx, dashboardKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dashboard: %w", err)
	}
	var r dashboardRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("decode dashboard: %w", err)
	}
	return &r, nil
}

func (s *Service) getDashboard(ctx context.Context, in *DashboardNameInput) (*GetDashboardOutput, error) {
	if in.DashboardName == "" {
		return nil, errMissing("DashboardName")
	}
	r, err := s.getDashboardRecord(ctx, in.DashboardName)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, dashboardNotFound(in.DashboardName)
	}
	return &GetDashboardOutput{DashboardArn: s.dashboardArn(r.Name), DashboardBody: r.Body, DashboardName: r.Name}, nil
}

func (s *Service) deleteDashboards(ctx context.Context, in *DeleteDashboardsInput) (*Empty, error) {
	if len(in.DashboardNames) == 0 {
		return nil, errMissing("DashboardNames")
	}
	if len(in.DashboardNames) > 100 {
		return nil, errInvalid("The collection DashboardNames must not have a size greater than 100.")
	}
	for _, n := range in.DashboardNames {
		r, err := s.getDashboardRecord(ctx, n)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, dashboardNotFound(n)
		}
	}
	for _, n := range in.DashboardNames {
		if err := s.kv.Delete(ctx, dashboardKey(n)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("delete dashboard: %w", err)
		}
	}
	return &Empty{}, nil
}

func (s *Service) listDashboards(ctx context.Context, in *ListDashboardsInput) (*ListDashboardsOutput, error) {
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, errNextToken()
		}
		after = string(b)
	}
	out := &ListDashboardsOutput{DashboardEntries: []DashboardEntry{}}
	lister, err := s.kv.ListKeysFiltered(ctx, "dashboard.>")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		if b, err := hex.DecodeString(strings.TrimPrefix(k, "dashboard.")); err == nil {
			names = append(names, string(b))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if after != "" && n <= after || !strings.HasPrefix(n, in.DashboardNamePrefix) {
			continue
		}
		if len(out.DashboardEntries) == 1000 {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(out.DashboardEntries[999].DashboardName))
			break
		}
		r, err := s.getDashboardRecord(ctx, n)
		if err != nil {
			return nil, err
		}
		if r == nil {
			continue
		}
		out.DashboardEntries = append(out.DashboardEntries, DashboardEntry{DashboardName: r.Name, DashboardArn: s.dashboardArn(r.Name),
			LastModified: r.LastModified, Size: int64(len(r.Body))})
	}
	return out, nil
}
