"""Open data: after a day of cases and hotline tickets, the daily job writes Parquet that
pyarrow reads with the documented schema; the DCAT catalogue lists it with download URLs
that work; a cell of fewer than five people is suppressed and marked."""

import datetime as dt
import io

import pyarrow.parquet as pq
import pytest
import requests

from contracts.identity import citizen_id_check_char
from contracts.open_data import APPLICATIONS_DAILY, DATASETS, PROCESSING_TIMES, STAR_LEVELS
from tests.integration.conftest import bearer, department_token, login

MARKET = "11350100MB00000012"
POLICE = "11350100MB00000025"
FOOD_LICENCE_ITEM = MARKET + "XK0001"  # six people apply: published
RENEW_DRIVING_LICENCE = POLICE + "XK0105"  # two people apply: suppressed
CST = dt.timezone(dt.timedelta(hours=8))


def citizen_ids(n, start=300):
    for i in range(n):
        first17 = f"35010219900307{start + i:03d}"
        yield first17 + citizen_id_check_char(first17)


def submit_case(stack, token, item):
    created = requests.post(
        f"{stack.url}/applications",
        json={"item_code": item, "applicant_name": "市民", "delivery": {"method": "collect"}},
        headers=bearer(token),
        timeout=20,
    )
    assert created.status_code == 201, created.text
    case = created.json()
    for form in case["uploads"]:
        uploaded = requests.post(
            form["url"],
            data={**form["fields"], "Content-Type": "application/pdf"},
            files={"file": ("m.pdf", b"%PDF-1.7 material", "application/pdf")},
            timeout=20,
        )
        assert uploaded.status_code in (200, 204), uploaded.text
    submitted = requests.post(
        f"{stack.url}/applications/{case['id']}/submit", headers=bearer(token), timeout=20
    )
    assert submitted.status_code == 200, submitted.text
    return case["id"]


def act(stack, token, case_id, body):
    answer = requests.post(
        f"{stack.url}/applications/{case_id}/actions", json=body, headers=bearer(token), timeout=20
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture
def a_day_of_cases(stack, ca):
    stack.seed()
    people = [
        login(stack, ca.issue(code, "市民")).json()["access_token"] for code in citizen_ids(8)
    ]
    food = [submit_case(stack, token, FOOD_LICENCE_ITEM) for token in people[:6]]
    for token in people[6:]:
        submit_case(stack, token, RENEW_DRIVING_LICENCE)
    reviewer = department_token(stack, ["cases:review"], agency=MARKET)
    for case_id in food:
        act(stack, reviewer, case_id, {"action": "accept"})
    for case_id in food[:5]:
        act(stack, reviewer, case_id, {"action": "approve"})
    act(stack, reviewer, food[5], {"action": "reject", "reason": "材料不实"})
    return dt.datetime.now(CST).date()


def run_job(stack, day):
    return stack.functions["OpenDataFunction"].invoke({"day": day.isoformat()})


def test_the_daily_job_writes_readable_parquet_listed_in_the_catalogue(stack, a_day_of_cases):
    day = a_day_of_cases
    result = run_job(stack, day)
    assert result["rows"][APPLICATIONS_DAILY.name] == 2, result
    assert result["rows"][STAR_LEVELS.name] >= 1, result  # the seeded catalogue's agencies

    catalogue = requests.get(f"{stack.url}/open-data", timeout=20)
    assert catalogue.status_code == 200, catalogue.text
    document = catalogue.json()
    assert document["@type"] == "dcat:Catalog"
    datasets = {d["dct:identifier"]: d for d in document["dcat:dataset"]}
    assert set(datasets) == {d.name for d in DATASETS}
    applications = datasets[APPLICATIONS_DAILY.name]
    assert applications["dct:license"] and applications["dct:accrualPeriodicity"].endswith("daily")
    by_format = {d["dct:format"]: d["dcat:downloadURL"] for d in applications["dcat:distribution"]}
    assert set(by_format) == {"Parquet", "CSV"}

    parquet = requests.get(by_format["Parquet"], timeout=20)
    assert parquet.status_code == 200
    table = pq.read_table(io.BytesIO(parquet.content))
    documented = ["day"] + [c.name for c in APPLICATIONS_DAILY.columns]
    assert table.schema.names == documented
    assert str(table.schema.field("day").type) == "date32[day]"
    assert str(table.schema.field("applications").type) == "int64"
    rows = {r["item_code"]: r for r in table.to_pylist()}
    assert set(rows) == {FOOD_LICENCE_ITEM, RENEW_DRIVING_LICENCE}

    food = rows[FOOD_LICENCE_ITEM]
    assert (food["day"], food["applications"], food["approved"]) == (day, 6, 5)
    # one rejection is fewer than five people: that cell alone is emptied and named
    assert food["rejected"] is None and food["suppressed"] == "rejected"

    small = rows[RENEW_DRIVING_LICENCE]
    assert small["applications"] is None and small["approved"] is None
    assert small["suppressed"] == "applications,approved,rejected,overdue"

    csv_text = requests.get(by_format["CSV"], timeout=20).content.decode("utf-8")
    header, *lines = csv_text.splitlines()
    assert header.split(",") == documented
    assert len(lines) == 2


def test_the_catalogue_of_a_new_stack_lists_the_datasets_without_downloads(stack):
    document = requests.get(f"{stack.url}/open-data", timeout=20).json()
    assert [d["dcat:distribution"] for d in document["dcat:dataset"]] == [[]] * len(DATASETS)


def test_processing_times_of_the_days_decisions_against_the_promised_limit(stack, a_day_of_cases):
    day = a_day_of_cases
    result = run_job(stack, day)
    assert result["rows"][PROCESSING_TIMES.name] == 1, result  # only the food cases decided

    document = requests.get(f"{stack.url}/open-data", timeout=20).json()
    (dataset,) = [
        d for d in document["dcat:dataset"] if d["dct:identifier"] == PROCESSING_TIMES.name
    ]
    parquet_url = next(
        d["dcat:downloadURL"] for d in dataset["dcat:distribution"] if d["dct:format"] == "Parquet"
    )
    table = pq.read_table(io.BytesIO(requests.get(parquet_url, timeout=20).content))
    assert table.schema.names == ["day"] + [c.name for c in PROCESSING_TIMES.columns]
    (row,) = table.to_pylist()
    # six cases accepted and decided the same day: 0 working days, all within the limit
    assert (row["item_code"], row["day"], row["decided"]) == (FOOD_LICENCE_ITEM, day, 6)
    assert row["promised_days"] > 0
    assert (row["within_limit"], row["overdue"], row["within_limit_share"]) == (6, 0, 1.0)
    assert (row["p50_working_days"], row["p90_working_days"]) == (0.0, 0.0)
    assert row["suppressed"] == ""


def test_govbus_open_data_publish_fills_the_catalogue_of_a_fresh_stack_now(stack, capsys):
    from govbus_dev.cli import main as govbus

    stack.seed()
    day = dt.date(2026, 11, 26)
    assert (
        govbus(["open-data", "publish", "--day", day.isoformat(), "--stack", stack.stack_name]) == 0
    )
    printed = capsys.readouterr().out
    assert f"open data of {day.isoformat()} written" in printed
    assert STAR_LEVELS.name in printed

    document = requests.get(f"{stack.url}/open-data", timeout=20).json()
    for dataset in document["dcat:dataset"]:
        days = {d["dct:temporal"] for d in dataset["dcat:distribution"]}
        assert days == {day.isoformat()}, dataset["dct:identifier"]
    stars = next(d for d in document["dcat:dataset"] if d["dct:identifier"] == STAR_LEVELS.name)
    csv_url = next(d for d in stars["dcat:distribution"] if d["dct:format"] == "CSV")
    lines = requests.get(csv_url["dcat:downloadURL"], timeout=20).content.decode().splitlines()
    assert len(lines) > 1, "the seeded catalogue's agencies are in it"


def test_govbus_open_data_publish_refuses_a_day_that_is_not_a_date(capsys):
    from govbus_dev.cli import main as govbus

    assert govbus(["open-data", "publish", "--day", "yesterday"]) == 2
    assert "--day 'yesterday' is not YYYY-MM-DD" in capsys.readouterr().err


@pytest.mark.parametrize("days_ahead", [0, 1, 365])
def test_govbus_open_data_publish_refuses_a_day_that_is_not_over(capsys, days_ahead):
    import datetime as dt

    from govbus_dev.cli import main as govbus

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    day = (today + dt.timedelta(days=days_ahead)).isoformat()
    assert govbus(["open-data", "publish", "--day", day]) == 2
    assert "is not over yet" in capsys.readouterr().err
