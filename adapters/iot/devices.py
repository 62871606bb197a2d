"""A fleet of simulated city sensors publishing realistic streams over MQTT (paho).

Each device publishes to ``city/<domain>/<device>/telemetry`` in the devices' wire
format (``adapters/iot/wire.py``): a gauge's water level drifting with the tide, air
quality following the day, buses moving along a road, meters counting up. Anomalies
are asked for by name, so a test or a demo knows exactly what it sent::

    python -m adapters.iot.devices mqtt://127.0.0.1:1883 --device-key KEY --rounds 60

(``govbus dev`` prints the broker's URL and its device key on the broker's line.)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import math
import random
import time
from collections.abc import Iterator

from adapters.iot import wire
from adapters.iot.simulator import mqtt_address
from contracts.telemetry import TelemetryDomain


@dataclasses.dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    kind: str  # "valid", "over_threshold", "malformed"


def topic(domain: str, device: str) -> str:
    return f"city/{domain}/{device}/telemetry"


class Fleet:
    """Devices of every domain; ``messages()`` yields one round of readings each."""

    def __init__(self, seed: int = 2017, devices_per_domain: int = 2) -> None:
        self.random = random.Random(seed)  # noqa: S311 - simulation, not security
        self.n = devices_per_domain
        self.round = 0
        self.totals = {f"meter-{i:02d}": 1000.0 + 100 * i for i in range(self.n)}

    def _normal(self, domain: TelemetryDomain, i: int, ts_ms: int) -> dict:
        r, t = self.random, self.round
        if domain is TelemetryDomain.water:
            return {"level_m": round(2.0 + 0.8 * math.sin(t / 6 + i) + r.uniform(-0.05, 0.05), 3)}
        if domain is TelemetryDomain.air:
            pm25 = max(0.0, 35 + 20 * math.sin(t / 12 + i) + r.uniform(-5, 5))
            return {"pm25": round(pm25, 1), "pm10": round(pm25 * 1.6, 1), "aqi": int(pm25 * 1.4)}
        if domain is TelemetryDomain.vehicle:
            return {
                "lat": round(26.07 + 0.001 * t + 0.01 * i, 6),
                "lon": round(119.30 + 0.001 * t, 6),
                "speed_kmh": round(r.uniform(20, 60), 1),
                "heading": round((45 + 10 * i) % 360, 1),
            }
        delta = round(r.uniform(0.2, 2.0), 2)
        key = f"meter-{i:02d}"
        self.totals[key] += delta
        return {"meter_kind": "water", "reading": round(self.totals[key], 2), "consumption": delta}

    def messages(
        self, *, over_threshold: set[str] = frozenset(), malformed: bool = False
    ) -> Iterator[Message]:
        """One round: each device's reading; the devices named in ``over_threshold``
        report an anomaly over their domain's threshold; ``malformed`` adds broken ones."""
        ts_ms = int(time.time() * 1000)
        for domain in TelemetryDomain:
            for i in range(self.n):
                device = f"{domain.value}-{i:02d}"
                values = self._normal(domain, i, ts_ms)
                kind = "valid"
                if device in over_threshold:
                    kind = "over_threshold"
                    values = {**values, **ANOMALIES[domain]}
                yield Message(
                    topic(domain.value, device), wire.to_payload(domain, values, ts_ms), kind
                )
        if malformed:
            yield from self.malformed(ts_ms)
        self.round += 1

    @staticmethod
    def malformed(ts_ms: int) -> Iterator[Message]:
        """What broken devices send: not JSON, a field missing, out of physical bounds,
        an unknown field, a domain the city does not know."""
        yield Message(topic("water", "water-99"), b"\x00\xffnot json", "malformed")
        yield Message(topic("air", "air-99"), json.dumps({"ts": ts_ms}).encode(), "malformed")
        yield Message(
            topic("water", "water-98"),
            json.dumps({"ts": ts_ms, "level": 9999}).encode(),
            "malformed",
        )
        yield Message(
            topic("vehicle", "vehicle-99"),
            json.dumps({"ts": ts_ms, "lat": 26, "lng": 119, "speed": 3, "x": 1}).encode(),
            "malformed",
        )
        yield Message(topic("weather", "wx-01"), json.dumps({"ts": ts_ms}).encode(), "malformed")


# what each domain's anomaly looks like (over the thresholds of contracts.telemetry)
ANOMALIES = {
    TelemetryDomain.water: {"level_m": 6.4},
    TelemetryDomain.air: {"pm25": 212.0, "pm10": 330.0, "aqi": 262},
    TelemetryDomain.vehicle: {"speed_kmh": 148.0},
    TelemetryDomain.meter: {"consumption": 880.0},
}


class Publisher:
    """Paho clients publishing messages with QoS 1, each acknowledged by the broker.

    With ``device_key`` (the embedded broker's, which ``govbus dev`` prints) each device
    connects as itself: username ``<domain>/<device>``, its derived password, one
    connection per device, as real sensors do. Without it, one anonymous connection (an
    external broker that asks for no credentials)."""

    def __init__(
        self,
        broker_url: str,
        client_id: str = "govbus-devices",
        device_key: str | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.client_id = client_id
        self.device_key = device_key
        self.clients: dict[str, object] = {}
        if not device_key:
            self._client_for("")

    def _client_for(self, username: str):
        import paho.mqtt.client as mqtt

        from adapters.iot.broker import device_password

        if username in self.clients:
            return self.clients[username]
        suffix = f"-{username.replace('/', '-')}" if username else ""
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id + suffix)
        if username:
            client.username_pw_set(username, device_password(self.device_key or "", username))
        host, port = mqtt_address(self.broker_url)
        client.connect(host, port, keepalive=30)
        client.loop_start()
        self.clients[username] = client
        return client

    def publish(self, messages: Iterator[Message] | list[Message]) -> list[Message]:
        from adapters.iot.broker import device_username

        sent = []
        for message in messages:
            username = device_username(message.topic) if self.device_key else ""
            info = self._client_for(username).publish(message.topic, message.payload, qos=1)
            info.wait_for_publish(10)
            sent.append(message)
        return sent

    def close(self) -> None:
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()
        self.clients.clear()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    import os

    from adapters.iot.broker import device_password

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "broker", nargs="?", help="mqtt://host:port (the start-up table's iot broker)"
    )
    parser.add_argument(
        "--device-key",
        default=os.environ.get("GOVBUS_IOT_DEVICE_KEY"),
        help="the broker's device key (govbus dev prints it beside the broker)",
    )
    parser.add_argument(
        "--password", metavar="DOMAIN/DEVICE", help="print that device's password and exit"
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--anomaly-every", type=int, default=5, help="a spike every N rounds")
    args = parser.parse_args(argv)
    if args.password:
        if not args.device_key:
            parser.error("--password needs --device-key (or GOVBUS_IOT_DEVICE_KEY)")
        print(device_password(args.device_key, args.password))
        return 0
    if not args.broker:
        parser.error("the broker's URL is needed (mqtt://host:port)")
    fleet = Fleet()
    with Publisher(args.broker, device_key=args.device_key) as publisher:
        for n in range(args.rounds):
            spike = {"water-00"} if args.anomaly_every and n % args.anomaly_every == 4 else set()
            sent = publisher.publish(fleet.messages(over_threshold=spike, malformed=n == 0))
            print(f"{_dt.datetime.now():%H:%M:%S} round {n}: {len(sent)} messages")
            time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
