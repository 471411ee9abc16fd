// Package scheduler is Nimbus's Amazon EventBridge Scheduler: the API
// (REST-JSON, /schedules and /schedule-groups, signing name "scheduler"),
// schedules and schedule groups in the KV bucket nimbus_scheduler, and
// the firing loop that turns each due time into one durable message on
// the stream NIMBUS_SCHEDULER, from which a consumer delivers the target's
// input through the node's delivery router (internal/deliver), with the
// schedule's RetryPolicy and DeadLetterConfig.
//
// Expressions are at(yyyy-mm-ddThh:mm:ss), rate(value unit) and
// six-field cron(...) read in ScheduleExpressionTimezone; rate and cron
// parsing is internal/events' (the same grammar as EventBridge rules).
// docs/design/scheduler.md has the decisions: how due times survive a
// restart, and why each (schedule, due time) is fired once across nodes.
//
// It imports internal/deliver and internal/events (expressions only);
// the daemon builds it and routes to it; internal/cli reads schedules'
// next firing times with NextFiring (`nimbus schedules`).
package scheduler
