"""Nimbus runtime client for the managed Python runtimes (python3.9 .. python3.14).

Written for Nimbus, pure standard library. It reproduces what AWS's own
client (awslambdaric, which /var/runtime/bootstrap runs on AWS) does as seen
from a function: handler resolution from _HANDLER, the init and invoke error
shapes and messages, the context object, the root logger format and
unbuffered stdout. Started as `python3 /var/runtime/python/bootstrap.py` with
LAMBDA_TASK_ROOT, _HANDLER and AWS_LAMBDA_RUNTIME_API set.
"""

import decimal
import http.client
import importlib
import json
import logging
import math
import os
import sys
import time
import traceback
import urllib.parse

ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"  # NO-BREAK SPACE U+00A0

_EXECUTION_ENV = os.environ.get("AWS_EXECUTION_ENV", "")
_LOG_FORMAT_JSON = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
_LOG_LEVEL = {"": "", "TRACE": "DEBUG"}.get(
    (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper(),
    (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper(),
)

UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: "
    "Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"
    LAMBDA_RUNTIME_CLIENT_ERROR = "Runtime.LambdaRuntimeClientError"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


# --- JSON --------------------------------------------------------------------


def _ensure_ascii():
    # AWS's marshaller emits raw UTF-8 from python3.12 on, \u escapes before.
    prefix = "AWS_Lambda_python3."
    if _EXECUTION_ENV.startswith(prefix):
        try:
            return int(_EXECUTION_ENV[len(prefix):]) < 12
        except ValueError:
            pass
    return True


class Encoder(json.JSONEncoder):
    def __init__(self):
        super().__init__(ensure_ascii=_ensure_ascii())

    def default(self, obj):
        # awslambdaric (simplejson) writes Decimals as numbers.
        if isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return math.nan
            if obj == obj.to_integral_value():
                return int(obj)
            return float(obj)
        return super().default(obj)


_ENCODER = Encoder()


def to_json(obj):
    return _ENCODER.encode(obj)


def unmarshal_request(body, content_type):
    if content_type and not content_type.startswith("application/json"):
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise FaultException(
            FaultException.UNMARSHAL_ERROR,
            "Unable to unmarshal input: {}".format(str(e)),
            None,
        )


def marshal_response(response):
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return _ENCODER.encode(response).encode("utf-8"), "application/json"
    except Exception as e:
        raise FaultException(
            FaultException.MARSHAL_ERROR,
            "Unable to marshal response: {}".format(str(e)),
            None,
        )


# --- Runtime API client ------------------------------------------------------


class RuntimeClientError(Exception):
    def __init__(self, endpoint, response_code, response_body):
        super().__init__(
            "Request to Lambda Runtime '{}' endpoint failed. Reason: '{}'. Response body: '{}'".format(
                endpoint, response_code, response_body
            )
        )


class InvocationRequest(object):
    def __init__(self, **kwds):
        self.__dict__.update(kwds)


class LambdaRuntimeClient(object):
    def __init__(self, address):
        self.address = address
        self.conn = None
        self.user_agent = "aws-lambda-python/{}.{}.{}-nimbus".format(*sys.version_info[:3])

    def _request(self, method, path, body=None, headers=None):
        hdrs = {"User-Agent": self.user_agent}
        if headers:
            hdrs.update(headers)
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                # No timeout: /next blocks until there is an event, and the
                # environment may be frozen for a long time in between.
                self.conn = http.client.HTTPConnection(self.address, timeout=None)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if method == "GET" and attempt == 0 and reused:
                    continue  # the server closed an idle keep-alive connection
                raise
            if resp.will_close:
                self.conn.close()
                self.conn = None
            return resp, data

    def _post(self, endpoint, body, headers):
        """POSTs a response or an error. Returns False if the Runtime API
        refused it (413 Payload Too Large, or the connection reset while the
        body was being sent, which is how an HTTP server refuses an
        oversized body); the Runtime API reports that outcome itself."""
        try:
            resp, data = self._request("POST", endpoint, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            return False
        if resp.status == 413:
            return False
        if resp.status != 202:
            raise RuntimeClientError(endpoint, resp.status, data)
        return True

    def wait_next_invocation(self):
        endpoint = "/2018-06-01/runtime/invocation/next"
        resp, body = self._request("GET", endpoint)
        if resp.status != 200:
            raise RuntimeClientError(endpoint, resp.status, body)
        h = resp.headers
        return InvocationRequest(
            invoke_id=h.get("Lambda-Runtime-Aws-Request-Id"),
            x_amzn_trace_id=h.get("Lambda-Runtime-Trace-Id"),
            invoked_function_arn=h.get("Lambda-Runtime-Invoked-Function-Arn"),
            deadline_time_in_ms=h.get("Lambda-Runtime-Deadline-Ms"),
            client_context=h.get("Lambda-Runtime-Client-Context"),
            cognito_identity=h.get("Lambda-Runtime-Cognito-Identity"),
            tenant_id=h.get("Lambda-Runtime-Aws-Tenant-Id"),
            content_type=h.get("Content-Type"),
            event_body=body,
        )

    def _invocation_path(self, invoke_id, what):
        return "/2018-06-01/runtime/invocation/{}/{}".format(
            urllib.parse.quote(invoke_id or "", safe=""), what
        )

    def post_invocation_result(self, invoke_id, result_data, content_type):
        self._post(
            self._invocation_path(invoke_id, "response"),
            result_data,
            {"Content-Type": content_type},
        )

    def post_invocation_error(self, invoke_id, error_result, xray_fault):
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": error_result.get("errorType") or "Unhandled",
        }
        if xray_fault and len(xray_fault.encode("utf-8")) < 1024 * 1024:
            headers["Lambda-Runtime-Function-XRay-Error-Cause"] = xray_fault
        self._post(
            self._invocation_path(invoke_id, "error"),
            to_json(error_result).encode("utf-8"),
            headers,
        )

    def post_init_error(self, error_result):
        self._post(
            "/2018-06-01/runtime/init/error",
            to_json(error_result).encode("utf-8"),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": error_result.get("errorType") or "Unhandled",
            },
        )


# --- context -------------------------------------------------------------------


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id

        self.client_context = make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = make_obj_from_dict(
                Client, self.client_context.client
            )

        self.identity = make_obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get(
                "cognitoIdentityPoolId"
            )

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        epoch_now_in_ms = int(time.time() * 1000)
        delta_ms = self._epoch_deadline_time_in_ms - epoch_now_in_ms
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        for handler in logging.getLogger().handlers:
            if hasattr(handler, "log_sink"):
                handler.log_sink.log(str(msg))
                return
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "{}([aws_request_id={},log_group_name={},log_stream_name={},"
            "function_name={},memory_limit_in_mb={},function_version={},"
            "invoked_function_arn={},client_context={},identity={},tenant_id={}])"
        ).format(
            self.__class__.__name__,
            self.aws_request_id,
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
            self.invoked_function_arn,
            self.client_context,
            self.identity,
            self.tenant_id,
        )


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "{}([cognito_identity_id={},cognito_identity_pool_id={}])".format(
            self.__class__.__name__, self.cognito_identity_id, self.cognito_identity_pool_id
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            "{}([installation_id={},app_title={},app_version_name={},"
            "app_version_code={},app_package_name={}])"
        ).format(
            self.__class__.__name__,
            self.installation_id,
            self.app_title,
            self.app_version_name,
            self.app_version_code,
            self.app_package_name,
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "{}([custom={},env={},client={}])".format(
            self.__class__.__name__, self.custom, self.env, self.client
        )


def make_obj_from_dict(_class, _dict):
    if _dict is None:
        return None
    obj = _class()
    for field in _class.__slots__:
        setattr(obj, field, _dict.get(field, None))
    return obj


def parse_json_header(header, name):
    try:
        return json.loads(header)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, str(e)),
            None,
        )


def create_lambda_context(
    client_context_json,
    cognito_identity_json,
    epoch_deadline_time_in_ms,
    invoke_id,
    invoked_function_arn,
    tenant_id,
):
    client_context = None
    if client_context_json:
        client_context = parse_json_header(client_context_json, "Client Context")
    cognito_identity = None
    if cognito_identity_json:
        cognito_identity = parse_json_header(cognito_identity_json, "Cognito Identity")
    try:
        deadline = int(epoch_deadline_time_in_ms)
    except (TypeError, ValueError):
        deadline = 0
    return LambdaContext(
        invoke_id,
        client_context,
        cognito_identity,
        deadline,
        invoked_function_arn,
        tenant_id,
    )


# --- logging -------------------------------------------------------------------

_GLOBAL_AWS_REQUEST_ID = None
_GLOBAL_TENANT_ID = None

_RESERVED_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename",
    "module", "exc_info", "exc_text", "stack_info", "lineno", "funcName",
    "created", "msecs", "relativeCreated", "thread", "threadName",
    "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
    "taskName",
}


class Unbuffered(object):
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        pass

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


class StandardLogSink(object):
    def log(self, msg, frame_type=None):
        sys.stdout.write(msg)

    def log_error(self, message_lines):
        sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(message_lines) + "\n")


class LambdaLoggerHandler(logging.Handler):
    def __init__(self, log_sink):
        logging.Handler.__init__(self)
        self.log_sink = log_sink

    def emit(self, record):
        try:
            self.log_sink.log(self.format(record))
        except Exception:
            self.handleError(record)


class LambdaLoggerFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _GLOBAL_AWS_REQUEST_ID or ""
        record.tenant_id = _GLOBAL_TENANT_ID
        return True


class JsonFormatter(logging.Formatter):
    _encoder = json.JSONEncoder(ensure_ascii=False, default=str)

    def __init__(self):
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%S")

    def formatTime(self, record, datefmt=None):
        t = time.gmtime(record.created)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % int(record.msecs)

    def format(self, record):
        levelno = min(50, max(0, record.levelno)) // 10 * 10
        record.levelno = levelno
        record.levelname = logging.getLevelName(levelno)
        exc = record.exc_info
        result = {
            "timestamp": self.formatTime(record),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc[2]) if exc else None,
            "errorType": exc[0].__name__ if exc else None,
            "errorMessage": str(exc[1]) if exc else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": "{}:{}:{}".format(record.pathname, record.funcName, record.lineno)
            if exc
            else None,
        }
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED_FIELDS and key not in result:
                result[key] = value
        result = {k: v for k, v in result.items() if v is not None}
        return self._encoder.encode(result) + "\n"


def _setup_logging(log_sink):
    logging.Formatter.converter = time.gmtime
    logger = logging.getLogger()
    handler = LambdaLoggerHandler(log_sink)
    if _LOG_FORMAT_JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    if _LOG_LEVEL in logging._nameToLevel:
        logger.setLevel(_LOG_LEVEL)
    handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(handler)


def replace_line_indentation(line, indent_char, new_indent_char):
    count = 0
    for c in line:
        if c != indent_char:
            break
        count += 1
    return (new_indent_char * count) + line[count:]


def log_error(error_result, log_sink):
    if _LOG_FORMAT_JSON:
        record = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time())),
            "level": "ERROR",
        }
        record.update(error_result)
        log_sink.log(to_json(record) + "\n")
        return

    description = "[ERROR]"
    error_type = error_result.get("errorType")
    if error_type:
        description += " " + error_type
    error_message = error_result.get("errorMessage")
    if error_message:
        if error_type:
            description += ":"
        description += " " + error_message
    lines = [description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                for trace_line in element.splitlines():
                    lines.append(replace_line_indentation(trace_line, " ", ERROR_LOG_IDENT))
    log_sink.log_error(lines)


# --- errors --------------------------------------------------------------------


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def extract_traceback(tb):
    return [
        (frame.filename, frame.lineno, frame.name, frame.line)
        for frame in traceback.extract_tb(tb)
    ]


def _user_frames(tb):
    # Drop the runtime's own leading frames, as awslambdaric does.
    tb_tuples = extract_traceback(tb)
    for i in range(len(tb_tuples)):
        if "/bootstrap.py" not in tb_tuples[i][0]:
            return tb_tuples[i:]
    return tb_tuples


def build_fault_result(exc_info, msg):
    etype, value, tb = exc_info
    return make_error(
        msg if msg else str(value),
        etype.__name__,
        traceback.format_list(_user_frames(tb)),
    )


def make_xray_fault(ex_type, ex_msg, working_dir, tb_tuples):
    stack = []
    files = set()
    for tb_file, tb_line, tb_method, _ in tb_tuples:
        stack.append({"label": tb_method, "path": tb_file, "line": tb_line})
        files.add(tb_file)
    return {
        "working_directory": working_dir,
        "exceptions": [{"message": ex_msg, "type": ex_type, "stack": stack}],
        "paths": list(files),
    }


# --- handler -------------------------------------------------------------------


def _get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME,
            "Bad handler '{}': {}".format(handler, str(e)),
        )

    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        m = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, str(e)),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )

    try:
        request_handler = getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
            None,
        )
    return request_handler


def handle_event_request(client, request_handler, invocation, log_sink):
    invoke_id = invocation.invoke_id
    error_result = None
    xray_fault = None
    try:
        lambda_context = create_lambda_context(
            invocation.client_context,
            invocation.cognito_identity,
            invocation.deadline_time_in_ms,
            invoke_id,
            invocation.invoked_function_arn,
            invocation.tenant_id,
        )
        event = unmarshal_request(invocation.event_body, invocation.content_type)
        response = request_handler(event, lambda_context)
        result, result_content_type = marshal_response(response)
    except FaultException as e:
        xray_fault = make_xray_fault("LambdaValidationError", e.msg, os.getcwd(), [])
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        tb_tuples = _user_frames(tb)
        xray_fault = make_xray_fault(etype.__name__, str(value), os.getcwd(), tb_tuples)
        error_result = make_error(
            str(value), etype.__name__, traceback.format_list(tb_tuples), invoke_id
        )

    if error_result is not None:
        log_error(error_result, log_sink)
        client.post_invocation_error(invoke_id, error_result, to_json(xray_fault))
    else:
        client.post_invocation_result(invoke_id, result, result_content_type)


def update_xray_env_variable(xray_trace_id):
    if xray_trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = xray_trace_id
    elif "_X_AMZN_TRACE_ID" in os.environ:
        del os.environ["_X_AMZN_TRACE_ID"]
    # The same ids as a W3C traceparent (OpenTelemetry's environment
    # carrier), for code instrumented with OpenTelemetry; a Nimbus addition.
    traceparent = _traceparent(xray_trace_id)
    if traceparent:
        os.environ["TRACEPARENT"] = traceparent
    elif "TRACEPARENT" in os.environ:
        del os.environ["TRACEPARENT"]


def _traceparent(xray_trace_id):
    fields = {}
    for part in (xray_trace_id or "").split(";"):
        key, _, value = part.strip().partition("=")
        fields[key.strip().lower()] = value.strip().lower()
    root, parent = fields.get("root", ""), fields.get("parent", "")
    hexdigits = "0123456789abcdef"
    if (len(root) != 35 or not root.startswith("1-") or root[10] != "-" or len(parent) != 16
            or any(c not in hexdigits for c in root[2:10] + root[11:] + parent)):
        return None
    flags = "01" if fields.get("sampled") == "1" else "00"
    return "00-" + root[2:10] + root[11:] + "-" + parent + "-" + flags


def _setup_sys_path(task_root):
    # As on AWS: the task root first, then the layer paths, then the runtime's
    # boto3 (Nimbus keeps it in sdk/python of the runtime directory; see
    # internal/runtimes/sdk.go), all before the interpreter's own
    # site-packages; the runtime client's directory is not importable.
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != here]
    host = "%d.%d" % sys.version_info[:2]
    front = [task_root, "/opt/python/lib/python%s/site-packages" % host]
    declared = _EXECUTION_ENV[len("AWS_Lambda_python"):] if _EXECUTION_ENV.startswith("AWS_Lambda_python") else ""
    if declared and declared != host:
        front.append("/opt/python/lib/python%s/site-packages" % declared)
    front.append("/opt/python")
    front.append(os.path.join(os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime"), "sdk", "python"))
    sys.path[0:0] = [p for p in front if p not in sys.path]


def main():
    global _GLOBAL_AWS_REQUEST_ID, _GLOBAL_TENANT_ID

    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)

    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    handler = os.environ.get("_HANDLER", "")
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    _setup_sys_path(task_root)

    client = LambdaRuntimeClient(address)
    log_sink = StandardLogSink()
    try:
        _setup_logging(log_sink)
        request_handler = _get_handler(handler)
    except Exception as e:
        if isinstance(e, FaultException):
            error_result = make_error(e.msg, e.exception_type, e.trace)
        else:
            error_result = build_fault_result(sys.exc_info(), None)
        logging.warning(UNHANDLED_EXCEPTION_WARNING)
        log_error(error_result, log_sink)
        client.post_init_error(error_result)
        sys.exit(1)

    while True:
        invocation = client.wait_next_invocation()
        _GLOBAL_AWS_REQUEST_ID = invocation.invoke_id
        _GLOBAL_TENANT_ID = invocation.tenant_id
        update_xray_env_variable(invocation.x_amzn_trace_id)
        handle_event_request(client, request_handler, invocation, log_sink)


if __name__ == "__main__":
    main()
