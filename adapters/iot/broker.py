"""Who may do what on the local MQTT broker: devices authenticate and stay on their topic.

As IoT Core binds a device certificate to a thing and a policy to its topic, the embedded
broker (amqtt) knows every device by a credential made at start-up:

* a device connects with username ``<domain>/<device>`` and the password
  :func:`device_password` (HMAC-SHA256 of the username under the broker's device key,
  made afresh each start and printed by ``govbus dev``; the device simulator is given it);
  it may publish only to ``city/<domain>/<device>/telemetry`` and subscribe only to that
  exact topic, never with a wildcard;
* the forwarder (the topic rule's stand-in) connects as the service user, the only one
  allowed to subscribe to ``city/+/+/telemetry`` and receive every device's messages;
* an anonymous client, or a wrong password, is refused at CONNECT;
* a payload over :data:`MAX_PAYLOAD_BYTES` (the telemetry function's own bound) is
  refused at the broker: the client is disconnected and no one receives it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from adapters.iot.wire import MAX_PAYLOAD_BYTES
from contracts.telemetry import TOPIC, TOPIC_FILTER

SERVICE_USER = "govbus-forwarder"
log = logging.getLogger("govbus.iot")


def device_username(topic: str) -> str:
    """The username of the device that owns ``city/<domain>/<device>/telemetry``."""
    match = TOPIC.match(topic)
    if not match:
        raise ValueError(f"not a device topic: {topic!r} (city/<domain>/<device>/telemetry)")
    return f"{match['domain']}/{match['device']}"


def device_password(device_key: str, username: str) -> str:
    return hmac.new(device_key.encode(), username.encode(), hashlib.sha256).hexdigest()


def _own_topic(username: str) -> str:
    return f"city/{username}/telemetry"


class DeviceAuthPlugin(BaseAuthPlugin):
    """A device by its derived password, the forwarder by its own; nobody anonymous."""

    @dataclass
    class Config:
        device_key: str = ""
        service_password: str = ""

    async def authenticate(self, *, session: Any) -> bool:
        username, password = session.username or "", session.password or ""
        if not username or not self.config.device_key:
            return False
        if username == SERVICE_USER:
            expected = self.config.service_password
        elif TOPIC.match(_own_topic(username)):
            expected = device_password(self.config.device_key, username)
        else:
            return False
        return bool(expected) and hmac.compare_digest(str(password), expected)


class DeviceTopicPlugin(BaseTopicPlugin):
    """A device publishes and subscribes to its own topic only; the forwarder reads all."""

    @dataclass
    class Config:
        service_filter: str = field(default=TOPIC_FILTER)

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Action | None = None
    ) -> bool:
        username = getattr(session, "username", None) or ""
        if not topic or not username:
            return False
        if username == SERVICE_USER:
            return action in (Action.SUBSCRIBE, Action.RECEIVE) and (
                topic == self.config.service_filter
                if action is Action.SUBSCRIBE
                else TOPIC.match(topic) is not None
            )
        return topic == _own_topic(username)  # no wildcard, no other device's topic


class BoundedBroker(Broker):
    """amqtt's broker, refusing a PUBLISH whose payload is over the telemetry bound."""

    async def _handle_message_delivery(self, client_session: Any, handler: Any, wait_deliver: Any):
        message = wait_deliver.result()
        data = getattr(message, "data", None) or b""
        if len(data) > MAX_PAYLOAD_BYTES:
            log.warning(
                "MQTT payload refused: %d bytes from %s (at most %d): disconnected",
                len(data),
                client_session.username or "anonymous",
                MAX_PAYLOAD_BYTES,
            )
            return False  # the broker closes the connection; nobody receives it
        return await super()._handle_message_delivery(client_session, handler, wait_deliver)


def broker_config(device_key: str, service_password: str) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:0"}},
        "plugins": {
            f"{__name__}.DeviceAuthPlugin": {
                "device_key": device_key,
                "service_password": service_password,
            },
            f"{__name__}.DeviceTopicPlugin": {"service_filter": TOPIC_FILTER},
        },
    }
