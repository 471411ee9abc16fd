"""Conformance sweep of a Nimbus node against botocore's Lambda service model.

Usage: python3 conformance.py ENDPOINT GO_ZIP PYTHON_ZIP NODE_ZIP

Every response boto3 receives is checked, before botocore parses it, against
the model (botocore/data/lambda/2015-03-31/service-2.json):

  * success: the status code AWS sends, and the JSON body walked against the
    operation's output shape: every member known to the model under its wire
    name, of the modelled type (string, integer, long, boolean, double, list,
    map, structure, timestamp, blob), enum values where the model declares
    them, string patterns and numeric ranges; no body for operations without
    one; X-Amzn-RequestId on every answer.
  * error: X-Amzn-ErrorType names an exception the model knows, the status
    is that exception's, the body is JSON with only the exception's members
    (exact casing: AWS writes "Message" for some and "message" for others)
    and a non-empty message.

The scenario drives every operation of the core scope with three runtimes,
the waiters, real invocations, and the error cases, asserting values as
well as shapes. Exits 1 listing every mismatch.
"""
import base64
import json
import re
import sys
import time

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

ENDPOINT, GO_ZIP, PY_ZIP, NODE_ZIP = sys.argv[1:5]
REGION, ACCOUNT = "us-east-1", "000000000000"
ROLE = "arn:aws:iam::%s:role/lambda" % ACCOUNT
ARN = "arn:aws:lambda:%s:%s:function:" % (REGION, ACCOUNT)
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LAST_MODIFIED_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")

failures = []
seen_ops = set()


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


# --- response validation against the model ------------------------------

# Status codes AWS sends where they differ from the model's responseCode.
# DeleteFunction is modelled 200 but answers 204 (localstack's AWS-recorded
# snapshots, test_function_lifecycle "delete_response").
AWS_STATUS = {"DeleteFunction": 204}

# Exceptions AWS returns that the Lambda model does not declare: its
# front end answers constraint violations with ValidationException.
EXTRA_ERRORS = {"ValidationException": 400}

_regex_cache = {}


def _pattern(p):
    if p not in _regex_cache:
        try:
            _regex_cache[p] = re.compile(p)
        except re.error:
            _regex_cache[p] = None
    return _regex_cache[p]


def walk(shape, value, path, errs):
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            errs.append("%s: want object, got %r" % (path, value))
            return
        by_wire = {}
        for name, m in shape.members.items():
            by_wire[m.serialization.get("name", name)] = (name, m)
        for key, v in value.items():
            if key not in by_wire:
                errs.append("%s.%s: member not in the model (known: %s)" % (path, key, ", ".join(sorted(by_wire))))
                continue
            name, m = by_wire[key]
            loc = m.serialization.get("location")
            if loc:
                errs.append("%s.%s: belongs in the %s, not the body" % (path, key, loc))
                continue
            if v is None:
                errs.append("%s.%s: null (AWS omits members without a value)" % (path, key))
                continue
            walk(m, v, path + "." + key, errs)
        for req in shape.required_members:
            m = shape.members[req]
            if not m.serialization.get("location") and m.serialization.get("name", req) not in value:
                errs.append("%s.%s: required member missing" % (path, req))
    elif t == "list":
        if not isinstance(value, list):
            errs.append("%s: want array, got %r" % (path, value))
            return
        for i, v in enumerate(value):
            walk(shape.member, v, "%s[%d]" % (path, i), errs)
    elif t == "map":
        if not isinstance(value, dict):
            errs.append("%s: want object (map), got %r" % (path, value))
            return
        for k, v in value.items():
            walk(shape.key, k, "%s{key %s}" % (path, k), errs)
            walk(shape.value, v, "%s{%s}" % (path, k), errs)
    elif t == "string":
        if not isinstance(value, str):
            errs.append("%s: want string, got %r" % (path, value))
            return
        enum = shape.enum
        if enum and value not in enum:
            errs.append("%s: %r not in enum %s" % (path, value, enum))
        md = shape.metadata
        if "min" in md and len(value) < md["min"]:
            errs.append("%s: %r shorter than %d" % (path, value, md["min"]))
        if "max" in md and len(value) > md["max"]:
            errs.append("%s: %r longer than %d" % (path, value, md["max"]))
        if "pattern" in md:
            rx = _pattern(md["pattern"])
            if rx is not None and not rx.fullmatch(value):
                errs.append("%s: %r does not match pattern %s" % (path, value, md["pattern"]))
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errs.append("%s: want %s, got %r" % (path, t, value))
            return
        md = shape.metadata
        if "min" in md and value < md["min"]:
            errs.append("%s: %d below min %s" % (path, value, md["min"]))
        if "max" in md and value > md["max"]:
            errs.append("%s: %d above max %s" % (path, value, md["max"]))
    elif t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errs.append("%s: want number, got %r" % (path, value))
    elif t == "boolean":
        if not isinstance(value, bool):
            errs.append("%s: want boolean, got %r" % (path, value))
    elif t == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
        if fmt == "unixTimestamp":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            errs.append("%s: want %s timestamp, got %r" % (path, fmt, value))
    elif t == "blob":
        try:
            base64.b64decode(value, validate=True)
        except Exception:  # noqa: BLE001 - any decode failure is the finding
            errs.append("%s: want base64 blob, got %r" % (path, value))
    else:
        errs.append("%s: unhandled shape type %s" % (path, t))


def validate_response(operation_model, response_dict, **_):
    op = operation_model.name
    seen_ops.add(op)
    status = response_dict["status_code"]
    headers = {k.lower(): v for k, v in response_dict["headers"].items()}
    where = "%s (HTTP %d)" % (op, status)
    errs = []
    if not headers.get("x-amzn-requestid"):
        errs.append("no X-Amzn-RequestId header")
    if status >= 300:
        validate_error(operation_model, status, headers, response_dict["body"], errs)
    else:
        validate_success(operation_model, status, headers, response_dict, errs)
    for e in errs:
        fail("%s: %s" % (where, e))


def validate_success(operation_model, status, headers, response_dict, errs):
    op = operation_model.name
    want = AWS_STATUS.get(op, operation_model.http.get("responseCode", 200))
    if op == "Invoke":
        itype = last_invocation_type[0]
        want = {"Event": 202, "DryRun": 204}.get(itype, 200)
    if status != want:
        errs.append("status %d, AWS sends %d" % (status, want))
    out = operation_model.output_shape
    if out is not None:
        for name, m in out.members.items():
            if m.serialization.get("location") == "header":
                hv = headers.get(m.serialization["name"].lower())
                if hv is not None and m.type_name == "string" and m.enum and hv not in m.enum:
                    errs.append("header %s: %r not in enum %s" % (m.serialization["name"], hv, m.enum))
    if operation_model.has_streaming_output:
        return  # Invoke: the body is the function's, checked by the scenario
    body = response_dict["body"]
    if out is None or not [m for m in out.members.values() if not m.serialization.get("location")]:
        if body not in (b"", b"{}") and status != 204:
            errs.append("body %r where the model has none" % body[:200])
        if status == 204 and body:
            errs.append("204 with a body %r" % body[:200])
        return
    if not headers.get("content-type", "").startswith("application/json"):
        errs.append("Content-Type %r" % headers.get("content-type"))
    try:
        doc = json.loads(body)
    except ValueError as e:
        errs.append("body is not JSON (%s): %r" % (e, body[:200]))
        return
    walk(out, doc, out.name, errs)


def validate_error(operation_model, status, headers, body, errs):
    code = headers.get("x-amzn-errortype", "").split(":")[0]
    if not code:
        errs.append("error without X-Amzn-ErrorType")
        return
    shapes = {s.name: s for s in operation_model.error_shapes}
    model = operation_model.service_model
    shape = shapes.get(code)
    if shape is None and code in model.shape_names:
        shape = model.shape_for(code)
        if not shape.metadata.get("exception"):
            shape = None
        else:
            errs.append("%s is not among %s's modelled errors" % (code, operation_model.name))
    if shape is not None:
        want = shape.metadata.get("error", {}).get("httpStatusCode")
        if want and want != status:
            errs.append("%s travels with %d, got %d" % (code, want, status))
    elif code in EXTRA_ERRORS:
        if EXTRA_ERRORS[code] != status:
            errs.append("%s travels with %d, got %d" % (code, EXTRA_ERRORS[code], status))
    else:
        errs.append("unknown error code %r" % code)
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        errs.append("error body is not JSON: %r" % body[:200])
        return
    if not isinstance(doc, dict):
        errs.append("error body is not an object: %r" % body[:200])
        return
    members = list(shape.members) if shape is not None else ["Type", "message"]
    for k in doc:
        if k not in members:
            errs.append("%s body member %r not in the model's %s" % (code, k, members))
    msg = doc.get("Message") or doc.get("message")
    if not msg:
        errs.append("%s without a message: %r" % (code, body[:200]))
    if "Type" in doc and doc["Type"] not in ("User", "Service"):
        errs.append("%s Type %r" % (code, doc.get("Type")))
    if shape is not None:
        walk(shape, doc, code, errs)


# Invoke's expected status depends on the request's InvocationType.
last_invocation_type = ["RequestResponse"]


def note_invocation_type(params, **_):
    last_invocation_type[0] = params.get("InvocationType", "RequestResponse")


def make_client(validate_params=True):
    c = boto3.client(
        "lambda",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        # Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: the
        # node's root credentials, which the test exports.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=validate_params),
    )
    c.meta.events.register("before-parse.lambda.*", validate_response)
    c.meta.events.register("before-parameter-build.lambda.Invoke", note_invocation_type)
    return c


client = make_client()
raw = make_client(validate_params=False)  # sends what botocore would refuse


def expect_error(fn, code, status, message=None, contains=None, **kw):
    """Calls fn(**kw) and checks it fails with code/status (and message)."""
    try:
        fn(**kw)
    except ClientError as e:
        err = e.response["Error"]
        meta = e.response["ResponseMetadata"]
        what = "%s(%s)" % (fn.__name__, ", ".join("%s=%r" % (k, v if not isinstance(v, bytes) else "<bytes>") for k, v in kw.items()))
        check(err.get("Code") == code, "%s: code %r, want %r (%s)" % (what, err.get("Code"), code, err.get("Message")))
        check(meta["HTTPStatusCode"] == status, "%s: status %d, want %d" % (what, meta["HTTPStatusCode"], status))
        check(bool(err.get("Message")), "%s: empty Error.Message: %r" % (what, e.response))
        if message is not None:
            check(err.get("Message") == message, "%s: message\n   got %r\n  want %r" % (what, err.get("Message"), message))
        if contains is not None:
            check(contains in (err.get("Message") or ""), "%s: message %r lacks %r" % (what, err.get("Message"), contains))
        return e.response
    fail("%s(%r) succeeded, want %s" % (fn.__name__, kw, code))
    return None


def read(path):
    with open(path, "rb") as f:
        return f.read()


go_zip, py_zip, node_zip = read(GO_ZIP), read(PY_ZIP), read(NODE_ZIP)
WAIT = {"Delay": 1, "MaxAttempts": 30}

# Fields every FunctionConfiguration carries in AWS (localstack's recorded
# AWS snapshots of CreateFunction/GetFunction for a zip function).
ALWAYS = ["FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "Description", "Timeout",
          "MemorySize", "LastModified", "CodeSha256", "Version", "TracingConfig", "RevisionId", "PackageType",
          "Architectures", "EphemeralStorage", "SnapStart", "LoggingConfig", "RuntimeVersionConfig"]


def check_config(cfg, name, what, version="$LATEST", arn=None, full=True):
    for k in ALWAYS:
        check(k in cfg, "%s: %s missing" % (what, k))
    if full:
        check(cfg.get("State") == "Active", "%s: State %r" % (what, cfg.get("State")))
        check(cfg.get("LastUpdateStatus") == "Successful", "%s: LastUpdateStatus %r" % (what, cfg.get("LastUpdateStatus")))
    check(cfg.get("FunctionName") == name, "%s: FunctionName %r" % (what, cfg.get("FunctionName")))
    check(cfg.get("FunctionArn") == (arn or ARN + name), "%s: FunctionArn %r, want %r" % (what, cfg.get("FunctionArn"), arn or ARN + name))
    check(cfg.get("Version") == version, "%s: Version %r, want %r" % (what, cfg.get("Version"), version))
    check(cfg.get("PackageType") == "Zip", "%s: PackageType %r" % (what, cfg.get("PackageType")))
    check(cfg.get("Architectures") == ["x86_64"], "%s: Architectures %r" % (what, cfg.get("Architectures")))
    check(cfg.get("TracingConfig") == {"Mode": "PassThrough"}, "%s: TracingConfig %r" % (what, cfg.get("TracingConfig")))
    check(cfg.get("SnapStart") == {"ApplyOn": "None", "OptimizationStatus": "Off"}, "%s: SnapStart %r" % (what, cfg.get("SnapStart")))
    check(bool(UUID_RE.match(cfg.get("RevisionId", ""))), "%s: RevisionId %r" % (what, cfg.get("RevisionId")))
    check(bool(LAST_MODIFIED_RE.match(cfg.get("LastModified", ""))), "%s: LastModified %r" % (what, cfg.get("LastModified")))
    rv = cfg.get("RuntimeVersionConfig", {}).get("RuntimeVersionArn", "")
    check(re.match(r"^arn:aws:lambda:%s::runtime:[0-9a-f]{64}$" % REGION, rv) is not None,
          "%s: RuntimeVersionArn %r" % (what, rv))


# --- CreateFunction with three runtimes, and the waiters --------------------

FUNCS = {
    "conf-go": ("provided.al2023", "bootstrap", go_zip),
    "conf-py": ("python3.12", "app.handler", py_zip),
    "conf-node": ("nodejs20.x", "index.handler", node_zip),
}
for name, (runtime, handler, zipb) in FUNCS.items():
    cfg = client.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                                 Code={"ZipFile": zipb}, Timeout=10, Tags={"suite": "conformance"})
    check(cfg["ResponseMetadata"]["HTTPStatusCode"] == 201, "create_function status")
    check_config(cfg, name, "create_function " + name, full=False)
    check(cfg.get("State") in ("Pending", "Active"), "create_function State %r" % cfg.get("State"))
    # AWS's CreateFunction answer has no LastUpdateStatus (localstack's AWS snapshots).
    check("LastUpdateStatus" not in cfg, "create_function LastUpdateStatus %r" % cfg.get("LastUpdateStatus"))
    check(cfg["Runtime"] == runtime and cfg["Handler"] == handler, "create_function runtime/handler %r" % cfg)
    check(cfg["MemorySize"] == 128 and cfg["Timeout"] == 10 and cfg["Description"] == "", "create_function defaults %r" % cfg)
    check(cfg["EphemeralStorage"] == {"Size": 512}, "EphemeralStorage %r" % cfg.get("EphemeralStorage"))
    check(cfg["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/" + name}, "LoggingConfig %r" % cfg.get("LoggingConfig"))
    check(cfg["CodeSize"] == len(zipb), "CodeSize %r, want %d" % (cfg["CodeSize"], len(zipb)))
    check(cfg["CodeSha256"] == base64.b64encode(__import__("hashlib").sha256(zipb).digest()).decode(), "CodeSha256")
    check("Environment" not in cfg, "Environment without variables: %r" % cfg.get("Environment"))
    client.get_waiter("function_exists").wait(FunctionName=name, WaiterConfig=WAIT)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)

# --- GetFunction / GetFunctionConfiguration ---------------------------------

g = client.get_function(FunctionName="conf-go")
check_config(g["Configuration"], "conf-go", "get_function")
check(g.get("Tags") == {"suite": "conformance"}, "get_function Tags %r" % g.get("Tags"))
check(g["Code"]["RepositoryType"] == "S3" and g["Code"]["Location"].startswith("http"), "get_function Code %r" % g.get("Code"))
import urllib.request  # noqa: E402

with urllib.request.urlopen(g["Code"]["Location"]) as resp:  # noqa: S310 - our own server
    check(resp.read() == go_zip, "Code.Location does not serve the package")

c = client.get_function_configuration(FunctionName="conf-go")
check_config(c, "conf-go", "get_function_configuration")
c2 = client.get_function_configuration(FunctionName="conf-go", Qualifier="$LATEST")
check_config(c2, "conf-go", "get_function_configuration $LATEST", arn=ARN + "conf-go:$LATEST")
c3 = client.get_function_configuration(FunctionName=ARN + "conf-go")
check(c3["FunctionArn"] == ARN + "conf-go", "get by ARN %r" % c3["FunctionArn"])
c4 = client.get_function_configuration(FunctionName="%s:function:conf-go" % ACCOUNT)
check(c4["FunctionName"] == "conf-go", "get by partial ARN")

# --- UpdateFunctionConfiguration: every field in scope ----------------------

u = client.update_function_configuration(
    FunctionName="conf-py", MemorySize=256, Timeout=15, Description="conformance",
    Environment={"Variables": {"STAGE": "conf", "GREETING": "hi"}}, Handler="app.handler", Runtime="python3.12",
    EphemeralStorage={"Size": 1024}, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
check(u["ResponseMetadata"]["HTTPStatusCode"] == 200, "update_function_configuration status")
check_config(u, "conf-py", "update_function_configuration", full=False)
check(u["MemorySize"] == 256 and u["Timeout"] == 15 and u["Description"] == "conformance", "update values %r" % u)
check(u["Environment"] == {"Variables": {"STAGE": "conf", "GREETING": "hi"}}, "Environment %r" % u.get("Environment"))
check(u["EphemeralStorage"] == {"Size": 1024}, "EphemeralStorage %r" % u.get("EphemeralStorage"))
check(u["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO",
                             "LogGroup": "/aws/lambda/conf-py"}, "LoggingConfig %r" % u.get("LoggingConfig"))
check(u.get("LastUpdateStatus") in ("InProgress", "Successful"), "LastUpdateStatus %r" % u.get("LastUpdateStatus"))
client.get_waiter("function_updated_v2").wait(FunctionName="conf-py", WaiterConfig=WAIT)
# Another runtime is another runtime build: RuntimeVersionArn follows it.
before = u["RuntimeVersionConfig"]["RuntimeVersionArn"]
u = client.update_function_configuration(FunctionName="conf-py", Runtime="python3.11",
                                         LoggingConfig={"LogGroup": "/custom/conf-py"})
check(u["Runtime"] == "python3.11" and u["RuntimeVersionConfig"]["RuntimeVersionArn"] != before,
      "Runtime change: %r %r" % (u["Runtime"], u.get("RuntimeVersionConfig")))
check(u["LoggingConfig"]["LogGroup"] == "/custom/conf-py", "LogGroup %r" % u["LoggingConfig"])
client.get_waiter("function_updated_v2").wait(FunctionName="conf-py", WaiterConfig=WAIT)
u = client.update_function_configuration(FunctionName="conf-py", Runtime="python3.12",
                                         LoggingConfig={"LogGroup": "/aws/lambda/conf-py"})
check(u["RuntimeVersionConfig"]["RuntimeVersionArn"] == before, "RuntimeVersionArn back %r" % u.get("RuntimeVersionConfig"))
rev = client.get_function_configuration(FunctionName="conf-py")["RevisionId"]
u = client.update_function_configuration(FunctionName="conf-py", LoggingConfig={"LogFormat": "Text"}, RevisionId=rev)
check(u["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/conf-py"}, "LoggingConfig back to Text %r" % u.get("LoggingConfig"))
u = client.update_function_configuration(FunctionName="conf-py", Environment={"Variables": {}})
# AWS keeps an emptied Environment: {"Variables": {}} (localstack's AWS snapshots).
check(u.get("Environment") == {"Variables": {}}, "cleared Environment %r" % u.get("Environment"))
client.get_waiter("function_updated_v2").wait(FunctionName="conf-py", WaiterConfig=WAIT)

# --- UpdateFunctionCode, PublishVersion, ListVersionsByFunction --------------

u = client.update_function_code(FunctionName="conf-go", ZipFile=go_zip + b"")
check_config(u, "conf-go", "update_function_code", full=False)
client.get_waiter("function_updated_v2").wait(FunctionName="conf-go", WaiterConfig=WAIT)
v1 = client.publish_version(FunctionName="conf-go", Description="first")
check(v1["ResponseMetadata"]["HTTPStatusCode"] == 201, "publish_version status")
check_config(v1, "conf-go", "publish_version", version="1", arn=ARN + "conf-go:1", full=False)
check(v1["Description"] == "first", "version description %r" % v1["Description"])
client.get_waiter("published_version_active").wait(FunctionName="conf-go", Qualifier="1", WaiterConfig=WAIT)
again = client.publish_version(FunctionName="conf-go")
check(again["Version"] == "1", "publishing unchanged $LATEST gave %r" % again["Version"])
v2 = client.update_function_code(FunctionName="conf-go", ZipFile=go_zip, Publish=True)
check(v2["Version"] == "1", "update_function_code Publish with unchanged code gave version %r" % v2["Version"])
client.update_function_configuration(FunctionName="conf-go", Description="second")
client.get_waiter("function_updated_v2").wait(FunctionName="conf-go", WaiterConfig=WAIT)
v2 = client.publish_version(FunctionName="conf-go")
check(v2["Version"] == "2" and v2["Description"] == "second", "version 2 %r" % v2)
v3 = client.update_function_code(FunctionName="conf-go", ZipFile=go_zip, Publish=True, Architectures=["x86_64"])
# unchanged content: AWS returns the newest version rather than a duplicate.
check(v3["Version"] in ("2", "3"), "update_function_code Publish version %r" % v3["Version"])
gv = client.get_function_configuration(FunctionName="conf-go", Qualifier="1")
check_config(gv, "conf-go", "get_function_configuration Qualifier=1", version="1", arn=ARN + "conf-go:1")
gf = client.get_function(FunctionName="conf-go", Qualifier="1")
check(gf["Configuration"]["Version"] == "1", "get_function Qualifier=1")

vs = client.list_versions_by_function(FunctionName="conf-go")
vers = [v["Version"] for v in vs["Versions"]]
check(vers[:3] == ["$LATEST", "1", "2"], "list_versions_by_function %r" % vers)
check(vs["Versions"][0]["FunctionArn"] == ARN + "conf-go:$LATEST", "listed $LATEST ARN %r" % vs["Versions"][0]["FunctionArn"])
check("NextMarker" not in vs, "NextMarker on the last page")
page = client.list_versions_by_function(FunctionName="conf-go", MaxItems=1)
check(len(page["Versions"]) == 1 and page.get("NextMarker"), "versions page 1 %r" % page)
page2 = client.list_versions_by_function(FunctionName="conf-go", MaxItems=1, Marker=page["NextMarker"])
check([v["Version"] for v in page2["Versions"]] == ["1"], "versions page 2 %r" % page2["Versions"])
all_v = []
for p in client.get_paginator("list_versions_by_function").paginate(FunctionName="conf-go", PaginationConfig={"PageSize": 1}):
    all_v += [v["Version"] for v in p["Versions"]]
check(all_v == vers, "paginated versions %r vs %r" % (all_v, vers))

# --- ListFunctions ---------------------------------------------------------

lf = client.list_functions()
names = sorted(f["FunctionName"] for f in lf["Functions"])
check(names == sorted(FUNCS), "list_functions %r" % names)
for f in lf["Functions"]:
    check(f["Version"] == "$LATEST" and f["FunctionArn"] == ARN + f["FunctionName"], "listed %r" % f["FunctionArn"])
    for k in ["FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "Description", "Timeout", "MemorySize",
              "LastModified", "CodeSha256", "Version", "TracingConfig", "RevisionId", "PackageType", "Architectures",
              "EphemeralStorage", "SnapStart", "LoggingConfig"]:
        check(k in f, "list_functions %s lacks %s" % (f["FunctionName"], k))
p1 = client.list_functions(MaxItems=2)
check(len(p1["Functions"]) == 2 and p1.get("NextMarker"), "list_functions MaxItems=2 %r" % p1.get("NextMarker"))
p2 = client.list_functions(MaxItems=2, Marker=p1["NextMarker"])
check(len(p2["Functions"]) == 1 and "NextMarker" not in p2, "list_functions page 2 %r" % p2)
check(sorted(f["FunctionName"] for f in p1["Functions"] + p2["Functions"]) == sorted(FUNCS), "pages cover all")
allv = client.list_functions(FunctionVersion="ALL")
arns = [f["FunctionArn"] for f in allv["Functions"]]
for want in [ARN + "conf-go:$LATEST", ARN + "conf-go:1", ARN + "conf-go:2"]:
    check(want in arns, "list_functions ALL lacks %s: %r" % (want, arns))
n = 0
for p in client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}):
    n += len(p["Functions"])
check(n == 3, "paginator saw %d functions" % n)

# --- Aliases ---------------------------------------------------------------

a = client.create_alias(FunctionName="conf-go", Name="live", FunctionVersion="1", Description="prod",
                        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
check(a["ResponseMetadata"]["HTTPStatusCode"] == 201, "create_alias status")
check(a["AliasArn"] == ARN + "conf-go:live" and a["Name"] == "live" and a["FunctionVersion"] == "1", "alias %r" % a)
check(a.get("RoutingConfig") == {"AdditionalVersionWeights": {"2": 0.25}}, "RoutingConfig %r" % a.get("RoutingConfig"))
check(a["Description"] == "prod" and UUID_RE.match(a["RevisionId"]), "alias description/revision %r" % a)
ga = client.get_alias(FunctionName="conf-go", Name="live")
check(ga["RevisionId"] == a["RevisionId"] and ga["RoutingConfig"] == a["RoutingConfig"], "get_alias %r" % ga)
ua = client.update_alias(FunctionName="conf-go", Name="live", FunctionVersion="2",
                         RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}, RevisionId=ga["RevisionId"])
check(ua["FunctionVersion"] == "2" and ua["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.5}}, "update_alias %r" % ua)
check(ua["RevisionId"] != ga["RevisionId"], "alias RevisionId did not rotate")
ua = client.update_alias(FunctionName="conf-go", Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
check("RoutingConfig" not in ua or ua["RoutingConfig"] in ({}, {"AdditionalVersionWeights": {}}), "routing cleared %r" % ua.get("RoutingConfig"))
client.create_alias(FunctionName="conf-go", Name="beta", FunctionVersion="$LATEST")
la = client.list_aliases(FunctionName="conf-go")
check([x["Name"] for x in la["Aliases"]] == ["beta", "live"], "list_aliases %r" % la["Aliases"])
check("NextMarker" not in la, "list_aliases NextMarker")
la1 = client.list_aliases(FunctionName="conf-go", FunctionVersion="2")
check([x["Name"] for x in la1["Aliases"]] == ["live"], "list_aliases FunctionVersion=2 %r" % la1["Aliases"])
la2 = client.list_aliases(FunctionName="conf-go", MaxItems=1)
check(len(la2["Aliases"]) == 1 and la2.get("NextMarker"), "list_aliases MaxItems %r" % la2)
cfg_alias = client.get_function_configuration(FunctionName="conf-go", Qualifier="live")
check(cfg_alias["Version"] == "2" and cfg_alias["FunctionArn"] == ARN + "conf-go:live", "config via alias %r" % cfg_alias["FunctionArn"])

# --- Invoke -----------------------------------------------------------------

for name in FUNCS:
    r = client.invoke(FunctionName=name, Payload=json.dumps({"name": "conf"}), LogType="Tail")
    body = json.loads(r["Payload"].read())
    check(r["StatusCode"] == 200 and "FunctionError" not in r, "invoke %s %r" % (name, r))
    check(body.get("message") == "Hello, conf!", "invoke %s body %r" % (name, body))
    check(r["ExecutedVersion"] == "$LATEST", "invoke %s ExecutedVersion %r" % (name, r.get("ExecutedVersion")))
    tail = base64.b64decode(r["LogResult"]).decode()
    check("START RequestId: " + r["ResponseMetadata"]["RequestId"] in tail and "REPORT RequestId:" in tail, "tail %r" % tail)
    check(r["ResponseMetadata"]["HTTPHeaders"].get("content-type") == "application/json", "invoke Content-Type %r" % r["ResponseMetadata"]["HTTPHeaders"].get("content-type"))
r = client.invoke(FunctionName="conf-py")
check("LogResult" not in r, "LogResult without Tail")
check(json.loads(r["Payload"].read())["message"] == "Hello, world!", "invoke without payload")
r = client.invoke(FunctionName="conf-go", Qualifier="1", Payload=b"{}")
check(r["ExecutedVersion"] == "1", "invoke version 1 ran %r" % r.get("ExecutedVersion"))
r = client.invoke(FunctionName=ARN + "conf-go:1", Payload=b"{}")
check(r["ExecutedVersion"] == "1", "invoke qualified ARN ran %r" % r.get("ExecutedVersion"))
r = client.invoke(FunctionName="conf-go:beta", Payload=b"{}")
check(r["ExecutedVersion"] == "$LATEST", "invoke name:alias ran %r" % r.get("ExecutedVersion"))
r = client.invoke(FunctionName="conf-go", Qualifier="live", Payload=b"{}")
check(r["ExecutedVersion"] == "2", "invoke alias ran %r" % r.get("ExecutedVersion"))
r = client.invoke(FunctionName="conf-go", InvocationType="DryRun")
check(r["StatusCode"] == 204 and r["Payload"].read() == b"", "DryRun %r" % r)
r = client.invoke(FunctionName="conf-go", InvocationType="Event", Payload=b"{}")
check(r["StatusCode"] == 202 and r["Payload"].read() == b"", "Event %r" % r)
expect_error(client.invoke, "ResourceNotFoundException", 404, FunctionName="conf-missing", InvocationType="Event",
             Payload=b"{}", message="Function not found: %sconf-missing" % ARN)
expect_error(client.invoke, "InvalidRequestContentException", 400, FunctionName="conf-go", Payload=b"{nope",
             contains="Could not parse request body into json")
expect_error(client.invoke, "ResourceNotFoundException", 404, FunctionName="conf-missing",
             message="Function not found: %sconf-missing" % ARN)
expect_error(client.invoke, "ResourceNotFoundException", 404, FunctionName="conf-go", Qualifier="9",
             message="Function not found: %sconf-go:9" % ARN)
expect_error(client.invoke, "ResourceNotFoundException", 404, FunctionName="conf-go", Qualifier="nope",
             message="Function not found: %sconf-go:nope" % ARN)

# A function error is data: HTTP 200, X-Amz-Function-Error Unhandled, the
# runtime's error document as the payload.
import io  # noqa: E402
import zipfile  # noqa: E402

buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as zf:
    zf.writestr("app.py", "def handler(event, context):\n    raise ValueError('boom')\n")
client.create_function(FunctionName="conf-err", Runtime="python3.12", Handler="app.handler", Role=ROLE,
                       Code={"ZipFile": buf.getvalue()})
r = client.invoke(FunctionName="conf-err", Payload=b"{}", LogType="Tail")
doc = json.loads(r["Payload"].read())
check(r["StatusCode"] == 200 and r.get("FunctionError") == "Unhandled", "function error metadata %r" % r)
check(doc.get("errorType") == "ValueError" and doc.get("errorMessage") == "boom" and "stackTrace" in doc
      and doc.get("requestId") == r["ResponseMetadata"]["RequestId"], "function error payload %r" % doc)
client.delete_function(FunctionName="conf-err")

# --- Tags ------------------------------------------------------------------

fa = ARN + "conf-go"
t = client.tag_resource(Resource=fa, Tags={"team": "core", "env": "test"})
check(t["ResponseMetadata"]["HTTPStatusCode"] == 204, "tag_resource status %d" % t["ResponseMetadata"]["HTTPStatusCode"])
lt = client.list_tags(Resource=fa)
check(lt["Tags"] == {"suite": "conformance", "team": "core", "env": "test"}, "list_tags %r" % lt["Tags"])
ut = client.untag_resource(Resource=fa, TagKeys=["env", "suite"])
check(ut["ResponseMetadata"]["HTTPStatusCode"] == 204, "untag_resource status")
check(client.list_tags(Resource=fa)["Tags"] == {"team": "core"}, "after untag")
# Messages and statuses as AWS answers them (localstack's AWS-recorded
# snapshots, TestLambdaTags).
expect_error(client.tag_resource, "InvalidParameterValueException", 400, Resource=fa, Tags={},
             message="An error occurred and the request cannot be processed.")
expect_error(client.tag_resource, "InvalidParameterValueException", 400, Resource=fa,
             Tags={"k%d" % i: "v" for i in range(51)}, message="Number of tags exceeds resource tag limit.")
expect_error(client.tag_resource, "InvalidParameterValueException", 400, Resource=fa,
             Tags={"k%d" % i: "v" for i in range(50)}, message="Number of tags exceeds resource tag limit.")
expect_error(client.tag_resource, "InvalidParameterValueException", 400, Resource=fa + ":1", Tags={"a": "b"},
             message="Tags on function aliases and versions are not supported. Please specify a function ARN.")
ut = client.untag_resource(Resource=fa, TagKeys=["no-such-key"])
check(ut["ResponseMetadata"]["HTTPStatusCode"] == 204, "untag of absent keys status")
expect_error(raw.untag_resource, "ValidationException", 400, Resource=fa, TagKeys=[],
             message="1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
expect_error(client.list_tags, "ResourceNotFoundException", 404, Resource=ARN + "conf-missing")
expect_error(client.tag_resource, "ResourceNotFoundException", 404, Resource=ARN + "conf-missing", Tags={"a": "b"})

# --- GetAccountSettings ------------------------------------------------------

acct = client.get_account_settings()
lim, use = acct["AccountLimit"], acct["AccountUsage"]
for k in ["TotalCodeSize", "CodeSizeUnzipped", "CodeSizeZipped", "ConcurrentExecutions", "UnreservedConcurrentExecutions"]:
    check(k in lim, "AccountLimit lacks %s" % k)
check(lim["CodeSizeZipped"] == 52428800 and lim["CodeSizeUnzipped"] == 262144000, "code limits %r" % lim)
check(use["FunctionCount"] == 3 and use["TotalCodeSize"] > 0, "AccountUsage %r" % use)

# --- error cases -------------------------------------------------------------

expect_error(client.get_function, "ResourceNotFoundException", 404, FunctionName="conf-missing",
             message="Function not found: %sconf-missing" % ARN)
expect_error(client.get_function_configuration, "ResourceNotFoundException", 404, FunctionName="conf-go", Qualifier="7",
             message="Function not found: %sconf-go:7" % ARN)
expect_error(client.create_function, "ResourceConflictException", 409, FunctionName="conf-go", Runtime="python3.12",
             Handler="app.handler", Role=ROLE, Code={"ZipFile": py_zip}, message="Function already exist: conf-go")
expect_error(raw.create_function, "ValidationException", 400, FunctionName="conf-bad", Runtime="python3.12",
             Handler="app.handler", Role=ROLE, Code={"ZipFile": py_zip}, MemorySize=64,
             message="1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128")
expect_error(client.create_function, "InvalidParameterValueException", 400, FunctionName="conf-bad", Runtime="python3.12",
             Handler="app.handler", Role=ROLE, Code={"ZipFile": b"not a zip"},
             message="Could not unzip uploaded file. Please check your file, then try to upload again.")
expect_error(client.update_function_configuration, "PreconditionFailedException", 412, FunctionName="conf-py",
             Timeout=5, RevisionId="00000000-0000-0000-0000-000000000000")
expect_error(client.update_function_configuration, "ResourceNotFoundException", 404, FunctionName="conf-missing", Timeout=5,
             message="Function not found: %sconf-missing" % ARN)
# The operations that change $LATEST take "name:$LATEST" and refuse other
# qualifiers in AWS's words.
u = client.update_function_configuration(FunctionName="conf-py:$LATEST", Timeout=12)
check(u["Timeout"] == 12 and u["FunctionArn"] == ARN + "conf-py", "update via name:$LATEST %r" % u["FunctionArn"])
client.get_waiter("function_updated_v2").wait(FunctionName="conf-py", WaiterConfig=WAIT)
for fn, kw in [(client.update_function_configuration, {"Timeout": 5}), (client.update_function_code, {"ZipFile": py_zip})]:
    expect_error(fn, "InvalidParameterValueException", 400, FunctionName="conf-py:1",
                 message="Current operation does not support versions other than $LATEST. Please set the version to $LATEST or do not set a version in your request.", **kw)
expect_error(client.update_function_code, "ResourceNotFoundException", 404, FunctionName="conf-missing", ZipFile=go_zip,
             message="Function not found: %sconf-missing" % ARN)
expect_error(client.publish_version, "ResourceNotFoundException", 404, FunctionName="conf-missing",
             message="Function not found: %sconf-missing" % ARN)
expect_error(client.list_versions_by_function, "ResourceNotFoundException", 404, FunctionName="conf-missing",
             message="Function not found: %sconf-missing" % ARN)
expect_error(client.list_aliases, "ResourceNotFoundException", 404, FunctionName="conf-missing",
             message="Function not found: %sconf-missing" % ARN)
expect_error(client.get_alias, "ResourceNotFoundException", 404, FunctionName="conf-go", Name="nope",
             message="Cannot find alias arn: %sconf-go:nope" % ARN)
expect_error(client.create_alias, "ResourceConflictException", 409, FunctionName="conf-go", Name="live", FunctionVersion="1",
             message="Alias already exists: %sconf-go:live" % ARN)
expect_error(client.create_alias, "ResourceNotFoundException", 404, FunctionName="conf-missing", Name="ghost", FunctionVersion="1",
             message="Function not found: %sconf-missing:1" % ARN)
expect_error(client.create_alias, "ResourceNotFoundException", 404, FunctionName="conf-go", Name="ghost", FunctionVersion="42",
             message="Function not found: %sconf-go:42" % ARN)
e = expect_error(client.update_alias, "InvalidParameterValueException", 400, FunctionName="conf-go", Name="beta",
                 RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
                 message="$LATEST is not supported for an alias pointing to more than 1 version")
check(e is not None and "Type" not in e, "AWS sends this error without Type: %r" % e)
expect_error(client.update_alias, "InvalidParameterValueException", 400, FunctionName="conf-go", Name="live",
             FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
             message="Invalid function version 1. Function version 1 is already included in routing configuration.")
expect_error(client.update_alias, "InvalidParameterValueException", 400, FunctionName="conf-go", Name="live",
             RoutingConfig={"AdditionalVersionWeights": {"1": 0.5, "2": 0.1}},
             message="Number of items in AdditionalVersionWeights cannot be greater than 1")
expect_error(raw.update_alias, "ValidationException", 400, FunctionName="conf-go", Name="live",
             RoutingConfig={"AdditionalVersionWeights": {"1": 2.0}},
             message="1 validation error detected: Value '{1=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]")
expect_error(client.update_alias, "PreconditionFailedException", 412, FunctionName="conf-go", Name="live",
             RevisionId="00000000-0000-0000-0000-000000000000")
expect_error(client.delete_function, "InvalidParameterValueException", 400, FunctionName="conf-go", Qualifier="$LATEST",
             message="$LATEST version cannot be deleted without deleting the function.")
expect_error(client.delete_function, "ResourceConflictException", 409, FunctionName="conf-go", Qualifier="2",
             contains="live")
expect_error(client.delete_function, "ResourceNotFoundException", 404, FunctionName="conf-missing",
             message="Function not found: %sconf-missing" % ARN)
expect_error(raw.get_alias, "ValidationException", 400, FunctionName="conf-go", Name="1")
try:
    client.create_function(FunctionName="conf-bad", Runtime="python3.12", Handler="app.handler", Role=ROLE,
                           Code={"ZipFile": py_zip}, MemorySize=64)
    fail("botocore accepted MemorySize=64")
except ParamValidationError:
    pass

# Qualifier handling as AWS answers it (localstack's AWS-recorded snapshots,
# test_ops_with_arn_qualifier_mismatch, test_delete_on_nonexisting_version,
# test_get_function_wrong_region).
expect_error(client.get_function, "InvalidParameterValueException", 400, FunctionName="conf-go:1", Qualifier="2",
             message="The derived qualifier from the function name does not match the specified qualifier.")
expect_error(client.get_function_configuration, "ResourceNotFoundException", 404, FunctionName="conf-missing:$LATEST",
             Qualifier="$LATEST", message="Function not found: %sconf-missing:$LATEST" % ARN)
expect_error(client.delete_function, "InvalidParameterValueException", 400, FunctionName="conf-missing:$LATEST",
             Qualifier="$LATEST", message="$LATEST version cannot be deleted without deleting the function.")
expect_error(client.delete_function, "ResourceNotFoundException", 404, FunctionName="conf-missing", Qualifier="1",
             message="Function not found: %sconf-missing" % ARN)
expect_error(client.invoke, "ResourceNotFoundException", 404, FunctionName="arn:aws:lambda:eu-west-1:%s:function:conf-go" % ACCOUNT,
             message="Functions from 'eu-west-1' are not reachable in this region ('us-east-1')")

# CreateFunction with Publish answers version 1 under the unqualified ARN
# (test_publish_version_on_create); GetFunction of $LATEST qualifies it.
cp = client.create_function(FunctionName="conf-pub", Runtime="python3.12", Handler="app.handler", Role=ROLE,
                            Code={"ZipFile": py_zip}, Publish=True)
check(cp["Version"] == "1" and cp["FunctionArn"] == ARN + "conf-pub" and "LastUpdateStatus" not in cp,
      "create_function Publish: %r %r %r" % (cp["Version"], cp["FunctionArn"], cp.get("LastUpdateStatus")))
gl = client.get_function(FunctionName="conf-pub", Qualifier="$LATEST")["Configuration"]
check(gl["FunctionArn"] == ARN + "conf-pub:$LATEST" and gl["Version"] == "$LATEST", "get_function $LATEST %r" % gl["FunctionArn"])
check(client.get_function_configuration(FunctionName="conf-pub", Qualifier="1")["Version"] == "1", "version 1 of conf-pub")
client.delete_function(FunctionName="conf-pub")

# --- function URLs and resource policies --------------------------------------
# (messages: localstack's AWS-recorded snapshots of the function URL tests)

URL_RE = r"^http://[a-z0-9]{32}\.lambda-url\.%s\.localhost:\d+/$" % REGION
fu = client.create_function_url_config(FunctionName="conf-go", AuthType="NONE", Cors={"AllowOrigins": ["*"], "MaxAge": 10})
check(fu["ResponseMetadata"]["HTTPStatusCode"] == 201 and re.match(URL_RE, fu["FunctionUrl"]) is not None and
      fu["FunctionArn"] == ARN + "conf-go" and fu["AuthType"] == "NONE" and fu["Cors"] == {"AllowOrigins": ["*"], "MaxAge": 10},
      "create_function_url_config %r" % fu)
expect_error(client.create_function_url_config, "ResourceConflictException", 409, FunctionName="conf-go", AuthType="NONE",
             message="Failed to create function url config for [functionArn = %sconf-go]. Error message:  FunctionUrlConfig exists for this Lambda function" % ARN)
fa = client.create_function_url_config(FunctionName="conf-go", Qualifier="live", AuthType="AWS_IAM", InvokeMode="RESPONSE_STREAM")
check(fa["FunctionArn"] == ARN + "conf-go:live" and fa["InvokeMode"] == "RESPONSE_STREAM" and fa["FunctionUrl"] != fu["FunctionUrl"],
      "alias function URL %r" % fa)
gu = client.get_function_url_config(FunctionName="conf-go")
check(gu["FunctionUrl"] == fu["FunctionUrl"] and gu["InvokeMode"] == "BUFFERED" and gu["CreationTime"] == fu["CreationTime"] and
      bool(gu.get("LastModifiedTime")), "get_function_url_config %r" % gu)
uu = client.update_function_url_config(FunctionName="conf-go", AuthType="AWS_IAM", Cors={"AllowOrigins": ["https://x.example"]})
check(uu["AuthType"] == "AWS_IAM" and uu["Cors"] == {"AllowOrigins": ["https://x.example"]} and uu["FunctionUrl"] == fu["FunctionUrl"],
      "update_function_url_config %r" % uu)
lu = client.list_function_url_configs(FunctionName="conf-go")["FunctionUrlConfigs"]
check([x["FunctionArn"] for x in lu] == [ARN + "conf-go", ARN + "conf-go:live"], "list_function_url_configs %r" % lu)
expect_error(client.get_function_url_config, "ValidationException", 400, FunctionName="conf-go", Qualifier="1",
             message="1 validation error detected: Value '1' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (^\\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))")
expect_error(client.get_function_url_config, "ResourceNotFoundException", 404, FunctionName="conf-py",
             message="The resource you requested does not exist.")
expect_error(client.create_function_url_config, "ResourceNotFoundException", 404, FunctionName="conf-missing", AuthType="NONE",
             message="Function does not exist")
d = client.delete_function_url_config(FunctionName="conf-go")
check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "delete_function_url_config status")

ap = client.add_permission(FunctionName="conf-go", StatementId="FunctionURLAllowPublicAccess", Action="lambda:InvokeFunctionUrl",
                           Principal="*", FunctionUrlAuthType="NONE")
check(ap["ResponseMetadata"]["HTTPStatusCode"] == 201 and json.loads(ap["Statement"])["Resource"] == ARN + "conf-go",
      "add_permission %r" % ap)
expect_error(client.add_permission, "ResourceConflictException", 409, FunctionName="conf-go", StatementId="FunctionURLAllowPublicAccess",
             Action="lambda:InvokeFunction", Principal="*",
             message="The statement id (FunctionURLAllowPublicAccess) provided already exists. Please provide a new statement id, or remove the existing statement.")
gp = client.get_policy(FunctionName="conf-go")
pol = json.loads(gp["Policy"])
check(pol["Version"] == "2012-10-17" and [x["Sid"] for x in pol["Statement"]] == ["FunctionURLAllowPublicAccess"] and bool(gp["RevisionId"]),
      "get_policy %r" % gp)
client.remove_permission(FunctionName="conf-go", StatementId="FunctionURLAllowPublicAccess")
expect_error(client.get_policy, "ResourceNotFoundException", 404, FunctionName="conf-go",
             message="The resource you requested does not exist.")

# --- layers --------------------------------------------------------------------
# (messages: localstack's provider, which mirrors AWS's; the rest is the model)

import zipfile  # noqa: E402


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return buf.getvalue()


LAYER = "arn:aws:lambda:%s:%s:layer:" % (REGION, ACCOUNT)
layer_zip = zip_of({"python/conf_layer.py": "VALUE = 'from the layer'\n"})
pl = client.publish_layer_version(LayerName="conf-layer", Content={"ZipFile": layer_zip}, CompatibleRuntimes=["python3.12"],
                                  Description="conformance", LicenseInfo="MIT", CompatibleArchitectures=["x86_64"])
check(pl["ResponseMetadata"]["HTTPStatusCode"] == 201 and pl["Version"] == 1 and pl["LayerVersionArn"] == LAYER + "conf-layer:1" and
      pl["LayerArn"] == LAYER + "conf-layer" and pl["Content"]["CodeSize"] == len(layer_zip) and
      LAST_MODIFIED_RE.match(pl["CreatedDate"]) is not None, "publish_layer_version %r" % pl)
with urllib.request.urlopen(pl["Content"]["Location"]) as resp:  # noqa: S310 -- the node's own link
    check(resp.read() == layer_zip, "layer Content.Location serves the zip")
gl = client.get_layer_version(LayerName="conf-layer", VersionNumber=1)
check(gl["Description"] == "conformance" and gl["CompatibleRuntimes"] == ["python3.12"], "get_layer_version %r" % gl)
ga = client.get_layer_version_by_arn(Arn=LAYER + "conf-layer:1")
check(ga["LayerVersionArn"] == LAYER + "conf-layer:1", "get_layer_version_by_arn %r" % ga)
ls = client.list_layers(CompatibleRuntime="python3.12")["Layers"]
check([x["LayerName"] for x in ls] == ["conf-layer"] and ls[0]["LatestMatchingVersion"]["Version"] == 1, "list_layers %r" % ls)
lv = client.list_layer_versions(LayerName="conf-layer")["LayerVersions"]
check([x["Version"] for x in lv] == [1], "list_layer_versions %r" % lv)
expect_error(client.get_layer_version, "ResourceNotFoundException", 404, LayerName="conf-layer", VersionNumber=9,
             message="The resource you requested does not exist.")
ap = client.add_layer_version_permission(LayerName="conf-layer", VersionNumber=1, StatementId="everyone",
                                         Action="lambda:GetLayerVersion", Principal="*")
check(ap["ResponseMetadata"]["HTTPStatusCode"] == 201 and json.loads(ap["Statement"])["Resource"] == LAYER + "conf-layer:1",
      "add_layer_version_permission %r" % ap)
gp = client.get_layer_version_policy(LayerName="conf-layer", VersionNumber=1)
check([x["Sid"] for x in json.loads(gp["Policy"])["Statement"]] == ["everyone"] and gp["RevisionId"] == ap["RevisionId"],
      "get_layer_version_policy %r" % gp)
d = client.remove_layer_version_permission(LayerName="conf-layer", VersionNumber=1, StatementId="everyone")
check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "remove_layer_version_permission status")
expect_error(client.get_layer_version_policy, "ResourceNotFoundException", 404, LayerName="conf-layer", VersionNumber=1,
             message="No policy is associated with the given resource.")

lf = client.create_function(FunctionName="conf-layered", Runtime="python3.12", Handler="app.handler", Role=ROLE,
                            Code={"ZipFile": zip_of({"app.py": "import conf_layer\n\ndef handler(e, c):\n    return {'v': conf_layer.VALUE}\n"})},
                            Layers=[LAYER + "conf-layer:1"])
check(lf["Layers"] == [{"Arn": LAYER + "conf-layer:1", "CodeSize": len(layer_zip)}], "create_function Layers %r" % lf.get("Layers"))
client.get_waiter("function_active_v2").wait(FunctionName="conf-layered", WaiterConfig=WAIT)
out = client.invoke(FunctionName="conf-layered", Payload=b"{}")
check(out.get("FunctionError") is None and json.loads(out["Payload"].read()) == {"v": "from the layer"}, "invoke with a layer %r" % out)
expect_error(client.create_function, "InvalidParameterValueException", 400, FunctionName="conf-nolayer", Runtime="python3.12",
             Handler="app.handler", Role=ROLE, Code={"ZipFile": py_zip}, Layers=[LAYER + "conf-layer:7"],
             message="Layer version %sconf-layer:7 does not exist." % LAYER)
d = client.delete_layer_version(LayerName="conf-layer", VersionNumber=1)
check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "delete_layer_version status")
check(client.list_layers()["Layers"] == [], "layers left after delete")
out = client.invoke(FunctionName="conf-layered", Payload=b"{}")
check(out.get("FunctionError") is None, "invoke after its layer version was deleted %r" % out)
client.delete_function(FunctionName="conf-layered")

# --- deletes -------------------------------------------------------------------

d = client.delete_alias(FunctionName="conf-go", Name="beta")
check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "delete_alias status")
client.delete_alias(FunctionName="conf-go", Name="live")
d = client.delete_function(FunctionName="conf-go", Qualifier="1")
check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "delete_function Qualifier status %d" % d["ResponseMetadata"]["HTTPStatusCode"])
expect_error(client.get_function_configuration, "ResourceNotFoundException", 404, FunctionName="conf-go", Qualifier="1")
check([v["Version"] for v in client.list_versions_by_function(FunctionName="conf-go")["Versions"]][:2] == ["$LATEST", "2"],
      "version 1 deleted")
for name in FUNCS:
    d = client.delete_function(FunctionName=name)
    check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "delete_function status %d" % d["ResponseMetadata"]["HTTPStatusCode"])
    check(d.get("StatusCode") == 204, "delete_function StatusCode member %r" % d.get("StatusCode"))
    expect_error(client.get_function, "ResourceNotFoundException", 404, FunctionName=name)
check(client.list_functions()["Functions"] == [], "functions left after delete")
check(client.get_account_settings()["AccountUsage"]["FunctionCount"] == 0, "FunctionCount after delete")

SCOPE = {"CreateFunction", "GetFunction", "GetFunctionConfiguration", "ListFunctions", "UpdateFunctionCode",
         "UpdateFunctionConfiguration", "PublishVersion", "ListVersionsByFunction", "CreateAlias", "GetAlias",
         "UpdateAlias", "DeleteAlias", "ListAliases", "GetAccountSettings", "TagResource", "UntagResource", "ListTags",
         "Invoke", "DeleteFunction", "CreateFunctionUrlConfig", "GetFunctionUrlConfig", "UpdateFunctionUrlConfig",
         "ListFunctionUrlConfigs", "DeleteFunctionUrlConfig", "AddPermission", "GetPolicy", "RemovePermission",
         "PublishLayerVersion", "GetLayerVersion", "GetLayerVersionByArn", "ListLayers", "ListLayerVersions",
         "DeleteLayerVersion", "AddLayerVersionPermission", "GetLayerVersionPolicy", "RemoveLayerVersionPermission"}
check(SCOPE <= seen_ops, "operations never exercised: %s" % sorted(SCOPE - seen_ops))

if failures:
    print("\n%d conformance failures" % len(failures), file=sys.stderr)
    sys.exit(1)
print("conformance ok: %d operations, botocore %s" % (len(seen_ops), botocore.__version__))
