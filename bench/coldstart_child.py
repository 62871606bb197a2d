"""Run in a fresh process: import one function's handler and serve one sample event.

argv: code_dir module handler event_json_path ; prints nothing on success.

The process ends with ``os._exit`` once the handler has answered, as the floor's does:
a Lambda cold start ends with the first answer, and the execution environment is not
torn down after it, so interpreter shutdown (freeing every module) is no part of it.
"""

import importlib
import json
import os
import sys
import uuid


class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self):
        return 10_000


def main() -> None:
    code_dir, module, handler, event_path = sys.argv[1:5]
    sys.path.insert(0, code_dir)
    fn = getattr(importlib.import_module(module), handler)
    with open(event_path) as fh:
        event = json.load(fh)
    result = fn(event, Context())
    if isinstance(result, dict) and result.get("batchItemFailures"):
        raise SystemExit(f"sample event failed: {result}")
    if isinstance(result, dict) and "isAuthorized" in result:
        return  # an authorizer's answer (a refusal, for the sample token) is its success
    if isinstance(result, dict) and int(result.get("statusCode", 200)) >= 500:
        raise SystemExit(f"sample event failed: {result}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
