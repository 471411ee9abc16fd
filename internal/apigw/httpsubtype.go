package apigw

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// HTTP API first-class AWS service integrations (integrationSubtype):
// an AWS_PROXY integration that calls one action of SQS, EventBridge,
// Step Functions or Kinesis with the parameters its requestParameters
// map, as its credentialsArn role (through Options.AWS, as REST AWS
// integrations do). The service's answer is the client's, status and
// body; SQS's query-protocol XML is turned into JSON, as API Gateway
// asks SQS for JSON.

// subtype is one integration subtype: the service it calls (signing
// name), its action, its parameters and how its request body is built.
type subtype struct {
	service  string
	action   string
	required []string
	optional []string
}

// subtypes are the integration subtypes Nimbus serves (API Gateway's
// integration subtype reference, version 1.0).
var subtypes = map[string]subtype{
	"SQS-SendMessage": {service: "sqs", action: "SendMessage", required: []string{"QueueUrl", "MessageBody"},
		optional: []string{"DelaySeconds", "MessageAttributes", "MessageDeduplicationId", "MessageGroupId", "MessageSystemAttributes", "Region"}},
	"SQS-ReceiveMessage": {service: "sqs", action: "ReceiveMessage", required: []string{"QueueUrl"},
		optional: []string{"AttributeNames", "MaxNumberOfMessages", "MessageAttributeNames", "ReceiveRequestAttemptId", "VisibilityTimeout", "WaitTimeSeconds", "Region"}},
	"SQS-DeleteMessage": {service: "sqs", action: "DeleteMessage", required: []string{"ReceiptHandle", "QueueUrl"}, optional: []string{"Region"}},
	"SQS-PurgeQueue":    {service: "sqs", action: "PurgeQueue", required: []string{"QueueUrl"}, optional: []string{"Region"}},
	"EventBridge-PutEvents": {service: "events", action: "PutEvents", required: []string{"Detail", "DetailType", "Source"},
		optional: []string{"Time", "EventBusName", "Resources", "Region", "TraceHeader"}},
	"Kinesis-PutRecord": {service: "kinesis", action: "PutRecord", required: []string{"StreamName", "Data", "PartitionKey"},
		optional: []string{"SequenceNumberForOrdering", "ExplicitHashKey", "Region"}},
	"StepFunctions-StartExecution": {service: "states", action: "StartExecution", required: []string{"StateMachineArn"},
		optional: []string{"Name", "Input", "Region"}},
	"StepFunctions-StartSyncExecution": {service: "states", action: "StartSyncExecution", required: []string{"StateMachineArn"},
		optional: []string{"Name", "Input", "Region", "TraceHeader"}},
	"StepFunctions-StopExecution": {service: "states", action: "StopExecution", required: []string{"ExecutionArn"},
		optional: []string{"Cause", "Error", "Region"}},
}

// checkSubtype checks a service integration's subtype and its
// requestParameters.
func checkSubtype(name string, params map[string]string) error {
	st, ok := subtypes[name]
	if !ok {
		if strings.HasPrefix(name, "AppConfig-") {
			return badRequest("Nimbus does not serve integration subtype %s: it has no AppConfig service; it serves SQS, EventBridge, Step Functions and Kinesis subtypes.", name)
		}
		return badRequest("Unsupported integration subtype %s: Nimbus serves %s.", name, strings.Join(subtypeNames(), ", "))
	}
	if len(params) > maxMappings {
		return badRequest("Invalid requestParameters: at most %d mappings.", maxMappings)
	}
	for _, r := range st.required {
		if _, ok := params[r]; !ok {
			return badRequest("Invalid request parameters: %s requires the parameter %s.", name, r)
		}
	}
	for k, v := range params {
		if !containsString(st.required, k) && !containsString(st.optional, k) {
			return badRequest("Invalid request parameters: %s has no parameter %s; it takes %s.", name, k, strings.Join(append(append([]string{}, st.required...), st.optional...), ", "))
		}
		if _, err := parseMapValue(v, false); err != nil {
			return err
		}
	}
	return nil
}

func containsString(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func subtypeNames() []string {
	out := make([]string, 0, len(subtypes))
	for k := range subtypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errSubtypeParam is a parameter value the service request cannot carry
// (MessageAttributes that are not a JSON object, ...): a client error.
var errSubtypeParam = errors.New("invalid integration parameter")

// subtypeRequest builds the body and headers of a subtype's service call
// from its evaluated parameters.
func subtypeRequest(st subtype, p map[string]string) (body []byte, contentType, target string, err error) {
	switch st.service {
	case "sqs":
		f, err := sqsForm(st.action, p)
		if err != nil {
			return nil, "", "", err
		}
		return []byte(f.Encode()), "application/x-www-form-urlencoded", "", nil
	case "events":
		e := map[string]any{"Detail": p["Detail"], "DetailType": p["DetailType"], "Source": p["Source"]}
		for _, k := range []string{"Time", "EventBusName", "TraceHeader"} {
			if v, ok := p[k]; ok && v != "" {
				e[k] = v
			}
		}
		if v := p["Resources"]; v != "" {
			rs, err := stringList(v)
			if err != nil {
				return nil, "", "", err
			}
			e["Resources"] = rs
		}
		b, _ := json.Marshal(map[string]any{"Entries": []any{e}})
		return b, "application/x-amz-json-1.1", "AWSEvents.PutEvents", nil
	case "kinesis":
		in := map[string]any{"StreamName": p["StreamName"], "PartitionKey": p["PartitionKey"],
			"Data": base64.StdEncoding.EncodeToString([]byte(p["Data"]))}
		for _, k := range []string{"SequenceNumberForOrdering", "ExplicitHashKey"} {
			if v := p[k]; v != "" {
				in[k] = v
			}
		}
		b, _ := json.Marshal(in)
		return b, "application/x-amz-json-1.1", "Kinesis_20131202.PutRecord", nil
	default: // states: the JSON members are lower camel case
		in := map[string]any{}
		for k, v := range p {
			if k == "Region" || v == "" {
				continue
			}
			in[strings.ToLower(k[:1])+k[1:]] = v
		}
		b, _ := json.Marshal(in)
		return b, "application/x-amz-json-1.0", "AWSStepFunctions." + st.action, nil
	}
}

// stringList reads a list parameter: a JSON array, or comma-separated.
func stringList(v string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		var out []string
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			return nil, fmt.Errorf("%w: %s is not a JSON array of strings", errSubtypeParam, v)
		}
		return out, nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// sqsAttr is a message attribute as the parameter's JSON writes it.
type sqsAttr struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue"`
	BinaryValue string `json:"BinaryValue"`
}

// sqsForm is an SQS action's query-protocol form.
func sqsForm(action string, p map[string]string) (url.Values, error) {
	f := url.Values{"Action": {action}, "Version": {"2012-11-05"}}
	for _, k := range []string{"QueueUrl", "MessageBody", "DelaySeconds", "MessageDeduplicationId", "MessageGroupId",
		"MaxNumberOfMessages", "ReceiveRequestAttemptId", "VisibilityTimeout", "WaitTimeSeconds", "ReceiptHandle"} {
		if v, ok := p[k]; ok && v != "" {
			f.Set(k, v)
		}
	}
	attrs := func(param, prefix string) error {
		v := p[param]
		if v == "" {
			return nil
		}
		var m map[string]sqsAttr
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return fmt.Errorf("%w: %s is not a JSON object of attributes", errSubtypeParam, param)
		}
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			base := prefix + "." + strconv.Itoa(i+1) + "."
			f.Set(base+"Name", n)
			f.Set(base+"Value.DataType", m[n].DataType)
			if m[n].StringValue != "" {
				f.Set(base+"Value.StringValue", m[n].StringValue)
			}
			if m[n].BinaryValue != "" {
				f.Set(base+"Value.BinaryValue", m[n].BinaryValue)
			}
		}
		return nil
	}
	if err := attrs("MessageAttributes", "MessageAttribute"); err != nil {
		return nil, err
	}
	if err := attrs("MessageSystemAttributes", "MessageSystemAttribute"); err != nil {
		return nil, err
	}
	for param, prefix := range map[string]string{"AttributeNames": "AttributeName", "MessageAttributeNames": "MessageAttributeName"} {
		if v := p[param]; v != "" {
			names, err := stringList(v)
			if err != nil {
				return nil, err
			}
			for i, n := range names {
				f.Set(prefix+"."+strconv.Itoa(i+1), n)
			}
		}
	}
	return f, nil
}

// xmlToJSON turns a query-protocol XML answer into the JSON SQS gives a
// caller that asks for JSON: elements with children become objects,
// repeated elements arrays, text elements strings.
func xmlToJSON(b []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	type frame struct {
		name string
		obj  map[string]any
		keys []string
		text strings.Builder
	}
	var stack []*frame
	var root map[string]any
	add := func(parent *frame, name string, v any) {
		if old, ok := parent.obj[name]; ok {
			if arr, ok := old.([]any); ok {
				parent.obj[name] = append(arr, v)
			} else {
				parent.obj[name] = []any{old, v}
			}
			return
		}
		parent.keys = append(parent.keys, name)
		parent.obj[name] = v
	}
	for depth := 0; ; {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > 32 {
				return nil, errors.New("xml too deep")
			}
			stack = append(stack, &frame{name: t.Name.Local, obj: map[string]any{}})
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.EndElement:
			depth--
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			var v any = f.obj
			if len(f.keys) == 0 {
				v = f.text.String()
			}
			if len(stack) == 0 {
				root = map[string]any{f.name: v}
				continue
			}
			add(stack[len(stack)-1], f.name, v)
		}
	}
	if root == nil {
		return nil, errors.New("no xml element")
	}
	return json.Marshal(root)
}
