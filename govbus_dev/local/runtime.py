"""Running template functions as Lambda does: execution environments in worker processes.

Each function gets worker processes of its own, its *execution environments*. An
environment is started with exactly the environment variables the template gives the
function (plus what the Lambda runtime itself sets), with the function's ``CodeUri``
folder as its working directory and first on ``sys.path``; it imports the handler once
(the init phase: the cold start) and then serves one invocation at a time, warm, for as
long as it lives. Environments start lazily, when an invocation finds none idle, up to
the function's ``ReservedConcurrentExecutions`` (or a local default); further
invocations wait for one to come free. So concurrent requests run concurrently, a
function's module globals are its own, and nothing swaps ``os.environ``.

A handler still running at its ``Timeout`` has its process killed; so does one that
calls ``sys.exit`` or ``os._exit`` or crashes the interpreter. The caller gets the error
Lambda reports (``Sandbox.Timedout``, ``Runtime.ExitError``), only that environment is
lost, and the next invocation starts a fresh one. Each invocation logs Lambda's
``REPORT`` line (on the ``govbus_dev.lambda`` logger), with ``Init Duration`` on a cold
start only.

Why ``subprocess`` and a small pipe protocol (``govbus_dev.local.worker``) rather than
``multiprocessing``: a child is started with an explicit environment (``env=``) instead
of inheriting and patching the parent's; it does not re-import the parent's
``__main__`` (pytest, the CLI) as ``spawn`` does, nor inherit the parent's imported
modules, threads and locks as ``fork``/``forkserver`` do, so its cold start is a real
one; killing it on a timeout is one ``kill()``; and its stdout/stderr stay free for the
function's logs, which threads here copy to this process's ``sys.stdout``/``sys.stderr``
(so a test's capture sees them, as it saw in-process logs before).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

from govbus_dev.local.template import ACCOUNT_ID, FunctionSpec, Resolver

report_log = logging.getLogger("govbus_dev.lambda")

DEFAULT_CONCURRENCY = 4
"""Environments per function when the template reserves no concurrency (2 cores)."""

INIT_TIMEOUT_SECONDS = 10.0
"""Lambda's limit on the init phase; locally the function's timeout is added to it,
as Lambda retries a slow init within the first invocation."""

_LIVE_WORKERS: set[subprocess.Popen] = set()
"""Every worker process started and not yet reaped, for :func:`kill_every_worker`."""


def kill_every_worker() -> int:
    """SIGKILL every worker process still running, taking no lock (a forced stop: the
    threads that own them may be stuck); the number killed."""
    killed = 0
    for process in list(_LIVE_WORKERS):
        if process.poll() is None:
            try:
                process.kill()
                killed += 1
            except OSError:
                pass
    return killed


PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The layer's content (``ContentUri: .``): contracts, govbus, the adapters."""

# what Lambda hands every function besides its own variables (credentials come from
# the execution role there; here from this process, which the local stack pinned)
_PASSED_THROUGH = (
    "PATH",
    "HOME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)

_OUTPUT_LOCK = threading.Lock()


class FunctionError(Exception):
    """An invocation failed; ``payload`` is what Lambda returns (``X-Amz-Function-Error``)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")

    @property
    def error_type(self) -> str:
        return str(self.payload.get("errorType", ""))


def _forward(stream: IO[bytes], target: str) -> None:
    """Copy a worker's output, line by line, to whatever ``sys.<target>`` is now."""
    try:
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", "replace")
            with _OUTPUT_LOCK:
                out = getattr(sys, target)
                try:
                    out.write(text)
                    out.flush()
                except (ValueError, OSError):
                    pass  # a capture closed under us (the end of a test session)
    finally:
        stream.close()


class ExecutionEnvironment:
    """One worker process: init once, then one invocation at a time."""

    def __init__(self, function: LocalFunction, environ: dict[str, str], version: int) -> None:
        self.function = function
        self.version = version
        self.generation = function.cache_generation
        self.cold = True
        self.init_ms = 0.0
        self.dead = False
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "govbus_dev.local.worker",
                    function.spec.handler,
                    str(to_child_r),
                    str(from_child_w),
                ],
                cwd=function.spec.code_dir,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(to_child_r, from_child_w),
                # Ctrl-C in `govbus dev` reaches the stack, which stops its workers itself
                start_new_session=True,
            )
        except BaseException:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise
        _LIVE_WORKERS.add(self.process)
        os.close(to_child_r)
        os.close(from_child_w)
        self._to_child = os.fdopen(to_child_w, "wb")
        self._from_child = from_child_r
        self._buffer = b""
        for stream, target in ((self.process.stdout, "stdout"), (self.process.stderr, "stderr")):
            threading.Thread(
                target=_forward,
                args=(stream, target),
                daemon=True,
                name=f"logs-{function.logical_id}-{self.process.pid}",
            ).start()

    # --- the pipe protocol ----------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self._to_child.write(len(body).to_bytes(4, "big") + body)
        self._to_child.flush()

    def _read_exact(self, size: int, deadline: float) -> bytes | None:
        while len(self._buffer) < size:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self._from_child], [], [], wait)
            if not ready:
                raise TimeoutError
            chunk = os.read(self._from_child, max(65536, size - len(self._buffer)))
            if not chunk:
                return None
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        header = self._read_exact(4, deadline)
        if header is None:
            return None
        body = self._read_exact(int.from_bytes(header, "big"), deadline)
        return None if body is None else json.loads(body)

    # --- lifecycle ------------------------------------------------------------

    def exit_error(self, request_id: str) -> FunctionError:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.wait()
        status = (
            f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}"
            if code < 0
            else f"exit status {code}"
        )
        self.close()
        return FunctionError(
            {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {status}",
            }
        )

    def ready(self, request_id: str) -> None:
        """Wait for the init phase to finish (the first invocation only)."""
        deadline = self.started + INIT_TIMEOUT_SECONDS + self.function.spec.timeout
        try:
            answer = self._receive(deadline)
        except TimeoutError:
            self.kill()
            raise FunctionError(
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Init timed out",
                }
            ) from None
        if answer is None:
            raise self.exit_error(request_id)
        if "init_error" in answer:
            self.kill()
            raise FunctionError(answer["init_error"])
        self.init_ms = (time.monotonic() - self.started) * 1000

    def clear_caches(self) -> None:
        self._send({"op": "clear_caches"})

    def invoke(
        self, event: dict[str, Any], context: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Run one invocation; the worker's answer, or FunctionError if it died or hung."""
        request_id = context["request_id"]
        try:
            self._send({"op": "invoke", "event": event, "context": context})
        except (BrokenPipeError, ValueError):
            raise self.exit_error(request_id) from None
        try:
            answer = self._receive(time.monotonic() + timeout)
        except TimeoutError:
            self.kill()
            raise FunctionError(
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                    f"{timeout:.2f} seconds",
                }
            ) from None
        if answer is None:
            raise self.exit_error(request_id)
        return answer

    @property
    def alive(self) -> bool:
        return not self.dead and self.process.poll() is None

    def kill(self) -> None:
        """End the process and close the pipes (by the thread that holds the environment)."""
        self.terminate()
        self.close()

    def terminate(self) -> None:
        """End the process only: the thread invoking it sees the pipe close and cleans up."""
        if self.process.poll() is None:
            self.process.kill()

    def close(self) -> None:
        if self.dead:
            return
        self.dead = True
        for closer in (self._to_child.close, lambda: os.close(self._from_child)):
            try:
                closer()
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        _LIVE_WORKERS.discard(self.process)


class LocalFunction:
    """One template function: its execution environments, started lazily and reused."""

    def __init__(
        self,
        spec: FunctionSpec,
        resolver: Resolver,
        base_env: dict[str, str],
        overrides: dict[str, str] | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ):
        self.spec = spec
        self.base_env = base_env
        self.overrides = overrides if overrides is not None else {}
        reserved = spec.properties.get("ReservedConcurrentExecutions")
        self.max_environments = max(1, int(reserved)) if reserved is not None else concurrency
        self.environment: dict[str, str] = {}
        self._pool = threading.Condition()
        self._idle: list[ExecutionEnvironment] = []
        self._all: set[ExecutionEnvironment] = set()
        self._starting = 0
        self._version = 0
        self.cache_generation = 0
        self._counter = itertools.count(1)
        self.invocations = 0
        self.refresh(resolver)

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"

    def refresh(self, resolver: Resolver) -> None:
        """Resolve the environment again (after the emulator was reset and re-provisioned).

        Warm environments forget their caches before their next invocation; if the
        variables themselves changed (a new KMS key id), they are replaced, as a
        configuration change replaces them in Lambda.
        """
        self.name = resolver.refs.get(self.spec.logical_id, self.spec.logical_id)
        self.region = resolver.region
        env = {k: resolver.resolve(v) for k, v in self.spec.environment.items()}
        environment = {
            **self.base_env,
            **{k: str(v) for k, v in env.items() if v is not None},
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory),
            # local wiring wins over the template (simulator endpoints)
            **self.overrides,
        }
        with self._pool:
            if environment != self.environment:
                self.environment = environment
                self._retire_idle()
            self.cache_generation += 1

    def clear_caches(self) -> None:
        """Warm environments drop cached secrets, the working calendar and adapter state
        before their next invocation (a test that changed a secret need not wait out a
        cache)."""
        with self._pool:
            self.cache_generation += 1

    def recycle(self) -> None:
        """Replace every environment: idle ones now, busy ones when they finish."""
        with self._pool:
            self._retire_idle()

    def _retire_idle(self) -> None:
        self._version += 1
        idle, self._idle = self._idle, []
        for env in idle:
            self._all.discard(env)
            env.kill()
        self._pool.notify_all()

    def process_environment(self) -> dict[str, str]:
        """What the worker process starts with: the runtime's variables, then the function's."""
        runtime = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        runtime.update(
            {
                "LANG": "C.UTF-8",
                "TZ": ":UTC",
                "PYTHONPATH": str(PROJECT_ROOT),
                "PYTHONUNBUFFERED": "1",  # logs reach the console as they are written
                "LAMBDA_TASK_ROOT": str(self.spec.code_dir),
                "_HANDLER": self.spec.handler,
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            }
        )
        return {**runtime, **self.environment}

    # --- the pool -------------------------------------------------------------

    def _acquire(self) -> ExecutionEnvironment:
        with self._pool:
            while True:
                while self._idle:
                    env = self._idle.pop()  # the most recently used: the warmest
                    if env.version == self._version and env.alive:
                        return env
                    self._all.discard(env)
                    env.kill()
                if len(self._all) + self._starting < self.max_environments:
                    self._starting += 1
                    version, environ = self._version, self.process_environment()
                    break
                self._pool.wait()
        try:
            env = ExecutionEnvironment(self, environ, version)
        except BaseException:
            with self._pool:
                self._starting -= 1
                self._pool.notify()
            raise
        with self._pool:
            self._starting -= 1
            self._all.add(env)
        return env

    def _release(self, env: ExecutionEnvironment) -> None:
        with self._pool:
            if env.alive and env.version == self._version:
                self._idle.append(env)
            else:
                self._all.discard(env)
                env.kill()
            self._pool.notify()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Invoke synchronously: the handler's result, or :class:`FunctionError`."""
        env = self._acquire()
        request_id = str(uuid.uuid4())
        try:
            return self._invoke_in(env, event, request_id)
        finally:
            self._release(env)

    def _invoke_in(self, env: ExecutionEnvironment, event: dict[str, Any], request_id: str) -> Any:
        cold = env.cold
        if cold:
            env.ready(request_id)
            env.cold = False
        if env.generation != self.cache_generation:
            env.generation = self.cache_generation
            try:
                env.clear_caches()
            except (BrokenPipeError, ValueError):
                raise env.exit_error(request_id) from None
        timeout = float(self.spec.timeout)
        context = {
            "request_id": request_id,
            "function_name": self.name,
            "function_arn": self.arn,
            "memory": self.spec.memory,
            "log_group_name": f"/aws/lambda/{self.name}",
            "log_stream_name": "local",
            "deadline_ms": int(time.time() * 1000 + timeout * 1000),
        }
        began = time.monotonic()
        try:
            answer = env.invoke(event, context, timeout)
        except FunctionError as exc:
            elapsed = (time.monotonic() - began) * 1000
            if exc.error_type == "Sandbox.Timedout":
                stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                report_log.warning(
                    "%s %s Task timed out after %.2f seconds", stamp, request_id, timeout
                )
            self._report(request_id, elapsed, None, env, cold, status=exc.error_type)
            raise
        finally:
            self.invocations = next(self._counter)
        self._report(request_id, answer["duration_ms"], answer.get("max_memory_mb"), env, cold)
        if "error" in answer:
            raise FunctionError(answer["error"])
        return answer.get("result")

    def _report(
        self,
        request_id: str,
        duration_ms: float,
        max_memory_mb: int | None,
        env: ExecutionEnvironment,
        cold: bool,
        status: str = "",
    ) -> None:
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {self.spec.memory} MB\t"
            f"Max Memory Used: {max_memory_mb if max_memory_mb is not None else '-'} MB"
        )
        if cold:
            line += f"\tInit Duration: {env.init_ms:.2f} ms"
        if status:
            line += f"\tStatus: {'timeout' if status == 'Sandbox.Timedout' else 'error'}"
        report_log.info("%s %s", self.logical_id, line)

    def stop(self) -> None:
        """Kill every environment (idle now; a busy one's caller gets an exit error)."""
        with self._pool:
            self._version += 1
            idle, self._idle = self._idle, []
            busy = [env for env in self._all if env not in idle]
            self._all.clear()
            self._pool.notify_all()
        for env in idle:
            env.kill()
        for env in busy:
            env.terminate()

    @property
    def environments(self) -> int:
        """Execution environments alive now (idle or busy)."""
        with self._pool:
            return len(self._all)
