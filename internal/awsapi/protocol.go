package awsapi

import (
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
)

// Protocol is one of AWS's wire protocols, as far as the front door needs
// to know it: how a service's errors are rendered. Each service speaks one
// (its model's metadata.protocol); the front door's service table names
// it, so a refusal before any handler runs (a bad signature, a service
// Nimbus does not serve, an unknown operation) reaches the client in the
// shape its SDK parses.
type Protocol int

// The protocols of AWS's service models.
const (
	// ProtocolRESTJSON: Lambda, API Gateway, Scheduler, Pipes. The
	// exception name in X-Amzn-ErrorType, the text in {"message"}.
	ProtocolRESTJSON Protocol = iota
	// ProtocolJSON10 and ProtocolJSON11: X-Amz-Target services (DynamoDB,
	// SQS, Step Functions: 1.0; CloudWatch Logs, Kinesis, KMS, SSM,
	// EventBridge, Secrets Manager: 1.1). {"__type", "message"}.
	ProtocolJSON10
	ProtocolJSON11
	// ProtocolQuery: Action=... forms with XML answers (STS, IAM, SNS,
	// CloudFormation). <ErrorResponse><Error><Type/><Code/><Message/>.
	ProtocolQuery
	// ProtocolRESTXML: S3. <Error><Code/><Message/><RequestId/></Error>.
	ProtocolRESTXML
	// ProtocolRPCv2CBOR: Smithy RPC v2 CBOR (CloudWatch's first
	// protocol). A CBOR map {"__type", "message"}, smithy-protocol header.
	ProtocolRPCv2CBOR
)

var protocolNames = [...]string{"rest-json", "json 1.0", "json 1.1", "query", "rest-xml", "smithy-rpc-v2-cbor"}

func (p Protocol) String() string {
	if p >= 0 && int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return "protocol(" + strconv.Itoa(int(p)) + ")"
}

// ProtocolError is an error answer in some protocol.
type ProtocolError struct {
	*Error
	// QueryCode, for a JSON service that is query-compatible (SQS), is the
	// legacy query error code sent in x-amzn-query-error
	// ("AWS.SimpleQueueService.NonExistentQueue;Sender"), which SDKs that
	// know the service's query past prefer to __type.
	QueryCode string
}

// WriteProtocolError writes e as protocol p renders errors, with a fresh
// request id. Status 0 is 400; Type "Service" (or a 5xx status) is the
// Receiver fault in the XML protocols.
func WriteProtocolError(w http.ResponseWriter, p Protocol, e ProtocolError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	reqID := NewRequestID()
	h := w.Header()
	h.Set(HeaderRequestID, reqID)
	fault := "Sender"
	if status >= 500 || e.Type == "Service" {
		fault = "Receiver"
	}
	var body []byte
	switch p {
	case ProtocolJSON10, ProtocolJSON11:
		h.Set("X-Amzn-ErrorType", e.Code)
		if p == ProtocolJSON10 {
			h.Set("Content-Type", "application/x-amz-json-1.0")
		} else {
			h.Set("Content-Type", "application/x-amz-json-1.1")
		}
		if e.QueryCode != "" {
			h.Set("x-amzn-query-error", e.QueryCode+";"+fault)
		}
		body, _ = json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	case ProtocolQuery:
		type xmlErr struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}
		b, _ := xml.Marshal(struct {
			XMLName   xml.Name `xml:"ErrorResponse"`
			Error     xmlErr   `xml:"Error"`
			RequestID string   `xml:"RequestId"`
		}{Error: xmlErr{Type: fault, Code: e.Code, Message: e.Message}, RequestID: reqID})
		h.Set("Content-Type", "text/xml")
		body = append([]byte(xml.Header), b...)
	case ProtocolRESTXML:
		b, _ := xml.Marshal(struct {
			XMLName   xml.Name `xml:"Error"`
			Code      string   `xml:"Code"`
			Message   string   `xml:"Message"`
			RequestID string   `xml:"RequestId"`
		}{Code: e.Code, Message: e.Message, RequestID: reqID})
		h.Set("Content-Type", "application/xml")
		h.Set("x-amz-request-id", reqID)
		body = append([]byte(xml.Header), b...)
	case ProtocolRPCv2CBOR:
		h.Set("smithy-protocol", "rpc-v2-cbor")
		h.Set("Content-Type", "application/cbor")
		body = cborStringMap([][2]string{{"__type", e.Code}, {"message", e.Message}})
	default:
		h.Set("X-Amzn-ErrorType", e.Code)
		h.Set("Content-Type", "application/json")
		body, _ = json.Marshal(map[string]string{"message": e.Message})
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// cborStringMap encodes pairs as a definite-length CBOR map of text
// strings (RFC 8949 major types 5 and 3), all an error body needs.
func cborStringMap(pairs [][2]string) []byte {
	b := cborHead(nil, 5, uint64(len(pairs)))
	for _, kv := range pairs {
		for _, s := range kv {
			b = cborHead(b, 3, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// cborHead appends the head of a CBOR item of major type major and
// argument n: the argument inline below 24, else in the smallest of 1, 2,
// 4 or 8 big-endian bytes.
func cborHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	if n < 24 {
		return append(b, m|byte(n))
	}
	size, info := 8, byte(27)
	switch {
	case n <= 0xff:
		size, info = 1, 24
	case n <= 0xffff:
		size, info = 2, 25
	case n <= 0xffffffff:
		size, info = 4, 26
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], n)
	return append(append(b, m|info), buf[8-size:]...)
}
