// Package vtl is the subset of the Apache Velocity Template Language that
// API Gateway evaluates in REST API mapping templates: references with
// property and method chains ($a.b.c(), ${a}, $!a), #set, #if / #elseif /
// #else, #foreach (with $foreach.hasNext, .count, .index, .first, .last and
// Velocity 1.7's $velocityCount / $velocityHasNext), #break and #stop,
// comments (## and #* *#), unparsed blocks (#[[ ]]#) and escapes (\$a,
// \#if); expressions with Velocity's literals (strings, numbers, lists,
// ranges, maps) and operators. Values behave as the Java objects API
// Gateway hands its templates: strings, integers and doubles, lists and
// insertion-ordered maps with the Java methods templates call on them
// (size(), get(), keySet(), substring(), replaceAll(), ...).
//
// API Gateway's variables are built by NewInput ($input: body, json(),
// path(), params()), Util ($util: escapeJavaScript, parseJson, urlEncode,
// urlDecode, base64Encode, base64Decode) and the caller's maps for
// $context and $stageVariables. JSONPath in $input.json/path is the subset
// templates use (see jsonpath.go).
//
// Evaluation is bounded: a template larger than MaxTemplate is refused by
// Parse, #foreach stops after 1,000 iterations as API Gateway's does, and
// Execute fails with ErrLimit past a step budget, past MaxOutput bytes of
// output or of any string built, or past a nesting depth. What differs from
// Velocity on purpose: a null reference renders as nothing (API Gateway
// renders missing values empty, not as their source text); #macro,
// #include, #parse, #evaluate and #define are refused at parse time.
//
// Who may import it: package apigw (REST mapping templates). It imports
// only the standard library.
package vtl
