package sqs

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The query protocol (Action=SendMessage&... form posts, XML answers)
// that SDKs used before SQS moved to JSON: a request is rewritten into
// the JSON operation's input, served by the same code, and its output
// rendered as the query protocol's XML.

const queryNamespace = "http://queue.amazonaws.com/doc/2012-11-05/"

// isQuery reports whether r is a query-protocol request.
func isQuery(r *http.Request) bool {
	if r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	return r.URL.Query().Has("Action") || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, reqID string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		h.writeQueryErr(w, reqID, newErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body too large."))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		h.writeQueryErr(w, reqID, errInvalidParameter("The request body is not a valid form."))
		return
	}
	for k, v := range r.URL.Query() {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	op := form.Get("Action")
	in := queryInput(form)
	// Old clients post to the queue's URL itself.
	if _, ok := in["QueueUrl"]; !ok && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 1 {
		in["QueueUrl"] = r.URL.Path
	}
	if op == "CreateQueue" {
		if t, ok := in["Tags"]; ok {
			in["tags"] = t
			delete(in, "Tags")
		}
	}
	js, err := json.Marshal(in)
	if err != nil {
		h.writeQueryErr(w, reqID, errInvalidParameter("The request could not be read."))
		return
	}
	c := &call{h: h, r: r, ctx: r.Context(), body: js, host: r.Host}
	out, err := c.dispatch(op)
	if err != nil {
		if isCode(err, "UnknownOperationException") {
			err = newErr(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this endpoint.", op)
		}
		h.writeQueryErr(w, reqID, err)
		return
	}
	// Render through JSON so both protocols answer the same values.
	raw, _ := json.Marshal(out)
	var res map[string]any
	_ = json.Unmarshal(raw, &res)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, `<%sResponse xmlns="%s"><%sResult>`, op, queryNamespace, op)
	writeQueryResult(&b, op, res)
	fmt.Fprintf(&b, `</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, op, reqID, op)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func (h *Handler) writeQueryErr(w http.ResponseWriter, reqID string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		h.s.log.Error("sqs request failed", "err", err)
		e = errFor(err)
	}
	kind := "Sender"
	if !e.Sender() {
		kind = "Receiver"
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<ErrorResponse><Error><Type>` + kind + `</Type><Code>`)
	_ = xml.EscapeText(&b, []byte(e.Query))
	b.WriteString(`</Code><Message>`)
	_ = xml.EscapeText(&b, []byte(e.Msg))
	b.WriteString(`</Message><Detail/></Error><RequestId>` + reqID + `</RequestId></ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write(b.Bytes())
}

// indexed collects the members of a flattened list: prefix.1.rest,
// prefix.2.rest, ... as url.Values of rest, in index order.
func indexed(form url.Values, prefix string) []url.Values {
	byIdx := map[int]url.Values{}
	for k, v := range form {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		num, sub, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 1000 {
			continue
		}
		if byIdx[n] == nil {
			byIdx[n] = url.Values{}
		}
		byIdx[n][sub] = v
	}
	idx := make([]int, 0, len(byIdx))
	for n := range byIdx {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	out := make([]url.Values, len(idx))
	for i, n := range idx {
		out[i] = byIdx[n]
	}
	return out
}

var (
	queryInts    = []string{"DelaySeconds", "VisibilityTimeout", "MaxNumberOfMessages", "WaitTimeSeconds", "MaxResults"}
	queryStrings = []string{"QueueUrl", "QueueName", "MessageBody", "MessageDeduplicationId", "MessageGroupId", "ReceiptHandle",
		"QueueNamePrefix", "NextToken", "QueueOwnerAWSAccountId", "ReceiveRequestAttemptId", "Id"}
	queryLists = map[string]string{"AttributeName": "AttributeNames", "MessageSystemAttributeName": "MessageSystemAttributeNames",
		"MessageAttributeName": "MessageAttributeNames", "TagKey": "TagKeys"}
	queryEntries = map[string]bool{"SendMessageBatchRequestEntry": true, "DeleteMessageBatchRequestEntry": true,
		"ChangeMessageVisibilityBatchRequestEntry": true}
)

// queryInput turns a query request's form into the JSON operation's input.
func queryInput(form url.Values) map[string]any {
	in := map[string]any{}
	for _, k := range queryStrings {
		if form.Has(k) {
			in[k] = form.Get(k)
		}
	}
	for _, k := range queryInts {
		if form.Has(k) {
			if n, err := strconv.Atoi(form.Get(k)); err == nil {
				in[k] = n
			} else {
				in[k] = form.Get(k) // a type error the JSON decoder reports
			}
		}
	}
	for q, j := range queryLists {
		var vals []string
		for _, e := range indexed(form, q) {
			vals = append(vals, e.Get(""))
		}
		if vals != nil {
			in[j] = vals
		}
	}
	if a := indexed(form, "Attribute"); len(a) > 0 {
		m := map[string]string{}
		for _, e := range a {
			m[e.Get("Name")] = e.Get("Value")
		}
		in["Attributes"] = m
	}
	if t := indexed(form, "Tag"); len(t) > 0 {
		m := map[string]string{}
		for _, e := range t {
			m[e.Get("Key")] = e.Get("Value")
		}
		in["Tags"] = m
	}
	for name, key := range map[string]string{"MessageAttribute": "MessageAttributes", "MessageSystemAttribute": "MessageSystemAttributes"} {
		if a := indexed(form, name); len(a) > 0 {
			m := map[string]any{}
			for _, e := range a {
				v := map[string]any{"DataType": e.Get("Value.DataType")}
				if e.Has("Value.StringValue") {
					v["StringValue"] = e.Get("Value.StringValue")
				}
				if e.Has("Value.BinaryValue") {
					v["BinaryValue"] = e.Get("Value.BinaryValue") // base64 in both protocols
				}
				m[e.Get("Name")] = v
			}
			in[key] = m
		}
	}
	for name := range queryEntries {
		if es := indexed(form, name); len(es) > 0 {
			var list []map[string]any
			for _, e := range es {
				list = append(list, queryInput(e))
			}
			in["Entries"] = list
		}
	}
	return in
}

// writeQueryResult renders an operation's JSON output as the query
// protocol's result members.
func writeQueryResult(b *bytes.Buffer, op string, res map[string]any) {
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := res[k]
		switch k {
		case "Attributes":
			writePairs(b, "Attribute", "Name", "Value", v)
		case "Tags":
			writePairs(b, "Tag", "Key", "Value", v)
		case "QueueUrls", "queueUrls":
			for _, u := range asList(v) {
				writeElem(b, "QueueUrl", fmt.Sprint(u))
			}
		case "Successful":
			for _, e := range asList(v) {
				b.WriteString("<" + op + "ResultEntry>")
				m, _ := e.(map[string]any)
				writeQueryResult(b, op, m)
				b.WriteString("</" + op + "ResultEntry>")
			}
		case "Failed":
			for _, e := range asList(v) {
				b.WriteString("<BatchResultErrorEntry>")
				m, _ := e.(map[string]any)
				writeQueryResult(b, op, m)
				b.WriteString("</BatchResultErrorEntry>")
			}
		case "Messages":
			for _, e := range asList(v) {
				b.WriteString("<Message>")
				m, _ := e.(map[string]any)
				writeQueryResult(b, op, m)
				b.WriteString("</Message>")
			}
		case "MessageAttributes":
			m, _ := v.(map[string]any)
			names := make([]string, 0, len(m))
			for n := range m {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				b.WriteString("<MessageAttribute>")
				writeElem(b, "Name", n)
				b.WriteString("<Value>")
				av, _ := m[n].(map[string]any)
				for _, f := range []string{"StringValue", "BinaryValue", "DataType"} {
					if s, ok := av[f].(string); ok {
						writeElem(b, f, s)
					}
				}
				b.WriteString("</Value></MessageAttribute>")
			}
		default:
			switch x := v.(type) {
			case string:
				writeElem(b, k, x)
			case bool:
				writeElem(b, k, strconv.FormatBool(x))
			case float64:
				writeElem(b, k, strconv.FormatFloat(x, 'f', -1, 64))
			}
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func writePairs(b *bytes.Buffer, elem, kname, vname string, v any) {
	m, _ := v.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("<" + elem + ">")
		writeElem(b, kname, k)
		writeElem(b, vname, fmt.Sprint(m[k]))
		b.WriteString("</" + elem + ">")
	}
}

func writeElem(b *bytes.Buffer, name, text string) {
	b.WriteString("<" + name + ">")
	_ = xml.EscapeText(b, []byte(text))
	b.WriteString("</" + name + ">")
}
