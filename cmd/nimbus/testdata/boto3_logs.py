"""The CloudWatch Logs API of a Nimbus node through boto3: shapes, paging,
errors. The node already has function FUNCTION, invoked at least twice.

Usage: python3 boto3_logs.py ENDPOINT FUNCTION
Exits non-zero with a message on the first mismatch.
"""
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, fn = sys.argv[1], sys.argv[2]
group = "/aws/lambda/" + fn
# Credentials and region come from the environment, as the test sets them.
logs = boto3.client("logs", endpoint_url=endpoint)


def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)


def error_code(call, **kw):
    try:
        call(**kw)
    except ClientError as e:
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response)
        check(e.response["Error"]["Message"], e.response)
        return e.response["Error"]["Code"]
    return None


groups = [g for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/lambda/")
          for g in page["logGroups"]]
check([g["logGroupName"] for g in groups] == [group], groups)
check(groups[0]["arn"].endswith(":log-group:" + group + ":*") and groups[0]["creationTime"] > 0, groups[0])

streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
check(len(streams) >= 1, streams)
stream = streams[0]["logStreamName"]
check(stream.startswith("20") and "[$LATEST]" in stream, stream)
check(streams[0]["lastEventTimestamp"] >= streams[0]["firstEventTimestamp"], streams[0])

ev = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
msgs = [e["message"] for e in ev["events"]]
check(any(m.startswith("START RequestId:") for m in msgs), msgs)
check(ev["nextForwardToken"].startswith("f/") and ev["nextBackwardToken"].startswith("b/"), ev)
again = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=ev["nextForwardToken"])
check(again["events"] == [] and again["nextForwardToken"] == ev["nextForwardToken"], again)

# Paging FilterLogEvents two events at a time sees every REPORT once.
pages, reports, ids = 0, 0, set()
for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, filterPattern="REPORT", PaginationConfig={"PageSize": 1}):
    pages += 1
    for e in page["events"]:
        check(e["eventId"] not in ids, "event %s twice" % e["eventId"])
        ids.add(e["eventId"])
        check(e["logStreamName"] and e["ingestionTime"] >= e["timestamp"], e)
        reports += e["message"].startswith("REPORT RequestId:")
check(reports >= 2 and pages >= reports, (pages, reports))

check(error_code(logs.get_log_events, logGroupName="/aws/lambda/missing", logStreamName="x") == "ResourceNotFoundException", "missing group")
check(error_code(logs.get_log_events, logGroupName=group, logStreamName="missing") == "ResourceNotFoundException", "missing stream")
check(error_code(logs.filter_log_events, logGroupName=group, filterPattern='{ $.x = ') == "InvalidParameterException", "bad pattern")
check(error_code(logs.put_retention_policy, logGroupName=group, retentionInDays=2) == "InvalidParameterException", "bad retention")
check(error_code(logs.create_log_group, logGroupName=group) == "ResourceAlreadyExistsException", "existing group")
check(error_code(logs.create_log_group, logGroupName="bad name!") == "InvalidParameterException", "bad name")

logs.put_retention_policy(logGroupName=group, retentionInDays=14)
g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
check(g.get("retentionInDays") == 14, g)
logs.delete_retention_policy(logGroupName=group)
g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
check("retentionInDays" not in g, g)

logs.create_log_group(logGroupName="/app/boto")
check(error_code(logs.delete_log_group, logGroupName="/app/none") == "ResourceNotFoundException", "delete missing")
logs.delete_log_group(logGroupName="/app/boto")
check(logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"] == [], "group not deleted")
print("ok")
