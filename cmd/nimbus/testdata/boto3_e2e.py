"""End-to-end check of a Nimbus node with boto3, as a Lambda user would write it.

Usage: python3 boto3_e2e.py ENDPOINT PYTHON_ZIP
Exits non-zero with a message on the first mismatch.
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, zip_path = sys.argv[1], sys.argv[2]
# Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, as a user's
# shell after `eval "$(nimbus env)"` has them.
client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")


def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)


with open(zip_path, "rb") as f:
    code = f.read()

fn = client.create_function(
    FunctionName="boto-py",
    Runtime="python3.12",
    Handler="app.handler",
    Role="arn:aws:iam::000000000000:role/lambda",
    Code={"ZipFile": code},
    Timeout=10,
)
check(fn["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:boto-py", fn["FunctionArn"])
client.get_waiter("function_active_v2").wait(FunctionName="boto-py", WaiterConfig={"Delay": 1})

r = client.invoke(FunctionName="boto-py", Payload=json.dumps({"name": "boto"}), LogType="Tail")
body = json.loads(r["Payload"].read())
check(r["StatusCode"] == 200, r)
check("FunctionError" not in r, r)
check(body["message"] == "Hello, boto!", body)
check(r["ExecutedVersion"] == "$LATEST", r)
import base64

tail = base64.b64decode(r["LogResult"]).decode()
check("START RequestId:" in tail and "REPORT RequestId:" in tail, tail)

v = client.publish_version(FunctionName="boto-py")
check(v["Version"] == "1", v)
client.create_alias(FunctionName="boto-py", Name="live", FunctionVersion="1")
r = client.invoke(FunctionName="boto-py", Qualifier="live", Payload=b"{}")
check(r["ExecutedVersion"] == "1", r)

names = []
for page in client.get_paginator("list_functions").paginate():
    names += [f["FunctionName"] for f in page["Functions"]]
check("boto-py" in names, names)

try:
    client.get_function(FunctionName="does-not-exist")
    check(False, "get_function of a missing function succeeded")
except ClientError as e:
    check(e.response["Error"]["Code"] == "ResourceNotFoundException", e.response)
    check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response)

try:
    client.invoke(FunctionName="boto-py", Payload=b"{nope")
    check(False, "malformed payload accepted")
except ClientError as e:
    check(e.response["Error"]["Code"] == "InvalidRequestContentException", e.response)

print("boto3 e2e ok")


# Signatures are checked: a wrong secret and an unknown key are refused with
# AWS's error codes, and the refused delete changed nothing.
import os  # noqa: E402

from botocore.config import Config  # noqa: E402

for key_id, secret, code in [
    (os.environ["AWS_ACCESS_KEY_ID"], "wrong-secret", "InvalidSignatureException"),
    ("AKIAUNKNOWNUNKNOWN00", os.environ["AWS_SECRET_ACCESS_KEY"], "UnrecognizedClientException"),
]:
    bad = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id=key_id, aws_secret_access_key=secret,
                       config=Config(retries={"max_attempts": 1}))
    try:
        bad.delete_function(FunctionName="boto-py")
        check(False, "delete_function with %s succeeded" % code)
    except ClientError as e:
        check(e.response["Error"]["Code"] == code, "bad credentials: %s, want %s" % (e.response["Error"], code))
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, "bad credentials: status %s" % e.response["ResponseMetadata"])
check(client.get_function(FunctionName="boto-py")["Configuration"]["FunctionName"] == "boto-py",
      "boto-py gone after refused deletes")
print("boto3 bad-credential checks passed")

# A presigned URL (SigV4 in the query, as botocore builds it) works without
# credentials until it expires; the same URL with its signature changed
# does not.
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

url = client.generate_presigned_url("get_function", Params={"FunctionName": "boto-py"}, ExpiresIn=300)
check("X-Amz-Signature=" in url, url)
with urllib.request.urlopen(url) as resp:  # noqa: S310 - our own server
    check(json.load(resp)["Configuration"]["FunctionName"] == "boto-py", "presigned get_function")
sig = url.rsplit("X-Amz-Signature=", 1)[1][:64]
forged = url.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
try:
    urllib.request.urlopen(forged)  # noqa: S310
    check(False, "forged presigned URL accepted")
except urllib.error.HTTPError as e:
    check(e.code == 403 and e.headers.get("X-Amzn-ErrorType") == "InvalidSignatureException",
          "forged presigned URL: %s %s" % (e.code, e.headers.get("X-Amzn-ErrorType")))
print("boto3 presigned URL checks passed")
