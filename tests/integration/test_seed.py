"""The demo data `make run` loads: a living catalogue and licences that verify."""

import requests

from govbus_dev.seed.data import ITEMS


def test_the_seed_loads_a_catalogue_whose_report_matches_a_hand_count(stack):
    seeded = stack.seed()
    assert seeded["items"] == 36 and len(seeded["clients"]) == 7
    report = requests.get(f"{stack.url}/catalog/report", timeout=10).json()
    # hand count over govbus_dev/seed/data.py: 36 items; 2★ x3, 3★ x13, 4★ x12, 5★ x8
    assert report["overall"] == {
        "items": 36,
        "at_least_3_star": round(33 / 36, 4),
        "at_least_4_star": round(20 / 36, 4),
        "five_star": round(8 / 36, 4),
    }
    police = next(a for a in report["agencies"] if a["agency_name"] == "福州市公安局")
    assert police == {
        **police,
        "items": 5,
        "at_least_3_star": 1.0,
        "at_least_4_star": 0.6,
        "five_star": 0.2,
    }
    assert sum(len(v) for v in ITEMS.values()) == 36
    items = requests.get(f"{stack.url}/catalog/items", params={"q": "食品经营"}, timeout=10).json()
    assert {i["name"] for i in items["items"]} == {"食品经营许可证核发", "食品经营许可证变更"}


def test_the_demo_licences_verify(stack):
    seeded = stack.seed()
    for licence_id in seeded["licences"]:
        verdict = requests.post(f"{stack.url}/licences/{licence_id}/verify", timeout=10).json()
        assert verdict["valid"] is True, verdict
