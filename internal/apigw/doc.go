// Package apigw is Nimbus's API Gateway: the management APIs of HTTP APIs
// (apigatewayv2, /v2/apis...) and REST APIs (apigateway, /restapis...) as
// the AWS CLI, the SDKs and SAM call them, and the invoke endpoint that
// serves those APIs at http://<api-id>.execute-api.<region>.localhost:<port>/
// with Lambda proxy integrations: route matching with API Gateway's
// precedence, Lambda authorizers (TOKEN and REQUEST, with result caching),
// request validation against JSON Schema models, per-stage and per-route
// throttling, and REST stage response caching; and WebSocket APIs
// (wsapi.go, wsconn.go, wshub.go: connections, the @connections API, and
// the registry that lets any node reach a connection and clean up after
// a dead holder; docs/design/websockets.md). Events and responses are
// built by package httpevent.
//
// State: each API is one JSON document in the backbone's KV bucket
// (apigw.http.<id>, apigw.rest.<id>), written with compare-and-swap; the
// invoke path reads a copy kept current by a KV watch (Run), never the
// backbone.
//
// Who may import it: the daemon (wiring). It imports awsapi, function,
// invoke, httpevent, store and trace.
package apigw
