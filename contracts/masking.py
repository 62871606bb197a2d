"""Masking of personal and business identifiers in free text (log lines, errors).

Errs on the safe side: anything shaped like a citizen ID, a credit code or a
mainland mobile number is masked, whether or not its check digit holds, since a
mistyped number is still someone's number.

Text is matched on a normalised copy of itself, one character for one, so a match's
positions are the original's and masking replaces the original characters in place:

* NFKC folds fullwidth forms (``３５０１``, ``Ｘ``) to ASCII, and every other decimal
  digit script (Arabic-Indic ``٣٥٠``, Devanagari ...) becomes its ASCII digit
  (``unicodedata.decimal``);
* separators people put between digit groups (spaces of every kind, hyphens and dashes
  of every kind, the minus sign, dots and middle dots) all read as one separator, so
  ``350102 19900307 1234``, ``138-1234-5678`` and ``138 1234 5678`` are found.

A grouped number (one with separators inside) must stand alone on both sides, not
continue into more digit groups, and a grouped citizen ID must carry a real birth
date: so dates, amounts and case numbers written in groups stay readable.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata

from contracts.identity import mask_identifier

_SEP = "-"  # every separator reads as this in the normalised copy
_SEPARATORS = frozenset(" \t.-\u00b7\u2022\u2027\u2212\u30fb\uff0e\uff65")


class _Normaliser(dict[int, str]):
    """``str.translate`` table, filled on first sight of each character (cached)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = unicodedata.normalize("NFKC", char) if code > 0x7F else char
        if len(folded) != 1:
            out = char  # one character for one: expansions (ligatures, ⑩) stay as they are
        elif (digit := unicodedata.decimal(folded, None)) is not None:
            out = str(digit)
        elif folded in _SEPARATORS or unicodedata.category(folded) in ("Zs", "Pd"):
            out = _SEP
        elif folded.isascii():
            out = folded
        else:
            out = char
        self[code] = out
        return out


_NORMALISE = _Normaliser()


def normalise(text: str) -> str:
    """The copy of ``text`` identifiers are matched on: as long as ``text``, position
    for position (see the module doc)."""
    return text.translate(_NORMALISE)


# An identifier stands alone: not inside a longer run of letters and digits. A
# percent-escape right before it (``%20`` for a space, ``%E2%80%8F`` for a bidi mark
# in a logged URL) counts as a separator, though its hex digits are letters and digits.
_CODE = re.compile(
    r"(?:(?<![0-9A-Za-z])|(?<=%[0-9A-Fa-f]{2}))("
    r"[0-9]{17}[0-9Xx]"  # citizen ID
    r"|[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{10}"
    r")(?![0-9A-Za-z])"  # credit code, in either case
)
_MOBILE = re.compile(
    r"(?:(?<![0-9])|(?<=%[0-9A-Fa-f]{2})|(?<=\+86))(1[3-9][0-9][0-9]{4}[0-9]{4})(?![0-9])"
)

# grouped forms: up to three separators (`` - ``) between any two digits; not preceded
# by a digit group, nor followed by one
_GAP = "-{0,3}"
_NOT_AFTER_GROUP = r"(?<![0-9A-Za-z])(?<![0-9]-)(?<![0-9]--)(?<![0-9]---)"
_NOT_BEFORE_GROUP = r"(?![0-9A-Za-z])(?!-{1,3}[0-9])"
_GROUPED_ID = re.compile(
    _NOT_AFTER_GROUP + rf"([0-9](?:{_GAP}[0-9]){{16}}{_GAP}[0-9Xx])" + _NOT_BEFORE_GROUP
)
_GROUPED_MOBILE = re.compile(
    rf"(?:{_NOT_AFTER_GROUP}|(?<=\+86)|(?<=\+86-)|(?<=\+86--)|(?<=\+86---))"
    rf"(1{_GAP}[3-9](?:{_GAP}[0-9]){{9}})" + r"(?![0-9])(?!-{1,3}[0-9])"
)
_CITIZEN_ID = re.compile(r"(?<![0-9A-Za-z])([0-9]{17}[0-9Xx])(?![0-9A-Za-z])")


def _real_birth_date(code: str) -> bool:
    try:
        _dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    return True


def _found(norm: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, kind, compact)`` of every identifier in a normalised text, where
    ``compact`` is its characters without separators; none overlapping another."""
    found: list[tuple[int, int, str, str]] = []

    def add(match: re.Match[str], kind: str) -> None:
        start, end = match.span(1)
        if any(start < e and s < end for s, e, _k, _c in found):
            return
        compact = match.group(1).replace(_SEP, "")
        if kind == "code" and len(compact) == 18 and compact[:17].isdigit():
            kind = "citizen"
        found.append((start, end, kind, compact))

    for match in _CODE.finditer(norm):
        add(match, "code")
    for match in _GROUPED_ID.finditer(norm):
        if _SEP in match.group(1) and _real_birth_date(match.group(1).replace(_SEP, "")):
            add(match, "citizen")
    for match in _MOBILE.finditer(norm):
        add(match, "mobile")
    for match in _GROUPED_MOBILE.finditer(norm):
        if _SEP in match.group(1):
            add(match, "mobile")
    return found


def _masked(compact: str, kind: str) -> str:
    if kind == "mobile":
        return compact[:3] + "****" + compact[-4:]
    return mask_identifier(compact)


def mask_text(text: str) -> str:
    """Mask every identity code and mobile number found in ``text``, in place: the
    characters kept are the original ones (a fullwidth digit stays fullwidth), the
    separators between groups stay, the digits masked become ``*``."""
    norm = normalise(text)
    found = _found(norm)
    if not found:
        return text
    out = list(text)
    for start, end, kind, compact in found:
        masked = iter(_masked(compact, kind))
        for i in range(start, end):
            if norm[i] != _SEP:
                out[i] = next(masked)
                if out[i] != "*":
                    out[i] = text[i]
    return "".join(out)


def personal_identifiers(text: str) -> list[str]:
    """The citizen ID numbers and mobile numbers in ``text``, masked (for the message that
    refuses to publish them). Credit codes are not personal: an agency's or a firm's code
    is public. A citizen ID counts when its birth date is a real date, whatever its check
    digit: a mistyped number is still someone's number. Fullwidth and other digit
    scripts, and digits in groups, count as the plain number would."""
    norm = normalise(text)
    found = []
    for match in _CITIZEN_ID.finditer(norm):
        if _real_birth_date(match.group(1)):
            found.append(mask_identifier(match.group(1).upper()))
    for _start, _end, kind, compact in _found(norm):
        if kind == "citizen" and _SEP in norm[_start:_end] and _real_birth_date(compact):
            found.append(mask_identifier(compact.upper()))
        elif kind == "mobile":
            found.append(_masked(compact, kind))
    return found


_NAME_KEEP = 1


def mask_name(name: str) -> str:
    """A person's name for those not entitled to it: the first character kept, the rest
    ``*`` (``林小红`` -> ``林**``); a one-character name is masked whole."""
    name = str(name).strip()
    if len(name) <= _NAME_KEEP:
        return "*" * len(name)
    return name[:_NAME_KEEP] + "*" * (len(name) - _NAME_KEEP)
