"""One Lambda execution environment: the process the local stack starts per environment.

Run as ``python -m govbus_dev.local.worker HANDLER READ_FD WRITE_FD`` with the function's
``CodeUri`` folder as the working directory (Lambda's ``/var/task``, first on
``sys.path``) and exactly the environment the template gives the function. It imports
the handler once (the init phase, the cold start), tells the parent how long that took,
then serves invocations one at a time over two pipes until the parent closes them.

The frames are a 4-byte big-endian length and a JSON document; the function's own
stdout and stderr stay free for its logs. This module imports only the standard
library, so an environment's init measures the function's imports and nothing of ours.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import resource
import struct
import sys
import time
import traceback
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None  # the parent went away
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return json.loads(body)


def write_frame(stream: BinaryIO, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


class LambdaContext:
    """What the Lambda runtime hands a handler (the attributes Powertools reads)."""

    def __init__(self, invocation: dict[str, Any]) -> None:
        self.aws_request_id: str = invocation["request_id"]
        self.function_name: str = invocation["function_name"]
        self.function_version: str = invocation.get("function_version", "$LATEST")
        self.invoked_function_arn: str = invocation["function_arn"]
        self.memory_limit_in_mb: int = int(invocation["memory"])
        self.log_group_name: str = invocation.get("log_group_name", "")
        self.log_stream_name: str = invocation.get("log_stream_name", "local")
        self.identity = None
        self.client_context = None
        self._deadline_ms: int = int(invocation["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _json_default(value: Any) -> Any:
    # what the Lambda Python runtime's own serialiser accepts beyond plain JSON
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def lambda_error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _log_error(exc: BaseException, error_type: str | None = None) -> None:
    """Print the error as the Lambda runtime does, identifiers masked like every log line."""
    text = "".join(traceback.format_exception(exc))
    line = f"[ERROR] {error_type or type(exc).__name__}: {exc}\n{text}"
    try:
        from contracts.masking import mask_text

        line = mask_text(line)
    except Exception:  # noqa: S110 - an unmasked line is better than none here
        pass
    sys.stderr.write(line)
    sys.stderr.flush()


def clear_caches() -> None:
    """What a fresh environment would not have: cached clients, secrets, adapter state.

    The local stack asks for it after it wiped and re-provisioned the emulator, so no
    warm environment carries a secret, a working calendar or a CRL of the last test.
    Clients stay: the endpoint is the same, and rebuilding them in every warm
    environment after every reset would cost more than the tests it serves.
    """
    aws = sys.modules.get("govbus.aws")
    if aws is not None:
        aws.clear_caches(clients=False)  # same endpoint: the clients hold no state of it
    calendar = sys.modules.get("govbus.calendar")
    if calendar is not None:
        calendar._load.cache_clear()
    plugins = sys.modules.get("govbus.plugins")
    if plugins is not None:
        plugins.reconfigure_all()


def _max_memory_mb() -> int:
    """Peak resident memory of this process image (Lambda's ``Max Memory Used``)."""
    try:
        # VmHWM starts afresh at exec; ru_maxrss may carry the forking parent's peak
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux: KiB


def _init(handler_spec: str) -> Any:
    """Import the handler's module (the init phase) and return the handler."""
    module_name, _, attribute = handler_spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InitError(
            f"Unable to import module '{module_name}': {exc}", "Runtime.ImportModuleError"
        ) from exc
    handler = getattr(module, attribute, None)
    if handler is None:
        raise InitError(
            f"Handler '{attribute}' missing on module '{module_name}'", "Runtime.HandlerNotFound"
        )
    return handler


class InitError(Exception):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _invoke(handler: Any, message: dict[str, Any]) -> dict[str, Any]:
    context = LambdaContext(message["context"])
    try:
        result = handler(message["event"], context)
    except Exception as exc:
        _log_error(exc)
        return {"error": lambda_error(exc)}
    try:
        return {"result": json.loads(json.dumps(result, default=_json_default))}
    except (TypeError, ValueError) as exc:
        error = TypeError(f"Unable to marshal response: {exc}")
        _log_error(error, "Runtime.MarshalError")
        return {"error": lambda_error(error, "Runtime.MarshalError")}


def serve(handler_spec: str, inbox: BinaryIO, outbox: BinaryIO) -> int:
    started = time.perf_counter()
    try:
        handler = _init(handler_spec)
    except InitError as exc:
        _log_error(exc, exc.error_type)
        write_frame(outbox, {"init_error": lambda_error(exc, exc.error_type)})
        return 1
    except Exception as exc:
        _log_error(exc)
        write_frame(outbox, {"init_error": lambda_error(exc)})
        return 1
    init_ms = (time.perf_counter() - started) * 1000
    write_frame(outbox, {"ready": True, "init_ms": init_ms, "max_memory_mb": _max_memory_mb()})
    while True:
        message = read_frame(inbox)
        if message is None:
            return 0
        if message.get("op") == "clear_caches":
            try:
                clear_caches()
            except Exception as exc:
                _log_error(exc)
            continue
        began = time.perf_counter()
        answer = _invoke(handler, message)  # sys.exit and os._exit end the process here
        answer["duration_ms"] = (time.perf_counter() - began) * 1000
        answer["max_memory_mb"] = _max_memory_mb()
        sys.stdout.flush()
        sys.stderr.flush()
        write_frame(outbox, answer)


def main(argv: list[str]) -> int:
    handler_spec, read_fd, write_fd = argv[0], int(argv[1]), int(argv[2])
    with os.fdopen(read_fd, "rb") as inbox, os.fdopen(write_fd, "wb") as outbox:
        return serve(handler_spec, inbox, outbox)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
