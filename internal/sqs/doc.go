// Package sqs serves Amazon SQS's API (the AWS JSON 1.0 protocol current
// SDKs speak, X-Amz-Target AmazonSQS.<Operation>) on the node's NATS
// JetStream backbone: queue records in the KV bucket nimbus_sqs, the
// messages of each queue in a stream of its own read through one durable
// pull consumer, so every node of a cluster serves the same queues
// (standard queues: limits retention purged below the acknowledgement
// floor, trim.go; FIFO queues: work-queue retention). docs/design/queues.md explains the mapping (visibility as
// AckWait and NAK-with-delay, receive counts and dead-letter moves,
// FIFO deduplication and ordering) and what is refused.
//
// The daemon wires it into the front door; nothing else imports it.
package sqs
