"""Run in a fresh process: call one function's handler in-process on prepared events.

argv: code_dir module handler events_json_path ; prints the median seconds per call
of the warm calls (the first call, the cold one, is left out) as JSON.
"""

import importlib
import json
import statistics
import sys
import time

from bench.coldstart_child import Context


def main() -> None:
    code_dir, module, handler, events_path = sys.argv[1:5]
    sys.path.insert(0, code_dir)
    fn = getattr(importlib.import_module(module), handler)
    with open(events_path) as fh:
        events = json.load(fh)
    samples = []
    for event in events:
        started = time.perf_counter()
        result = fn(event, Context())
        samples.append(time.perf_counter() - started)
        if int(result.get("statusCode", 200)) >= 300:
            raise SystemExit(f"handler answered {result}")
    print(json.dumps({"median_seconds": statistics.median(samples[1:])}))


if __name__ == "__main__":
    main()
