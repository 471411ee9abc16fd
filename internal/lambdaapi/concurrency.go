package lambdaapi

import (
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/registry"
)

// Concurrency is the node's view of provisioned concurrency, which only
// the worker knows (the pool implements it, through the daemon).
type Concurrency interface {
	// ProvisionedStatus is the allocation of name:qualifier's provisioned
	// concurrency on this node; ok is false if the worker has not seen
	// the configuration yet.
	ProvisionedStatus(functionName, qualifier string) (st ProvisionedState, ok bool)
}

// ProvisionedState is a configuration's allocation as the worker reports
// it.
type ProvisionedState struct {
	Status    string // IN_PROGRESS, READY, FAILED
	Reason    string
	Allocated int
}

// Provisioned concurrency statuses (ProvisionedConcurrencyStatusEnum).
const (
	statusInProgress = "IN_PROGRESS"
	statusReady      = "READY"
	statusFailed     = "FAILED"
)

type concurrencyBody struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

// minUnreserved is the concurrency that must stay unreserved: Lambda's 100
// of 1,000, scaled down to a tenth (at least 1) for a smaller limit.
func (h *Handler) minUnreserved() int {
	if h.minUnres > 0 {
		return h.minUnres
	}
	if h.concurrency >= 1000 {
		return 100
	}
	return max(1, h.concurrency/10)
}

func (h *Handler) putFunctionConcurrency(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	var req concurrencyBody
	if err := c.decode(maxRequest, &req); err != nil {
		return err
	}
	var v verrs
	if req.ReservedConcurrentExecutions == nil {
		v.add("null", "reservedConcurrentExecutions", "Member must not be null")
	} else {
		v.intRange(req.ReservedConcurrentExecutions, "reservedConcurrentExecutions", 0, 0)
	}
	if err := v.err(); err != nil {
		return err
	}
	n := *req.ReservedConcurrentExecutions
	if err := h.reg.PutFunctionConcurrency(c.r.Context(), name, n, h.concurrency-h.minUnreserved(), h.minUnreserved()); err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, concurrencyBody{ReservedConcurrentExecutions: &n})
}

func (h *Handler) getFunctionConcurrency(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	n, err := h.reg.FunctionConcurrency(c.r.Context(), name)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, concurrencyBody{ReservedConcurrentExecutions: n})
}

func (h *Handler) deleteFunctionConcurrency(c *call) error {
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	if err := h.reg.DeleteFunctionConcurrency(c.r.Context(), name); err != nil {
		return err
	}
	return c.noContent()
}

type provisionedRequest struct {
	ProvisionedConcurrentExecutions *int `json:"ProvisionedConcurrentExecutions"`
}

type provisionedConfig struct {
	FunctionArn                              string `json:"FunctionArn,omitempty"`
	RequestedProvisionedConcurrentExecutions int    `json:"RequestedProvisionedConcurrentExecutions"`
	AvailableProvisionedConcurrentExecutions int    `json:"AvailableProvisionedConcurrentExecutions"`
	AllocatedProvisionedConcurrentExecutions int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status                                   string `json:"Status"`
	StatusReason                             string `json:"StatusReason,omitempty"`
	LastModified                             string `json:"LastModified"`
}

// provisionedView joins a stored configuration with the worker's state.
func (h *Handler) provisionedView(name string, e *registry.ProvisionedEntry, withArn bool) provisionedConfig {
	out := provisionedConfig{
		RequestedProvisionedConcurrentExecutions: e.Requested,
		Status:                                   statusInProgress,
		LastModified:                             e.LastModified,
	}
	if withArn {
		out.FunctionArn = e.FunctionArn
	}
	if h.conc != nil {
		if st, ok := h.conc.ProvisionedStatus(name, e.Qualifier); ok {
			alloc := min(st.Allocated, e.Requested)
			out.AllocatedProvisionedConcurrentExecutions = alloc
			out.AvailableProvisionedConcurrentExecutions = alloc
			switch {
			case st.Status == statusFailed:
				out.Status, out.StatusReason = statusFailed, st.Reason
			case alloc >= e.Requested && st.Status == statusReady:
				out.Status = statusReady
			}
		}
	}
	return out
}

// provisionedRef reads {fn} and the Qualifier the provisioned concurrency
// operations require.
func (h *Handler) provisionedRef(c *call) (name, qualifier string, err error) {
	name, qualifier, err = h.functionRef(c, true)
	if err != nil {
		return "", "", err
	}
	if qualifier == "" {
		var v verrs
		v.add("null", "qualifier", "Member must not be null")
		return "", "", v.err()
	}
	return name, qualifier, nil
}

func (h *Handler) putProvisionedConcurrency(c *call) error {
	name, qualifier, err := h.provisionedRef(c)
	if err != nil {
		return err
	}
	var req provisionedRequest
	if err := c.decode(maxRequest, &req); err != nil {
		return err
	}
	var v verrs
	if req.ProvisionedConcurrentExecutions == nil {
		v.add("null", "provisionedConcurrentExecutions", "Member must not be null")
	} else {
		v.intRange(req.ProvisionedConcurrentExecutions, "provisionedConcurrentExecutions", 1, 0)
	}
	if err := v.err(); err != nil {
		return err
	}
	e, err := h.reg.PutProvisionedConcurrency(c.r.Context(), name, qualifier, *req.ProvisionedConcurrentExecutions,
		h.concurrency-h.minUnreserved(), h.minUnreserved())
	if err != nil {
		return err
	}
	out := provisionedConfig{
		RequestedProvisionedConcurrentExecutions: e.Requested,
		Status:                                   statusInProgress,
		LastModified:                             e.LastModified,
	}
	return c.writeJSON(http.StatusAccepted, out)
}

func (h *Handler) getProvisionedConcurrency(c *call) error {
	if c.r.URL.Query().Has("List") {
		return h.listProvisionedConcurrency(c)
	}
	name, qualifier, err := h.provisionedRef(c)
	if err != nil {
		return err
	}
	e, err := h.reg.ProvisionedConcurrency(c.r.Context(), name, qualifier)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, h.provisionedView(name, e, false))
}

func (h *Handler) deleteProvisionedConcurrency(c *call) error {
	name, qualifier, err := h.provisionedRef(c)
	if err != nil {
		return err
	}
	if err := h.reg.DeleteProvisionedConcurrency(c.r.Context(), name, qualifier); err != nil {
		return err
	}
	return c.noContent()
}

type listProvisionedResponse struct {
	ProvisionedConcurrencyConfigs []provisionedConfig `json:"ProvisionedConcurrencyConfigs"`
	NextMarker                    string              `json:"NextMarker,omitempty"`
}

func (h *Handler) listProvisionedConcurrency(c *call) error {
	q := c.r.URL.Query()
	var v verrs
	if l := q.Get("List"); l != "ALL" {
		v.enum(&l, "list", "ALL")
	}
	maxItems := parseMaxItems(&v, q.Get("MaxItems"), maxPage)
	if err := v.err(); err != nil {
		return err
	}
	name, _, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	entries, err := h.reg.ListProvisionedConcurrency(c.r.Context(), name)
	if err != nil {
		return err
	}
	page, next, err := paginate(entries, func(e registry.ProvisionedEntry) string { return e.Qualifier }, q.Get("Marker"), maxItems)
	if err != nil {
		return err
	}
	out := listProvisionedResponse{ProvisionedConcurrencyConfigs: []provisionedConfig{}, NextMarker: next}
	for i := range page {
		out.ProvisionedConcurrencyConfigs = append(out.ProvisionedConcurrencyConfigs, h.provisionedView(name, &page[i], true))
	}
	return c.writeJSON(http.StatusOK, out)
}
