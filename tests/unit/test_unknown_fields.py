"""Guard: every documented request body, and every model nested in one at any depth,
refuses a field it does not define (422 naming the field's path, docs/api.md), rather
than dropping it: a misspelt ``delivery.methd`` lost the delivery, ``signature`` for
``signatures`` submitted a case unsigned, ``versoin`` skipped the stale-version check.

Event payloads and partner contracts are not request bodies and keep tolerating new
fields; a model shared by both is listed here only through the body that holds it."""

from __future__ import annotations

import importlib
import json

import pytest
from pydantic import ValidationError

from govbus.http import validation_problem
from tests.unit.test_text_bounds import reachable_models, request_body_models

UNKNOWN = "zz_not_a_field"


def test_every_request_body_model_refuses_an_unknown_field_at_every_level():
    models = reachable_models(request_body_models())
    names = {m.__name__ for m in models}
    for must in ("ApplicationRequest", "DeliveryChoice", "Submission", "SignedMaterial"):
        assert must in names, "the walk reaches the bodies and their nested models"
    for must in ("DepartmentAction", "TicketRequest", "IssueRequest", "Material", "Fee"):
        assert must in names
    tolerant = []
    for model in models:
        try:
            model.model_validate({UNKNOWN: 1})
        except ValidationError as exc:
            if any(e["loc"] == (UNKNOWN,) and e["type"] == "extra_forbidden" for e in exc.errors()):
                continue
        tolerant.append(f"{model.__module__}.{model.__qualname__}")
    assert tolerant == [], 'a request body model takes unknown fields: extra="forbid"'


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (
            "contracts.cases:ApplicationRequest",
            {"item_code": "X", "applicant_name": "林", "delivery": {"methd": "ems"}},
            "delivery.methd",
        ),
        (
            "contracts.catalog:ServiceItemDraft",
            {"materials": [{"name": "a", "nam": "b"}]},
            "materials.0.nam",
        ),
    ],
)
def test_an_unknown_nested_field_is_a_422_naming_its_path_in_a_sentence(model, body, field):
    module, name = model.split(":")
    with pytest.raises(ValidationError) as refused:
        getattr(importlib.import_module(module), name).model_validate(body)
    problem = validation_problem(refused.value)
    assert problem.status_code == 422
    invalid = [p for p in json.loads(problem.body)["invalid_params"] if p["field"] == field]
    assert invalid == [{"field": field, "reason": "is not a field of this body"}]


def test_the_first_unknown_field_is_the_detail():
    from contracts.cases import ApplicationRequest

    with pytest.raises(ValidationError) as refused:
        ApplicationRequest.model_validate(
            {"item_code": "X", "applicant_name": "林", "delivery": {"methd": "ems"}}
        )
    assert '"detail":"delivery.methd is not a field of this body"' in validation_problem(
        refused.value
    ).body.replace('": "', '":"')
