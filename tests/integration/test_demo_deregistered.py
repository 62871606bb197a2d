"""``make demo`` after 林小姐 deregistered: it says why it stops and how to start afresh."""

from __future__ import annotations

import io

import requests

from govbus_dev.demo import Journey
from tests.integration.conftest import CITIZEN, bearer, login


def test_the_demo_says_her_account_was_deregistered_and_to_restart_make_run(stack, ca):
    """Seen: after DELETE /accounts/me the demo failed its login with a bare 403."""
    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    registered = requests.post(
        f"{stack.url}/accounts",
        json={"name": "林小姐", "phone": "13812345678", "address": "福州市鼓楼区"},
        headers=bearer(token),
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    gone = requests.delete(f"{stack.url}/accounts/me", headers=bearer(token), timeout=10)
    assert gone.status_code == 200, gone.text

    out = io.StringIO()
    journey = Journey(
        gateway=stack.url,
        simulators={"ca": ca.url},
        stack_name=stack.stack_name,
        out=out,
        timeout=10,
    )
    assert journey.run() == 1
    said = out.getvalue()
    assert "FAIL 1 certificate login" in said, said
    assert "deregistered" in said and "cannot be undone" in said, said
    assert "`make run`" in said and "`make demo` again" in said, said
