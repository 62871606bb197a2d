"""Identity codes: the DOMAIN.md vectors, the rules named in errors, and properties."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts.identity import (
    CITIZEN_ID_CHECK_CHARS,
    CREDIT_CODE_CHARSET,
    CitizenId,
    CreditCode,
    Subject,
    citizen_id_check_char,
    code_problem,
    credit_code_check_char,
    mask_identifier,
    parse_subject_code,
)


@pytest.mark.parametrize(
    "value", ["11010519491231002X", "440524188001010014", "350102199003071234"]
)
def test_domain_valid_citizen_ids_validate(value):
    assert CitizenId(value) == value


def test_lower_case_x_is_normalised_to_upper_case():
    assert CitizenId("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("110105194912310021", "citizen_id_check"),
        ("11010519491331002X", "citizen_id_birth_date"),
        ("1101051949123100", "citizen_id_length"),
        ("11010519491231002Y", "citizen_id_charset"),
    ],
)
def test_invalid_citizen_ids_name_the_rule_that_failed(value, rule):
    with pytest.raises(ValidationError) as info:
        CitizenId(value)
    assert info.value.errors()[0]["type"] == rule
    assert value not in str(info.value), "the error must not echo the identifier"


def test_a_birth_date_in_the_future_is_refused():
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    first17 = "350102" + tomorrow.strftime("%Y%m%d") + "123"
    with pytest.raises(ValidationError, match="in the future"):
        CitizenId(first17 + citizen_id_check_char(first17))


@pytest.mark.parametrize(
    "value",
    ["11100000000013338W", "11420503087246977F", "91110000600037341L", "91350100MA2Y0AB1CB"],
)
def test_domain_valid_credit_codes_validate(value):
    assert CreditCode(value) == value


def test_domain_invalid_credit_code_fails_its_check():
    with pytest.raises(ValidationError) as info:
        CreditCode("11100000000013338X")
    assert info.value.errors()[0]["type"] == "credit_code_check"


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_credit_code_letters_outside_the_charset_are_named(letter):
    with pytest.raises(ValidationError, match=letter):
        CreditCode("9111000060003734" + letter + "L")


def test_codes_work_as_pydantic_fields_and_serialise_as_plain_strings():
    class Holder(BaseModel):
        citizen: CitizenId
        company: CreditCode

    holder = Holder(citizen="11010519491231002x", company="91350100ma2y0ab1cb")
    assert isinstance(holder.citizen, CitizenId)
    assert holder.model_dump() == {"citizen": "11010519491231002X", "company": "91350100MA2Y0AB1CB"}
    with pytest.raises(ValidationError) as info:
        Holder(citizen="110105194912310021", company="91350100MA2Y0AB1CB")
    assert info.value.errors()[0]["loc"] == ("citizen",)


def test_citizen_id_exposes_birth_date_sex_and_region():
    cid = CitizenId("350102199003071234")
    assert cid.birth_date == dt.date(1990, 3, 7)
    assert cid.sex == "male"
    assert cid.region_code == "350102"


def test_masking_keeps_four_characters_each_side():
    assert mask_identifier("350102199003071234") == "3501**********1234"
    assert repr(CitizenId("350102199003071234")) == "CitizenId('3501**********1234')"
    assert mask_identifier("1234") == "****"


def test_subject_of_reads_either_kind():
    assert Subject.of("350102199003071234").kind == "citizen"
    assert Subject.of("91350100MA2Y0AB1CB").kind == "organisation"
    assert Subject.of("11100000000013338W").kind == "organisation"


def test_a_mistyped_citizen_id_is_refused_even_when_it_passes_the_credit_code_check():
    """350102198512011236: the last digit of 350102198512011235 mistyped. By chance
    (one code in 31) it passes the GB 32100 check, but "010219" is no division code:
    it is refused by the citizen ID's rule, not taken for an organisation."""
    assert credit_code_check_char("35010219851201123") == "6"
    with pytest.raises(ValidationError, match="MOD 11-2"):
        parse_subject_code("350102198512011236")
    assert parse_subject_code("350102198512011235").kind == "citizen"


def test_an_all_digit_credit_code_is_still_read_as_one():
    first17 = "12350100123456789"  # 机构编制 / 事业单位, Fujian, Fuzhou
    code = first17 + credit_code_check_char(first17)
    assert code.isdigit(), "the vector must be all digits to test the fallback"
    assert parse_subject_code(code).kind == "organisation"


FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("350102199003071234".translate(FULLWIDTH), "citizen ID"),
        ("35010219900307123４", "citizen ID"),  # one key typed in fullwidth
        ("11010519491231002x".translate(FULLWIDTH), "citizen ID"),
        ("91350100MA2Y0AB1CB".translate(FULLWIDTH), "unified social credit code"),
        ("91350100ＭA2Y0AB1CB", "unified social credit code"),
    ],
)
def test_a_code_typed_in_fullwidth_says_so_and_names_its_kind(typed, kind):
    """Seen: ３５０１... was refused as a credit code using characters outside its set;
    a person learns instead that the code was typed in fullwidth, to be typed in ASCII."""
    with pytest.raises(ValidationError) as refused:
        parse_subject_code(typed)
    assert code_problem(refused.value) == (
        f"the {kind} was typed with fullwidth characters (as a Chinese input method types "
        "them, e.g. ３ instead of 3); type it with ASCII digits and letters"
    )
    assert typed not in str(refused.value), "the refusal never echoes the code"


def test_a_fullwidth_code_is_refused_not_read_as_its_ascii():
    with pytest.raises(ValidationError, match="fullwidth"):
        CitizenId("350102199003071234".translate(FULLWIDTH))
    with pytest.raises(ValidationError, match="fullwidth"):
        CreditCode("91350100MA2Y0AB1CB".translate(FULLWIDTH))


# --- properties -----------------------------------------------------------------

birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today())


@st.composite
def citizen_ids(draw):
    region = draw(st.from_regex(r"[1-8][0-9]{5}", fullmatch=True))
    birth = draw(birth_dates).strftime("%Y%m%d")
    seq = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    first17 = region + birth + seq
    return first17 + citizen_id_check_char(first17)


@st.composite
def credit_codes(draw):
    first17 = "".join(
        draw(st.lists(st.sampled_from(CREDIT_CODE_CHARSET), min_size=17, max_size=17))
    )
    return first17 + credit_code_check_char(first17)


@given(citizen_ids())
def test_every_generated_citizen_id_validates(value):
    assert CitizenId(value) == value


@given(credit_codes())
def test_every_generated_credit_code_validates(value):
    assert CreditCode(value) == value


@given(citizen_ids(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_change_to_a_citizen_id_is_rejected_unless_the_check_follows(value, pos, char):
    changed = value[:pos] + char + value[pos + 1 :]
    if changed == value:
        return
    if pos < 17 and char != "X":
        # the same change with the check character recomputed consistently
        fixed = changed[:17] + citizen_id_check_char(changed[:17])
        try:
            CitizenId(fixed)
        except ValidationError as exc:  # only the date may break
            assert exc.errors()[0]["type"] == "citizen_id_birth_date"
    with pytest.raises(ValidationError):
        CitizenId(changed)


@given(credit_codes(), st.integers(0, 17), st.sampled_from(CREDIT_CODE_CHARSET))
def test_any_single_change_to_a_credit_code_is_rejected_unless_the_check_follows(value, pos, char):
    changed = value[:pos] + char + value[pos + 1 :]
    if changed == value:
        return
    with pytest.raises(ValidationError):
        CreditCode(changed)
    fixed = changed[:17] + credit_code_check_char(changed[:17])
    assert CreditCode(fixed) == fixed


def test_check_tables_are_the_standard_ones():
    assert CITIZEN_ID_CHECK_CHARS == "10X98765432"
    assert len(CREDIT_CODE_CHARSET) == 31


def test_the_codes_validators_are_built_when_first_used_not_at_import():
    """Every function imports contracts.identity; building its two validators there cost
    each cold start ~3 ms, also where no code is ever constructed."""
    import subprocess
    import sys

    probe = (
        "from contracts.identity import CitizenId, CreditCode; "
        "before = ['_built' in c.__dict__ for c in (CitizenId, CreditCode)]; "
        "CitizenId('350102199003071234'); "
        "print(before, ['_built' in c.__dict__ for c in (CitizenId, CreditCode)])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[False, False] [True, False]"
