#!/usr/bin/env python3
"""Expands SAM templates with aws-sam-translator, for the differential test.

Reads a JSON list of {"name", "template" or "yaml", "parameters"} on stdin and writes
a JSON object mapping each name to {"template": <transformed>} or
{"error": "<message>"}. The managed-policy loader knows no names, so nothing
calls IAM: samtranslator then uses its bundled managed policy map, which is
what the Go transform embeds.
"""
import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class NoPolicyLoader:
    def load(self):
        return {}


def main():
    out = {}
    for req in json.load(sys.stdin):
        try:
            template = req["template"] if "template" in req else yaml_parse(req["yaml"])
            result = transform(template, req.get("parameters") or {}, NoPolicyLoader())
            out[req["name"]] = {"template": result}
        except InvalidDocumentException as e:
            out[req["name"]] = {"error": "; ".join(str(c.message) for c in e.causes)}
        except Exception as e:  # noqa: BLE001 - a crash is a result the test reports
            out[req["name"]] = {"error": "crash: %r" % (e,)}
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
