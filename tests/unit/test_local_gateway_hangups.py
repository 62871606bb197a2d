"""The local gateway and clients that hang up."""

from __future__ import annotations


def test_the_gateway_prints_no_traceback_when_a_client_hangs_up(capsys):
    from govbus_dev.local.gateway import _GatewayServer

    server = _GatewayServer.__new__(_GatewayServer)  # handle_error needs no socket
    for hung_up in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
        try:
            raise hung_up
        except OSError:
            server.handle_error(None, ("127.0.0.1", 50000))
    assert capsys.readouterr().err == ""
    try:
        raise ValueError("a real fault in a handler")
    except ValueError:
        server.handle_error(None, ("127.0.0.1", 50000))
    assert "a real fault in a handler" in capsys.readouterr().err  # still shown
