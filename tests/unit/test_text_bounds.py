"""Guard: every bounded string of every request body, and of every contract model, is
refused at the bound it declares plus one character and accepted at the bound (a 422
naming the field and the bound, docs/api.md).

The bound a field declares is the one written at the field (``Field(max_length=N)``),
else its type's (``ShortText``, ``Text``, ``LongText``, ``bounded_text(N)``). Both at
once do not narrow nor widen the type's: pydantic applies the type's bound last, so
``details: Text = Field(max_length=5000)`` was refused at 2,000; such a field is written
``bounded_text(N)``. Each string is validated through its model (or, in a list or a
dict, through its own annotation), as a request is.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from annotated_types import MaxLen
from pydantic import BaseModel, TypeAdapter, ValidationError

import contracts
from govbus import http
from govbus.http import validation_problem
from govbus_dev import openapi


@dataclass(frozen=True)
class BoundedString:
    where: str
    bound: int
    refusals: Callable[[str], list[dict]]  # the errors about this string, for a value


def _max_lengths(metadata: typing.Iterable[typing.Any]) -> list[int]:
    found = []
    for item in metadata:
        if isinstance(item, MaxLen):
            found.append(item.max_length)
        found += [m.max_length for m in getattr(item, "metadata", ()) if isinstance(m, MaxLen)]
    return found


def _not_none(annotation: typing.Any) -> typing.Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _string(annotation: typing.Any) -> tuple[bool, list[int]]:
    """Whether ``annotation`` (None aside) is a string, and the bounds its type carries."""
    annotation = _not_none(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        base, *_ = typing.get_args(annotation)
        return base is str, _max_lengths(annotation.__metadata__)
    return annotation is str, []


def _in_model(model: type[BaseModel], key: str) -> Callable[[str], list[dict]]:
    def refusals(value: str) -> list[dict]:
        try:
            model.model_validate({key: value})
        except ValidationError as exc:
            return [e for e in exc.errors() if e["loc"] == (key,)]
        return []

    return refusals


def _alone(annotation: typing.Any) -> Callable[[str], list[dict]]:
    adapter = TypeAdapter(annotation)

    def refusals(value: str) -> list[dict]:
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            return exc.errors()
        return []

    return refusals


def bounded_strings(models: typing.Iterable[type[BaseModel]]) -> Iterator[BoundedString]:
    seen: set[type] = set()

    def inner(annotation: typing.Any, where: str) -> Iterator[BoundedString]:
        """Strings and models inside a field's list, dict or union."""
        annotation = _not_none(annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from walk(annotation)
        elif origin in (typing.Union, types.UnionType):
            for arg in args:
                yield from inner(arg, where)
        elif origin in (list, tuple, set, frozenset, dict):
            for arg, part in zip(args, ("{key}", "{value}") if origin is dict else ("[]",) * 9):
                if arg is Ellipsis:
                    continue
                is_string, bounds = _string(arg)
                if is_string and bounds:
                    yield BoundedString(where + part, bounds[0], _alone(arg))
                yield from inner(arg, where + part)

    def walk(model: type[BaseModel]) -> Iterator[BoundedString]:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            where = f"{model.__name__}.{name}"
            is_string, type_bounds = _string(field.annotation)
            declared = _max_lengths(field.metadata) or type_bounds
            if is_string and declared:
                yield BoundedString(where, declared[0], _in_model(model, field.alias or name))
            yield from inner(field.annotation, where)

    for model in models:
        yield from walk(model)


def nested_models(annotation: typing.Any) -> Iterator[type[BaseModel]]:
    """The models a field's annotation holds: itself, or inside its list, dict or union."""
    annotation = _not_none(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    else:
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                yield from nested_models(arg)


def reachable_models(models: typing.Iterable[type[BaseModel]]) -> list[type[BaseModel]]:
    """``models`` and every model their fields hold, at any depth, each once."""
    found: list[type[BaseModel]] = []
    waiting = list(models)
    while waiting:
        model = waiting.pop(0)
        if model not in found:
            found.append(model)
            for field in model.model_fields.values():
                waiting += nested_models(field.annotation)
    return found


def request_body_models() -> list[type[BaseModel]]:
    """Every documented request body's model (every route's ``documented(body=...)``)."""
    openapi.build()  # imports every function, so every route declares its body model
    return [model for models in http.BODY_MODELS.values() for model in models]


def _contract_models() -> list[type[BaseModel]]:
    found = []
    for module_info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"contracts.{module_info.name}")
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__ == module.__name__
        ]
    return found


@pytest.fixture(scope="module")
def strings() -> list[BoundedString]:
    return list(bounded_strings([*request_body_models(), *_contract_models()]))


def test_every_bounded_string_refuses_one_character_past_its_bound_and_takes_the_bound(
    strings,
):
    names = {s.where for s in strings}
    assert len(strings) > 60, "the walk found the contracts' bounded strings"
    for must in ("TicketRequest.details", "Answer.answer", "BillRequest.title", "Address.city"):
        assert must in names
    wrong = []
    for string in strings:
        over = string.refusals("x" * (string.bound + 1))
        at = string.refusals("x" * string.bound)
        if not over:
            wrong.append(f"{string.where}: {string.bound + 1} characters accepted")
        elif at:
            wrong.append(f"{string.where}: {string.bound} refused ({at[0]['msg']})")
        elif f"at most {string.bound} " not in over[0]["msg"]:
            wrong.append(f"{string.where}: refused as {over[0]['msg']!r}")
    assert wrong == [], "a string's declared bound is not the one applied (use bounded_text(N))"


def test_a_hotline_ticket_over_its_bound_is_a_422_naming_the_field_and_the_bound():
    from contracts.hotline import TicketRequest

    ticket = {"kind": "complaint", "title": "噪音扰民", "agency": "11350100MB0000001X"}
    assert TicketRequest.model_validate({**ticket, "details": "夜" * 5000}).details
    with pytest.raises(ValidationError) as refused:
        TicketRequest.model_validate({**ticket, "details": "夜" * 5001})

    problem = validation_problem(refused.value)
    assert problem.status_code == 422
    assert '"field":"details"' in problem.body.replace(" ", "")
    assert "details: String should have at most 5000 characters" in problem.body
