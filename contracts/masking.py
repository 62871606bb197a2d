"""Masking of personal and business identifiers in free text (log lines, errors).

Errs on the safe side: anything shaped like a citizen ID, a credit code or a
mainland mobile number is masked, whether or not its check digit holds, since a
mistyped number is still someone's number.
"""

from __future__ import annotations

import datetime as _dt
import re

from contracts.identity import mask_identifier

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
    r"(?:(?<![0-9])|(?<=%[0-9A-Fa-f]{2})|(?<=\+86))(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])"
)


def mask_text(text: str) -> str:
    """Mask every identity code and mobile number found in ``text``."""
    text = _CODE.sub(lambda m: mask_identifier(m.group(1)), text)
    return _MOBILE.sub(r"\1****\2", text)


_CITIZEN_ID = re.compile(r"(?<![0-9A-Za-z])([0-9]{6})([0-9]{8})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


def personal_identifiers(text: str) -> list[str]:
    """The citizen ID numbers and mobile numbers in ``text``, masked (for the message that
    refuses to publish them). Credit codes are not personal: an agency's or a firm's code
    is public. A citizen ID counts when its birth date is a real date, whatever its check
    digit: a mistyped number is still someone's number."""
    found = []
    for match in _CITIZEN_ID.finditer(text):
        birth = match.group(2)
        try:
            _dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
        except ValueError:
            continue
        found.append(mask_identifier(match.group(0)))
    found += [f"{m.group(1)}****{m.group(2)}" for m in _MOBILE.finditer(text)]
    return found
