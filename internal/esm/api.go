package esm

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// PathPrefix is where the Lambda API serves event source mappings.
const PathPrefix = "/2015-03-31/event-source-mappings"

// IsRequest recognises the event source mapping operations.
func IsRequest(r *http.Request) bool {
	return r.URL.Path == PathPrefix || strings.HasPrefix(r.URL.Path, PathPrefix+"/")
}

// ServeHTTP serves Create/Get/Update/Delete/ListEventSourceMappings.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(awsapi.HeaderRequestID, awsapi.NewRequestID())
	id := strings.Trim(strings.TrimPrefix(r.URL.Path, PathPrefix), "/")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		awsapi.WriteError(w, s.log, awsapi.TooLarge("Request must be smaller than 1048576 bytes."))
		return
	}
	ctx := r.Context()
	var (
		out    any
		status = http.StatusOK
	)
	switch {
	case id == "" && r.Method == http.MethodPost:
		out, err = s.Create(ctx, body)
		status = http.StatusAccepted
	case id == "" && r.Method == http.MethodGet:
		q := r.URL.Query()
		n, _ := strconv.Atoi(q.Get("MaxItems"))
		var ms []*Mapping
		var next string
		ms, next, err = s.List(ctx, q.Get("EventSourceArn"), q.Get("FunctionName"), q.Get("Marker"), n)
		if ms == nil {
			ms = []*Mapping{}
		}
		res := map[string]any{"EventSourceMappings": ms}
		if next != "" {
			res["NextMarker"] = next
		}
		out = res
	case id != "" && !strings.Contains(id, "/") && r.Method == http.MethodGet:
		out, err = s.Get(ctx, id)
	case id != "" && !strings.Contains(id, "/") && r.Method == http.MethodPut:
		out, err = s.Update(ctx, id, body)
		status = http.StatusAccepted
	case id != "" && !strings.Contains(id, "/") && r.Method == http.MethodDelete:
		out, err = s.Delete(ctx, id)
		status = http.StatusAccepted
	default:
		err = &awsapi.Error{Status: http.StatusBadRequest, Code: awsapi.CodeUnknownOperation, Type: "User", Message: "Unknown operation " + r.Method + " " + r.URL.Path}
	}
	if err != nil {
		awsapi.WriteError(w, s.log, err)
		return
	}
	awsapi.WriteJSON(w, status, out)
}
