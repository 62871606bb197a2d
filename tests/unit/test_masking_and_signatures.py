import base64
import logging

import pytest

from contracts.errors import SignatureInvalid, StaleTimestamp
from contracts.masking import mask_text
from contracts.signatures import standard_webhook_headers, verify_standard_webhook
from govbus.observability import MaskingFilter

SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode()
BODY = b'{"note": "hello"}'


def test_mask_text_masks_ids_credit_codes_and_mobiles_but_not_uuids():
    text = (
        "citizen 350102199003071234 firm 91350100MA2Y0AB1CB phone 13812345678 "
        "event 0b0e9c1e-8d8a-4a52-9a55-3a6f3e0f1d2c"
    )
    masked = mask_text(text)
    assert "350102199003071234" not in masked and "3501**********1234" in masked
    assert "91350100MA2Y0AB1CB" not in masked and "9135**********B1CB" in masked
    assert "13812345678" not in masked and "138****5678" in masked
    assert "0b0e9c1e-8d8a-4a52-9a55-3a6f3e0f1d2c" in masked


def test_masking_filter_masks_rendered_log_arguments(caplog):
    log = logging.getLogger("test.masking")
    log.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.masking"):
        log.info("applicant %s", "11010519491231002X")
    assert "11010519491231002X" not in caplog.text
    assert "1101**********002X" in caplog.text


def test_a_correctly_signed_delivery_verifies_and_returns_its_id():
    headers = standard_webhook_headers(SECRET, "msg_1", 1_700_000_000, BODY)
    assert verify_standard_webhook(headers, BODY, [SECRET], now=1_700_000_010) == "msg_1"


def test_rotation_any_active_secret_and_any_signature_entry_verifies():
    old = "whsec_" + base64.b64encode(b"the previous secret, still live").decode()
    headers = standard_webhook_headers(old, "msg_1", 1_700_000_000, BODY)
    headers["webhook-signature"] = "v1,bm90IGl0 " + headers["webhook-signature"]
    assert verify_standard_webhook(headers, BODY, [SECRET, old], now=1_700_000_000) == "msg_1"


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "secret"])
def test_any_tampering_fails_the_signature(tamper):
    headers = standard_webhook_headers(SECRET, "msg_1", 1_700_000_000, BODY)
    body = BODY
    secrets = [SECRET]
    if tamper == "body":
        body = BODY.replace(b"hello", b"hellO")
    elif tamper == "id":
        headers["webhook-id"] = "msg_2"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = "1700000001"
    else:
        secrets = ["whsec_" + base64.b64encode(b"someone else's secret").decode()]
    with pytest.raises(SignatureInvalid):
        verify_standard_webhook(headers, body, secrets, now=1_700_000_000)


def test_missing_headers_are_refused_with_a_reason():
    with pytest.raises(SignatureInvalid, match="missing"):
        verify_standard_webhook({}, BODY, [SECRET], now=0)


def test_a_timestamp_more_than_five_minutes_off_is_stale():
    headers = standard_webhook_headers(SECRET, "msg_1", 1_700_000_000, BODY)
    with pytest.raises(StaleTimestamp):
        verify_standard_webhook(headers, BODY, [SECRET], now=1_700_000_000 + 301)
    with pytest.raises(StaleTimestamp):
        verify_standard_webhook(headers, BODY, [SECRET], now=1_700_000_000 - 301)


def test_plain_log_lines_mask_identifiers_in_tracebacks_too():
    import io

    from govbus.observability import MaskingPlainFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingPlainFormatter("%(message)s"))
    log = logging.getLogger("test.masking.traceback")
    log.addHandler(handler)
    try:
        raise KeyError("no account for 350102199003071234")
    except KeyError:
        log.exception("lookup failed")
    assert "350102199003071234" not in stream.getvalue()
    assert "3501**********1234" in stream.getvalue()


@pytest.mark.parametrize(
    "line, clear",
    [
        ("GET /subjects/91350100ma2y0ab1cb/records", "91350100ma2y0ab1cb"),
        ("GET /subjects/%2091350100MA2Y0AB1CB/records", "91350100MA2Y0AB1CB"),
        ("GET /subjects/%E2%80%8F91350100MA2Y0AB1CB%E2%80%8F/records", "91350100MA2Y0AB1CB"),
        ("GET /subjects/\u200f91350100MA2Y0AB1CB\u200e/records", "91350100MA2Y0AB1CB"),
        ("GET /subjects/%20350102199003071234/records", "350102199003071234"),
        ("caller +8613812345678", "13812345678"),
        ("purpose: checking 350102199003071234 for a loan", "350102199003071234"),
    ],
    ids=[
        "lower-case credit code",
        "percent-encoded space before",
        "percent-encoded bidi marks around",
        "raw bidi marks around",
        "citizen ID after an encoded space",
        "+86 mobile",
        "identifier in free text",
    ],
)
def test_identifiers_are_masked_in_every_form_a_log_line_shows_them(line, clear):
    masked = mask_text(line)
    assert clear not in masked
    assert clear.lower() not in masked.lower()
    assert "*" in masked


def test_a_sealed_token_subject_hides_the_code_and_opens_only_under_its_key():
    from contracts.errors import Unauthenticated
    from govbus.auth import open_subject, seal_subject

    sealed = seal_subject("350102199003071234", "signing key one")
    assert "350102199003071234" not in sealed
    assert "350102199003071234" not in base64.urlsafe_b64decode(
        sealed.split(":", 1)[1] + "=" * 4
    ).decode("latin-1")
    assert open_subject(sealed, "signing key one") == "350102199003071234"
    with pytest.raises(Unauthenticated):
        open_subject(sealed, "another signing key")
    # a department's client id is not sealed and reads as it is
    assert open_subject("client-123", "signing key one") == "client-123"


def test_anonymous_audit_entries_spread_over_every_shard_while_an_actor_keeps_one():
    import datetime as dt
    import uuid

    from govbus.audit import SHARDS, partition_for

    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    anonymous = {partition_for("anonymous", when, str(uuid.uuid4())) for _ in range(200)}
    assert len(anonymous) == SHARDS
    known = {partition_for("client-1", when, str(uuid.uuid4())) for _ in range(20)}
    assert len(known) == 1
