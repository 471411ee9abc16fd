// Package runtimes owns the managed runtimes Nimbus can run: the catalogue
// of AWS runtime identifiers (provided.al2023, python3.12, nodejs20.x, ...),
// the check that this host has an interpreter for each family, and the
// runtime clients written for Nimbus (a Python and a Node.js bootstrap and
// a Java jar, embedded in the binary under clients/) together with the argv and
// environment that start them inside an execution environment.
//
// The control plane calls Lookup to validate a function's Runtime; the pool
// calls WriteFiles once to lay out LAMBDA_RUNTIME_DIR, then Command and Env
// for every environment it starts (with the working directory at the task
// root, as on AWS). It imports only awsapi; anyone may import it.
//
// # Catalogue
//
//   - provided.al2023, provided.al2 and provided run taskRoot/bootstrap.
//     "provided" (Amazon Linux 1) is accepted and behaves exactly like
//     provided.al2: AWS blocks creating functions on it since 2024, but its
//     contract (an executable ./bootstrap) is unchanged and refusing it
//     would only stop old zips from running.
//   - python3.9 ... python3.14 and nodejs18.x ... nodejs24.x each run on
//     the interpreter the operator maps to them (SetInterpreters, the
//     server's --runtime-interpreter python3.12=/usr/bin/python3.12), else
//     on an executable on PATH named for their version that reports it
//     (python3.12, node22), else on the host's python3 / node whatever its
//     version (python3 >= 3.8 and node >= 16 are required). The version
//     that really runs is reported (Runtime.Interpreter: INIT_START,
//     `nimbus doctor`, `nimbus runtimes`), and Runtime.OlderInterpreter
//     says when it is older than the runtime's (the Lambda API warns or,
//     with --runtime-version-check refuse, refuses). Code that needs a
//     newer language version than the interpreter's fails as it would on
//     that version. The clients read AWS_EXECUTION_ENV to keep the
//     per-runtime differences of AWS's own clients: python3.12+ writes
//     non-ASCII JSON unescaped; nodejs24.x refuses callback handlers
//     (Runtime.CallbackHandlerDeprecated), uses a sync handler's return
//     value and has no context.succeed/fail/done.
//   - java17, java21 and java25 run on the host's JDK (see JDKs): javaN
//     on JDK N, else on the oldest newer JDK the host has (Java runs older
//     releases' classes), and is refused, naming the JDK it needs, when
//     there is none. The client (clients/java/nimbus-java-runtime.jar,
//     built from javaclient/src by javaclient/build.sh and committed, so
//     building Nimbus needs no JDK; TestJavaClientJarIsCurrent fails while
//     it is stale) is written against the JDK alone and finds
//     aws-lambda-java-core's interfaces by name in the function's own
//     jars. The JVM starts with AWS's flags: heap 85% of MemorySize,
//     serial GC, C1 only; JAVA_TOOL_OPTIONS is the JVM's own.
//   - Runtimes AWS deprecated and Nimbus has no interpreter for (python2.7,
//     python3.6-3.8, nodejs12.x-16.x, go1.x, java8, dotnetcore*, ruby2.x,
//     ...) are refused with AWS's own "no longer supported" message; current
//     AWS runtimes of other languages (java*, dotnet*, ruby*) are refused as
//     not supported on this server. Every refusal lists Supported().
//
// # Runtime clients
//
// The clients speak the Runtime API (/2018-06-01/runtime/...) like AWS's
// awslambdaric (Python) and aws-lambda-nodejs-runtime-interface-client:
// same handler resolution, init and invoke error types and messages, error
// bodies ({"errorMessage","errorType","requestId","stackTrace"} for Python,
// {"errorType","errorMessage","trace"} for Node, {"errorMessage","errorType",
// "stackTrace"} for Java, as AWS sends them), context
// objects, log line formats (Text and JSON, AWS_LAMBDA_LOG_LEVEL) and exit
// codes (Python 1 after an init error; Node 129 after an uncaught exception,
// 128 after an unhandled rejection). They need only the standard library of
// the host interpreter.
//
// # AWS SDKs
//
// As on Lambda, the Node.js runtimes provide the AWS SDK for JavaScript v3
// at /var/runtime/node_modules and the Python runtimes boto3, after the
// function's own copy and its layers (sdk.go): InstallNodeSDK runs npm ci
// of the package-lock.json in sdk/nodejs, InstallPythonSDK copies boto3
// from a host interpreter. `nimbus runtimes install` and the server's
// first start call them.
//
// Known differences from AWS: logs
// go to stdout, never to a telemetry file descriptor; Python Decimal
// results are written as int or float (AWS's simplejson writes them
// exactly); Node heap limits are left to node's own cgroup detection.
// Java: POJOs are (de)serialised by our own reader following AWS's Jackson
// settings for strings, numbers, booleans, enums, maps, collections,
// arrays, Optional and beans (setters/getters, public fields); Jackson
// annotations, java.time types and the aws-lambda-java-events classes'
// special cases are not applied; AWS_LAMBDA_LOG_FORMAT=JSON is not applied
// to Java logs; no SnapStart and no CRaC hooks.
package runtimes
