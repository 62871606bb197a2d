"""The ops console in a real headless browser (Debian's chromium, driven by Playwright)
against the running local stack: sign in, see live numbers move, press redrive.

In CI (``CI`` set) a missing chromium fails the test: ``.ci/run`` installs it first.
Elsewhere the test is skipped, saying so, only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.events import Event
from tests.integration.conftest import acme, aws, post_webhook  # noqa: F401 (fixtures)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# the page polls every second here (?refresh=1); a number shows within a few polls
SEEN_WITHIN_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"{CHROMIUM} is missing in CI: .ci/run installs it (apt-get install -y chromium)"
            )
        pytest.skip(f"not in CI and {CHROMIUM} is absent: apt-get install -y chromium to run it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def dead_letter(aws, stack) -> None:  # noqa: F811 (aws is the fixture's value)
    """A bus event whose delivery to the event log failed, on the event log's DLQ."""
    event = Event.create("platform.heartbeat", {"emitted_by": "console test"}, source="govbus.test")
    envelope = {
        "version": "0",
        "id": "eb-console",
        "detail-type": event.type,
        "source": event.source,
        "detail": json.loads(event.model_dump_json()),
    }
    aws["sqs"].send_message(
        QueueUrl=stack.resolver.refs["EventLogDLQ"], MessageBody=json.dumps(envelope)
    )


def test_ops_sign_in_see_live_numbers_and_redrive_a_dead_letter(stack, aws, acme, browser):  # noqa: F811
    from playwright.sync_api import expect

    seeded = stack.seed()
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.goto(f"{stack.url}/console?refresh=1")
    expect(page.locator("h1")).to_contain_text("ops console")

    # a department's client is refused: the console is for the ops role
    dept_id, dept_secret = next(iter(seeded["clients"].values()))
    page.fill("#client-id", dept_id)
    page.fill("#client-secret", dept_secret)
    page.click("#sign-in button[type=submit]")
    expect(page.locator("#sign-in-error")).to_contain_text("not an ops client")
    expect(page.locator("#dashboard")).to_be_hidden()

    ops_id, ops_secret = seeded["ops_client"]
    page.fill("#client-id", ops_id)
    page.fill("#client-secret", ops_secret)
    page.click("#sign-in button[type=submit]")
    expect(page.locator("#dashboard")).to_be_visible()
    expect(page.locator("#who")).to_contain_text(ops_id)

    # adapters with health and circuit; the star-level report per agency with targets
    ems = page.locator('#adapters tr[data-adapter="ems"]')
    expect(ems.locator('[data-field="health"]')).to_have_text("up", timeout=SEEN_WITHIN_MS)
    expect(ems.locator('[data-field="circuit"]')).to_have_text("closed")
    expect(page.locator('#report tr[data-agency="overall"]')).to_contain_text("36")
    assert page.locator("#report tbody tr").count() >= 3  # agencies, then all of them
    expect(page.locator("#targets li").first).to_contain_text("3★+")

    # live throughput: two webhooks later, the count has risen by two
    expect(page.locator("#events-total")).not_to_have_text("-", timeout=SEEN_WITHIN_MS)
    before = int(page.locator("#events-total").inner_text())
    for n in range(2):
        body = json.dumps({"note": f"console tracking update {n}"}).encode()
        assert post_webhook(stack.url, body).status_code == 202
    page.wait_for_function(
        "expected => Number(document.getElementById('events-total').textContent) >= expected",
        arg=before + 2,
        timeout=SEEN_WITHIN_MS,
    )

    # a dead letter shows as depth 1; redrive puts it back and the depth falls to 0
    queue = stack.resolver.refs["EventLogDLQ"].rsplit("/", 1)[-1]
    row = page.locator(f'#dlq tr[data-queue="{queue}"]')
    expect(row.locator('[data-field="depth"]')).to_have_text("0", timeout=SEEN_WITHIN_MS)
    expect(row.locator("button")).to_be_disabled()
    dead_letter(aws, stack)
    expect(row.locator('[data-field="depth"]')).to_have_text("1", timeout=SEEN_WITHIN_MS)
    row.locator("button").click()
    expect(page.locator("#redrive-result")).to_contain_text(f"Redrove 1 from {queue}")
    expect(row.locator('[data-field="depth"]')).to_have_text("0", timeout=SEEN_WITHIN_MS)

    # the page broke no rule of its content security policy, and raised nothing
    assert problems == []
    page.close()


def test_a_long_error_stays_in_its_panel_and_an_expired_token_says_to_sign_in_again(
    stack,
    aws,  # noqa: F811
    browser,
):
    from playwright.sync_api import expect

    seeded = stack.seed()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    long_error = "PartnerUnavailable: " + "x" * 600  # one word: nowhere to wrap but anywhere

    def adapters_with_a_long_error(route) -> None:
        answer = route.fetch()
        if not answer.ok:  # a refused token: as it came
            route.fulfill(response=answer)
            return
        listed = answer.json()
        listed["adapters"][0]["last_error"] = long_error
        route.fulfill(response=answer, json=listed)

    page.route("**/ops/adapters", adapters_with_a_long_error)
    page.goto(f"{stack.url}/console?refresh=1")
    ops_id, ops_secret = seeded["ops_client"]
    page.fill("#client-id", ops_id)
    page.fill("#client-secret", ops_secret)
    page.click("#sign-in button[type=submit]")
    expect(page.locator("#adapters td", has_text="PartnerUnavailable")).to_be_visible(
        timeout=SEEN_WITHIN_MS
    )
    panel = page.locator("section", has=page.locator("#adapters"))
    widths = panel.evaluate("s => [s.scrollWidth, s.clientWidth, s.getBoundingClientRect().right]")
    assert widths[0] <= widths[1], f"the panel's content overflows it: {widths}"
    assert widths[2] <= 1280, f"the panel runs off the page: {widths}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    # the token expires (here: one the gateway refuses): the sign-in panel says why
    page.evaluate("window.sessionStorage.setItem('govbus-ops-token', 'expired.token.value')")
    expect(page.locator("#sign-in-panel")).to_be_visible(timeout=SEEN_WITHIN_MS)
    message = page.locator("#sign-in-error")
    expect(message).to_contain_text("expired or was refused")
    expect(message).to_contain_text("sign in again")
    page.close()
