/**
 * Nimbus runtime client for the managed Node.js runtimes (nodejs18.x ..
 * nodejs24.x). Written for Nimbus; plain CommonJS, no dependencies.
 *
 * It reproduces what AWS's Node.js runtime interface client does as seen
 * from a function: handler loading from _HANDLER (CommonJS, ES modules,
 * .js/.mjs/.cjs, package.json "type"), async/callback/sync handlers with
 * callbackWaitsForEmptyEventLoop, the context object, console patching with
 * the Lambda text/JSON log formats, error shapes and messages, uncaught
 * exception and unhandled rejection handling, and response streaming for
 * awslambda.streamifyResponse handlers. nodejs24.x follows AWS's newer client:
 * callback handlers are refused at init and sync return values are used.
 *
 * Started as `node /var/runtime/nodejs/bootstrap.js` with LAMBDA_TASK_ROOT,
 * _HANDLER and AWS_LAMBDA_RUNTIME_API set.
 */

'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const url = require('url');
const util = require('util');
const Module = require('module');

const EXECUTION_ENV = process.env.AWS_EXECUTION_ENV || '';
const RUNTIME_MAJOR = (() => {
  const m = /^AWS_Lambda_nodejs(\d+)/.exec(EXECUTION_ENV);
  return m ? parseInt(m[1], 10) : parseInt(process.versions.node, 10);
})();
// nodejs24.x runs AWS's rewritten client: no callbacks, sync returns honoured.
const MODERN = RUNTIME_MAJOR >= 24;
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const RUNTIME_DIR =
  process.env.LAMBDA_RUNTIME_DIR || path.resolve(__dirname, '..');

// ---------------------------------------------------------------------------
// Errors

function _isError(obj) {
  return (
    obj &&
    obj.name &&
    obj.message &&
    obj.stack &&
    typeof obj.name === 'string' &&
    typeof obj.message === 'string' &&
    typeof obj.stack === 'string'
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

// The body posted to /error and /init/error: AWS's Node client sends
// toTraceparent turns an X-Ray header (Root=1-<8 hex>-<24 hex>;Parent=<16
// hex>;Sampled=0|1) into a W3C traceparent, or undefined.
function toTraceparent(xray) {
  const fields = {};
  for (const part of (xray || '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      fields[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim().toLowerCase();
    }
  }
  const root = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(fields.root || '');
  if (!root || !/^[0-9a-f]{16}$/.test(fields.parent || '')) {
    return undefined;
  }
  return `00-${root[1]}${root[2]}-${fields.parent}-${fields.sampled === '1' ? '01' : '00'}`;
}

// errorType, errorMessage and trace (not stackTrace).
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || _isError(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: error.stack.split('\n'),
      };
    }
    return {
      errorType: typeof error,
      errorMessage: String(error),
      trace: [],
    };
  } catch (_err) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function _withEnumerableProperties(error) {
  if (error instanceof Error) {
    const ret = Object.assign(
      {
        errorType: error.name,
        errorMessage: error.message,
        code: error.code,
      },
      error,
    );
    if (typeof error.stack === 'string') {
      ret.stack = error.stack.split('\n');
    }
    return ret;
  }
  return error;
}

function toFormatted(error) {
  try {
    return (
      '\t' + JSON.stringify(error, (_k, v) => _withEnumerableProperties(v))
    );
  } catch (_err) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class MalformedStreamingHandler extends Error {}
class CallbackHandlerDeprecated extends Error {}
class JSONStringifyError extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
for (const e of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  MalformedStreamingHandler,
  CallbackHandlerDeprecated,
  JSONStringifyError,
  NodeJsExit,
  UnhandledPromiseRejection,
]) {
  e.prototype.name = `Runtime.${e.name}`;
}

// ---------------------------------------------------------------------------
// Console patching (Lambda log formats on stdout)

const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID_SYMBOL = Symbol.for('aws.lambda.runtime.tenantId');
const structuredConsole = {};

function setCurrentRequestId(id) {
  global[REQUEST_ID_SYMBOL] = id;
}
function setCurrentTenantId(id) {
  global[TENANT_ID_SYMBOL] = id;
}

const jsonErrorReplacer = (_, value) => {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace:
          typeof value.stack === 'string'
            ? value.stack.split('\n')
            : value.stack,
      },
      value,
    );
  }
  return value;
};

function formatJsonMessage(requestId, timestamp, level, ...messageParams) {
  const result = { timestamp, level: level.name, requestId };
  const tenantId = global[TENANT_ID_SYMBOL];
  if (tenantId !== undefined && tenantId !== null) {
    result.tenantId = tenantId;
  }
  if (messageParams.length === 1) {
    result.message = messageParams[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch (_) {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...messageParams);
  for (const param of messageParams) {
    if (param instanceof Error) {
      result.errorType = param?.constructor?.name ?? 'UnknownError';
      result.errorMessage = param.message;
      result.stackTrace =
        typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

function logTextToStdout(level, message, ...params) {
  const time = new Date().toISOString();
  const requestId = global[REQUEST_ID_SYMBOL];
  let line = `${time}\t${requestId}\t${level.name}\t${util.format(
    message,
    ...params,
  )}`;
  line = line.replace(/\n/g, '\r');
  process.stdout.write(line + '\n');
}

function logJsonToStdout(level, message, ...params) {
  const time = new Date().toISOString();
  const requestId = global[REQUEST_ID_SYMBOL];
  let line = formatJsonMessage(requestId, time, level, message, ...params);
  line = line.replace(/\n/g, '\r');
  process.stdout.write(line + '\n');
}

function patchConsole() {
  const json =
    (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const log = json ? logJsonToStdout : logTextToStdout;
  const NopLog = () => {};
  const levels = Object.freeze({
    TRACE: { name: 'TRACE', priority: 1 },
    DEBUG: { name: 'DEBUG', priority: 2 },
    INFO: { name: 'INFO', priority: 3 },
    WARN: { name: 'WARN', priority: 4 },
    ERROR: { name: 'ERROR', priority: 5 },
    FATAL: { name: 'FATAL', priority: 6 },
  });
  const min =
    levels[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ??
    levels.TRACE;
  const at = (level) =>
    level.priority >= min.priority
      ? (msg, ...params) => log(level, msg, ...params)
      : NopLog;
  console.trace = at(levels.TRACE);
  console.debug = at(levels.DEBUG);
  console.info = at(levels.INFO);
  console.log = console.info;
  console.warn = at(levels.WARN);
  console.error = at(levels.ERROR);
  console.fatal = (msg, ...params) => log(levels.FATAL, msg, ...params);
  structuredConsole.logError = json
    ? (_, err) => console.error(intoError(err))
    : (msg, err) => console.error(msg, toFormatted(intoError(err)));
}

// ---------------------------------------------------------------------------
// Module search path: NODE_PATH as AWS sets it, completed for this layout.

function setupNodePath() {
  const want = [
    `/opt/nodejs/node${RUNTIME_MAJOR}/node_modules`,
    '/opt/nodejs/node_modules',
    path.join(RUNTIME_DIR, 'node_modules'),
    RUNTIME_DIR,
    TASK_ROOT,
  ];
  const current = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  const missing = want.filter((p) => !current.includes(p));
  if (missing.length > 0) {
    process.env.NODE_PATH = current.concat(missing).join(path.delimiter);
    Module._initPaths();
  }
}

// ---------------------------------------------------------------------------
// Runtime API client

const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

class RuntimeClient {
  constructor(hostPort) {
    const i = hostPort.lastIndexOf(':');
    this.hostname = hostPort.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    this.port = parseInt(hostPort.slice(i + 1), 10);
    // Idle keep-alive sockets are unref'd by the agent, so they never keep
    // the event loop (and so callbackWaitsForEmptyEventLoop) waiting.
    this.agent = new http.Agent({ keepAlive: true });
  }

  _request(method, p, body, headers, retried) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: p,
          method,
          agent: this.agent,
          headers: Object.assign(
            { 'User-Agent': `aws-lambda-nodejs/${process.version}-nimbus` },
            body !== undefined
              ? { 'Content-Length': Buffer.byteLength(body) }
              : {},
            headers || {},
          ),
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        if (
          method === 'GET' &&
          req.reusedSocket &&
          !retried &&
          err.code === 'ECONNRESET'
        ) {
          // The server closed an idle keep-alive connection.
          this._request(method, p, body, headers, true).then(resolve, reject);
        } else {
          reject(err);
        }
      });
      req.end(body);
    });
  }

  async nextInvocation() {
    const res = await this._request('GET', '/2018-06-01/runtime/invocation/next');
    if (res.status !== 200) {
      throw new Error(
        `Request to Lambda Runtime '/next' endpoint failed. Reason: '${res.status}'. Response body: '${res.body}'`,
      );
    }
    return { bodyJson: res.body.toString('utf8'), headers: res.headers };
  }

  _invocationPath(id, what) {
    return `/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/${what}`;
  }

  postInvocationResponse(response, id, callback) {
    const body = trySerializeResponse(response);
    this._post(this._invocationPath(id, 'response'), body, {
      'Content-Type': 'application/json',
    }).then(callback, fatal);
  }

  postInvocationError(error, id, callback) {
    const response = toRapidResponse(error);
    const headers = {
      'Content-Type': 'application/json',
      [ERROR_TYPE_HEADER]: headerSafe(response.errorType),
    };
    const cause = xrayCause(error);
    if (cause !== undefined) {
      headers['Lambda-Runtime-Function-XRay-Error-Cause'] = cause;
    }
    this._post(
      this._invocationPath(id, 'error'),
      trySerializeResponse(response),
      headers,
    ).then(callback, fatal);
  }

  postInitError(error, callback) {
    const response = toRapidResponse(error);
    this._post('/2018-06-01/runtime/init/error', trySerializeResponse(response), {
      'Content-Type': 'application/json',
      [ERROR_TYPE_HEADER]: headerSafe(response.errorType),
    }).then(callback, () => callback());
  }

  // POSTs a response or an error. A 413, or a connection reset while the
  // body is being sent (how an HTTP server refuses an oversized body), means
  // the Runtime API refused it and reports that outcome itself.
  async _post(p, body, headers) {
    let res;
    try {
      res = await this._request('POST', p, body, headers);
    } catch (err) {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        return;
      }
      throw err;
    }
    if (res.status !== 202 && res.status !== 413) {
      throw new Error(
        `Request to Lambda Runtime '${p}' endpoint failed. Reason: '${res.status}'. Response body: '${res.body}'`,
      );
    }
  }

  // A POST to /response whose body the handler writes: response streaming.
  streamInvocationResponse(id) {
    const req = http.request({
      hostname: this.hostname,
      port: this.port,
      path: this._invocationPath(id, 'response'),
      method: 'POST',
      agent: this.agent,
      headers: {
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        'Content-Type': 'application/octet-stream',
        Trailer: `${ERROR_TYPE_HEADER}, Lambda-Runtime-Function-Error-Body`,
      },
    });
    const done = new Promise((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
    });
    req.setContentType = (contentType) => {
      if (req.headersSent) {
        throw new Error('Content-Type cannot be set after the first write');
      }
      req.setHeader('Content-Type', contentType);
    };
    return { stream: req, done };
  }
}

function headerSafe(value) {
  return String(value).replace(/[^\t\x20-\x7e]/g, '');
}

function xrayCause(error) {
  try {
    const e = intoError(error);
    const stack = (typeof e.stack === 'string' ? e.stack.split('\n') : [])
      .slice(1)
      .map((line) => {
        const m = /^\s*at (?:(.*?) \()?(.*?):(\d+):\d+\)?$/.exec(line);
        return m
          ? { label: m[1] || 'anonymous', path: m[2], line: parseInt(m[3], 10) }
          : null;
      })
      .filter(Boolean);
    const cause = JSON.stringify({
      working_directory: process.cwd(),
      exceptions: [{ type: e.name, message: e.message, stack }],
      paths: [...new Set(stack.map((s) => s.path))],
    });
    return Buffer.byteLength(cause) < 1024 * 1024 ? headerSafe(cause) : undefined;
  } catch (_) {
    return undefined;
  }
}

function trySerializeResponse(body) {
  try {
    return JSON.stringify(body === undefined ? null : body);
  } catch (_err) {
    throw MODERN
      ? new JSONStringifyError('Unable to stringify response body')
      : new Error('Unable to stringify response body');
  }
}

function fatal(err) {
  process.stderr.write(`Nimbus runtime client: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// beforeExit: runs when the event loop is empty.

const BEFORE_EXIT = Symbol.for('aws.lambda.beforeExit');
const NO_OP = () => {};
const BeforeExitListener = {
  invoke: () => global[BEFORE_EXIT](),
  reset: () => (global[BEFORE_EXIT] = NO_OP),
  set: (listener) => (global[BEFORE_EXIT] = listener),
};

// ---------------------------------------------------------------------------
// Handler loading

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for(
  'aws.lambda.runtime.handler.streaming.highWaterMark',
);
const STREAM_RESPONSE = 'response';

// require() rooted where AWS's client lives, so "Require stack" reads as on AWS.
const runtimeRequire = Module.createRequire(path.join(RUNTIME_DIR, 'index.mjs'));

function moduleRootAndHandler(fullHandlerString) {
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(
    0,
    fullHandlerString.indexOf(handlerString),
  );
  return [moduleRoot, handlerString];
}

function splitHandlerString(handler) {
  const match = handler.match(FUNCTION_EXPR);
  if (!match || match.length !== 3) {
    throw new MalformedHandlerName('Bad handler');
  }
  return [match[1], match[2]];
}

function resolveHandler(object, nestedProperty) {
  const find = (obj) =>
    nestedProperty.split('.').reduce((nested, key) => nested && nested[key], obj);
  let handler = find(object);
  if (!handler && MODERN && object && typeof object === 'object' && 'default' in object) {
    handler = find(object.default);
  }
  return handler;
}

function tryRequireFile(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? runtimeRequire(p) : undefined;
}

async function tryAwaitImport(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? await import(url.pathToFileURL(p).href) : undefined;
}

function hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) {
    return false;
  }
  const pj = path.join(folder, '/package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) {
        return pkg.type === 'module';
      }
    } catch (e) {
      console.warn(
        `${pj} cannot be read, it will be ignored for ES module detection purposes.`,
        e,
      );
      return false;
    }
  }
  if (folder === '/') {
    return false;
  }
  return hasFolderPackageJsonTypeModule(path.resolve(folder, '..'));
}

async function tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);
  const supportsTs = parseInt(process.versions.node, 10) >= 24;

  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) {
    return extensionless;
  }

  const pjHasModule = hasFolderPackageJsonTypeModule(
    path.resolve(path.dirname(lambdaStylePath)),
  );
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) {
      return loaded;
    }
  }

  const loaded =
    (pjHasModule && (await tryAwaitImport(lambdaStylePath, '.js'))) ||
    (await tryAwaitImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs') ||
    (supportsTs && !pjHasModule && tryRequireFile(lambdaStylePath, '.ts')) ||
    (supportsTs && pjHasModule && (await tryAwaitImport(lambdaStylePath, '.ts'))) ||
    (supportsTs && (await tryAwaitImport(lambdaStylePath, '.mts'))) ||
    (supportsTs && tryRequireFile(lambdaStylePath, '.cts'));
  if (loaded) {
    return loaded;
  }

  // Fall back to Node's own resolution (node_modules, NODE_PATH).
  const nodeStylePath = runtimeRequire.resolve(module, {
    paths: [appRoot, moduleRoot],
  });
  return runtimeRequire(nodeStylePath);
}

async function loadUserApp(appRoot, moduleRoot, module) {
  try {
    return await tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new UserCodeSyntaxError(e);
    } else if (e.code !== undefined && e.code === 'MODULE_NOT_FOUND') {
      throw new ImportModuleError(e);
    } else {
      throw e;
    }
  }
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const [moduleRoot, moduleAndHandler] = moduleRootAndHandler(fullHandlerString);
  const [module, handlerPath] = splitHandlerString(moduleAndHandler);
  const userApp = await loadUserApp(appRoot, moduleRoot, module);
  const handlerFunc = resolveHandler(userApp, handlerPath);
  if (!handlerFunc) {
    throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  }
  if (typeof handlerFunc !== 'function') {
    throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handlerFunc;
}

function handlerMetadata(handler) {
  let streaming = false;
  const mark = handler[HANDLER_STREAMING];
  if (mark !== undefined && mark !== null && mark !== false) {
    if (mark !== STREAM_RESPONSE) {
      throw new MalformedStreamingHandler('Only response streaming is supported.');
    }
    streaming = true;
  }
  let isAsync = false;
  try {
    isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  } catch (_) {
    isAsync = false;
  }
  return { streaming, isAsync, argsNum: handler.length };
}

const CALLBACK_ERROR_NODEJS24_ABOVE =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

// awslambda global: streamifyResponse and HttpResponseStream, as on AWS.
class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(
      'application/vnd.awslambda.http-integration-response',
    );
    underlyingStream.write(JSON.stringify(prelude));
    underlyingStream.write(new Uint8Array(8));
    return underlyingStream;
  }
}

function installAwsLambdaGlobal() {
  const off = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') {
    return;
  }
  globalThis.awslambda = {
    streamifyResponse: (handler, options) => {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') {
        handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark, 10);
      }
      return handler;
    },
    HttpResponseStream,
  };
}

// ---------------------------------------------------------------------------
// Invoke context

function parseJsonHeader(value, name) {
  if (value === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

class InvokeContext {
  constructor(headers) {
    this.headers = {};
    for (const k of Object.keys(headers)) {
      this.headers[k.toLowerCase()] = headers[k];
    }
  }

  get invokeId() {
    const id = this.headers['lambda-runtime-aws-request-id'];
    if (!id) {
      throw new Error('invocation id is missing or invalid');
    }
    return id;
  }

  get tenantId() {
    return this.headers['lambda-runtime-aws-tenant-id'];
  }

  updateLoggingContext() {
    setCurrentRequestId(this.invokeId);
    setCurrentTenantId(this.tenantId);
  }

  attachEnvironmentData(callbackContext) {
    const trace = this.headers['lambda-runtime-trace-id'];
    if (trace) {
      process.env._X_AMZN_TRACE_ID = trace;
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    // The same ids as a W3C traceparent (OpenTelemetry's environment
    // carrier), for code instrumented with OpenTelemetry; a Nimbus addition.
    const traceparent = toTraceparent(trace);
    if (traceparent) {
      process.env.TRACEPARENT = traceparent;
    } else {
      delete process.env.TRACEPARENT;
    }
    const deadline = parseInt(this.headers['lambda-runtime-deadline-ms'], 10);
    return Object.assign(
      callbackContext,
      {
        functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      },
      {
        clientContext: parseJsonHeader(
          this.headers['lambda-runtime-client-context'],
          'ClientContext',
        ),
        identity: parseJsonHeader(
          this.headers['lambda-runtime-cognito-identity'],
          'CognitoIdentity',
        ),
        invokedFunctionArn: this.headers['lambda-runtime-invoked-function-arn'],
        awsRequestId: this.headers['lambda-runtime-aws-request-id'],
        tenantId: this.headers['lambda-runtime-aws-tenant-id'],
        getRemainingTimeInMillis: function () {
          return deadline - Date.now();
        },
      },
    );
  }
}

// ---------------------------------------------------------------------------
// Callback context (callback, succeed/fail/done, callbackWaitsForEmptyEventLoop)

function buildCallbackContext(client, id, scheduleNext) {
  const postError = (err, callback) => {
    structuredConsole.logError('Invoke Error', err);
    client.postInvocationError(err, id, callback);
  };

  let isCompleteInvoked = false;
  const complete = (result, callback) => {
    if (isCompleteInvoked) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    isCompleteInvoked = true;
    let body;
    try {
      body = trySerializeResponse(result);
    } catch (err) {
      postError(err, callback);
      return;
    }
    client
      ._post(client._invocationPath(id, 'response'), body, {
        'Content-Type': 'application/json',
      })
      .then(callback, fatal);
  };

  let waitForEmptyEventLoop = true;

  const callback = function (err, result) {
    BeforeExitListener.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      BeforeExitListener.set(() => {
        setImmediate(() => {
          complete(result, scheduleNext);
        });
      });
    }
  };

  const done = (err, result) => {
    BeforeExitListener.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };
  const succeed = (result) => done(null, result);
  const fail = (err) => {
    if (err === undefined || err === null) {
      done('handled');
    } else {
      done(err, null);
    }
  };

  const callbackContext = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed,
    fail,
    done,
  };

  // Only the first call of any of them counts.
  let finished = false;
  const onlyFirst = (fn) =>
    function () {
      if (!finished) {
        fn.apply(null, arguments);
        finished = true;
      }
    };
  callbackContext.succeed = onlyFirst(callbackContext.succeed);
  callbackContext.fail = onlyFirst(callbackContext.fail);
  callbackContext.done = onlyFirst(callbackContext.done);

  return [
    onlyFirst(callback),
    callbackContext,
    () => {
      isCompleteInvoked = true;
    },
  ];
}

function isPromise(obj) {
  return obj && obj.then && typeof obj.then === 'function';
}

// ---------------------------------------------------------------------------
// Runtime loop

class Runtime {
  constructor(client, handler, metadata, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.metadata = metadata;
    this.errorCallbacks = errorCallbacks;
    if (metadata.streaming) {
      this.handleOnce = this.handleOnceStreaming;
    } else if (MODERN) {
      this.handleOnce = this.handleOnceModern;
    } else {
      this.handleOnce = this.handleOnceNonStreaming;
    }
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().then(
        () => {},
        (err) => {
          console.log(`Unexpected Top Level Error: ${err.toString()}`);
          this.errorCallbacks.uncaughtException(err);
        },
      );
    });
  }

  async next() {
    const { bodyJson, headers } = await this.client.nextInvocation();
    const invokeContext = new InvokeContext(headers);
    invokeContext.updateLoggingContext();
    this.setErrorCallbacks(invokeContext.invokeId);
    return { bodyJson, invokeContext };
  }

  // nodejs18.x .. nodejs22.x: AWS's classic client.
  async handleOnceNonStreaming() {
    const { bodyJson, invokeContext } = await this.next();
    const id = invokeContext.invokeId;
    const [callback, callbackContext, markCompleted] = buildCallbackContext(
      this.client,
      id,
      this.scheduleIteration.bind(this),
    );
    try {
      this.setDefaultExitListener(id, markCompleted);
      const result = this.handler(
        JSON.parse(bodyJson),
        invokeContext.attachEnvironmentData(callbackContext),
        callback,
      );
      if (isPromise(result)) {
        result
          .then(callbackContext.succeed, callbackContext.fail)
          .catch(callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  // nodejs24.x: the handler's result (or its promise's) is the response.
  async handleOnceModern() {
    const { bodyJson, invokeContext } = await this.next();
    const id = invokeContext.invokeId;
    let settled = false;
    BeforeExitListener.set(() => {
      if (!settled) {
        settled = true;
        const err = new NodeJsExit();
        structuredConsole.logError('Invoke Error', err);
        this.client.postInvocationError(err, id, () => this.scheduleIteration());
      }
    });
    let outcome;
    try {
      const context = invokeContext.attachEnvironmentData({
        callbackWaitsForEmptyEventLoop: true,
      });
      outcome = { result: await this.handler(JSON.parse(bodyJson), context) };
    } catch (err) {
      outcome = { err };
    }
    if (settled) {
      return;
    }
    settled = true;
    BeforeExitListener.reset();
    const next = () => this.scheduleIteration();
    if ('err' in outcome) {
      structuredConsole.logError('Invoke Error', outcome.err);
      this.client.postInvocationError(outcome.err, id, next);
      return;
    }
    let body;
    try {
      body = trySerializeResponse(outcome.result);
    } catch (err) {
      structuredConsole.logError('Invoke Error', err);
      this.client.postInvocationError(err, id, next);
      return;
    }
    this.client
      ._post(this.client._invocationPath(id, 'response'), body, {
        'Content-Type': 'application/json',
      })
      .then(next, fatal);
  }

  // awslambda.streamifyResponse handlers: handler(event, responseStream, context).
  async handleOnceStreaming() {
    const { bodyJson, invokeContext } = await this.next();
    const id = invokeContext.invokeId;
    const { stream, done } = this.client.streamInvocationResponse(id);
    const next = () => this.scheduleIteration();
    BeforeExitListener.reset();
    const failStream = (err) => {
      structuredConsole.logError('Invoke Error', err);
      const response = toRapidResponse(intoError(err));
      if (!stream.writableEnded) {
        stream.addTrailers({
          [ERROR_TYPE_HEADER]: headerSafe(response.errorType),
          'Lambda-Runtime-Function-Error-Body': Buffer.from(
            JSON.stringify(response),
          ).toString('base64'),
        });
        stream.end();
      }
    };
    try {
      const context = invokeContext.attachEnvironmentData({});
      const result = this.handler(JSON.parse(bodyJson), stream, context);
      if (!isPromise(result)) {
        failStream(new Error('Streaming does not support non-async handlers.'));
      } else {
        const value = await result;
        if (typeof value !== 'undefined') {
          console.warn('Streaming handlers ignore return values.');
        }
        if (!stream.writableEnded) {
          failStream(new Error('Response stream is not finished.'));
        }
      }
    } catch (err) {
      failStream(err);
    }
    try {
      await done;
    } catch (err) {
      fatal(err);
    }
    next();
  }

  setErrorCallbacks(invokeId) {
    this.errorCallbacks.uncaughtException = (error) => {
      this.client.postInvocationError(error, invokeId, () => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      this.client.postInvocationError(error, invokeId, () => process.exit(128));
    };
  }

  // If the event loop empties before the handler reports: an async handler
  // whose promise never settled fails; anything else succeeds with null.
  setDefaultExitListener(invokeId, markCompleted) {
    BeforeExitListener.set(() => {
      markCompleted();
      if (this.metadata.isAsync) {
        const err = new NodeJsExit();
        structuredConsole.logError('Invoke Error', err);
        this.client.postInvocationError(err, invokeId, () =>
          this.scheduleIteration(),
        );
      } else {
        this.client.postInvocationResponse(null, invokeId, () =>
          this.scheduleIteration(),
        );
      }
    });
  }
}

// ---------------------------------------------------------------------------
// Entry point

async function main() {
  patchConsole();
  setupNodePath();
  const client = new RuntimeClient(
    process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001',
  );

  const errorCallbacks = {
    uncaughtException: (error) => {
      client.postInitError(error, () => process.exit(129));
    },
    unhandledRejection: (error) => {
      client.postInitError(error, () => process.exit(128));
    },
  };

  process.on('uncaughtException', (error) => {
    structuredConsole.logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    structuredConsole.logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });

  BeforeExitListener.reset();
  process.on('beforeExit', BeforeExitListener.invoke);

  installAwsLambdaGlobal();
  let handler;
  let metadata;
  try {
    handler = await loadHandler(TASK_ROOT, process.env._HANDLER || '');
    metadata = handlerMetadata(handler);
    if (MODERN && metadata.argsNum >= 3 && !metadata.streaming) {
      throw new CallbackHandlerDeprecated(CALLBACK_ERROR_NODEJS24_ABOVE);
    }
  } catch (err) {
    // On AWS this surfaces as an uncaught exception of the init phase.
    structuredConsole.logError('Uncaught Exception', err);
    errorCallbacks.uncaughtException(err);
    return;
  }
  new Runtime(client, handler, metadata, errorCallbacks).scheduleIteration();
}

main();
