"""The city's MQTT broker on loopback, and the forwarder that plays the IoT topic rule.

``start()`` brings up, each on a free loopback port:

* an MQTT 3.1.1 broker (amqtt, embedded), or none when ``GOVBUS_IOT_BROKER_URL`` names
  an existing one (``mqtt://host:1883``, e.g. a mosquitto);
* the forwarder: an MQTT client subscribed to ``city/+/+/telemetry`` that puts every
  message on the telemetry queue in the shape the template's topic rule gives it:
  ``{"topic", "payload" (base64 of the raw bytes), "received_ms"}``. The queue is
  ``forward_queue``, a URL or a name: the local stack sets it, before ``start()``, to the
  queue of the template's topic rule as resolved for its stack name; run alone, the
  simulator takes ``GOVBUS_IOT_FORWARD_QUEUE``, by default ``govbus-local-telemetry``
  (the queue of the default stack name);
* devices authenticate (username ``<domain>/<device>``, password derived from the
  ``device_key`` made at each start: ``adapters.iot.broker``), publish only to their own
  topic, subscribe with no wildcard; payloads over 16 KB are refused at the broker;
* an HTTP face (``url``): ``GET /health`` (what the adapter pings, 503 while the
  ``down`` fault is set) and ``POST /_sim/faults``.

    python -m adapters.iot.devices "$BROKER" --device-key "$KEY"   # as govbus dev prints
    mosquitto_pub -L "$BROKER/city/water/gauge-01/telemetry" -u water/gauge-01 \
        -P "$(python -m adapters.iot.devices --password water/gauge-01 --device-key "$KEY")" \
        -m '{"ts": 0, "level": 9}'
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

from adapters.simkit import AdminBody, LoopbackSimulator
from contracts.adapters import Faults
from contracts.telemetry import TOPIC_FILTER

DEFAULT_QUEUE = "govbus-local-telemetry"
log = logging.getLogger("govbus.iot")


class EmbeddedBroker:
    """amqtt's broker in a thread of its own (its own asyncio loop), on 127.0.0.1:0."""

    def __init__(self, device_key: str, service_password: str) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.broker: Any = None
        self.url = ""
        self.device_key = device_key
        self.service_password = service_password

    def start(self) -> str:
        from adapters.iot.broker import BoundedBroker, broker_config

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="mqtt")
        self.thread.start()
        # devices authenticate and stay on their own topic; payloads bounded (broker.py)
        config = broker_config(self.device_key, self.service_password)

        async def serve() -> Any:
            broker = BoundedBroker(config, loop=self.loop)
            await broker.start()
            return broker

        self.broker = asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)
        port = self.broker._servers["default"].instance.sockets[0].getsockname()[1]
        self.url = f"mqtt://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self.loop is None:
            return
        if self.broker is not None:
            try:
                asyncio.run_coroutine_threadsafe(self.broker.shutdown(), self.loop).result(10)
            except Exception:  # a broker that will not stop cleanly still goes with its loop
                log.warning("the MQTT broker did not shut down cleanly", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread:
            self.thread.join(5)
        self.loop.close()
        self.loop = self.broker = self.thread = None


def _is_url(queue: str) -> bool:
    return queue.startswith(("http://", "https://"))


def mqtt_address(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
        raise ValueError(f"not an MQTT URL: {url!r} (mqtt://host:port)")
    return parsed.hostname, parsed.port or 1883


class Forwarder:
    """Subscribes to the telemetry topics and sends each message to the queue."""

    def __init__(
        self, broker_url: str, queue: str, credentials: tuple[str, str] | None = None
    ) -> None:
        self.broker_url = broker_url
        self.credentials = credentials  # the service user's, on the embedded broker
        self.queue = queue  # a queue URL, or a name looked up on first use
        self.forwarded = 0
        self.failed = 0
        self._queue_url: str | None = queue if _is_url(queue) else None
        self._sqs: Any = None
        self._client: Any = None
        self._subscribed = threading.Event()

    def start(self) -> None:
        import boto3
        import paho.mqtt.client as mqtt

        self._sqs = boto3.session.Session().client("sqs")
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"govbus-forwarder-{os.getpid()}-{secrets.token_hex(3)}",
        )
        client.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe(TOPIC_FILTER, qos=1)
        client.on_subscribe = lambda *_a: self._subscribed.set()
        client.on_message = self._on_message
        if self.credentials:
            client.username_pw_set(*self.credentials)
        host, port = mqtt_address(self.broker_url)
        client.connect(host, port, keepalive=30)
        client.loop_start()
        self._client = client
        if not self._subscribed.wait(10):
            raise RuntimeError(f"the forwarder could not subscribe at {self.broker_url}")

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        body = json.dumps(
            {
                "topic": message.topic,
                "payload": base64.b64encode(message.payload).decode(),
                "received_ms": int(time.time() * 1000),
            }
        )
        try:
            if self._queue_url is None:
                self._queue_url = self._sqs.get_queue_url(QueueName=self.queue)["QueueUrl"]
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=body)
            self.forwarded += 1
        except Exception:  # the queue gone (a reset) or the endpoint down: count, go on
            if not _is_url(self.queue):
                self._queue_url = None  # look the name up again: a reset may recreate it
            self.failed += 1
            log.warning("could not forward a telemetry message", exc_info=True)


class IotSimulator(LoopbackSimulator):
    thread_name = "iot-sim"

    def __init__(self, broker_url: str | None = None, forward_queue: str | None = None) -> None:
        self.external_broker = broker_url or os.environ.get("GOVBUS_IOT_BROKER_URL") or None
        # the telemetry queue's URL or name; the local stack sets the template's before start
        self.forward_queue = forward_queue or os.environ.get(
            "GOVBUS_IOT_FORWARD_QUEUE", DEFAULT_QUEUE
        )
        self.faults = Faults()
        self.url = ""
        self.push_url: str | None = None
        self.broker_url = ""
        self._broker: EmbeddedBroker | None = None
        self.forwarder: Forwarder | None = None
        # made afresh each start: a device's password derives from it (broker.py)
        self.device_key = ""

    def start(self) -> str:
        credentials = None
        if self.external_broker:
            mqtt_address(self.external_broker)  # refuse a malformed URL at once
            self.broker_url = self.external_broker
        else:
            from adapters.iot.broker import SERVICE_USER

            self.device_key = secrets.token_hex(16)
            credentials = (SERVICE_USER, secrets.token_urlsafe(24))
            self._broker = EmbeddedBroker(self.device_key, credentials[1])
            self.broker_url = self._broker.start()
        self.forwarder = Forwarder(self.broker_url, self.forward_queue, credentials)
        try:
            self.forwarder.start()
        except Exception:
            self.stop()
            raise
        return super().start()

    def stop(self) -> None:
        super().stop()
        if self.forwarder is not None:
            self.forwarder.stop()
            self.forwarder = None
        if self._broker is not None:
            self._broker.stop()
            self._broker = None

    def secrets(self) -> dict[str, str]:
        return {}  # devices hold derived passwords (broker.py); IoT Core uses certificates

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def sample_push(self) -> tuple[dict[str, str], bytes]:
        raise NotImplementedError("devices publish over MQTT; nothing is pushed to the bus")

    def _admin(self, path: str, doc: AdminBody) -> tuple[int, Any]:
        return super()._admin(path, doc)

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        if path.startswith("/_sim/"):
            length = int(handler.headers.get("content-length") or 0)
            return self.serve_admin(handler, path, handler.rfile.read(length) if length else b"")
        if method == "GET" and path == "/health":
            if self.faults.down:
                return self._send(handler, 503, b'{"status": "down"}')
            answer = {
                "status": "up",
                "broker": self.broker_url,
                "forward_queue": self.forward_queue,
                "forwarded": self.forwarder.forwarded if self.forwarder else 0,
                "forward_failed": self.forwarder.failed if self.forwarder else 0,
            }
            return self._send(handler, 200, json.dumps(answer).encode())
        return self._send(handler, 404, b'{"error": "no such path"}')
