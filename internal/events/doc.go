// Package events owns Nimbus's EventBridge: the API (AWS JSON 1.1,
// X-Amz-Target AWSEvents.*, signing name "events") for event buses, rules,
// targets, PutEvents and TestEventPattern; the router that matches stored
// events against a bus's rules and delivers them to targets at least once
// with the target's RetryPolicy; and the scheduler that fires rules with a
// ScheduleExpression (rate and cron, in UTC).
//
// Buses and rules (with their targets) live in the KV bucket
// nimbus_events; every node keeps a compiled copy current through a
// watch. Accepted events live on the work-queue stream NIMBUS_EVENTS
// until routed: PutEvents answers once they are stored there.
//
//	PutEvents ──validate──> stream NIMBUS_EVENTS (put message, fsynced) ──> answer
//	router (every node, one durable consumer):
//	  put message ─> match (internal/eventpattern Set of the bus's rules)
//	              ─> per (rule, target): build the input (Input, InputPath,
//	                 InputTransformer) and deliver once ─┬─ ok
//	                                                     ├─ may pass: retry message (back-off)
//	                                                     └─ cannot pass, or past RetryPolicy: DLQ
//	  retry message ─> not due: NakWithDelay; due: deliver again (as above)
//	scheduler (every node): each due (rule, time) ─> put message with a
//	  Nats-Msg-Id naming both, so the backbone keeps one per firing
//
// Lambda targets are invoked asynchronously through the node's async path
// (internal/async), as EventBridge invokes them; other target services
// plug in as Deliverers and are refused, by name, until they do.
// Patterns compile with internal/eventpattern (dialect EventBridge).
//
// The daemon (wiring) imports this package, and internal/scheduler for
// its schedule expressions (ParseSchedule) and Clock, internal/secretsmanager
// for rotation schedules (ParseSchedule), internal/pipes for its input
// templates (FillTemplate, PathValue).
// docs/design/event-bus.md explains the decisions.
package events
