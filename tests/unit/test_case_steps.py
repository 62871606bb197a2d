"""Taking steps on a case in memory: the whole chain is checked before anything is written."""

import datetime as dt

import pytest

from contracts.cases import OPEN_STATES, Actor, Case, CaseState, Channel, Step, advance
from contracts.errors import Conflict, Forbidden, ValidationFailed

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def a_case(state: CaseState, version: int = 3) -> Case:
    return Case(
        id="FZ20261127ABCD0001",
        item_code="11350100MB00000012XK0001",
        item_version=1,
        item_name="食品经营许可",
        agency="11350100MB00000012",
        state=state,
        version=version,
        applicant="3501**********1234",
        applicant_kind="citizen",
        channel=Channel.online,
        materials=[],
    )


def step(action: str, kind: Actor = Actor.department, note: str = "") -> Step:
    return Step(action=action, actor="clerk", actor_kind=kind, note=note)


def test_a_chain_of_steps_yields_one_entry_each_and_the_final_state():
    case = a_case(CaseState.in_review)
    moved, entries = advance(
        case, [step("reject", note="不符合条件"), step("close", Actor.system)], NOW
    )
    assert moved.state == CaseState.closed and moved.version == 5
    assert moved.reason == "不符合条件"
    assert [(e.seq, e.action, e.from_state, e.to_state) for e in entries] == [
        (4, "reject", CaseState.in_review, CaseState.rejected),
        (5, "close", CaseState.rejected, CaseState.closed),
    ]
    assert case.state == CaseState.in_review, "the case read is left as it was"


def test_a_later_step_that_cannot_follow_refuses_the_whole_chain():
    with pytest.raises(Conflict, match="cannot close a case that is approved"):
        advance(a_case(CaseState.in_review), [step("approve"), step("close", Actor.system)], NOW)


def test_the_wrong_actor_and_a_missing_reason_are_refused():
    with pytest.raises(Forbidden, match="only the department"):
        advance(a_case(CaseState.accepted), [step("approve", Actor.applicant)], NOW)
    with pytest.raises(ValidationFailed, match="reject needs a reason"):
        advance(a_case(CaseState.accepted), [step("reject", note="  ")], NOW)


def test_rejected_is_not_open_so_supervision_never_flags_it():
    assert CaseState.rejected not in OPEN_STATES
    assert CaseState.closed not in OPEN_STATES
    assert CaseState.in_review in OPEN_STATES
