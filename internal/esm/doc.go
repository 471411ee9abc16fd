// Package esm owns Lambda event source mappings (the Lambda API's
// /2015-03-31/event-source-mappings): their records on the backbone (KV
// bucket nimbus_esm, key = UUID) and the pollers every node runs for the
// enabled ones. A poller receives a batch from the source, drops the
// records FilterCriteria rejects, invokes the function synchronously with
// Lambda's event and deletes what succeeded (all of it, or what a
// ReportBatchItemFailures response does not name). Failed records return
// to the source after its visibility timeout and reach its dead-letter
// queue by its redrive policy. SQS pollers scale with the queue's
// backlog within a cluster-wide ceiling (scale.go).
//
// Sources are interfaces: Queues (SQS) and Streams (DynamoDB Streams,
// stream.go: one ordered worker per mapping with a checkpoint, retries,
// bisection and an on-failure destination). The daemon wires it; only
// the daemon imports it.
package esm
