"""whoami: a two-way route; the answer goes back to the sender. The
caller's name is what $connect's authorizer returned."""


def handler(event, context):
    ctx = event["requestContext"]
    return {"statusCode": 200, "body": f"you are {ctx['connectionId']} ({ctx['authorizer']['user']})"}
