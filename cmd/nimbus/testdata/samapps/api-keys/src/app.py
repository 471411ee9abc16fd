import json
import os


def handler(event, context):
    name = event["pathParameters"]["name"]
    return {"statusCode": 200, "body": json.dumps({"message": os.environ["GREETING"] + ", " + name})}
