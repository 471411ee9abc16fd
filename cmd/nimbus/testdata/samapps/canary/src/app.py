import os


def handler(event, context):
    return {"version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"], "arn": context.invoked_function_arn}
