"""A case read while a change is landing is read again, never shown half-applied."""

import datetime as dt

from contracts.cases import Actor, TimelineEntry
from govbus.stores import cases


def _entry(seq: int, action: str, to_state: str) -> dict:
    entry = TimelineEntry(
        seq=seq,
        action=action,
        from_state=None,
        to_state=to_state,
        actor="ems",
        actor_kind=Actor.system,
        at=dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
    )
    return {"entry": {"S": f"t#{seq:06d}"}, "doc": {"S": entry.model_dump_json()}}


def test_a_read_that_sees_the_case_moved_but_not_its_entries_is_read_again(monkeypatch):
    head = {
        "entry": {"S": cases.CASE},
        "doc": {"S": _case_doc(version=2, state="closed")},
    }
    partial = [head, _entry(1, "create", "draft")]  # the close entry not landed yet
    whole = [*partial, _entry(2, "close", "closed")]
    reads = iter([partial, whole])
    monkeypatch.setattr(cases, "_rows", lambda case_id: next(reads))
    case = cases.get("FZ-1")
    assert case.state == "closed" and [e.action for e in case.timeline] == ["create", "close"]


def _case_doc(version: int, state: str) -> str:
    from contracts.cases import CaseState
    from tests.unit.test_case_steps import a_case

    return a_case(CaseState(state), version=version).model_dump_json(exclude={"timeline"})
