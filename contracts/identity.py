"""Identity codes: the "one code" (一码管理) of the plan.

* :class:`CitizenId` — 居民身份证号码, GB 11643-1999, ISO 7064 MOD 11-2 check.
* :class:`CreditCode` — 统一社会信用代码, GB 32100-2015, MOD 31 check.

Both are ``str`` subclasses usable as pydantic field types; constructing one
directly (``CitizenId("...")``) validates too and raises
``pydantic.ValidationError`` whose message names the rule that failed.
"""

from __future__ import annotations

import datetime as _dt
import re
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import ConfigDict, GetCoreSchemaHandler, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError, core_schema

from contracts.base import ContractModel

# --- check-digit algorithms (pure, tested against the DOMAIN.md vectors) ------

CITIZEN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CITIZEN_ID_CHECK_CHARS = "10X98765432"

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def citizen_id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character over the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise ValueError("a citizen ID check is computed over exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, CITIZEN_ID_WEIGHTS, strict=True))
    return CITIZEN_ID_CHECK_CHARS[total % 11]


def credit_code_check_char(first17: str) -> str:
    """GB 32100 check character over the first 17 characters."""
    if len(first17) != 17 or any(c not in CREDIT_CODE_CHARSET for c in first17):
        raise ValueError("a credit code check is computed over 17 characters of its charset")
    total = sum(
        CREDIT_CODE_CHARSET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    value = 31 - total % 31
    return CREDIT_CODE_CHARSET[0 if value == 31 else value]


# --- masking ------------------------------------------------------------------


def mask_identifier(value: str, keep_head: int = 4, keep_tail: int = 4) -> str:
    """Mask an identifier for logs and unentitled callers: ``3501**********1234``.

    Short values are masked whole so that nothing of them leaks.
    """
    value = str(value)
    if len(value) <= keep_head + keep_tail:
        return "*" * len(value)
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]


# --- pydantic-compatible types -------------------------------------------------

_CITIZEN_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")

# the fullwidth forms of ASCII (０-９, Ａ-Ｚ ...), as a Chinese input method types them
_FULLWIDTH = re.compile("[\uff01-\uff5e]")
_FULLWIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def _refuse_fullwidth(value: str, kind: str) -> None:
    """A code typed in fullwidth characters is refused with that said, not read through
    NFKC: a code is an ASCII identifier, and one accepted in two spellings would be two
    keys wherever it is compared as text (a certificate's subject, a caller's query)."""
    if _FULLWIDTH.search(value):
        raise PydanticCustomError(
            "code_fullwidth",
            "the {kind} was typed with fullwidth characters (as a Chinese input method "
            "types them, e.g. ３ instead of 3); type it with ASCII digits and letters",
            {"kind": kind},
        )


class _IdentityCode(str):
    """Common behaviour of the two identity codes."""

    __slots__ = ()
    kind: ClassVar[str]

    def __new__(cls, value: object) -> _IdentityCode:
        return cls._adapter().validate_python(value)

    @classmethod
    def _adapter(cls) -> TypeAdapter[Any]:
        """Built on first use (a cold start that never constructs a code skips it).
        Errors never echo the input: it is a personal or business identifier."""
        adapter = cls.__dict__.get("_built")
        if adapter is None:
            adapter = TypeAdapter(
                cls, config=ConfigDict(title=cls.__name__, hide_input_in_errors=True)
            )
            cls._built = adapter  # two threads at once build it twice: harmless
        return adapter

    @classmethod
    def _validate(cls, value: str) -> _IdentityCode:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls._validate,
            core_schema.str_schema(strip_whitespace=True),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    def masked(self) -> str:
        return mask_identifier(self)

    def __repr__(self) -> str:
        # reprs end up in tracebacks and logs: never show the full value there
        return f"{type(self).__name__}({self.masked()!r})"


class CitizenId(_IdentityCode):
    """居民身份证号码: 18 characters, address code, birth date, sequence, MOD 11-2 check."""

    __slots__ = ()
    kind = "citizen"

    @classmethod
    def _validate(cls, value: str) -> CitizenId:
        value = value.upper()
        _refuse_fullwidth(value, "citizen ID")
        if len(value) != 18:
            raise PydanticCustomError(
                "citizen_id_length",
                "a citizen ID has 18 characters, this one has {length}",
                {"length": len(value)},
            )
        if not _CITIZEN_ID_SHAPE.match(value):
            raise PydanticCustomError(
                "citizen_id_charset",
                "a citizen ID is 17 digits followed by a digit or X",
            )
        try:
            birth = _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            raise PydanticCustomError(
                "citizen_id_birth_date",
                "the birth date {date} in the citizen ID is not a real date",
                {"date": value[6:14]},
            ) from None
        if birth > _dt.date.today():
            raise PydanticCustomError(
                "citizen_id_birth_date",
                "the birth date {date} in the citizen ID is in the future",
                {"date": value[6:14]},
            )
        expected = citizen_id_check_char(value[:17])
        if value[17] != expected:
            raise PydanticCustomError(
                "citizen_id_check",
                "the citizen ID check character does not match (MOD 11-2); "
                "the number was probably mistyped",
            )
        return str.__new__(cls, value)

    @property
    def birth_date(self) -> _dt.date:
        return _dt.date(int(self[6:10]), int(self[10:12]), int(self[12:14]))

    @property
    def region_code(self) -> str:
        return self[:6]

    @property
    def sex(self) -> str:
        return "male" if int(self[16]) % 2 else "female"


class CreditCode(_IdentityCode):
    """统一社会信用代码: 18 characters of ``0-9A-Z`` less I, O, S, V, Z, MOD 31 check."""

    __slots__ = ()
    kind = "organisation"

    @classmethod
    def _validate(cls, value: str) -> CreditCode:
        value = value.upper()
        _refuse_fullwidth(value, "unified social credit code")
        if len(value) != 18:
            raise PydanticCustomError(
                "credit_code_length",
                "a unified social credit code has 18 characters, this one has {length}",
                {"length": len(value)},
            )
        bad = sorted({c for c in value if c not in CREDIT_CODE_CHARSET})
        if bad:
            raise PydanticCustomError(
                "credit_code_charset",
                "a unified social credit code uses 0-9 and A-Z without I, O, S, V, Z; "
                "found {chars}",
                {"chars": "".join(bad)},
            )
        if value[17] != credit_code_check_char(value[:17]):
            raise PydanticCustomError(
                "credit_code_check",
                "the credit code check character does not match (GB 32100); "
                "the code was probably mistyped",
            )
        return str.__new__(cls, value)

    @property
    def division_code(self) -> str:
        return self[2:8]


class SubjectKind(StrEnum):
    citizen = "citizen"
    organisation = "organisation"


# GB 32100 registering authority (登记管理部门) -> its organisation categories (机构类别)
CREDIT_CODE_CATEGORIES = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "2": "19",  # 外交
    "3": "123459",  # 司法行政: 律师事务所, 公证处, 基层法律服务所, 司法鉴定, 仲裁委员会
    "4": "19",  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}
# the province part of a GB/T 2260 division code ("10": central bodies, 100000)
PROVINCE_CODES = frozenset(
    "10 11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)


def _reads_as_credit_code(text: str) -> bool:
    """Whether an 18-character code reads as a credit code, not only passes its check:
    a known registering authority and category, a real province in its division code."""
    return (
        text[1] in CREDIT_CODE_CATEGORIES.get(text[0], "")
        and text[2:4] in PROVINCE_CODES
        and text[17] == credit_code_check_char(text[:17])
    )


def parse_subject_code(value: str) -> CitizenId | CreditCode:
    """Read a "one code" that may be either kind: a citizen ID or a credit code.

    A citizen ID is all digits (with a possible trailing X); anything else is read as
    a credit code, so the error names the rule of the kind the caller most likely meant.
    An all-digit credit code exists too (government bodies start with 1), but one digit
    in 31 mistyped in a citizen ID also passes the credit-code check: an all-digit code
    that fails as a citizen ID is read as a credit code only if it reads as one (its
    authority, category and division), otherwise the citizen ID's error stands.
    """
    text = str(value).strip().upper()
    # a code typed in fullwidth is read as the kind its ASCII would be, so that the
    # error (fullwidth, from that kind) names what the caller meant
    if _CITIZEN_ID_SHAPE.match(text.translate(_FULLWIDTH_TO_ASCII)):
        try:
            return CitizenId(text)
        except ValidationError:
            if _reads_as_credit_code(text):
                return CreditCode(text)
            raise
    return CreditCode(text)


def code_problem(exc: ValueError) -> str:
    """Why a code was refused, in its own sentence (pydantic's first message; its
    "1 validation error for CitizenId ... [type=...]" text is not for people)."""
    if isinstance(exc, ValidationError):
        return str(exc.errors(include_url=False)[0]["msg"])
    return str(exc)


class Subject(ContractModel):
    """Whom a record is about: a person or an organisation, by its one code."""

    kind: SubjectKind
    code: str

    @classmethod
    def of(cls, value: str) -> Subject:
        code = parse_subject_code(value)
        return cls(kind=SubjectKind(code.kind), code=str(code))

    def masked(self) -> str:
        return mask_identifier(self.code)
