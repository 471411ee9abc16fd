package lambdaapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Asynchronous-invocation settings: Put/Get/Update/Delete/List
// FunctionEventInvokeConfig(s) under /2019-09-25/.

const (
	destinationArnPattern = `$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)`
	maxDestinationArn     = 350
)

var destinationArnRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:` + destinationArnPattern + `)$`) })

// eventInvokeRequest is the body of Put and Update.
type eventInvokeRequest struct {
	MaximumRetryAttempts     *int                        `json:"MaximumRetryAttempts"`
	MaximumEventAgeInSeconds *int                        `json:"MaximumEventAgeInSeconds"`
	DestinationConfig        *function.DestinationConfig `json:"DestinationConfig"`
}

// parseEventInvokeConfig decodes and checks a Put/Update body against the
// service model (ValidationException) and AWS's rule that something must
// be set (InvalidParameterValueException).
func parseEventInvokeConfig(body []byte) (*eventInvokeRequest, error) {
	req := new(eventInvokeRequest)
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, req); err != nil {
			return nil, awsapi.InvalidRequestContent("Could not parse request body into json: %s", jsonErrorDetail(body, err))
		}
	}
	var v verrs
	v.intRange(req.MaximumRetryAttempts, "maximumRetryAttempts", 0, function.MaxMaximumRetryAttempts)
	v.intRange(req.MaximumEventAgeInSeconds, "maximumEventAgeInSeconds", function.MinMaximumEventAgeInSeconds, function.MaxMaximumEventAgeInSeconds)
	if d := req.DestinationConfig; d != nil {
		for _, m := range []struct {
			on     *function.OnDestination
			member string
		}{{d.OnSuccess, "destinationConfig.onSuccess.destination"}, {d.OnFailure, "destinationConfig.onFailure.destination"}} {
			if m.on == nil {
				continue
			}
			if len(m.on.Destination) > maxDestinationArn {
				v.add(m.on.Destination, m.member, "Member must have length less than or equal to 350")
			} else if !destinationArnRE().MatchString(m.on.Destination) {
				v.add(m.on.Destination, m.member, "Member must satisfy regular expression pattern: "+destinationArnPattern)
			}
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if req.MaximumRetryAttempts == nil && req.MaximumEventAgeInSeconds == nil && req.DestinationConfig == nil {
		return nil, awsapi.InvalidParameter("You must specify at least one of error handling or destination setting.")
	}
	return req, nil
}

// normalizeDestinations gives both members, as AWS answers them.
func normalizeDestinations(d *function.DestinationConfig) *function.DestinationConfig {
	out := &function.DestinationConfig{OnSuccess: &function.OnDestination{}, OnFailure: &function.OnDestination{}}
	if d != nil && d.OnSuccess != nil {
		out.OnSuccess.Destination = d.OnSuccess.Destination
	}
	if d != nil && d.OnFailure != nil {
		out.OnFailure.Destination = d.OnFailure.Destination
	}
	return out
}

// checkDestinations refuses targets Nimbus cannot deliver to: a function
// that does not exist or is the function itself (AWS's words), and the
// services Nimbus does not deliver records to yet (event buses, S3).
func (h *Handler) checkDestinations(c *call, name string, d *function.DestinationConfig) error {
	if d == nil {
		return nil
	}
	for _, on := range []*function.OnDestination{d.OnSuccess, d.OnFailure} {
		if on == nil || on.Destination == "" {
			continue
		}
		arn := on.Destination
		parts := strings.SplitN(arn, ":", 7)
		if len(parts) < 6 || parts[0] != "arn" {
			return invalidDestinations(d)
		}
		switch parts[2] {
		case "lambda":
			ref, err := h.parseRef(arn)
			if err != nil || !strings.HasPrefix(arn, "arn:") {
				return awsapi.InvalidParameter("The destination ARN %s is invalid.", arn)
			}
			if ref.Name == name {
				return awsapi.InvalidParameter("You can't specify the function as a destination for itself.")
			}
			if _, err := h.reg.Config(c.r.Context(), ref.Name, ref.Qualifier); err != nil {
				return awsapi.InvalidParameter("The destination ARN %s is invalid.", arn)
			}
		case "sqs", "sns":
			// Delivered through the node's router (internal/deliver);
			// like AWS, the queue or topic is not looked up here.
			if len(parts) != 6 || parts[5] == "" || strings.ContainsAny(parts[5], ":/") {
				return awsapi.InvalidParameter("The destination ARN %s is invalid.", arn)
			}
		case "events", "s3":
			return awsapi.InvalidParameter("The destination ARN %s is invalid: Nimbus has no %s destinations yet, so it cannot deliver invocation records there. Use a Lambda function, SQS queue or SNS topic ARN as the destination.", arn, parts[2])
		default:
			return invalidDestinations(d)
		}
	}
	return nil
}

func invalidDestinations(d *function.DestinationConfig) error {
	part := func(kind string, on *function.OnDestination) string {
		if on == nil || on.Destination == "" {
			return "null"
		}
		return kind + "(destination=" + on.Destination + ")"
	}
	return awsapi.InvalidParameter("The provided destination config DestinationConfig(onSuccess=%s, onFailure=%s) is invalid.",
		part("OnSuccess", d.OnSuccess), part("OnFailure", d.OnFailure))
}

func (h *Handler) putEventInvokeConfig(c *call) error {
	return h.writeEventInvokeConfig(c, false)
}

func (h *Handler) updateEventInvokeConfig(c *call) error {
	return h.writeEventInvokeConfig(c, true)
}

func (h *Handler) writeEventInvokeConfig(c *call, update bool) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	body, err := c.readBody(maxRequest)
	if err != nil {
		return err
	}
	req, err := parseEventInvokeConfig(body)
	if err != nil {
		return err
	}
	if err := h.checkDestinations(c, name, req.DestinationConfig); err != nil {
		return err
	}
	ctx := c.r.Context()
	var out *function.EventInvokeConfig
	if update {
		out, err = h.reg.UpdateEventInvokeConfig(ctx, name, qualifier, func(cfg *function.EventInvokeConfig) {
			if req.MaximumRetryAttempts != nil {
				cfg.MaximumRetryAttempts = req.MaximumRetryAttempts
			}
			if req.MaximumEventAgeInSeconds != nil {
				cfg.MaximumEventAgeInSeconds = req.MaximumEventAgeInSeconds
			}
			if req.DestinationConfig != nil {
				cfg.DestinationConfig = normalizeDestinations(req.DestinationConfig)
			}
		})
	} else {
		out, err = h.reg.PutEventInvokeConfig(ctx, name, qualifier, function.EventInvokeConfig{
			MaximumRetryAttempts:     req.MaximumRetryAttempts,
			MaximumEventAgeInSeconds: req.MaximumEventAgeInSeconds,
			DestinationConfig:        normalizeDestinations(req.DestinationConfig),
		})
	}
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, out)
}

func (h *Handler) getEventInvokeConfig(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	out, err := h.reg.EventInvokeConfig(c.r.Context(), name, qualifier)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, out)
}

func (h *Handler) deleteEventInvokeConfig(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	if err := h.reg.DeleteEventInvokeConfig(c.r.Context(), name, qualifier); err != nil {
		return err
	}
	return c.noContent()
}

type listEventInvokeConfigsResponse struct {
	FunctionEventInvokeConfigs []*function.EventInvokeConfig `json:"FunctionEventInvokeConfigs"`
	NextMarker                 string                        `json:"NextMarker,omitempty"`
}

func (h *Handler) listEventInvokeConfigs(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	var v verrs
	// The model bounds this list at 50 (ListFunctions at 10,000).
	maxItems := parseMaxItems(&v, q.Get("MaxItems"), maxPage)
	if err := v.err(); err != nil {
		return err
	}
	all, err := h.reg.ListEventInvokeConfigs(c.r.Context(), name)
	if err != nil {
		return err
	}
	page, next, err := paginate(all, func(e *function.EventInvokeConfig) string { return e.FunctionArn }, q.Get("Marker"), maxItems)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, listEventInvokeConfigsResponse{FunctionEventInvokeConfigs: page, NextMarker: next})
}
