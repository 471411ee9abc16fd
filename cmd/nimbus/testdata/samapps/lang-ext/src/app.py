import os


def handler(event, context):
    return {"name": os.environ["NAME"], "count": os.environ["COUNT"], "config": os.environ["CONFIG"]}
