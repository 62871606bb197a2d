"""Constrained types shared by every contract, and the one bounded JSON reader.

Whatever a contract accepts must be storable by every consumer (a DynamoDB item is at
most 400 KB, a key at most 2 KB) and readable by a person (no control characters, no
bidi overrides that make a text read differently than it is stored). So:

* :data:`ShortText`, :data:`Text`, :data:`LongText`: bounded strings, free of control
  and bidi-override characters (``\\n`` and ``\\t`` allowed in the long forms);
* :func:`bounded_text`: the same refusals with another bound; :data:`NotBlank`: no text
  of only whitespace;
* :func:`bounded_list`: a list of at most N items;
* :data:`FeeAmount`: yuan with at most two decimals, finite, under a ceiling;
* :data:`DeliveryId`: an id a partner gives a push, safe as part of any key;
* :func:`loads_bounded`: JSON with its depth, size and number lengths bounded *before*
  the recursive parser runs, so a hostile body is a clear refusal, never a crash.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from contracts.errors import InvalidRequest, PayloadTooLarge, ValidationFailed

# --- text -------------------------------------------------------------------------

# C0/C1 controls (tab and newline excepted in multi-line text), DEL, and the Unicode
# bidi embedding/override/isolate marks and zero-width joiners used to disguise text.
_FORBIDDEN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_FORBIDDEN_MULTILINE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def _printable_line(value: str) -> str:
    if _FORBIDDEN_LINE.search(value):
        raise ValueError("contains a control or bidi-override character")
    return value


def _printable_text(value: str) -> str:
    if _FORBIDDEN_MULTILINE.search(value):
        raise ValueError("contains a control or bidi-override character")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():  # spaces, tabs, newlines, the ideographic space
        raise ValueError("must not be blank")
    return value


NotBlank = AfterValidator(_not_blank)
"""Added to a text's annotation (``Annotated[ShortText, NotBlank]``): a text of only
whitespace is refused, as an empty one is (a title of three spaces says nothing)."""


SHORT_TEXT_MAX = 200
TEXT_MAX = 2_000
LONG_TEXT_MAX = 20_000

ShortText = Annotated[str, Field(max_length=SHORT_TEXT_MAX), AfterValidator(_printable_line)]
"""One line: a name, a title, a label (at most 200 characters)."""

Text = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(_printable_text)]
"""A paragraph: a note, a condition, an FAQ answer (at most 2,000 characters)."""

LongText = Annotated[str, Field(max_length=LONG_TEXT_MAX), AfterValidator(_printable_text)]
"""A document: a guide, a complaint's details (at most 20,000 characters)."""


def bounded_text(max_length: int, *, multiline: bool = False) -> Any:
    """A free text of at most ``max_length`` characters, free of control and bidi-override
    characters (``\\n`` and ``\\t`` allowed if ``multiline``): a pydantic-ready annotation.

    Use it for a bound other than the three above: ``ShortText = Field(max_length=100)``
    neither narrows nor widens the type's bound (pydantic applies the type's own 200
    last), so write ``bounded_text(100)``; tests/unit/test_text_bounds.py fails on a
    field whose declared bound is not the one applied.
    """
    check = _printable_text if multiline else _printable_line
    return Annotated[str, Field(max_length=max_length), AfterValidator(check)]


def bounded_list(item: Any, max_items: int) -> Any:
    """``list[item]`` of at most ``max_items`` entries (a pydantic-ready annotation)."""
    return Annotated[list[item], Field(max_length=max_items)]


# --- money ------------------------------------------------------------------------

# No single administrative fee in the catalogue comes near a hundred million yuan; a
# larger figure is a typing error (or an attack on every total computed from it).
FEE_CEILING_YUAN = Decimal("100000000")


def _fee(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite amount")
    return value


def _ascii_amount(value: Any) -> Any:
    # Decimal reads full-width (１０) and Arabic-Indic (١٠) digits too: an amount written
    # as text is the ASCII digits 0-9, a point and a sign, nothing else
    if isinstance(value, str) and not _ASCII_AMOUNT.fullmatch(value):
        raise ValueError("an amount is written with the ASCII digits 0-9 (and a decimal point)")
    return value


_ASCII_AMOUNT = re.compile(r"[+-]?[0-9]{1,12}(\.[0-9]{1,12})?")

FeeAmount = Annotated[
    Decimal,
    Field(ge=0, le=FEE_CEILING_YUAN, max_digits=11, decimal_places=2),
    BeforeValidator(_ascii_amount),
    AfterValidator(_fee),
]
"""A fee in yuan: 0 to 100,000,000 with at most two decimals (fen)."""


# --- ids --------------------------------------------------------------------------

DELIVERY_ID_MAX = 128
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
CORRELATION_ID_MAX = 128
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


# how a JSON reader names what it got instead of a string
_JSON_KIND = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
}


def delivery_id(value: object, *, field: str = "delivery id") -> str:
    """A partner's delivery id, checked for type, length and charset (else 400)."""
    if not isinstance(value, str) or not value:
        given = _JSON_KIND.get(type(value), "something else") if value != "" else "an empty string"
        raise InvalidRequest(f"the {field} must be a non-empty string, not {given}", field=field)
    if len(value) > DELIVERY_ID_MAX or not _DELIVERY_ID.match(value):
        raise InvalidRequest(
            f"the {field} must be 1 to {DELIVERY_ID_MAX} characters of A-Z, a-z, 0-9 and ._:-",
            field=field,
        )
    return value


def valid_correlation_id(value: object) -> bool:
    """Whether an (unsigned, caller-supplied) correlation id is safe to store and echo."""
    return isinstance(value, str) and bool(_CORRELATION_ID.match(value))


# --- JSON -------------------------------------------------------------------------

MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 40

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def json_depth(text: str) -> int:
    """The nesting depth of a JSON text, counted without recursion."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _number(kind: type) -> Any:
    def parse(literal: str) -> Any:
        if len(literal) > MAX_NUMBER_CHARS:
            raise InvalidRequest(
                f"a number in the body has {len(literal)} characters; "
                f"at most {MAX_NUMBER_CHARS} allowed",
                field="(body)",
            )
        value = kind(literal)
        if kind is float and value in (float("inf"), float("-inf")):
            raise InvalidRequest("a number in the body is out of range", field="(body)")
        return value

    return parse


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"kind": "consultation", "kind": "complaint"}: json keeps the last, another reader
    # the first; a body that says two things is refused, not guessed at
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            shown = key if len(key) <= 60 else key[:60] + "..."
            raise ValidationFailed(
                f"the key {shown!r} appears twice in one object: send it once", field=shown
            )
        document[key] = value
    return document


def _constant(name: str) -> Any:
    raise InvalidRequest(f"{name} is not a JSON number", field="(body)")


def loads_bounded(
    raw: bytes | str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """Parse JSON with size, depth and number length bounded; refuse with a reason.

    Raises :class:`PayloadTooLarge` (413) for a body over ``max_bytes`` and
    :class:`InvalidRequest` (400) for anything unreadable: invalid UTF-8, malformed
    JSON, nesting deeper than ``max_depth``, numbers of more than 40 characters, NaN;
    :class:`ValidationFailed` (422) for a key that appears twice in one object.
    """
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise PayloadTooLarge(f"the body has {size} bytes; at most {max_bytes} allowed")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("the body is not valid UTF-8", field="(body)") from None
    else:
        text = raw
    depth = json_depth(text)
    if depth > max_depth:
        raise InvalidRequest(
            f"the body nests {depth} levels deep; at most {max_depth} allowed", field="(body)"
        )
    try:
        document = json.loads(
            text,
            parse_int=_number(int),
            parse_float=_number(float),
            parse_constant=_constant,
            object_pairs_hook=_unique_keys,
        )
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "unreadable"
        raise InvalidRequest(f"the body is not JSON: {reason}", field="(body)") from None
    if _SURROGATE_ESCAPE.search(text):
        try:  # a lone surrogate escape ("\ud800") cannot be stored as UTF-8 anywhere
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest(
                "the body holds a lone surrogate escape (not a character)", field="(body)"
            ) from None
    return document
