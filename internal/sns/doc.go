// Package sns serves Amazon SNS's API (the query protocol, signing name
// "sns") on the node's NATS JetStream backbone: topics and subscriptions
// are keys of the KV bucket nimbus_sns; a Publish is answered once the
// message is stored (fsynced) on the work-queue stream NIMBUS_SNS. The
// fan-out (every node pulls from one durable consumer) matches each
// message against its topic's subscriptions' filter policies
// (internal/eventpattern) and delivers it to all of them in parallel
// through the node's delivery router (internal/deliver: Lambda functions,
// SQS queues) or over HTTP to loopback or allowed endpoints, with SNS's
// delivery retry policies and subscription dead-letter queues.
//
//	Publish ─validate─> stream NIMBUS_SNS (pub message, fsynced) ─> answer
//	fan-out: pub message ─> subscriptions of the topic (KV) ─> filter ─┐
//	   ┌──────────────────────────────────────────────────────────────┘
//	   └─> per subscription, in parallel: format (envelope, raw, Lambda
//	       event) ─> deliver ─┬─ ok
//	                          ├─ may pass: retry message (SNS's back-off)
//	                          └─ cannot pass, or retries spent: the
//	                             subscription's RedrivePolicy queue, or dropped
//
// Only the daemon (wiring) imports this package. docs/design/topics.md
// explains the decisions and the cluster boundary.
package sns
