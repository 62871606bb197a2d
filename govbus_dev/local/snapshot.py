"""Snapshots of an in-process moto server's state, restored in milliseconds.

A test session resets the emulator before every test. Resetting moto and provisioning
the whole template again over the wire costs a second or more a test (and every
function's environments were replaced, since a new KMS key changed their variables);
loading the demo seed over the gateway costs five to ten more. Instead the state right
after provisioning (and right after seeding) is pickled once and each reset writes it
back into moto's live backend objects.

Only for the moto server a stack runs itself (``LocalStack`` without an external
endpoint): moto runs in a process of its own (govbus_dev/local/endpoint.py), where
:class:`Snapshot` keeps and restores its backends; the stack asks for that over the
wire (:func:`take`, :func:`restore`, :func:`state_fingerprint`).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import threading
import types
import urllib.parse
import urllib.request
from collections import defaultdict
from typing import Any

from moto.core.base_backend import BackendDict, backend_lock

_LOCK_TYPES = (
    type(threading.Lock()),
    type(threading.RLock()),
)
Key = tuple[str, str, str]  # service, account, region

# the endpoint process's routes (govbus_dev/local/endpoint.py: ``snapshots``)
SNAPSHOT_PATH = "/_govbus/snapshot"
RESTORE_PATH = "/_govbus/restore"
FINGERPRINT_PATH = "/_govbus/fingerprint"


def _live_backends() -> dict[Key, Any]:
    return {
        (bd.service_name, account, region): backend
        for bd in list(BackendDict._instances)
        for account, region, backend in bd.iter_backends()
    }


def _new_lock(kind: str) -> Any:
    return threading.RLock() if kind == "rlock" else threading.Lock()


def _condition() -> threading.Condition:
    return threading.Condition()


def _dict_subclass(cls: type, state: dict[str, Any], items: list, factory: Any) -> Any:
    """A defaultdict subclass whose ``__init__`` takes arguments (moto's ``ParameterDict``)."""
    obj = cls.__new__(cls)
    obj.default_factory = factory
    dict.update(obj, items)
    obj.__dict__.update(state)
    return obj


def _private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return load_der_private_key(der, password=None)


def _public_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    return load_der_public_key(der)


def _key_reducer(obj: Any) -> Any:
    """moto's KMS keys hold cryptography's key objects, which pickle cannot: as DER."""
    from cryptography.hazmat.primitives import serialization as ser

    if callable(getattr(obj, "private_bytes", None)) and hasattr(obj, "public_key"):
        der = obj.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        return _private_key, (der,)
    if callable(getattr(obj, "public_bytes", None)) and type(obj).__module__.startswith(
        "cryptography."
    ):
        der = obj.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
        return _public_key, (der,)
    return None


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, live: dict[int, Key], refs: list[Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._live = live
        self._refs = refs

    def persistent_id(self, obj: Any) -> tuple[str, Any] | None:
        # one backend referring to another (or to itself) keeps referring to the live one
        key = self._live.get(id(obj))
        if key is not None:
            return ("backend", key)
        if isinstance(obj, types.FunctionType) and "<locals>" in obj.__qualname__:
            # a default factory made in a backend's __init__: kept as it is, by reference
            self._refs.append(obj)
            return ("ref", len(self._refs) - 1)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):
            return _new_lock, ("rlock" if isinstance(obj, type(threading.RLock())) else "lock",)
        if isinstance(obj, threading.Condition):
            return _condition, ()
        cls = type(obj)
        if cls.__module__.startswith("cryptography."):
            reduced = _key_reducer(obj)
            if reduced is not None:
                return reduced
        if isinstance(obj, defaultdict) and cls is not defaultdict:
            # defaultdict's own reduction calls cls(default_factory): not for a subclass
            # whose __init__ takes other arguments; other dicts pickle without __init__
            return _dict_subclass, (
                cls,
                dict(getattr(obj, "__dict__", {})),
                list(obj.items()),
                obj.default_factory,
            )
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, live: dict[Key, Any], refs: list[Any]) -> None:
        super().__init__(file)
        self._live = live
        self._refs = refs

    def persistent_load(self, pid: Any) -> Any:
        kind, value = pid
        return self._live[tuple(value)] if kind == "backend" else self._refs[value]


class Snapshot:
    """Every live moto backend's attributes, as bytes; ``skip``: services left out (a
    fingerprint that ignores what readers change, e.g. ``dynamodbstreams``' iterators)."""

    def __init__(self, skip: frozenset[str] = frozenset()) -> None:
        with backend_lock:
            live = _live_backends()
            states = {key: b.__dict__ for key, b in live.items() if key[0] not in skip}
            buffer = io.BytesIO()
            self.refs: list[Any] = []
            _Pickler(buffer, {id(b): key for key, b in live.items()}, self.refs).dump(states)
        self.dicts = {bd.service_name: bd for bd in BackendDict._instances}
        self.keys = frozenset(states)
        self.data = buffer.getvalue()

    def restore(self) -> None:
        """Write the state back into the live backends; any made since are reset, any
        dropped since (a ``/moto-api/reset``) are made again."""
        with backend_lock:
            live = _live_backends()
        for service, account, region in self.keys - live.keys():
            self.dicts[service][account][region]  # moto makes a backend on first use
        with backend_lock:
            live = _live_backends()
            states = _Unpickler(io.BytesIO(self.data), live, self.refs).load()
            for key, backend in live.items():
                if key in states:
                    backend.__dict__.clear()
                    backend.__dict__.update(states[key])
                else:
                    backend.reset()


def fingerprint() -> str:
    """A digest of the emulator's state, but for what readers change (stream iterators)."""
    return hashlib.sha256(Snapshot(skip=frozenset({"dynamodbstreams"})).data).hexdigest()


def fresh_streams() -> dict[str, str]:
    """Give every stream-enabled table a stream of its own, as a table made again would
    (a restored stream would repeat sequence numbers its poller has read): each table's
    name with its new stream's ARN."""
    from moto.dynamodb.models import dynamodb_backends

    streams: dict[str, str] = {}
    for backends in list(dynamodb_backends.values()):
        for backend in list(backends.values()):
            for name, table in list(backend.tables.items()):
                if table.stream_shard is not None:
                    table.set_stream_specification(table.stream_specification)
                    streams[name] = table.describe()["TableDescription"]["LatestStreamArn"]
    return streams


# --- the stack's side ----------------------------------------------------------------


def _call(endpoint: str, path: str, method: str, name: str = "") -> dict[str, Any]:
    if not endpoint.startswith(("http://", "https://")):
        raise RuntimeError(f"not an HTTP endpoint: {endpoint}")
    query = f"?{urllib.parse.urlencode({'name': name})}" if name else ""
    request = urllib.request.Request(f"{endpoint}{path}{query}", method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - checked above
        return json.loads(answer.read())


def take(endpoint: str, name: str) -> str:
    """Keep the emulator's state at ``endpoint`` as ``name``."""
    _call(endpoint, SNAPSHOT_PATH, "POST", name)
    return name


def restore(endpoint: str, name: str) -> dict[str, str]:
    """Write the state kept as ``name`` back; each stream-enabled table's new stream ARN."""
    return _call(endpoint, RESTORE_PATH, "POST", name)["streams"]


def state_fingerprint(endpoint: str) -> str:
    return _call(endpoint, FINGERPRINT_PATH, "GET")["fingerprint"]
