package cloudwatch

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// The service's wire names.
const (
	// TargetPrefix starts the X-Amz-Target of the JSON 1.0 protocol.
	TargetPrefix = "GraniteServiceVersion20100801."
	// cborPathPrefix starts the path of RPC v2 CBOR requests.
	cborPathPrefix = "/service/GraniteServiceVersion20100801/operation/"
	xmlNamespace   = "http://monitoring.amazonaws.com/doc/2010-08-01/"
	// SigningName is the SigV4 service name of CloudWatch.
	SigningName = "monitoring"
)

// Request size bounds: a body over MaxRequestBytes as sent (AWS's 1 MB
// PutMetricData limit), or over MaxDecodedBytes once a gzip body is
// inflated (a compression bomb), is refused with 413.
const (
	MaxRequestBytes = 1 << 20
	MaxDecodedBytes = 4 << 20
)

// IsRequest reports whether r is a CloudWatch request by its headers or
// path alone (JSON 1.0's X-Amz-Target, RPC v2 CBOR's path); query
// requests are recognised by their credential scope.
func IsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix) ||
		strings.HasPrefix(r.URL.Path, cborPathPrefix)
}

// IsCBOR reports whether r is an RPC v2 CBOR request (by its path).
func IsCBOR(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, cborPathPrefix) }

// operation is one operation over its typed input.
type operation struct {
	newIn func() any
	run   func(ctx context.Context, in any) (any, error)
}

func op[In, Out any](f func(context.Context, *In) (*Out, error)) operation {
	return operation{
		newIn: func() any { return new(In) },
		run:   func(ctx context.Context, in any) (any, error) { return f(ctx, in.(*In)) },
	}
}

var (
	cborDec, _ = cbor.DecOptions{MaxNestedLevels: 16, MaxArrayElements: 200_000, MaxMapPairs: 200_000,
		DupMapKey: cbor.DupMapKeyEnforcedAPF}.DecMode()
	cborEnc, _ = cbor.EncOptions{}.EncMode()
)

// Handler serves the API in its three protocols.
type Handler struct {
	svc  *Service
	ops  map[string]operation
	json *awsapi.JSONService
	log  *slog.Logger
}

// refused are operations AWS has that Nimbus does not serve, with the
// feature that is missing.
var refused = map[string]string{
	"PutAnomalyDetector": "anomaly detectors", "DescribeAnomalyDetectors": "anomaly detectors",
	"DeleteAnomalyDetector": "anomaly detectors", "PutInsightRule": "Contributor Insights rules",
	"DescribeInsightRules": "Contributor Insights rules", "GetInsightRuleReport": "Contributor Insights rules",
	"PutMetricStream": "metric streams", "ListMetricStreams": "metric streams", "GetMetricStream": "metric streams",
	"GetMetricWidgetImage": "metric widget images", "PutManagedInsightRules": "managed Contributor Insights rules",
	"TagResource": "resource tags", "UntagResource": "resource tags", "ListTagsForResource": "resource tags",
}

// NewHandler serves s.
func NewHandler(s *Service) *Handler {
	h := &Handler{svc: s, log: s.log, ops: s.operations()}
	jops := make(map[string]awsapi.JSONOp, len(h.ops))
	for name, o := range h.ops {
		jops[name] = func(ctx context.Context, _ *http.Request, body []byte) (any, error) {
			in := o.newIn()
			if err := awsapi.DecodeJSON(body, in); err != nil {
				return nil, err
			}
			return o.run(ctx, in)
		}
	}
	h.json = &awsapi.JSONService{
		Prefix: TargetPrefix, Protocol: awsapi.ProtocolJSON10, Ops: jops, Refused: refused,
		Name: "CloudWatch", MaxBody: MaxDecodedBytes, Internal: "InternalServiceFault",
		QueryCode: func(code string) string { return queryCode(code) }, Log: s.log,
	}
	return h
}

// ServeHTTP answers one request in the protocol it was sent in.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	switch {
	case strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor") || strings.HasPrefix(r.URL.Path, cborPathPrefix):
		h.serveCBOR(w, r, body, err)
	case r.Header.Get("X-Amz-Target") != "":
		if err != nil {
			h.json.WriteError(w, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		h.json.ServeHTTP(w, r)
	default:
		h.serveQuery(w, r, body, err)
	}
}

// readBody reads the request body within the bounds, inflating a gzip
// body.
func readBody(r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		return nil, errInvalid("The request body could not be read.")
	}
	if len(raw) > MaxRequestBytes {
		return nil, tooLarge(fmt.Sprintf("Request size exceeded %d bytes.", MaxRequestBytes))
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, errInvalid("The request body is not valid gzip.")
		}
		out, err := io.ReadAll(io.LimitReader(zr, MaxDecodedBytes+1))
		if len(out) > MaxDecodedBytes {
			return nil, tooLarge(fmt.Sprintf("The request body inflates to more than %d bytes.", MaxDecodedBytes))
		}
		if err != nil {
			return nil, errInvalid("The request body is not valid gzip.")
		}
		return out, nil
	}
	return nil, errInvalid(fmt.Sprintf("Content-Encoding %q is not supported; send gzip or no encoding.", enc))
}

func tooLarge(msg string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Type: "User", Message: msg}
}

// queryCode is the query protocol's code of an exception (the model's
// error code; the JSON protocols name the shape, and send this code in
// x-amzn-query-error, as the model is awsQueryCompatible).
func queryCode(shape string) string {
	switch shape {
	case "InvalidParameterValueException":
		return "InvalidParameterValue"
	case "MissingRequiredParameterException":
		return "MissingParameter"
	case "InvalidParameterCombinationException":
		return "InvalidParameterCombination"
	case "InternalServiceFault":
		return "InternalServiceError"
	case "LimitExceededFault":
		return "LimitExceeded"
	case "InvalidFormatFault":
		return "InvalidFormat"
	case "DashboardNotFoundError":
		return "ResourceNotFound"
	case "DashboardInvalidInputError":
		return "InvalidParameterInput"
	case "UnknownOperationException":
		return "InvalidAction"
	case "SerializationException":
		return "MalformedInput"
	}
	return shape
}

// clientError is err as the client sees it: an *awsapi.Error as it is,
// anything else the internal fault, logged and its text withheld.
func (h *Handler) clientError(err error) *awsapi.Error {
	if e := awsapi.As(err); e != nil {
		return e
	}
	var u awsapi.Unavailable
	if errors.As(err, &u) {
		h.log.Warn("request refused: service unavailable", "err", err)
		return &awsapi.Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Type: "Service", Message: u.Unavailable()}
	}
	h.log.Error("internal error", "err", err)
	return &awsapi.Error{Status: http.StatusInternalServerError, Code: "InternalServiceFault", Type: "Service",
		Message: "The request could not be completed; retry it."}
}

func (h *Handler) unknown(name string) *awsapi.Error {
	msg := fmt.Sprintf("%s is not an operation of CloudWatch.", name)
	if what, ok := refused[name]; ok {
		msg = fmt.Sprintf("%s is not supported by Nimbus's CloudWatch: %s are not implemented.", name, what)
	}
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "UnknownOperationException", Type: "User", Message: msg}
}

// serveCBOR answers a Smithy RPC v2 CBOR request:
// POST /service/GraniteServiceVersion20100801/operation/<Operation>.
func (h *Handler) serveCBOR(w http.ResponseWriter, r *http.Request, body []byte, err error) {
	out, err := func() (any, error) {
		if err != nil {
			return nil, err
		}
		name, ok := strings.CutPrefix(r.URL.Path, cborPathPrefix)
		o, found := h.ops[name]
		if !ok || r.Method != http.MethodPost || !found {
			return nil, h.unknown(name)
		}
		in := o.newIn()
		if len(body) > 0 {
			if err := cborDec.Unmarshal(body, in); err != nil {
				return nil, &awsapi.Error{Status: http.StatusBadRequest, Code: "SerializationException", Type: "User",
					Message: "The request body is not CBOR of the operation's input shape."}
			}
		}
		return o.run(r.Context(), in)
	}()
	if err != nil {
		e := h.clientError(err)
		fault := "Sender"
		if e.Status >= 500 {
			fault = "Receiver"
		}
		w.Header().Set("x-amzn-query-error", queryCode(e.Code)+";"+fault)
		awsapi.WriteProtocolError(w, awsapi.ProtocolRPCv2CBOR, awsapi.ProtocolError{Error: e})
		return
	}
	var b []byte
	if _, empty := out.(*Empty); !empty {
		if b, err = cborEnc.Marshal(out); err != nil {
			h.log.Error("encode answer", "err", err)
			awsapi.WriteProtocolError(w, awsapi.ProtocolRPCv2CBOR, awsapi.ProtocolError{Error: h.clientError(err)})
			return
		}
	}
	hd := w.Header()
	hd.Set(awsapi.HeaderRequestID, awsapi.NewRequestID())
	hd.Set("Smithy-Protocol", "rpc-v2-cbor")
	hd.Set("Content-Type", "application/cbor")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// serveQuery answers a query-protocol request (Action=... in a form body
// or the URL's query) with XML.
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, body []byte, err error) {
	var name string
	out, err := func() (any, error) {
		if err != nil {
			return nil, err
		}
		form, perr := url.ParseQuery(string(body))
		if perr != nil {
			return nil, errInvalid("The request body is not a valid form.")
		}
		for k, v := range r.URL.Query() {
			if _, ok := form[k]; !ok {
				form[k] = v
			}
		}
		name = form.Get("Action")
		o, found := h.ops[name]
		if !found {
			return nil, h.unknown(name)
		}
		in := o.newIn()
		if err := decodeQuery(form, in); err != nil {
			return nil, err
		}
		return o.run(r.Context(), in)
	}()
	if err != nil {
		e := h.clientError(err)
		awsapi.WriteProtocolError(w, awsapi.ProtocolQuery, awsapi.ProtocolError{Error: &awsapi.Error{
			Status: e.Status, Code: queryCode(e.Code), Type: e.Type, Message: e.Message}})
		return
	}
	reqID := awsapi.NewRequestID()
	var b bytes.Buffer
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, name, xmlNamespace)
	if _, empty := out.(*Empty); !empty {
		writeXMLFields(&b, name+"Result", reflect.ValueOf(out))
	}
	fmt.Fprintf(&b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", reqID, name)
	hd := w.Header()
	hd.Set(awsapi.HeaderRequestID, reqID)
	hd.Set("Content-Type", "text/xml")
	hd.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// formNode is the form's keys split at dots: "MetricData.member.1.Value".
type formNode struct {
	val  string
	set  bool
	kids map[string]*formNode
}

const maxFormDepth = 12

func formTree(form url.Values) *formNode {
	root := &formNode{}
	for k, vs := range form {
		n := root
		for i, part := range strings.Split(k, ".") {
			if i >= maxFormDepth {
				break
			}
			if n.kids == nil {
				n.kids = map[string]*formNode{}
			}
			c := n.kids[part]
			if c == nil {
				c = &formNode{}
				n.kids[part] = c
			}
			n = c
		}
		if len(vs) > 0 {
			n.val, n.set = vs[0], true
		}
	}
	return root
}

// decodeQuery fills v (a pointer to an input struct) from a query form:
// members by their JSON names, lists as Name.member.N, maps as
// Name.entry.N.key/value, timestamps in ISO 8601.
func decodeQuery(form url.Values, v any) error {
	return fillStruct(formTree(form), "", reflect.ValueOf(v).Elem())
}

var timeType = reflect.TypeFor[Time]()

func fieldName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		name = f.Name
	}
	return name
}

func fillStruct(n *formNode, path string, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := fieldName(f)
		c := n.kids[name]
		if c == nil {
			continue
		}
		if err := fillValue(c, path+name, v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

func fillValue(n *formNode, path string, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := fillValue(n, path, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	bad := func() error {
		return errInvalid(fmt.Sprintf("The value %s for parameter %s is invalid.", truncate(n.val, 64), path))
	}
	switch {
	case v.Type() == timeType:
		var tm Time
		if tm.parseText(n.val) != nil {
			return bad()
		}
		v.Set(reflect.ValueOf(tm))
		return nil
	case v.Kind() == reflect.Struct:
		return fillStruct(n, path+".", v)
	case v.Kind() == reflect.Slice:
		items := n.kids["member"]
		if items == nil {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return nil
		}
		idx := make([]int, 0, len(items.kids))
		for k := range items.kids {
			i, err := strconv.Atoi(k)
			if err != nil || i < 1 || i > len(items.kids) {
				return errInvalid(fmt.Sprintf("%s.member.%s is not a valid list index.", path, truncate(k, 16)))
			}
			idx = append(idx, i)
		}
		sort.Ints(idx)
		s := reflect.MakeSlice(v.Type(), len(idx), len(idx))
		for j, i := range idx {
			if err := fillValue(items.kids[strconv.Itoa(i)], fmt.Sprintf("%s.member.%d", path, i), s.Index(j)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case v.Kind() == reflect.Map:
		m := reflect.MakeMap(v.Type())
		if entries := n.kids["entry"]; entries != nil {
			for _, e := range entries.kids {
				k, val := e.kids["key"], e.kids["value"]
				if k == nil || val == nil {
					continue
				}
				mv := reflect.New(v.Type().Elem()).Elem()
				if err := fillValue(val, path+".entry", mv); err != nil {
					return err
				}
				m.SetMapIndex(reflect.ValueOf(k.val), mv)
			}
		}
		v.Set(m)
		return nil
	case v.Kind() == reflect.String:
		v.SetString(n.val)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(n.val, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return bad()
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Int64 || v.Kind() == reflect.Int:
		i, err := strconv.ParseInt(n.val, 10, 64)
		if err != nil {
			return bad()
		}
		v.SetInt(i)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(n.val)
		if err != nil {
			return bad()
		}
		v.SetBool(b)
	default:
		return fmt.Errorf("query decode: unsupported kind %s at %s", v.Kind(), path)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// writeXMLFields writes v (a struct, or a pointer to one) as element name
// with its fields.
func writeXMLFields(b *bytes.Buffer, name string, v reflect.Value) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	b.WriteString("<" + name + ">")
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		fv := v.Field(i)
		if strings.Contains(tag, "omitempty") && fv.IsZero() {
			continue
		}
		writeXMLValue(b, fieldName(f), fv)
	}
	b.WriteString("</" + name + ">")
}

func writeXMLValue(b *bytes.Buffer, name string, v reflect.Value) {
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == timeType:
		b.WriteString("<" + name + ">" + v.Interface().(Time).UTC().Format("2006-01-02T15:04:05.000Z") + "</" + name + ">")
	case v.Kind() == reflect.Struct:
		writeXMLFields(b, name, v)
	case v.Kind() == reflect.Slice:
		if v.IsNil() {
			return
		}
		b.WriteString("<" + name + ">")
		for i := 0; i < v.Len(); i++ {
			writeXMLValue(b, "member", v.Index(i))
		}
		b.WriteString("</" + name + ">")
	case v.Kind() == reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b.WriteString("<" + name + ">")
		for _, k := range keys {
			b.WriteString("<entry>")
			writeXMLValue(b, "key", k)
			writeXMLValue(b, "value", v.MapIndex(k))
			b.WriteString("</entry>")
		}
		b.WriteString("</" + name + ">")
	default:
		var s string
		switch v.Kind() {
		case reflect.String:
			s = v.String()
		case reflect.Float64:
			s = strconv.FormatFloat(v.Float(), 'g', -1, 64)
		case reflect.Int64, reflect.Int:
			s = strconv.FormatInt(v.Int(), 10)
		case reflect.Bool:
			s = strconv.FormatBool(v.Bool())
		}
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(b, []byte(s))
		b.WriteString("</" + name + ">")
	}
}

// finite drops non-finite values (a division by zero in metric math)
// with their timestamps; no protocol carries them as AWS does not.
func finite(ts []Time, vs []float64) ([]Time, []float64) {
	j := 0
	for i := range vs {
		if math.IsNaN(vs[i]) || math.IsInf(vs[i], 0) {
			continue
		}
		ts[j], vs[j] = ts[i], vs[i]
		j++
	}
	return ts[:j], vs[:j]
}

var _ = time.Second

// RequestTarget names the operation of a CloudWatch request and the alarm
// or dashboard it acts on, for the front door's IAM evaluation. body is
// the request's body as sent (gzip inflated here, bounded); a name is ""
// when the request names none, or several.
func RequestTarget(r *http.Request, body []byte) (op, alarm, dashboard string) {
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return "", "", ""
		}
		body, _ = io.ReadAll(io.LimitReader(zr, MaxDecodedBytes))
	}
	var in struct {
		AlarmName      string   `json:"AlarmName"`
		AlarmNames     []string `json:"AlarmNames"`
		DashboardName  string   `json:"DashboardName"`
		DashboardNames []string `json:"DashboardNames"`
	}
	switch {
	case IsCBOR(r):
		op = strings.TrimPrefix(r.URL.Path, cborPathPrefix)
		_ = cborDec.Unmarshal(body, &in)
	case r.Header.Get("X-Amz-Target") != "":
		op = strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
		_ = json.Unmarshal(body, &in)
	default:
		form, _ := url.ParseQuery(string(body))
		for k, v := range r.URL.Query() {
			if _, ok := form[k]; !ok {
				form[k] = v
			}
		}
		op = form.Get("Action")
		_ = decodeQuery(form, &in)
	}
	alarm, dashboard = in.AlarmName, in.DashboardName
	if alarm == "" && len(in.AlarmNames) == 1 {
		alarm = in.AlarmNames[0]
	}
	if dashboard == "" && len(in.DashboardNames) == 1 {
		dashboard = in.DashboardNames[0]
	}
	return op, alarm, dashboard
}
