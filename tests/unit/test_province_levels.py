"""Province-level items: what approving the city's part means, and catalogue alignment."""

import datetime as dt

import pytest
from pydantic import ValidationError

from contracts.cases import DEPARTMENT_ACTIONS, OPEN_STATES, CaseState
from contracts.catalog import ItemLevel, ItemStatus, ServiceItem, ServiceItemDraft
from contracts.errors import Conflict, Forbidden
from contracts.province import ProvinceItem
from govbus.province_align import compare
from tests.unit.test_case_steps import NOW, a_case, step

PROVINCE_CODE = "11350000MB0276002N000311"  # 福建省药品监督管理局 药品批发企业许可


def province_case(state: CaseState):
    return a_case(state).model_copy(update={"level": ItemLevel.province})


def test_approving_the_city_part_of_a_province_level_case_sends_it_to_the_province():
    moved, (entry,) = advance_one(province_case(CaseState.accepted), "approve")
    assert moved.state == CaseState.at_province and CaseState.at_province in OPEN_STATES
    assert (entry.action, entry.to_state) == ("approve", CaseState.at_province)


def test_a_city_level_case_is_approved_in_the_city_and_cannot_be_forwarded():
    moved, _ = advance_one(a_case(CaseState.accepted), "approve")
    assert moved.state == CaseState.approved
    assert "forward" not in DEPARTMENT_ACTIONS
    with pytest.raises(Conflict):
        advance_one(a_case(CaseState.accepted), "province_approve", kind="system")


def test_only_the_province_decides_a_case_at_the_province():
    at_province = province_case(CaseState.at_province)
    with pytest.raises(Conflict, match="cannot approve a case that is at province"):
        advance_one(at_province, "approve")
    with pytest.raises(Forbidden):
        advance_one(at_province, "province_approve")  # a clerk is not the province
    moved, _ = advance_one(at_province, "province_approve", kind="system")
    assert moved.state == CaseState.approved


def test_the_provinces_acceptance_is_a_timeline_entry_that_keeps_the_case_at_the_province():
    moved, (entry,) = advance_one(province_case(CaseState.at_province), "province_accept", "system")
    assert moved.state == CaseState.at_province and entry.action == "province_accept"


def test_the_applicant_may_withdraw_a_case_at_the_province():
    moved, _ = advance_one(province_case(CaseState.at_province), "withdraw", "applicant")
    assert moved.state == CaseState.withdrawn


def advance_one(case, action, kind="department"):
    from contracts.cases import Actor, advance

    return advance(case, [step(action, Actor(kind), note="理由")], NOW)


def a_draft(**overrides) -> dict:
    return {
        "name": "药品批发企业许可",
        "agency": "11350100MB00000012",
        "agency_name": "福州市市场监督管理局",
        "item_part": "XK0006",
        "statutory_days": 15,
        "promised_days": 12,
        "star_level": 3,
        "level": "province",
        "province_code": PROVINCE_CODE,
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"province_code": None}, "needs the province's item code"),
        ({"province_code": "NOT-A-CODE"}, "item code"),
        ({"result_licence_type": "11100000000013338W001"}, "issued by the province"),
        ({"level": "city"}, "only a province-level item has a province_code"),
    ],
)
def test_a_province_level_item_must_name_the_provinces_item(overrides, words):
    with pytest.raises(ValidationError, match=words):
        ServiceItemDraft.model_validate(a_draft(**overrides))


def published(**overrides) -> ServiceItem:
    draft = ServiceItemDraft.model_validate(a_draft(**overrides))
    return ServiceItem(
        **draft.model_dump(),
        code=draft.proposed_code,
        version=1,
        status=ItemStatus.published,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )


def theirs(code=PROVINCE_CODE, name="药品批发企业许可", days=15) -> ProvinceItem:
    return ProvinceItem(code=code, name=name, time_limit_days=days, agency="福建省药品监督管理局")


def test_alignment_reports_nothing_when_code_name_and_time_limit_agree():
    report = compare([published(), published(level="city", province_code=None)], [theirs()])
    assert (report.checked, report.disagreements) == (1, [])


def test_alignment_reports_each_field_that_disagrees():
    report = compare([published()], [theirs(name="药品批发企业许可证核发", days=20)])
    assert [(d.field, d.city, d.province) for d in report.disagreements] == [
        ("name", "药品批发企业许可", "药品批发企业许可证核发"),
        ("time_limit", "15", "20"),
    ]


def test_alignment_names_the_provinces_code_for_an_item_it_lists_under_another():
    other = "11350000MB0276002N000399"
    (d,) = compare([published()], [theirs(code=other)]).disagreements
    assert (d.field, d.city, d.province) == ("code", PROVINCE_CODE, other)
    (gone,) = compare([published()], [theirs(code=other, name="别的事项")]).disagreements
    assert (gone.field, gone.province) == ("code", "")
    assert "has no item" in gone.note


def test_items_stored_with_the_old_cross_level_flag_still_read():
    doc = published(level="city", province_code=None).model_dump(mode="json")
    assert ServiceItem.model_validate({**doc, "cross_level": False}).level == ItemLevel.city
