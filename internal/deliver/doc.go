// Package deliver is the delivery interface every service shares: hand
// this payload to this ARN, durably, at least once. A Router picks the
// Deliverer registered for the ARN's service ("lambda", "sqs", "sns", ...);
// each Deliverer answers only once the payload is durable on the target's
// side (an async invocation queued, an SQS message stored, an SNS message
// accepted). Retry runs attempts with a back-off for callers that have no
// durable retry of their own.
//
// Callers: EventBridge targets and dead letters (internal/events), async
// invocation destinations and DeadLetterConfig (internal/async), SNS
// subscriptions (internal/sns). Deliverers are registered by the daemon,
// which owns the wiring; this package imports nothing of Nimbus.
// docs/design/topics.md explains the shape.
package deliver
