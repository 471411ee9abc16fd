"""sendmessage: post the message's data to every connection."""
import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def management_endpoint(ctx):
    # On AWS the @connections API is https://<domainName>/<stage>. Inside a
    # Nimbus function the node's API is AWS_ENDPOINT_URL, and the API's
    # host is reached by its path-style form /_aws/execute-api/<api-id>/.
    nimbus = os.environ.get("AWS_ENDPOINT_URL")
    if nimbus:
        return f"{nimbus}/_aws/execute-api/{ctx['apiId']}/{ctx['stage']}"
    return f"https://{ctx['domainName']}/{ctx['stage']}"


def handler(event, context):
    ctx = event["requestContext"]
    data = json.loads(event.get("body") or "{}").get("data", "")
    api = boto3.client("apigatewaymanagementapi", endpoint_url=management_endpoint(ctx))
    sent = 0
    for item in table.scan(ProjectionExpression="connectionId")["Items"]:
        try:
            api.post_to_connection(ConnectionId=item["connectionId"], Data=data.encode())
            sent += 1
        except api.exceptions.GoneException:
            table.delete_item(Key={"connectionId": item["connectionId"]})
    return {"statusCode": 200, "body": f"Sent to {sent}."}
