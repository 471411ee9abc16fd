"""GET /items/{id}: an API Gateway REST API (proxy integration) handler."""
import json
import os
import uuid

# Drawn once per execution environment: warm invocations answer the same id.
ENVIRONMENT = uuid.uuid4().hex[:16]


def handler(event, context):
    item_id = (event.get("pathParameters") or {}).get("id")
    body = {
        "id": item_id,
        "name": f"item {item_id}",
        "stage": os.environ.get("STAGE", ""),
        "path": event.get("path"),
        "resource": event.get("resource"),
        "environment": ENVIRONMENT,
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
