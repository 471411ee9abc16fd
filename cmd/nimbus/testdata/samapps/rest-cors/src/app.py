import json


def handler(event, context):
    pet = (event.get("pathParameters") or {}).get("petId")
    body = {"pet": pet} if pet else {"pets": ["cat", "dog"]}
    return {
        "statusCode": 200,
        "headers": {"Access-Control-Allow-Origin": "https://example.com"},
        "body": json.dumps(body),
    }
