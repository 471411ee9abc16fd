"""A Python Lambda function, deployed with --runtime python3.12 --handler app.handler."""
import json
import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)

invocations = 0  # survives across invocations of one environment


def handler(event, context):
    global invocations
    invocations += 1
    name = (event or {}).get("name", "world")
    logger.info("greeting %s", name)
    return {
        "message": f"Hello, {name}!",
        "requestId": context.aws_request_id,
        "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "remainingMs": context.get_remaining_time_in_millis(),
        "count": invocations,
    }
