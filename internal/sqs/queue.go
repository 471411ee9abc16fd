package sqs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// queue is a queue's record in the KV bucket: its identity, its settable
// attributes (validated, as strings, the way the API carries them) and
// its tags. Its messages live in the stream named by streamName().
type queue struct {
	Account string            `json:"account"`
	Name    string            `json:"name"`
	ID      string            `json:"id"` // random per incarnation: names the stream
	Attrs   map[string]string `json:"attrs"`
	Tags    map[string]string `json:"tags,omitempty"`
	Created int64             `json:"created"`  // unix seconds
	Updated int64             `json:"modified"` // unix seconds
	// LastPurge is the unix milliseconds of the last PurgeQueue.
	LastPurge int64 `json:"last_purge,omitempty"`
	// Layout is how the stream keeps messages: 0 work-queue retention
	// (FIFO queues, and standard queues created before layoutFloor),
	// layoutFloor limits retention purged below the acknowledgement
	// floor (trim.go).
	Layout int `json:"layout,omitempty"`
}

// Limits and defaults as SQS documents them.
const (
	maxMessageSizeDefault = 1 << 20 // 1 MiB, the current default and maximum
	maxMessageSizeMin     = 1024
	maxBatchEntries       = 10
	maxBatchBytes         = 1 << 20
	maxAttributes         = 10
	dedupWindow           = 5 * time.Minute
	purgeInterval         = 60 * time.Second
	deletedRecently       = 60 * time.Second
	maxVisibility         = 43200
	maxDelay              = 900
	maxWait               = 20
)

var (
	queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	fifoNameRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,75}\.fifo$`)
	batchIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	dedupIDRE   = regexp.MustCompile(`^[!-~]{1,128}$`) // alphanumeric and punctuation
)

func (q *queue) fifo() bool { return q.Attrs["FifoQueue"] == "true" }

func (q *queue) streamName() string { return "SQS_" + q.ID }

func (q *queue) subject() string { return "sqs." + q.ID }

func (q *queue) intAttr(name string) int {
	n, _ := strconv.Atoi(q.Attrs[name])
	return n
}

// redrive is a parsed RedrivePolicy.
type redrive struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

func (q *queue) redrive() (redrive, bool) {
	var r redrive
	s := q.Attrs["RedrivePolicy"]
	if s == "" || json.Unmarshal([]byte(s), &r) != nil || r.DeadLetterTargetArn == "" {
		return r, false
	}
	return r, true
}

// The attributes a queue may be created or set with, and the ones only
// GetQueueAttributes answers.
var (
	settable = map[string]bool{
		"DelaySeconds": true, "MaximumMessageSize": true, "MessageRetentionPeriod": true, "Policy": true,
		"ReceiveMessageWaitTimeSeconds": true, "VisibilityTimeout": true, "RedrivePolicy": true,
		"RedriveAllowPolicy": true, "FifoQueue": true, "ContentBasedDeduplication": true,
		"DeduplicationScope": true, "FifoThroughputLimit": true, "KmsMasterKeyId": true,
		"KmsDataKeyReusePeriodSeconds": true, "SqsManagedSseEnabled": true,
	}
	readOnly = map[string]bool{
		"ApproximateNumberOfMessages": true, "ApproximateNumberOfMessagesNotVisible": true,
		"ApproximateNumberOfMessagesDelayed": true, "CreatedTimestamp": true, "LastModifiedTimestamp": true,
		"QueueArn": true,
	}
	fifoOnly = map[string]bool{"ContentBasedDeduplication": true, "DeduplicationScope": true, "FifoThroughputLimit": true}
)

func defaultAttrs(fifo bool) map[string]string {
	a := map[string]string{
		"DelaySeconds": "0", "MaximumMessageSize": strconv.Itoa(maxMessageSizeDefault),
		"MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0",
		"VisibilityTimeout": "30", "SqsManagedSseEnabled": "true",
	}
	if fifo {
		a["FifoQueue"] = "true"
		a["ContentBasedDeduplication"] = "false"
		a["DeduplicationScope"] = "queue"
		a["FifoThroughputLimit"] = "perQueue"
	}
	return a
}

func intRange(name, v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return errInvalidAttributeValue("Invalid value for the parameter %s.", name)
	}
	return nil
}

func boolAttr(name, v string) error {
	if v != "true" && v != "false" {
		return errInvalidAttributeValue("Invalid value for the parameter %s.", name)
	}
	return nil
}

// checkAttrs validates attributes given to CreateQueue (create) or
// SetQueueAttributes on a queue of the given kind. resolveDLQ reports
// whether a dead-letter queue ARN names an existing queue, and its kind.
func checkAttrs(attrs map[string]string, fifo, create bool, resolveDLQ func(arn string) (exists, isFIFO bool)) error {
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := attrs[k]
		if !settable[k] {
			return errInvalidAttributeName("Unknown Attribute %s.", k)
		}
		if fifoOnly[k] && !fifo {
			return errInvalidAttributeName("Unknown Attribute %s.", k)
		}
		var err error
		switch k {
		case "DelaySeconds":
			err = intRange(k, v, 0, maxDelay)
		case "MaximumMessageSize":
			err = intRange(k, v, maxMessageSizeMin, maxMessageSizeDefault)
		case "MessageRetentionPeriod":
			err = intRange(k, v, 60, 1209600)
		case "ReceiveMessageWaitTimeSeconds":
			err = intRange(k, v, 0, maxWait)
		case "VisibilityTimeout":
			err = intRange(k, v, 0, maxVisibility)
		case "FifoQueue":
			if !create {
				return errInvalidAttributeName("Unknown Attribute %s.", k)
			}
			if err = boolAttr(k, v); err == nil && (v == "true") != fifo {
				err = errInvalidParameter("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
			}
		case "ContentBasedDeduplication", "SqsManagedSseEnabled":
			err = boolAttr(k, v)
		case "DeduplicationScope":
			if v != "queue" && v != "messageGroup" {
				err = errInvalidAttributeValue("Invalid value for the parameter DeduplicationScope.")
			}
		case "FifoThroughputLimit":
			if v != "perQueue" && v != "perMessageGroupId" {
				err = errInvalidAttributeValue("Invalid value for the parameter FifoThroughputLimit.")
			}
		case "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds":
			if v != "" {
				err = errInvalidAttributeValue("Invalid value for the parameter %s: Nimbus has no KMS; queues are encrypted at rest only as the backbone's store is (SqsManagedSseEnabled).", k)
			}
		case "Policy", "RedriveAllowPolicy":
			if v != "" && !json.Valid([]byte(v)) {
				err = errInvalidAttributeValue("Invalid value for the parameter %s.", k)
			}
		case "RedrivePolicy":
			err = checkRedrive(v, fifo, resolveDLQ)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkRedrive(v string, fifo bool, resolveDLQ func(string) (bool, bool)) error {
	if v == "" {
		return nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return errInvalidAttributeValue("Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.")
	}
	arn, _ := raw["deadLetterTargetArn"].(string)
	if arn == "" {
		return errInvalidAttributeValue("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: deadLetterTargetArn.", v)
	}
	n, err := strconv.Atoi(fmt.Sprint(raw["maxReceiveCount"]))
	if err != nil {
		return errInvalidAttributeValue("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: maxReceiveCount.", v)
	}
	if n < 1 || n > 1000 {
		return errInvalidAttributeValue("Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: %d, valid values are from 1 to 1000 both inclusive.", v, n)
	}
	exists, isFIFO := resolveDLQ(arn)
	if !exists {
		return errInvalidAttributeValue("Value %s for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.", v)
	}
	if isFIFO != fifo {
		return errInvalidAttributeValue("Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be the same type of queue as the source.", v)
	}
	return nil
}

// normaliseRedrive rewrites a RedrivePolicy with maxReceiveCount as a
// number, as GetQueueAttributes answers it.
func normaliseRedrive(v string) string {
	var raw map[string]any
	if v == "" || json.Unmarshal([]byte(v), &raw) != nil {
		return v
	}
	n, _ := strconv.Atoi(fmt.Sprint(raw["maxReceiveCount"]))
	b, _ := json.Marshal(redrive{DeadLetterTargetArn: fmt.Sprint(raw["deadLetterTargetArn"]), MaxReceiveCount: n})
	return string(b)
}

// parseARN splits an SQS queue ARN into account and name.
func parseARN(arn string) (account, name string, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) != 6 || p[0] != "arn" || p[2] != "sqs" {
		return "", "", false
	}
	return p[4], p[5], true
}
