"""whoami: a two-way route; the answer goes back to the sender."""


def handler(event, context):
    return {"statusCode": 200, "body": "you are " + event["requestContext"]["connectionId"]}
