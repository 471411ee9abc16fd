"""The API sequence of `sam deploy` (samcli.lib.deploy.deployer.Deployer),
made with boto3 against a Nimbus node: has_stack, GetTemplateSummary for
updates, CreateChangeSet, the change_set_create_complete waiter, the
DescribeChangeSet paginator, ExecuteChangeSet, DescribeStackEvents
streaming, the stack waiter and the outputs.

usage: sam_deploy_sequence.py ENDPOINT TEMPLATE_FILE
"""

import http.client
import sys
import time
import urllib.parse
from datetime import datetime, timezone

import boto3
import botocore

endpoint, template = sys.argv[1], open(sys.argv[2]).read()
cfn = boto3.client("cloudformation", endpoint_url=endpoint)
STACK = "sam-sequence"


def has_stack(name):
    try:
        resp = cfn.describe_stacks(StackName=name)
        return resp["Stacks"][0]["StackStatus"] != "REVIEW_IN_PROGRESS"
    except botocore.exceptions.ClientError as e:
        if "Stack with id {0} does not exist".format(name) in str(e):
            return False
        raise


def deploy(params):
    """One `sam deploy`: None for an empty change set, else (type, changes, events, outputs)."""
    if not has_stack(STACK):
        typ = "CREATE"
        params = [p for p in params if not p.get("UsePreviousValue", False)]
    else:
        typ = "UPDATE"
        summary = cfn.get_template_summary(StackName=STACK)
        existing = [p["ParameterKey"] for p in summary["Parameters"]]
        params = [p for p in params if not (p.get("UsePreviousValue", False) and p["ParameterKey"] not in existing)]
    resp = cfn.create_change_set(
        ChangeSetName="samcli-deploy" + str(time.time_ns()), StackName=STACK, TemplateBody=template,
        ChangeSetType=typ, Parameters=params, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        Description="Created by SAM CLI at {0} UTC".format(datetime.now(timezone.utc).isoformat()),
        Tags=[{"Key": "app", "Value": "greeter"}],
    )
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=resp["Id"], StackName=STACK, WaiterConfig={"Delay": 1})
    except botocore.exceptions.WaiterError as ex:
        last = ex.last_response
        if last["Status"] == "FAILED" and "The submitted information didn't contain changes." in last["StatusReason"]:
            return None
        raise
    changes = {"Add": [], "Modify": [], "Remove": []}
    for page in cfn.get_paginator("describe_change_set").paginate(ChangeSetName=resp["Id"], StackName=STACK):
        for change in page["Changes"]:
            rc = change["ResourceChange"]
            changes[rc["Action"]].append(rc["LogicalResourceId"])
    marker = cfn.describe_stack_events(StackName=STACK)["StackEvents"][0]["Timestamp"]
    cfn.execute_change_set(ChangeSetName=resp["Id"], StackName=STACK)
    events = set()
    deadline = time.time() + 120
    while True:
        status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
        for page in cfn.get_paginator("describe_stack_events").paginate(StackName=STACK):
            for e in page["StackEvents"]:
                if e["Timestamp"] >= marker:
                    events.add((e["LogicalResourceId"], e["ResourceStatus"]))
        if "COMPLETE" in status and "CLEANUP" not in status:
            break
        assert time.time() < deadline, status
        time.sleep(0.2)
    waiter = "stack_create_complete" if typ == "CREATE" else "stack_update_complete"
    cfn.get_waiter(waiter).wait(StackName=STACK, WaiterConfig={"Delay": 1})
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]}
    return typ, changes, events, outputs


def get(url):
    """GET a function URL through the node's address (*.localhost needs no DNS)."""
    u = urllib.parse.urlsplit(url)
    node = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(node.hostname, node.port, timeout=60)
    conn.request("GET", u.path or "/", headers={"Host": u.netloc})
    r = conn.getresponse()
    return r.status, r.read().decode()


typ, changes, events, outputs = deploy([{"ParameterKey": "Greeting", "ParameterValue": "hello"}])
assert typ == "CREATE", typ
assert not changes["Modify"] and not changes["Remove"], changes
assert {"Greeter", "GreeterRole", "GreeterUrl"} <= set(changes["Add"]), changes
assert ("Greeter", "CREATE_COMPLETE") in events and (STACK, "CREATE_COMPLETE") in events, events
assert get(outputs["Url"]) == (200, "hello, deployed by the AWS CLI"), get(outputs["Url"])
url = outputs["Url"]

typ, changes, events, outputs = deploy([{"ParameterKey": "Greeting", "ParameterValue": "hola"}])
assert typ == "UPDATE", typ
assert changes == {"Add": [], "Modify": ["Greeter"], "Remove": []}, changes
assert ("Greeter", "UPDATE_COMPLETE") in events and (STACK, "UPDATE_COMPLETE") in events, events
assert outputs["Url"] == url, outputs
assert get(url) == (200, "hola, deployed by the AWS CLI"), get(url)

assert deploy([{"ParameterKey": "Greeting", "UsePreviousValue": True}]) is None
sets = cfn.list_change_sets(StackName=STACK)["Summaries"]
assert [s["ExecutionStatus"] for s in sets] == ["EXECUTE_COMPLETE", "EXECUTE_COMPLETE", "UNAVAILABLE"], sets
print("sam deploy sequence: ok")
