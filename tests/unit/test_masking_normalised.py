"""Identifiers written the way people type them, not only as plain ASCII runs: fullwidth
(as a Chinese input method types them), other digit scripts, digits in spaced, dashed or
dotted groups. Every filter built on contracts.masking finds them; ordinary numbers
(dates, amounts, case numbers) stay readable."""

import logging

import pytest

from contracts.disclosure import DisclosureDraft
from contracts.masking import mask_name, mask_text, personal_identifiers
from govbus.observability import MaskingFilter

MARKET = "11350100MB00000012"

DISGUISED = [
    # (text, the masked form in place, the masked identifier a refusal names)
    (
        "身份证 ３５０１０２１９９００３０７１２３４ 号",
        "３５０１**********１２３４",
        "3501**********1234",
    ),
    ("ID ٣٥٠١٠٢١٩٩٠٠٣٠٧١٢٣٤", "٣٥٠١**********١٢٣٤", "3501**********1234"),
    ("ID 350102 19900307 1234", "3501** ******** 1234", "3501**********1234"),
    ("ID 350102-1990-0307-123X.", "3501**-****-****-123X", "3501**********123X"),
    ("ID 350102\u20141990\u20130307\u22121234", "3501**\u2014****\u2013****\u22121234", None),
    ("ID 350102\u300019900307\u30001234", "3501**\u3000********\u30001234", None),
    ("ID 350102.19900307.1234", "3501**.********.1234", None),
    ("手机 １３８１２３４５６７８", "１３８****５６７８", "138****5678"),
    ("手机 138-1234-5678", "138-****-5678", "138****5678"),
    ("手机 138 1234 5678，", "138 **** 5678", "138****5678"),
    ("手机 +86 138 1234 5678", "+86 138 **** 5678", "138****5678"),
    ("手机 138\u20101234\u20105678", "138\u2010****\u20105678", "138****5678"),
    ("手机 ١٣٨١٢٣٤٥٦٧٨", "١٣٨****٥٦٧٨", "138****5678"),
    ("手机 1381234 5678", "138**** 5678", "138****5678"),
    ("2026-12-08 申请 350102 19900307 1234", "3501** ******** 1234", "3501**********1234"),
    ("2026-12-08 350102 19900307 1234", "2026-12-08 3501** ******** 1234", "3501**********1234"),
    ("卡 3501 0219 9003 0712 34", "3501 **** **** **12 34", "3501**********1234"),
]
ORDINARY = [
    "日期 2026-12-08 13:00，金额 1,234,567.89 元",
    "办件编号 FZ20261127BE4A64FE，收件 2026.12.08",
    "发票号 2026 1208 1234 5678 90",
    "卡号 6222 0213 8123 4567 890",
    "電話 0591-8765 4321",
    "序列 1234 5678 9012 3456 78",  # 18 digits in groups, but no real birth date
    "金额 13 800 000 000 元",  # grouped in thousands, not as a mobile number is
    "编号 A350102 19900307 1234",  # part of a longer code
]


@pytest.mark.parametrize(("text", "masked", "named"), DISGUISED)
def test_disguised_identifiers_are_masked_in_place(text, masked, named):
    out = mask_text(text)
    assert masked in out, out
    assert len(out) == len(text), "masking keeps every other character where it was"
    found = personal_identifiers(text)
    assert found, text
    if named:
        assert found == [named]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_numbers_stay_readable(text):
    assert mask_text(text) == text
    assert personal_identifiers(text) == []


def test_the_log_masker_masks_disguised_identifiers(caplog):
    log = logging.getLogger("test.masking.normalised")
    log.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.masking.normalised"):
        log.info("applicant %s phone %s", "３５０１０２１９９００３０７１２３４", "138 1234 5678")
    assert "３５０１０２１９９００３０７１２３４" not in caplog.text
    assert "1234 5678" not in caplog.text and "138 **** 5678" in caplog.text


@pytest.mark.parametrize(("text", "masked", "named"), DISGUISED)
def test_a_disclosure_naming_a_citizen_in_disguise_is_refused(text, masked, named):
    with pytest.raises(ValueError, match="personal data") as refused:
        DisclosureDraft(
            agency=MARKET,
            kind="policy",
            title="关于简化材料的通知",
            body=f"经核查，{text}",
            effective_from="2020-01-01",
        )
    assert "*" in str(refused.value).split("personal data", 1)[1].split(")", 1)[0]


def test_a_name_keeps_its_first_character():
    assert mask_name("林小红") == "林**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("林") == "*"


# What an outside probe got past the filters: the same ID (350102199003071234) and
# mobile (13812345678) with letters around, invisible characters or marks between the
# digits, line breaks, other separators, a country code, a 15-digit old ID, inside a
# longer digit run, written in Chinese numerals, or escaped as HTML or in a URL.
ID, MOBILE = "350102199003071234", "13812345678"
NAMED_ID, NAMED_MOBILE = "3501**********1234", "138****5678"


def _between(text: str, joiner: str) -> str:
    return joiner.join(text)


CN_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")
# (variant, what a refusal names, the masked form in place seen without its invisible
# characters and marks - None where it is detected only: escaped forms)
PROBED = [
    (f"abc{ID}def", NAMED_ID, f"abc{NAMED_ID}def"),
    (_between(ID, "\u2060"), NAMED_ID, NAMED_ID),
    (_between(ID, "\u00ad"), NAMED_ID, NAMED_ID),
    (_between(ID, "\u200b"), NAMED_ID, NAMED_ID),
    (_between(ID, "\u200d"), NAMED_ID, NAMED_ID),
    (_between(ID, "\ufeff"), NAMED_ID, NAMED_ID),
    ("".join(d + "\u0301" for d in ID), NAMED_ID, NAMED_ID),
    ("".join(d + "\ufe0f" for d in ID), NAMED_ID, NAMED_ID),
    ("350102\n19900307\n1234", NAMED_ID, "3501**\n********\n1234"),
    ("350102\r\n19900307\r\n1234", NAMED_ID, "3501**\r\n********\r\n1234"),
    ("350102/19900307/1234", NAMED_ID, "3501**/********/1234"),
    ("350102_19900307_1234", NAMED_ID, "3501**_********_1234"),
    ("".join(f"&#{ord(d)};" for d in ID), NAMED_ID, None),
    ("".join(f"&#x{ord(d):x};" for d in ID), NAMED_ID, None),
    ("".join(f"%{ord(d):02X}" for d in ID), NAMED_ID, None),
    ("350102900307123号", "3501*******7123", "3501*******7123号"),
    ("8613812345678", NAMED_MOBILE, "86138****5678"),
    ("电话8613812345678", NAMED_MOBILE, "电话86138****5678"),
    ("0086 13812345678", NAMED_MOBILE, "0086 138****5678"),
    ("(138)1234-5678", NAMED_MOBILE, "(138)****-5678"),
    (f"9{ID}", NAMED_ID, f"9{NAMED_ID}"),
    (f"{ID}56", NAMED_ID, f"{NAMED_ID}56"),
    (ID.translate(CN_DIGITS), NAMED_ID, "三五〇一**********一二三四"),
    (MOBILE.translate(CN_DIGITS), NAMED_MOBILE, "一三八****五六七八"),
    (f"之一{MOBILE}", NAMED_MOBILE, "之一138****5678"),
]


def _visible(text: str) -> str:
    import unicodedata

    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Mn", "Me"))


@pytest.mark.parametrize(("variant", "named", "masked"), PROBED)
def test_a_probed_variant_is_found(variant, named, masked):
    assert personal_identifiers(f"联系人 {variant} 办理") == [named]


@pytest.mark.parametrize(("variant", "named", "masked"), [p for p in PROBED if p[2] is not None])
def test_a_probed_variant_is_masked_in_place(variant, named, masked):
    text = f"联系人 {variant} 办理"
    out = mask_text(text)
    assert len(out) == len(text)
    assert _visible(out) == f"联系人 {masked} 办理", out


@pytest.mark.parametrize(("variant", "named", "masked"), PROBED)
def test_a_disclosure_naming_a_probed_variant_is_refused(variant, named, masked):
    with pytest.raises(ValueError) as refused:
        DisclosureDraft(
            agency=MARKET,
            kind="policy",
            title="关于简化材料的通知",
            body=f"联系人 {variant} 办理",
            effective_from="2020-01-01",
        )
    reason = str(refused.value)
    if variant[1] in "\u200b\u200d\ufeff":
        # refused already for the invisible character itself, before any identifier
        assert "control or bidi-override character" in reason
    else:
        assert "personal data" in reason and named in reason


@pytest.mark.parametrize(
    "text",
    [
        "卡号 6222021381234567890",  # 19 digits, no ID with a real date and check inside
        "订单 20261208123456789012",
        "编号 FZ350102199003071235",  # letters around and the check character wrong
        "金额 123456789012345.00 元",  # 15 digits: no real yymmdd
        "日期 2026/12/08 13:00，路径 /a_b/c(1)",
        "第一页，共十二页",
        "其中一人",
    ],
)
def test_more_ordinary_numbers_stay_readable(text):
    assert mask_text(text) == text
    assert personal_identifiers(text) == []


@pytest.mark.parametrize(
    ("variant", "masked"),
    [
        (f"abc{ID}def", f"abc{NAMED_ID}def"),
        (_between(ID, "\u2060"), NAMED_ID),
        ("350102900307123号", "3501*******7123号"),
        ("电话8613812345678", "电话86138****5678"),
        ("(138)1234-5678", "(138)****-5678"),
        ("350102_19900307_1234", "3501**_********_1234"),
    ],
)
def test_a_subscriber_and_the_log_see_probed_variants_masked(caplog, variant, masked):
    from contracts.subscriptions import masked_body

    body = masked_body({"type": "gov.case.submitted", "data": {"reason": f"联系人 {variant}"}})
    assert _visible(body["data"]["reason"]) == f"联系人 {masked}"
    log = logging.getLogger("test.masking.probed")
    log.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.masking.probed"):
        log.info("contact %s", variant)
    assert _visible(caplog.records[-1].getMessage()) == f"contact {masked}"
