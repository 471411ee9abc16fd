// Package eventpattern owns AWS's event-pattern language: the JSON patterns of
// EventBridge rules, SNS subscription filter policies (FilterPolicyScope
// MessageAttributes and MessageBody) and Lambda event source mapping
// FilterCriteria.
//
// A pattern is validated and compiled once, by [Compile] with a [Dialect];
// each dialect accepts its own operators, enforces its own limits and reports
// problems as the AWS error its API returns ([Error] carries the AWS error code
// and message). A compiled [Pattern] is immutable and safe for concurrent use.
// Matching parses the event once, keeping only the members a pattern names,
// and evaluates the compiled tree; the parsed form is pooled, so matching
// allocates nothing per event. A [Set] matches many patterns (a bus's rules)
// against one parse of an event and skips the patterns whose required exact
// strings the event lacks; [Pattern.MatchAttributes] matches
// SNS message attributes; [Filters] is a Lambda mapping's FilterCriteria,
// with the [Envelope] of each event source.
//
// The semantics follow aws/event-ruler (the engine behind EventBridge) as its
// README and tests describe it; docs/design/event-patterns.md records each
// decision, the limits and how the dialects differ.
//
// This is a leaf package: it imports no other internal package, and any
// service package (events, sns, eventsource) may import it.
package eventpattern
