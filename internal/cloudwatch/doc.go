// Package cloudwatch serves Amazon CloudWatch's metrics API — metrics,
// metric math, alarms and dashboards — in the three protocols its clients
// speak: Smithy RPC v2 CBOR (aws-sdk-go-v2), AWS JSON 1.0 (X-Amz-Target
// GraniteServiceVersion20100801.*, boto3 and AWS CLI v1) and the query
// protocol (Action=..., XML answers: Debian's AWS CLI 2.9). Each operation
// is written once, over typed inputs and outputs; codec.go turns the three
// wire forms into them.
//
// Datapoints are published to a JetStream stream on the backbone, and
// every node folds the stream into the same in-memory roll-ups (1 s, 60 s,
// 5 min, 1 h), so every node of a cluster answers the same metrics.
// Alarms and dashboards are records in the control-plane KV bucket;
// alarms are evaluated on one node of a cluster (the daemon gives the
// evaluator a lease). docs/design/metrics.md explains the choices and the
// bounds.
//
// The daemon wires it into the front door; nothing else imports it.
package cloudwatch
