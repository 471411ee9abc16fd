// Package dynamodb serves Amazon DynamoDB's API (AWS JSON 1.0,
// X-Amz-Target DynamoDB_20120810.<Operation>) and DynamoDB Streams'
// (DynamoDBStreams_20120810.<Operation>, signed as "dynamodb").
//
// Items live in an embedded ordered key-value store (bbolt, one file
// under the node's data directory): each table a bucket whose keys are
// the order-preserving encoding of the item's primary key (key.go), each
// secondary index a bucket of its own, so Query and Scan read ordered key
// ranges. Every write is one bbolt transaction committed with fsync before
// the answer (concurrent writes share one commit); a change and its stream
// record are written in the same transaction (an outbox) and relayed to a
// JetStream stream per table stream, which Streams' GetRecords and the
// event source mappings read. Numbers are 38-digit decimals
// (cockroachdb/apd), never float64. Expressions (ConditionExpression,
// UpdateExpression, ProjectionExpression, KeyConditionExpression,
// FilterExpression) are parsed by the grammar in expr*.go; PartiQL
// statements (partiql*.go) are translated into those operations and
// expressions. On a cluster the holder of a lease is the table node: it
// runs every request (the others forward theirs over the backbone,
// cluster.go) and appends every commit to a replicated change log before
// answering; every other node follows the log into its own store, so
// another takes over within seconds when the table node dies
// (changelog.go). docs/design/tables.md explains the choices.
//
// The daemon wires it into the front door; the resource providers reach it
// through its API.
package dynamodb
