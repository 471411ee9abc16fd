package cfnapi

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// The wire shapes of botocore's cloudformation 2010-05-15 model (query
// protocol): lists are <Name><member>...</member></Name>, timestamps ISO
// 8601 in UTC with milliseconds, as CloudFormation writes them.

// members is a list; as a value field it is written even when empty
// (<Stacks/>), as a pointer field it is left out when nil.
type members[T any] struct {
	Member []T `xml:"member"`
}

func list[T any](v []T) members[T] { return members[T]{Member: v} }

// optList is nil (left out) for an empty list.
func optList[T any](v []T) *members[T] {
	if len(v) == 0 {
		return nil
	}
	return &members[T]{Member: v}
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

type parameterXML struct {
	ParameterKey   string
	ParameterValue string
}

type outputXML struct {
	OutputKey   string
	OutputValue string
	Description string `xml:",omitempty"`
	ExportName  string `xml:",omitempty"`
}

type tagXML struct {
	Key   string
	Value string
}

type stackDriftXML struct {
	StackDriftStatus string
}

type resourceDriftXML struct {
	StackResourceDriftStatus string
}

type stackXML struct {
	StackID                     string `xml:"StackId"`
	StackName                   string
	Description                 string                 `xml:",omitempty"`
	Parameters                  *members[parameterXML] `xml:",omitempty"`
	CreationTime                string
	DeletionTime                string `xml:",omitempty"`
	LastUpdatedTime             string `xml:",omitempty"`
	RollbackConfiguration       struct{}
	StackStatus                 string
	StackStatusReason           string `xml:",omitempty"`
	DisableRollback             bool
	NotificationARNs            members[string]
	Capabilities                *members[string]    `xml:",omitempty"`
	Outputs                     *members[outputXML] `xml:",omitempty"`
	RoleARN                     string              `xml:",omitempty"`
	Tags                        members[tagXML]
	EnableTerminationProtection bool
	ParentID                    string `xml:"ParentId,omitempty"`
	RootID                      string `xml:"RootId,omitempty"`
	DriftInformation            stackDriftXML
}

type summaryXML struct {
	StackID             string `xml:"StackId"`
	StackName           string
	TemplateDescription string `xml:",omitempty"`
	CreationTime        string
	LastUpdatedTime     string `xml:",omitempty"`
	DeletionTime        string `xml:",omitempty"`
	StackStatus         string
	StackStatusReason   string `xml:",omitempty"`
	ParentID            string `xml:"ParentId,omitempty"`
	RootID              string `xml:"RootId,omitempty"`
	DriftInformation    stackDriftXML
}

type eventXML struct {
	StackID              string `xml:"StackId"`
	EventID              string `xml:"EventId"`
	StackName            string
	LogicalResourceID    string `xml:"LogicalResourceId,omitempty"`
	PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
	ResourceType         string `xml:",omitempty"`
	Timestamp            string
	ResourceStatus       string `xml:",omitempty"`
	ResourceStatusReason string `xml:",omitempty"`
	ResourceProperties   string `xml:",omitempty"`
}

type stackResourceXML struct {
	StackName            string
	StackID              string `xml:"StackId"`
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
	ResourceType         string
	Timestamp            string
	ResourceStatus       string
	ResourceStatusReason string `xml:",omitempty"`
	DriftInformation     resourceDriftXML
}

type resourceDetailXML struct {
	StackName            string
	StackID              string `xml:"StackId"`
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
	ResourceType         string
	LastUpdatedTimestamp string
	ResourceStatus       string
	ResourceStatusReason string `xml:",omitempty"`
	Metadata             string
	DriftInformation     resourceDriftXML
}

type resourceSummaryXML struct {
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
	ResourceType         string
	LastUpdatedTimestamp string
	ResourceStatus       string
	ResourceStatusReason string `xml:",omitempty"`
	DriftInformation     resourceDriftXML
}

type exportXML struct {
	ExportingStackID string `xml:"ExportingStackId"`
	Name             string
	Value            string
}

type templateParameterXML struct {
	ParameterKey string
	DefaultValue string `xml:",omitempty"`
	NoEcho       bool
	Description  string `xml:",omitempty"`
}

type parameterDeclarationXML struct {
	ParameterKey         string
	DefaultValue         string `xml:",omitempty"`
	ParameterType        string `xml:",omitempty"`
	NoEcho               bool
	Description          string `xml:",omitempty"`
	ParameterConstraints struct {
		AllowedValues *members[string] `xml:",omitempty"`
	}
}

// Results, one per operation with an output shape.

type stackIDResult struct {
	StackID string `xml:"StackId"`
}

type describeStacksResult struct {
	Stacks    members[stackXML]
	NextToken string `xml:",omitempty"`
}

type listStacksResult struct {
	StackSummaries members[summaryXML]
	NextToken      string `xml:",omitempty"`
}

type describeStackEventsResult struct {
	StackEvents members[eventXML]
	NextToken   string `xml:",omitempty"`
}

type describeStackResourcesResult struct {
	StackResources members[stackResourceXML]
}

type describeStackResourceResult struct {
	StackResourceDetail resourceDetailXML
}

type listStackResourcesResult struct {
	StackResourceSummaries members[resourceSummaryXML]
	NextToken              string `xml:",omitempty"`
}

type getTemplateResult struct {
	TemplateBody    string
	StagesAvailable members[string]
}

type validateTemplateResult struct {
	Parameters         members[templateParameterXML]
	Description        string           `xml:",omitempty"`
	Capabilities       *members[string] `xml:",omitempty"`
	CapabilitiesReason string           `xml:",omitempty"`
	DeclaredTransforms *members[string] `xml:",omitempty"`
}

type getTemplateSummaryResult struct {
	Parameters         members[parameterDeclarationXML]
	Description        string           `xml:",omitempty"`
	Capabilities       *members[string] `xml:",omitempty"`
	CapabilitiesReason string           `xml:",omitempty"`
	ResourceTypes      members[string]
	Version            string           `xml:",omitempty"`
	DeclaredTransforms *members[string] `xml:",omitempty"`
}

type listExportsResult struct {
	Exports   members[exportXML]
	NextToken string `xml:",omitempty"`
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// writeResult writes <ActionResponse xmlns=...><ActionResult>result
// </ActionResult><ResponseMetadata>...</ResponseMetadata></ActionResponse>;
// a nil result (an operation without output) writes no ActionResult.
func writeResult(w http.ResponseWriter, action string, result any, reqID string) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	root := xml.StartElement{Name: xml.Name{Space: Namespace, Local: action + "Response"}}
	err := enc.EncodeToken(root)
	if err == nil && result != nil {
		err = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	if err == nil {
		err = enc.EncodeElement(responseMetadata{reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	}
	if err == nil {
		err = enc.EncodeToken(root.End())
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		// Only an invalid UTF-8 string could fail, and Go strings made
		// here are escaped instead; answer as AWS would an internal error.
		WriteError(w, reqID, ErrorFor(err))
		return
	}
	buf.WriteByte('\n')
	writeXML(w, http.StatusOK, buf.Bytes())
}

type errorXML struct {
	Type    string
	Code    string
	Message string
}

type errorResponseXML struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     errorXML
	RequestID string `xml:"RequestId"`
}

// WriteError writes e as a query-protocol ErrorResponse: Type Sender for
// the client's faults (4xx), Receiver for the service's.
func WriteError(w http.ResponseWriter, reqID string, e *awsapi.Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	b, err := xml.MarshalIndent(errorResponseXML{Xmlns: Namespace, Error: errorXML{typ, e.Code, e.Message}, RequestID: reqID}, "", "  ")
	if err != nil {
		b = []byte(`<ErrorResponse xmlns="` + Namespace + `"><Error><Type>Receiver</Type><Code>InternalFailure</Code></Error></ErrorResponse>`)
		status = http.StatusInternalServerError
	}
	w.Header().Set(awsapi.HeaderRequestID, reqID)
	writeXML(w, status, append(b, '\n'))
}

func writeXML(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
