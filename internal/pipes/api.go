package pipes

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// PathPrefix is where the API is served.
const PathPrefix = "/v1/pipes"

const maxBody = 1 << 20

// IsRequest recognises a Pipes API path (the tag operations' /tags/ path
// is Scheduler's too: the route table tells them apart by the credential
// scope).
func IsRequest(r *http.Request) bool {
	p := r.URL.Path
	return p == PathPrefix || strings.HasPrefix(p, PathPrefix+"/")
}

// apiError is a Pipes error: {"message"} with X-Amzn-ErrorType.
type apiError struct {
	status       int
	code, msg    string
	resourceID   string
	resourceType string
	extra        map[string]string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func validation(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationException", msg: fmt.Sprintf(format, args...)}
}

func notFound(name string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "NotFoundException", msg: fmt.Sprintf("Pipe %s does not exist.", name)}
}

func conflict(name, format string, args ...any) *apiError {
	return &apiError{status: http.StatusConflict, code: "ConflictException", msg: fmt.Sprintf(format, args...),
		resourceID: name, resourceType: "pipe"}
}

// ServeHTTP serves the Pipes API (REST-JSON).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(awsapi.HeaderRequestID, awsapi.NewRequestID())
	out, err := s.serve(r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error("internal error", "err", err)
			ae = &apiError{status: http.StatusInternalServerError, code: "InternalException", msg: "The request could not be completed; retry it."}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", ae.code)
		w.WriteHeader(ae.status)
		body := map[string]string{"message": ae.msg}
		if ae.resourceID != "" {
			body["resourceId"], body["resourceType"] = ae.resourceID, ae.resourceType
		}
		for k, v := range ae.extra {
			body[k] = v
		}
		b, _ := json.Marshal(body)
		_, _ = w.Write(b)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// Operation names a request's operation and its pipe ("" for ListPipes
// and the tag operations' ARN), for the front door's IAM evaluation.
func Operation(method, path string) (op, name string, ok bool) {
	if rest, isTags := strings.CutPrefix(path, "/tags/"); isTags {
		switch method {
		case http.MethodGet:
			return "ListTagsForResource", rest, true
		case http.MethodPost:
			return "TagResource", rest, true
		case http.MethodDelete:
			return "UntagResource", rest, true
		}
		return "", "", false
	}
	rest, found := strings.CutPrefix(path, PathPrefix)
	if !found {
		return "", "", false
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return "ListPipes", "", method == http.MethodGet
	}
	name, action, _ := strings.Cut(rest, "/")
	switch {
	case action == "start" && method == http.MethodPost:
		return "StartPipe", name, true
	case action == "stop" && method == http.MethodPost:
		return "StopPipe", name, true
	case action != "":
		return "", "", false
	case method == http.MethodPost:
		return "CreatePipe", name, true
	case method == http.MethodGet:
		return "DescribePipe", name, true
	case method == http.MethodPut:
		return "UpdatePipe", name, true
	case method == http.MethodDelete:
		return "DeletePipe", name, true
	}
	return "", "", false
}

func (s *Service) serve(r *http.Request) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, validation("The request body could not be read.")
	}
	if len(body) > maxBody {
		return nil, validation("The request body is larger than %d bytes.", maxBody)
	}
	op, name, ok := Operation(r.Method, r.URL.EscapedPath())
	if !ok {
		return nil, &apiError{status: http.StatusNotFound, code: "UnknownOperationException",
			msg: fmt.Sprintf("No EventBridge Pipes operation is %s %s.", r.Method, r.URL.Path)}
	}
	if name, err = url.PathUnescape(name); err != nil {
		return nil, validation("The path is not valid.")
	}
	ctx := r.Context()
	switch op {
	case "ListPipes":
		q := map[string]string{}
		for k, v := range r.URL.Query() {
			q[k] = v[0]
		}
		return s.list(ctx, q)
	case "CreatePipe":
		return s.create(ctx, name, body)
	case "DescribePipe":
		return s.describe(ctx, name)
	case "UpdatePipe":
		return s.update(ctx, name, body)
	case "DeletePipe":
		return s.remove(ctx, name)
	case "StartPipe":
		return s.setDesired(ctx, name, stateRunning)
	case "StopPipe":
		return s.setDesired(ctx, name, stateStopped)
	}
	return s.tags(ctx, r.Method, name, body, r.URL.Query()["tagKeys"])
}
