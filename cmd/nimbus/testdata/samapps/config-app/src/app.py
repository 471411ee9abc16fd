import os


def handler(event, context):
    return {
        "environment": os.environ["ENVIRONMENT"],
        "log_level": os.environ["LOG_LEVEL"],
        "tier": os.environ["TIER"],
        "team": os.environ["TEAM"],
        "shared_function": os.environ["SHARED_FUNCTION"],
        "api_key_length": len(os.environ["API_KEY"]),
        "memory": context.memory_limit_in_mb,
        "tracing": os.environ.get("_X_AMZN_TRACE_ID") is not None,
    }


def audit(event, context):
    return {"audited": True}
