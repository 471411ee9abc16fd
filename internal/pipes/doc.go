// Package pipes is Nimbus's Amazon EventBridge Pipes: the API (REST-JSON,
// /v1/pipes, signing name "pipes"), pipes in the KV bucket nimbus_pipes
// and the runner that moves each running pipe's batches from its source
// (an SQS queue, a DynamoDB stream or a Kinesis stream, through
// internal/esm's QueueSource and StreamSource) past its FilterCriteria
// (the shared matcher), through its enrichment (a Lambda function invoked
// synchronously) and its InputTemplate, to its target (Lambda, SQS, SNS,
// an event bus, Step Functions; through internal/deliver or a synchronous
// invocation). Stream sources keep their checkpoints in nimbus_pipes_pos.
//
// Every change leaves a pipe in a transitional state (CREATING, UPDATING,
// STARTING, STOPPING, DELETING) that the node running the pipes settles
// (run.go has the diagram). In a cluster the pipes run on the holder of
// one lease; docs/design/pipes.md has the decisions.
//
// The daemon builds it and routes to it; nothing else imports it.
package pipes
