// Package sfn owns Nimbus's Step Functions: the API (AWS JSON 1.0,
// X-Amz-Target AWSStepFunctions.*, signing name "states") and the engine
// that runs the Amazon States Language (JSONPath): Pass, Task, Choice,
// Wait, Succeed, Fail, Parallel and inline Map; InputPath, Parameters,
// ResultSelector, ResultPath, OutputPath and the context object; the
// intrinsic functions; Retry and Catch; task timeouts and heartbeats;
// callbacks (.waitForTaskToken) and nested executions that wait
// (startExecution.sync, .sync:2). Tasks call Lambda, SQS and EventBridge
// through interfaces the daemon implements with the node's own APIs.
//
// A Standard execution's history is its state (journal.go): a run replays
// the definition against the recorded events and continues where they
// end, so a node killed mid-execution resumes it at restart. Histories
// live on the stream NIMBUS_SFN_HISTORY (compare-and-set appends), state
// machines and executions in the KV bucket nimbus_sfn, and runs that are
// due (starts, the end of a long Wait or Retry interval, a callback) on
// the work-queue stream NIMBUS_SFN_WORK, which every node's runner pulls:
//
//	StartExecution ─> record (KV create) ─> work message ─> runner: replay + run
//	  ├─ ends ─────────────> record status (KV compare-and-set)
//	  ├─ long wait ────────> work message due then (a durable timer, no goroutine)
//	  ├─ waits for token ──> SendTaskSuccess appends the result ─> work message
//	  └─ waits for child ──> the child's end appends the result ─> work message
//
// Express executions (StartSyncExecution, or StartExecution on an EXPRESS
// machine) run in memory, at most five minutes.
//
// Only the daemon (wiring) imports this package. docs/design/workflows.md
// explains the decisions.
package sfn
