"""Which agency issues which licence type (the licence directory's issuers): a
department issues only its own types, and a catalogue item results only in a type its
agency issues (else approving a case would issue another agency's licence)."""

import pytest

from contracts.catalog import ServiceItemDraft
from contracts.errors import Forbidden, ValidationFailed
from contracts.licences import LICENCE_TYPES, MARKET_REGULATION, PUBLIC_SECURITY
from govbus.licensing import require_issuer
from govbus.stores.catalog import check_result_issuer
from govbus_dev.seed.data import DEMO_LICENCES
from govbus_dev.seed.load import drafts

FOOD = "11100000000013338W002"


def test_every_licence_type_has_an_issuer():
    assert len(LICENCE_TYPES) == 8
    assert all(kind.issuers for kind in LICENCE_TYPES.values())


def test_the_police_may_not_issue_a_food_business_licence_and_the_refusal_says_whose_it_is():
    with pytest.raises(Forbidden) as refused:
        require_issuer(FOOD, PUBLIC_SECURITY)
    assert str(refused.value) == (
        f"agency {PUBLIC_SECURITY} does not issue licence type {FOOD} "
        f"(食品经营许可证 food business licence); its issuer is {MARKET_REGULATION}"
    )
    require_issuer(FOOD, MARKET_REGULATION)  # its issuer may


def test_an_item_cannot_result_in_a_licence_type_its_agency_does_not_issue():
    draft = {
        "name": "居住证签注",
        "agency": PUBLIC_SECURITY,
        "agency_name": "福州市公安局",
        "item_part": "XK0100",
        "statutory_days": 10,
        "promised_days": 5,
        "star_level": 3,
        "result_licence_type": FOOD,
    }
    with pytest.raises(ValidationFailed, match=f"does not issue licence type {FOOD}") as bad:
        check_result_issuer(ServiceItemDraft.model_validate(draft))
    assert bad.value.field == "result_licence_type"
    own = {**draft, "result_licence_type": "11420503087246977F002"}  # 居住证: the police's
    check_result_issuer(ServiceItemDraft.model_validate(own))


def test_the_seed_catalogue_and_demo_licences_keep_to_the_issuers():
    results = [d for d in drafts() if d.result_licence_type]
    assert len(results) >= 5
    for draft in results:
        assert LICENCE_TYPES[draft.result_licence_type].issued_by(str(draft.agency)), draft.name
    assert len(DEMO_LICENCES) >= 3
    for type_code, _holder, _name, agency, _fields in DEMO_LICENCES:
        assert LICENCE_TYPES[type_code].issued_by(agency), type_code
