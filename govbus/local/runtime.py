"""Running Lambda handlers in-process, with the environment the template gives them.

Each function is imported from its CodeUri (its folder on ``sys.path`` while it
imports, as in Lambda) under a module name of its own, and invoked with a Lambda
context. Environment variables are process-wide, so each invocation runs with its
function's variables applied under one lock: invocations are serialised, the
behaviour of a function with reserved concurrency 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from govbus.local.template import ACCOUNT_ID, FunctionSpec, Resolver

_ENV_LOCK = threading.RLock()


@contextlib.contextmanager
def applied_environment(variables: dict[str, str]) -> Iterator[None]:
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@dataclasses.dataclass
class LambdaContext:
    """What the Lambda runtime hands a handler."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    region: str
    function_version: str = "$LATEST"
    aws_request_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    started: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class LocalFunction:
    """One template function, imported lazily (its cold start) and invoked in-process."""

    def __init__(
        self,
        spec: FunctionSpec,
        resolver: Resolver,
        base_env: dict[str, str],
        overrides: dict[str, str] | None = None,
    ):
        self.spec = spec
        self.base_env = base_env
        self.overrides = overrides or {}
        self.refresh(resolver)
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None
        self._import_lock = threading.Lock()
        self.invocations = 0

    def refresh(self, resolver: Resolver) -> None:
        """Resolve the environment again (after the emulator was reset and re-provisioned)."""
        self.name = resolver.refs.get(self.spec.logical_id, self.spec.logical_id)
        self.region = resolver.region
        env = {k: resolver.resolve(v) for k, v in self.spec.environment.items()}
        self.environment = {
            **self.base_env,
            **{k: str(v) for k, v in env.items() if v is not None},
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory),
            # local wiring wins over the template (simulator endpoints)
            **self.overrides,
        }

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    def _load(self) -> Callable[[dict[str, Any], Any], Any]:
        with self._import_lock:
            if self._handler is not None:
                return self._handler
            module_name = f"govbus_local_fn_{self.spec.logical_id}"
            spec = importlib.util.spec_from_file_location(module_name, self.spec.module_file)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {self.spec.module_file}")
            module = importlib.util.module_from_spec(spec)
            code_dir = str(self.spec.code_dir)
            with applied_environment(self.environment):
                sys.path.insert(0, code_dir)
                try:
                    sys.modules[module_name] = module
                    spec.loader.exec_module(module)
                finally:
                    sys.path.remove(code_dir)
            self._handler = getattr(module, self.spec.handler_name)
            return self._handler

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self._load()
        context = LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory,
            timeout_seconds=self.spec.timeout,
            region=self.region,
            log_group_name=f"/aws/lambda/{self.name}",
        )
        with applied_environment(self.environment):
            self.invocations += 1
            return handler(event, context)
