"""$connect's Lambda authorizer: a REQUEST authorizer whose identity
source is the token query parameter (route.request.querystring.token).

A real application verifies a signed token here; this demo accepts
"demo-<name>" and names the caller <name>. The context it returns reaches
every later event of the connection as requestContext.authorizer."""


def handler(event, context):
    token = (event.get("queryStringParameters") or {}).get("token", "")
    user = token[len("demo-"):] if token.startswith("demo-") else ""
    effect = "Allow" if user else "Deny"
    return {
        "principalId": user or "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
        "context": {"user": user},
    }
