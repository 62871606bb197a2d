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
