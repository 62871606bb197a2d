"""The soak's short form, part of ``make test`` (``make soak`` runs the full size; see
tests/soak.py for what it does and what each count means)."""

from __future__ import annotations

import pytest

from contracts.adapters import Faults
from tests.soak import PARTNER_TIMEOUT_SECONDS, Soak


@pytest.fixture
def soak_stack(local_stack_session):
    """The session's stack with the soak's short partner timeout, put back afterwards."""
    stack = local_stack_session
    usual = stack.parameters.get("PartnerTimeoutSeconds")
    stack.parameters["PartnerTimeoutSeconds"] = str(PARTNER_TIMEOUT_SECONDS)
    stack.reset()
    ems = stack.simulators["ems"]
    hang = ems.hang_seconds
    try:
        yield stack
    finally:
        for simulator in stack.simulators.values():
            simulator.set_faults(Faults())
        ems.hang_seconds = hang
        stack.parameters["PartnerTimeoutSeconds"] = usual
        stack.reset()


def test_a_short_soak_ends_with_every_accepted_item_done_once(soak_stack):
    lines: list[str] = []
    before, after = Soak(soak_stack, 100, say=lines.append).run()
    assert before.accepted >= 95, lines  # a partner's retries get nearly every push in
    assert lines.index(before.line()) < lines.index(after.line()), lines
    assert lines[-1].startswith("soak took"), lines
    # faults cost something before recovery: something was dead-lettered or not yet done
    assert before.dead_lettered > 0 or before.lost > 0, lines
    assert after.accepted == before.accepted
    assert after.duplicated == 0 and after.lost == 0, lines
    assert after.processed == after.accepted, lines
    print(*lines, sep="\n")
