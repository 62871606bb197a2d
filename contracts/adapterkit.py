"""What every adapter's lifecycle hooks share: its configuration, its credentials, its
lazily built client and its cached ping.

An adapter module keeps one :class:`AdapterState` and its hooks stay one line each::

    _state = AdapterState("EMS", EmsConfig)

    def client() -> EmsClient:
        return _state.client(lambda config, creds: EmsClient(config, creds["app_key"], ...))

    @hookimpl
    def govbus_adapter_configure(settings, get_secret) -> None:
        _state.configure(settings, get_secret)

    @hookimpl
    def govbus_ping() -> PingResult:
        return _state.ping(NAME, lambda: ping_endpoint(str(_state.config.endpoint)))

Configuring again (a rotated secret, a new endpoint) drops the client and the cached ping,
so the next call builds them from what was just given.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.adapters import Health, PingResult
from contracts.errors import PartnerUnavailable, ValidationFailed

ConfigT = TypeVar("ConfigT", bound=BaseModel)
ModelT = TypeVar("ModelT", bound=BaseModel)
ClientT = TypeVar("ClientT")

#: A probe answers whether the partner is up, and if not, why (a person reads it).
Probe = Callable[[], "bool | tuple[bool, str]"]


class AdapterState[ConfigT: BaseModel, ClientT]:
    """One adapter's configuration and what is built from it, safe across threads."""

    def __init__(self, partner: str, config_type: type[ConfigT]) -> None:
        self.partner = partner  # as a sentence names it: "EMS", "the SMS gateway"
        self.config_type = config_type
        self.config: ConfigT = config_type()
        self.get_secret: Callable[[str], str] | None = None
        self.lock = threading.Lock()
        self._client: ClientT | None = None
        self._ping: tuple[float, PingResult] | None = None
        self._on_configure: list[Callable[[], None]] = []

    def on_configure(self, reset: Callable[[], None]) -> None:
        """Also drop something else the adapter built from the old configuration."""
        self._on_configure.append(reset)

    def configure(
        self, settings: Mapping[str, Any], get_secret: Callable[[str], str] | None
    ) -> None:
        """Take the settings this adapter knows (others are for other adapters)."""
        known = {k: v for k, v in settings.items() if k in self.config_type.model_fields}
        config = self.config_type.model_validate(known)
        with self.lock:
            self.config = config
            self.get_secret = get_secret
            old, self._client = self._client, None
            if old is not None and callable(getattr(old, "close", None)):
                old.close()  # its connections belong to the old configuration
            self._ping = None
            for reset in self._on_configure:
                reset()

    def credentials(self) -> dict[str, Any]:
        """The adapter's secret, parsed; PartnerUnavailable when missing or malformed."""
        if self.get_secret is None:
            raise PartnerUnavailable(f"the adapter for {self.partner} is not configured")
        secret_name = getattr(self.config, "secret_name", "")
        try:
            creds = json.loads(self.get_secret(secret_name))
        except ValueError as exc:
            raise PartnerUnavailable(
                f"the credentials secret for {self.partner} is malformed"
            ) from exc
        if not isinstance(creds, dict):
            raise PartnerUnavailable(f"the credentials secret for {self.partner} is malformed")
        return creds

    def client(self, build: Callable[[ConfigT, dict[str, Any]], ClientT]) -> ClientT:
        """Built lazily, once per configuration, from the credentials the partner issued."""
        with self.lock:
            if self._client is None:
                creds = self.credentials()
                try:
                    self._client = build(self.config, creds)
                except (KeyError, ValueError, TypeError) as exc:
                    raise PartnerUnavailable(
                        f"the credentials secret for {self.partner} is malformed"
                    ) from exc
            return self._client

    def ping(self, adapter: str, probe: Probe) -> PingResult:
        """The probe's answer, cached for ``config.ping_cache_seconds``; never raises."""
        now = time.monotonic()
        cached = self._ping
        if cached and now - cached[0] < getattr(self.config, "ping_cache_seconds", 0):
            return cached[1]
        started = time.perf_counter()
        try:
            answer = probe()
            up, detail = answer if isinstance(answer, tuple) else (answer, "")
            if not up and not detail:
                detail = f"{self.partner} did not answer its ping"
        except Exception as exc:  # a ping never raises: health reads it
            up, detail = False, f"ping failed: {type(exc).__name__}"
        result = PingResult(
            adapter=adapter,
            status=Health.up if up else Health.down,
            latency_ms=(time.perf_counter() - started) * 1000,
            detail=detail,
        )
        self._ping = (now, result)
        return result


def from_wire[ModelT: BaseModel](
    model: type[ModelT], values: Mapping[str, Any], wire_names: Mapping[str, str]
) -> ModelT:
    """The contract ``model`` built from a partner's push; a value that breaks it is a
    :class:`ValidationFailed` (422) naming the field as the partner sent it.

    ``values`` are keyed by the contract's field names; ``wire_names`` maps each of those
    to the partner's own (``{"note": "op_desc"}``). The partner reads the 422, and it knows
    its ``op_desc``, not our ``note``. Fields the mapping does not name keep their name.
    """
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        path = [str(p) for p in first["loc"]]
        if path:
            path[0] = wire_names.get(path[0], path[0])
        where = ".".join(path) or "(body)"
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None
