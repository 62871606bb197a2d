"""Masking of personal and business identifiers in free text (log lines, errors).

Errs on the safe side: anything shaped like a citizen ID, a credit code or a
mainland mobile number is masked, whether or not its check digit holds, since a
mistyped number is still someone's number.

Text is matched on a normalised copy of itself, one character for one, so a match's
positions are the original's and masking replaces the original characters in place:

* NFKC folds fullwidth forms (``３５０１``, ``Ｘ``) to ASCII, and every other decimal
  digit script (Arabic-Indic ``٣٥٠``, Devanagari ...) becomes its ASCII digit
  (``unicodedata.decimal``);
* Chinese numerals ``〇零一二三四五六七八九`` read as digits in a run of eleven or
  more (``三五〇一…``), never one alone;
* separators people put between digit groups (spaces of every kind, hyphens and dashes
  of every kind, the minus sign, dots and middle dots, line breaks, ``/``, ``_``, ``(``
  and ``)``) all read as one separator, so ``350102 19900307 1234``, ``138-1234-5678``,
  ``(138)1234-5678`` and ``350102_19900307_1234`` are found;
* invisible characters (format characters, Unicode category Cf: zero-width space and
  joiner, word joiner, soft hyphen, BOM, bidi marks) and combining marks and variation
  selectors read as nothing: they are skipped when matching (a digit either side of one
  is next to the other) and left where they are when masking.

An 18-character citizen ID standing alone counts when its birth date is real; one
touching letters (``abc350102199003071234def``) or inside a longer digit run counts
when its birth date is real and not in the future AND its GB 11643 check character
(ISO 7064 MOD 11-2) holds, so ordinary long numbers are not taken for one. A 15-digit
old ID (GB 11643-1989: area, yymmdd, sequence) counts when its date is real; a mobile
number also after ``86``, ``+86`` or ``0086``.

HTML character references (``&#51;``, ``&#x33;``) and percent-escapes (``%33``) are
decoded for :func:`personal_identifiers` (what refuses a disclosure), so an escaped
identifier is refused too; :func:`mask_text` does not mask escaped forms in place (their
characters cannot be mapped back one for one).

In a run of digit groups, whole groups that make a citizen ID with a real birth date,
or a mobile number grouped as people group one (3-4-4, 3-8, 7-4), are masked; groups
touching a letter or a digit outside the run (part of a longer code) are not. So dates,
amounts and case numbers written in groups stay readable.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
import unicodedata
import urllib.parse
from typing import Any

from contracts.identity import mask_identifier

_SEP = "-"  # what every non-ASCII separator reads as in the normalised copy
_ASCII_SEPARATORS = " \t\r\n.-/_()"
_SEPARATORS = frozenset(_ASCII_SEPARATORS + "\u00b7\u2022\u2027\u2212\u30fb\uff0e\uff65")
_SKIP = "\uffff"  # what an invisible character or a mark reads as: nothing (skipped)
_INVISIBLE = frozenset({"Cf", "Mn", "Me"})
# Chinese numerals read as digits only in a run as long as a mobile number at least, so
# that 一 in a sentence never joins the digits next to it
_CHINESE_RUN = re.compile("[〇零一二三四五六七八九]{11,}")
_CHINESE_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")


class _Normaliser(dict[int, str]):
    """``str.translate`` table, filled on first sight of each character (cached)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = unicodedata.normalize("NFKC", char) if code > 0x7F else char
        if code <= 0x7F:
            out = char  # ASCII separators are matched as they are
        elif unicodedata.category(char) in _INVISIBLE:
            out = _SKIP
        elif len(folded) != 1:
            out = char  # one character for one: expansions (ligatures, ⑩) stay as they are
        elif (digit := unicodedata.decimal(folded, None)) is not None:
            out = str(digit)
        elif folded in _SEPARATORS or unicodedata.category(folded) in ("Zs", "Zl", "Zp", "Pd"):
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
    for position (see the module doc). ASCII text is its own copy."""
    if text.isascii():
        return text
    norm = text.translate(_NORMALISE)
    if _CHINESE_RUN.search(norm):
        norm = _CHINESE_RUN.sub(lambda m: m.group().translate(_CHINESE_DIGITS), norm)
    return norm


# An identifier stands alone: not inside a longer run of letters and digits. A
# percent-escape right before it (``%20`` for a space, ``%E2%80%8F`` for a bidi mark
# in a logged URL) counts as a separator, though its hex digits are letters and digits.
_CODE = re.compile(
    r"(?=[0-9A-Za-z]{2}[0-9]{6})"  # fails fast where no code starts
    r"(?:(?<![0-9A-Za-z])|(?<=%[0-9A-Fa-f]{2}))("
    r"[0-9]{17}[0-9Xx]"  # citizen ID
    r"|[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{10}"
    r")(?![0-9A-Za-z])"  # credit code, in either case
)
_MOBILE = re.compile(
    r"(?=1[3-9])"  # fails fast where no mobile number starts
    r"(?:(?<![0-9])|(?<=%[0-9A-Fa-f]{2})|(?<=\+86)|(?<=(?<![0-9])86)|(?<=(?<![0-9])0086))"
    r"(1[3-9][0-9][0-9]{4}[0-9]{4})(?![0-9])"
)
# a 15-digit old citizen ID (GB 11643-1989): area code, yymmdd, sequence
_OLD_ID = re.compile(r"(?=[1-8][0-9]{14})(?<![0-9A-Za-z])([0-9]{15})(?![0-9A-Za-z])")
# digit runs an 18-character ID may hide in (letters around, longer runs)
_LONG_RUN = re.compile(r"[0-9]{17,}[Xx]?")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# a run of digit groups: up to three separators (`` - ``) between any two digits, a
# citizen ID's check character X last
_GAP = f"[{re.escape(_ASCII_SEPARATORS)}]{{0,3}}"
_RUN = re.compile(rf"[0-9](?:{_GAP}[0-9])*(?:{_GAP}[Xx])?")
_IS_SEP = frozenset(_ASCII_SEPARATORS)
_MOBILE_SHAPE = re.compile(r"1[3-9][0-9]{9}")


def _real_birth_date(code: str) -> bool:
    try:
        _dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    return True


def _old_birth_date(code: str) -> bool:
    """A 15-digit old ID's yymmdd is a real date (19yy)."""
    try:
        _dt.date(1900 + int(code[6:8]), int(code[8:10]), int(code[10:12]))
    except ValueError:
        return False
    return True


def _checked_id(code: str) -> bool:
    """An 18-character ID whose birth date is real and not in the future (nor before
    1900) and whose ISO 7064 MOD 11-2 check character holds."""
    if not code[:17].isdigit():
        return False
    try:
        born = _dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    if not _dt.date(1900, 1, 1) <= born <= _dt.date.today():
        return False
    total = sum(int(d) * w for d, w in zip(code[:17], _WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == code[17].upper()


def _hidden_ids(norm: str) -> list[tuple[int, int, str, str]]:
    """Citizen IDs with a valid check character inside a longer run of digits or
    touching letters."""
    found = []
    for run in _LONG_RUN.finditer(norm):
        text, k = run.group(), 0
        while k + 18 <= len(text):
            window = text[k : k + 18]
            if _checked_id(window):
                found.append((run.start() + k, run.start() + k + 18, "citizen", window))
                k += 18
            else:
                k += 1
    return found


_GROUP = re.compile(r"[0-9]+[Xx]?")
_MOBILE_BREAKS = frozenset({3, 7})  # 138 1234 5678, 138 12345678, 1381234 5678


def _grouped(norm: str) -> list[tuple[int, int, str, str]]:
    """Identifiers written in groups: whole digit groups of a run, not touching a letter
    or digit outside it, that make a citizen ID with a real birth date (18 digits, its
    check character X last) or a mobile number grouped 3-4-4, 3-8 or 7-4 (the
    separators people put in a mobile number; an amount grouped in thousands is none)."""
    found = []
    for run in _RUN.finditer(norm):
        text = run.group()
        if len(text) < 12 or not any(c in _IS_SEP for c in text):
            continue
        start, end = run.span()
        open_before = not (start and norm[start - 1].isascii() and norm[start - 1].isalnum())
        open_after = not (end < len(norm) and norm[end].isascii() and norm[end].isalnum())
        groups = [(start + m.start(), start + m.end(), m.group()) for m in _GROUP.finditer(text)]
        i = 0
        while i < len(groups):
            compact, breaks, taken = "", set(), None
            for j in range(i, len(groups)):
                if compact and not compact[-1].isdigit():
                    break  # an X ends a citizen ID
                compact += groups[j][2]
                if (i == 0 and not open_before) or (j == len(groups) - 1 and not open_after):
                    breaks.add(len(compact))
                    continue  # touches a letter or digit outside the run
                if len(compact) == 18 and compact[:17].isdigit() and _real_birth_date(compact):
                    taken = (groups[i][0], groups[j][1], "citizen", compact, j)
                elif (
                    len(compact) == 11
                    and _MOBILE_SHAPE.fullmatch(compact)
                    and breaks <= _MOBILE_BREAKS
                ):
                    taken = (groups[i][0], groups[j][1], "mobile", compact, j)
                if taken or len(compact) >= 18:
                    break
                breaks.add(len(compact))
            if taken:
                found.append(taken[:4])
                i = taken[4] + 1
            else:
                i += 1
    return found


def _found(norm: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, kind, compact)`` of every identifier in a normalised text, where
    ``compact`` is its characters without separators; none overlapping another."""
    found: list[tuple[int, int, str, str]] = []

    def add(start: int, end: int, kind: str, compact: str) -> None:
        if not any(start < e and s < end for s, e, _k, _c in found):
            found.append((start, end, kind, compact))

    for match in _CODE.finditer(norm):
        compact = match.group(1)
        kind = "citizen" if compact[:17].isdigit() else "code"
        add(*match.span(1), kind, compact)
    for match in _MOBILE.finditer(norm):
        add(*match.span(1), "mobile", match.group(1))
    for item in _hidden_ids(norm):
        add(*item)
    for match in _OLD_ID.finditer(norm):
        if _old_birth_date(match.group(1)):
            add(*match.span(1), "old", match.group(1))
    for item in _grouped(norm):
        add(*item)
    return found


def _few_digits(text: str) -> bool:
    return sum(map(text.count, "0123456789")) < 6


def _view(text: str) -> tuple[str, str, list[int] | None]:
    """``(norm, compact, positions)``: the normalised copy, the copy without the
    characters that read as nothing, and where each of its characters stands in
    ``text`` (None when nothing was skipped: the positions are the same)."""
    norm = normalise(text)
    if _SKIP not in norm or _few_digits(norm):
        return norm, norm, None
    positions = [i for i, c in enumerate(norm) if c != _SKIP]
    return norm, "".join(norm[i] for i in positions), positions


def _found_in(text: str) -> tuple[str, list[tuple[int, int, str, str]]]:
    """The normalised copy of ``text`` and every identifier in it, with spans in
    ``text``."""
    norm, compact, positions = _view(text)
    if _few_digits(compact):
        return norm, []  # too few digits for any identifier (a credit code has 6)
    found = _found(compact)
    if positions is not None:
        found = [(positions[s], positions[e - 1] + 1, k, c) for s, e, k, c in found]
    return norm, found


def _masked(compact: str, kind: str) -> str:
    if kind == "mobile":
        return compact[:3] + "****" + compact[-4:]
    return mask_identifier(compact)


def mask_text(text: str) -> str:
    """Mask every identity code and mobile number found in ``text``, in place: the
    characters kept are the original ones (a fullwidth digit stays fullwidth), the
    separators between groups stay, invisible characters and marks stay, the digits
    masked become ``*``. Identifiers escaped as HTML character references or
    percent-escapes are not masked here (only :func:`personal_identifiers` decodes them).
    """
    if text.isascii() and _few_digits(text):
        return text  # the fast way out for most log lines
    norm, found = _found_in(text)
    if not found:
        return text
    out = list(text)
    for start, end, kind, compact in found:
        masked = iter(_masked(compact, kind))
        for i in range(start, end):
            if norm[i] not in _IS_SEP and norm[i] != _SKIP:
                out[i] = next(masked)
                if out[i] != "*":
                    out[i] = text[i]
    return "".join(out)


def personal_identifiers(text: str) -> list[str]:
    """The citizen ID numbers and mobile numbers in ``text``, masked (for the message that
    refuses to publish them). Credit codes are not personal: an agency's or a firm's code
    is public. A citizen ID counts when its birth date is a real date, whatever its check
    digit: a mistyped number is still someone's number. Fullwidth and other digit
    scripts, and digits in groups, count as the plain number would; so do the other
    forms in the module doc, HTML character references and percent-escapes decoded."""
    found: list[str] = []
    for i, variant in enumerate(_decoded(text)):
        for _start, _end, kind, compact in _found_in(variant)[1]:
            if kind == "citizen" and _real_birth_date(compact):
                named = mask_identifier(compact.upper())
            elif kind in ("mobile", "old"):
                named = _masked(compact, kind)
            else:
                continue
            if i == 0 or named not in found:
                found.append(named)
    return found


def _decoded(text: str) -> list[str]:
    """``text``, then its forms with HTML character references and percent-escapes
    decoded (where it has any)."""
    variants = [text]
    if "&" in text:
        variants.append(html.unescape(text))
    if "%" in text:
        variants += [urllib.parse.unquote(v) for v in list(variants)]
    return [v for i, v in enumerate(variants) if v not in variants[:i]]


_NAME_KEEP = 1


def mask_name(name: str) -> str:
    """A person's name for those not entitled to it: the first character kept, the rest
    ``*`` (``林小红`` -> ``林**``); a one-character name is masked whole."""
    name = str(name).strip()
    if len(name) <= _NAME_KEEP:
        return "*" * len(name)
    return name[:_NAME_KEEP] + "*" * (len(name) - _NAME_KEEP)


# data fields that hold a person's name (持证人 a licence's holder, 申请人 an applicant),
# and the parties whose name and street are a person's (a waybill's receiver)
PERSON_NAME_FIELDS: frozenset[str] = frozenset({"holder_name", "applicant_name"})
_PERSONS: frozenset[str] = frozenset({"receiver"})


def _person_field(key: str, field: str, value: str) -> str | None:
    if field in PERSON_NAME_FIELDS or (key in _PERSONS and field == "name"):
        return mask_name(value)
    if key in _PERSONS and field == "street":
        return "*" * len(value)
    return None


def mask_person_names(value: Any, key: str = "") -> Any:
    """``value`` (an event's data, say) with every person's name in it masked (林**), and
    a receiver's street."""
    if isinstance(value, dict):
        masked = {}
        for k, v in value.items():
            hidden = _person_field(key, k, v) if isinstance(v, str) else None
            masked[k] = hidden if hidden is not None else mask_person_names(v, k)
        return masked
    if isinstance(value, list):
        return [mask_person_names(v, key) for v in value]
    return value
