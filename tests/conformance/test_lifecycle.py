"""What every adapter must do, whatever its family."""

from contracts.adapters import AdapterFamily, AdapterInfo, Health, Simulator


def test_info_names_the_adapter_as_registered(harness):
    info = harness.call("govbus_adapter_info")
    assert isinstance(info, AdapterInfo)
    assert info.name == harness.name
    assert info.family in AdapterFamily


def test_the_simulator_follows_the_simulator_protocol(harness):
    assert isinstance(harness.simulator, Simulator)
    assert harness.simulator.url.startswith("http://127.0.0.1:")


def test_ping_is_up_while_the_simulator_is_healthy(harness):
    result = harness.call("govbus_ping")
    assert result.adapter == harness.name
    assert result.status == Health.up, result.detail


def test_ping_reflects_a_partner_outage_without_raising(harness):
    harness.faults(down=True)
    assert harness.call("govbus_ping").status == Health.down
    harness.faults()
    assert harness.call("govbus_ping").status == Health.up


def test_ping_is_down_when_the_partner_is_unreachable(harness):
    harness.simulator.stop()
    result = harness.call("govbus_ping")
    assert result.status == Health.down and result.detail


def test_an_adapter_that_verifies_pushes_also_parses_them(harness):
    assert harness.implements("govbus_webhook_verify") == harness.implements(
        "govbus_webhook_parse"
    ), "an adapter that verifies pushes must also parse them, and the other way round"


def test_an_outside_client_sets_faults_over_http_and_clears_them_with_an_empty_object(harness):
    import requests

    url = harness.simulator.url.rstrip("/") + "/_sim/faults"
    failing = requests.post(url, data='{"error_rate": 1.0}', timeout=5)
    assert failing.status_code == 200 and failing.json()["error_rate"] == 1.0
    cleared = requests.post(url, data="{}", timeout=5)  # as the README shows it
    assert cleared.status_code == 200 and cleared.json()["error_rate"] == 0.0
