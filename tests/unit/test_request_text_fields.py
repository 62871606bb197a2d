"""Guard: every free-text string of every request body refuses control and bidi-override
characters (docs/api.md: 422 naming the field).

The request bodies are the ``body=`` models of every documented route (the ones
docs/openapi.json is generated from), walked into their nested models, lists and dicts.
A string field passes if it carries the shared check of contracts/constrained.py
(``ShortText``, ``Text``, ``LongText``, ``bounded_text``), or a ``pattern``, or is listed
below as a machine field with the reason nothing a person reads is stored from it.
"""

from __future__ import annotations

import types
import typing

import pytest
from pydantic import BaseModel

from contracts import constrained
from govbus import http
from govbus_dev import openapi

PRINTABLE = {constrained._printable_line, constrained._printable_text}

# field -> why it needs no text check: each is parsed into something else or looked up,
# and refused (or not found) when it is not what it must be
MACHINE_FIELDS = {
    "ApplicationRequest.item_code": "looked up in the catalogue (404)",
    "ApplicationRequest.on_behalf_of": "parsed as a citizen ID or credit code",
    "BillRequest.payer_code": "parsed as a citizen ID or credit code",
    "BookingRequest.item_code": "looked up in the catalogue",
    "SlotsRequest.item_code": "looked up in the catalogue",
    "SlotsRequest.times[]": "validated as HH:MM",
    "DisclosureDraft.items[]": "validated as item codes",
    "IssueRequest.type_code": "looked up in the licence directory",
    "IssueRequest.holder_code": "parsed as a citizen ID or credit code",
    "IssueRequest.case_id": "looked up among the cases",
    "ServiceItemDraft.item_part": "validated as 4-12 of 0-9A-Z",
    "LoginRequest.nonce": "looked up among the issued challenges",
    "LoginRequest.certificate_pem": "parsed as X.509 PEM",
    "LoginRequest.signature": "decoded as base64",
    "LoginRequest.algorithm": "one of the accepted algorithms",
    "SignedMaterial.certificate_pem": "parsed as X.509 PEM",
    "SignedMaterial.signature": "decoded as base64",
    "SignedMaterial.algorithm": "one of the accepted algorithms",
    "SubscriptionRequest.url": "validated as an https URL of a permitted host",
    "SubscriptionRequest.event_types[]": "validated against the subscribable event types",
    "TicketRequest.about_case": "looked up among the cases",
    "TicketRequest.agency": "parsed as a credit code",
    "TicketRequest.caller_code": "parsed as a citizen ID or credit code",
}


def _string_fields(model: type[BaseModel]) -> list[tuple[str, list[typing.Any]]]:
    """(where, metadata) of every string reachable from ``model``."""
    found: list[tuple[str, list[typing.Any]]] = []
    seen: set[type] = set()

    def annotation(ann: typing.Any, metadata: list[typing.Any], where: str) -> None:
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        if origin is typing.Annotated:
            annotation(args[0], [*metadata, *ann.__metadata__], where)
        elif origin in (typing.Union, types.UnionType):
            for arg in args:
                annotation(arg, metadata, where)
        elif origin in (list, tuple, set, frozenset):
            for arg in args:
                if arg is not Ellipsis:
                    annotation(arg, [], where + "[]")
        elif origin is dict:
            annotation(args[0], [], where + "{key}")
            annotation(args[1], [], where + "{value}")
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            walk(ann)
        elif ann is str:
            found.append((where, metadata))
        # enums, literals, numbers, dates and the identity codes are not free text

    def walk(current: type[BaseModel]) -> None:
        if current in seen:
            return
        seen.add(current)
        for name, field in current.model_fields.items():
            annotation(field.annotation, list(field.metadata), f"{current.__name__}.{name}")

    walk(model)
    return found


@pytest.fixture(scope="module")
def request_fields() -> list[tuple[str, list[typing.Any]]]:
    openapi.build()  # imports every function, so every route declares its body model
    fields = []
    for models in http.BODY_MODELS.values():
        for model in models:
            fields += _string_fields(model)
    return fields


def _checked(metadata: list[typing.Any]) -> bool:
    return any(getattr(m, "func", None) in PRINTABLE for m in metadata) or any(
        getattr(m, "pattern", None) for m in metadata
    )


def test_every_free_text_field_of_a_request_refuses_control_characters(request_fields):
    assert len(request_fields) > 40, "the walk found the request bodies' strings"
    names = {where for where, _ in request_fields}
    for must in ("ApplicationRequest.applicant_name", "SubscriptionRequest.description"):
        assert must in names
    unchecked = sorted(
        where
        for where, metadata in request_fields
        if not _checked(metadata) and where not in MACHINE_FIELDS
    )
    assert unchecked == [], (
        "free text that lets control or bidi-override characters through: use ShortText, "
        "Text, LongText or bounded_text from contracts/constrained.py"
    )


def test_every_machine_field_listed_is_still_a_request_field(request_fields):
    names = {where for where, _ in request_fields}
    assert sorted(set(MACHINE_FIELDS) - names) == []


@pytest.mark.parametrize("text", ["林\u202e小姐", "林\u0000", "a\u0007b"])
def test_the_probes_strings_are_refused_by_the_contracts(text):
    from pydantic import ValidationError

    from contracts.cases import ApplicationRequest
    from contracts.subscriptions import SubscriptionRequest

    with pytest.raises(ValidationError, match="control or bidi-override"):
        ApplicationRequest.model_validate({"item_code": "X", "applicant_name": text})
    with pytest.raises(ValidationError) as refused:
        SubscriptionRequest.model_validate(
            {"url": "https://dept.example/hook", "event_types": ["*"], "description": text}
        )
    assert any(e["loc"] == ("description",) for e in refused.value.errors())
