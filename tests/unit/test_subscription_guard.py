"""The SSRF guard's reserved ports: on a dev stack that admits loopback webhooks, no
address a name resolves to may be one of the stack's own ports."""

import socket

import pytest

from govbus import outbound

RESERVED = 8443


@pytest.fixture
def dev_stack_settings(monkeypatch):
    monkeypatch.setattr(
        outbound,
        "settings",
        lambda: outbound.OutboundSettings(
            allow_loopback=True, reserved_ports=frozenset({RESERVED})
        ),
    )


def resolving_to(monkeypatch, *addresses: str) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses
        ]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)


def test_a_name_resolving_to_a_public_address_and_loopback_cannot_reach_a_reserved_port(
    dev_stack_settings, monkeypatch
):
    resolving_to(monkeypatch, "93.184.216.34", "127.0.0.1")
    with pytest.raises(outbound.UnsafeDestination, match="the platform's own"):
        outbound.check_destination(f"https://hooks.example.com:{RESERVED}/events")


def test_loopback_on_a_reserved_port_is_refused_whatever_the_name(dev_stack_settings, monkeypatch):
    resolving_to(monkeypatch, "127.0.0.1")
    for url in (
        f"http://127.0.0.1:{RESERVED}/_sim/cancel-pending",
        f"http://localhost:{RESERVED}/_sim/cancel-pending",
        f"http://sims.internal.alias:{RESERVED}/_sim/reset",
    ):
        with pytest.raises(outbound.UnsafeDestination, match="the platform's own"):
            outbound.check_destination(url)


def test_loopback_on_another_port_and_a_public_name_still_pass(dev_stack_settings, monkeypatch):
    resolving_to(monkeypatch, "127.0.0.1")
    assert outbound.check_destination("http://127.0.0.1:9999/hook").port == 9999
    resolving_to(monkeypatch, "93.184.216.34")
    assert outbound.check_destination(f"https://hooks.example.com:{RESERVED}/e").port == RESERVED


def test_a_deployed_stack_reserves_nothing_and_admits_no_loopback(monkeypatch):
    monkeypatch.setattr(outbound, "settings", lambda: outbound.OutboundSettings())
    resolving_to(monkeypatch, "93.184.216.34", "127.0.0.1")
    with pytest.raises(outbound.UnsafeDestination, match="loopback"):
        outbound.check_destination(f"https://hooks.example.com:{RESERVED}/events")
    resolving_to(monkeypatch, "93.184.216.34")
    assert outbound.check_destination(f"https://hooks.example.com:{RESERVED}/e").port == RESERVED
