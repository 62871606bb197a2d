"""Run in a clean interpreter (``python -I -S``): one built function, one sample event.

argv: function_dir layer_python_dir module handler event_json_path

sys.path holds only what Lambda's does for our code: the function's folder (/var/task)
and the layer's python/ (/opt/python), then the standard library; no site-packages, no
checkout. Prints one JSON line: ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error": type, "missing": the module not found, "detail": traceback}``.
"""

import importlib
import json
import sys
import traceback
import uuid


class Context:
    function_name = "artefact-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:artefact-test"
    aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self):
        return 10_000


def main() -> dict:
    function_dir, layer_dir, module, handler, event_path = sys.argv[1:6]
    sys.path[:0] = [function_dir, layer_dir]
    try:
        fn = getattr(importlib.import_module(module), handler)
        with open(event_path, encoding="utf-8") as fh:
            event = json.load(fh)
        result = fn(event, Context())
    except BaseException as exc:  # reported to the test, which names it
        return {
            "ok": False,
            "error": type(exc).__name__,
            "missing": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
            "detail": traceback.format_exc()[-3000:],
        }
    files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
    return {"ok": True, "result": result, "sys_path": sys.path, "files": [f for f in files if f]}


if __name__ == "__main__":
    print(json.dumps(main(), default=str), flush=True)
