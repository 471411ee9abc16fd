import json
import os


def lambda_handler(event, context):
    """Sample pure Lambda function

    Parameters
    ----------
    event: dict, required
        API Gateway Lambda Proxy Input Format

    context: object, required
        Lambda Context runtime methods and attributes

    Returns
    ------
    API Gateway Lambda Proxy Output Format: dict
    """

    return {
        "statusCode": 200,
        "body": json.dumps({
            "message": "hello world",
            "path": event["path"],
            "stage": event["requestContext"]["stage"],
            "function": context.function_name,
            "runtime": os.environ.get("AWS_EXECUTION_ENV", ""),
        }),
    }
