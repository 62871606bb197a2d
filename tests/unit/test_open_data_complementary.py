"""Complementary suppression: a hidden small cell cannot be worked out from the totals
published beside it; and the processing-time rows against the promised limit."""

import datetime as dt
import itertools

from contracts.cases import Case, CaseState
from contracts.open_data import (
    APPLICATIONS_DAILY,
    PROCESSING_TIMES,
    SATISFACTION,
    protect,
    suppress,
)
from govbus.calendar import WorkingCalendar
from govbus.open_data import CaseFacts, percentile, processing_rows, working_days_between

CST = dt.timezone(dt.timedelta(hours=8))


def candidates(published, groups, hidden_cell, bound=40):
    """What a reader can conclude about ``hidden_cell``: every value it can take in some
    assignment of non-negative counts to the hidden cells that fits every published total."""
    hidden = sorted(
        {c for total, parts in groups for c in [total, *parts] if value(published, c) is None}
    )
    possible = set()
    for guess in itertools.product(range(bound + 1), repeat=len(hidden)):
        filled = dict(zip(hidden, guess, strict=True))

        def of(cell, filled=filled):
            return filled[cell] if cell in filled else value(published, cell)

        if all(of(total) == sum(of(p) for p in parts) for total, parts in groups):
            possible.add(filled[hidden_cell])
    return possible


def value(rows, cell):
    return rows[cell[0]][cell[1]]


SCORES = [f"score_{n}" for n in range(1, 6)]


def satisfaction_row(**scores):
    return {"agency": "A", "evaluations": sum(scores.values()), "mean_score": 4.0, **scores}


def row_groups(rows):
    return [((i, "evaluations"), [(i, s) for s in SCORES]) for i in range(len(rows))]


def test_primary_suppression_alone_lets_a_reader_recover_the_small_score():
    row = satisfaction_row(score_1=2, score_2=0, score_3=5, score_4=6, score_5=7)
    published = [suppress(row, SATISFACTION.count_columns(), 20)]
    assert published[0]["score_1"] is None
    assert candidates(published, row_groups(published), (0, "score_1")) == {2}


def test_a_small_score_can_no_longer_be_derived_from_the_published_row():
    row = satisfaction_row(score_1=2, score_2=0, score_3=5, score_4=6, score_5=7)
    published = protect([row], [20], SATISFACTION)
    # the next smallest non-zero score goes with it, and the mean (a second equation)
    assert published[0]["suppressed"] == "mean_score,score_1,score_3"
    assert published[0]["evaluations"] == 20 and published[0]["score_2"] == 0
    assert len(candidates(published, row_groups(published), (0, "score_1"))) > 1


def test_a_hidden_item_row_cannot_be_recovered_from_its_agency_total():
    """Column totals: an agency's total over its items' rows, less the other items."""
    rows = [
        {
            "agency": "A",
            "item_code": "I1",
            "applications": 3,
            "approved": 0,
            "rejected": 0,
            "overdue": 0,
        },
        {
            "agency": "A",
            "item_code": "I2",
            "applications": 9,
            "approved": 9,
            "rejected": 0,
            "overdue": 0,
        },
        {
            "agency": "A",
            "item_code": "I3",
            "applications": 30,
            "approved": 25,
            "rejected": 5,
            "overdue": 0,
        },
        {
            "agency": "A",
            "item_code": "",
            "applications": 42,
            "approved": 34,
            "rejected": 5,
            "overdue": 0,
        },
    ]
    column = [
        ((3, "applications"), [(0, "applications"), (1, "applications"), (2, "applications")])
    ]
    published = protect(rows, [3, 9, 30, 42], APPLICATIONS_DAILY, groups=column)
    assert published[0]["applications"] is None  # the small row: primary
    assert published[1]["applications"] is None  # the next smallest item: complementary
    assert published[2]["applications"] == 30 and published[3]["applications"] == 42
    assert "applications" in published[1]["suppressed"]
    assert len(candidates(published, column, (0, "applications"))) > 1


def test_a_total_over_a_single_hidden_part_is_hidden_itself():
    rows = [
        {"agency": "A", "item_code": "I1", "applications": 3},
        {"agency": "A", "item_code": "", "applications": 3},
    ]
    column = [((1, "applications"), [(0, "applications")])]
    published = protect(rows, [3, 9], APPLICATIONS_DAILY, groups=column)
    assert published[1]["applications"] is None


def test_nothing_more_is_hidden_when_no_small_cell_is():
    row = satisfaction_row(score_1=5, score_2=0, score_3=5, score_4=6, score_5=7)
    published = protect([row], [23], SATISFACTION)
    assert published[0]["suppressed"] == "" and published[0]["mean_score"] == 4.0


# --- processing times --------------------------------------------------------------------

WEEKDAYS = WorkingCalendar(non_working=frozenset({dt.date(2024, 5, 1)}))  # 劳动节
DECIDED = dt.date(2024, 5, 7)  # a Tuesday


def decided_case(n, accepted, item="11350100MB00000012XK0001"):
    case = Case.model_validate(
        {
            "id": f"case-{n}",
            "item_code": item,
            "item_version": 1,
            "item_name": "食品经营许可",
            "agency": "11350100MB00000012",
            "state": "approved",
            "version": 5,
            "applicant": "3501**********1234",
            "applicant_kind": "citizen",
            "channel": "online",
            "materials": [],
            "accepted_at": dt.datetime.combine(accepted, dt.time(10), CST),
        }
    )
    decided_at = dt.datetime.combine(DECIDED, dt.time(15), CST)
    return CaseFacts(case, f"key-{n}", frozenset({CaseState.approved}), decided_at)


def test_working_days_skip_weekends_and_holidays():
    # Tue 30 Apr -> Tue 7 May: 1 May holiday, 4-5 May weekend: 2, 3, 6, 7 May count
    assert working_days_between(dt.date(2024, 4, 30), DECIDED, WEEKDAYS) == 4
    assert working_days_between(DECIDED, DECIDED, WEEKDAYS) == 0


def test_percentiles_interpolate_between_ranks():
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], 0.9) == 1.0


def test_processing_times_against_the_promised_limit():
    # accepted 0..9 working days before the decision (counted back over 1 May and a weekend)
    accepted = [
        DECIDED,
        dt.date(2024, 5, 6),
        dt.date(2024, 5, 3),
        dt.date(2024, 5, 2),
        dt.date(2024, 4, 30),
        dt.date(2024, 4, 29),
        dt.date(2024, 4, 26),
        dt.date(2024, 4, 25),
        dt.date(2024, 4, 24),
        dt.date(2024, 4, 23),
    ]
    cases = [decided_case(n, day) for n, day in enumerate(accepted)]
    cases.append(decided_case(99, DECIDED, item="11350100MB00000025XK0105"))  # one person
    limits = {("11350100MB00000012XK0001", 1): 4, ("11350100MB00000025XK0105", 1): 10}
    rows = {r["item_code"]: r for r in processing_rows(cases, DECIDED, limits, WEEKDAYS)}

    food = rows["11350100MB00000012XK0001"]
    assert (food["promised_days"], food["decided"]) == (4, 10)
    assert (food["within_limit"], food["overdue"]) == (5, 5)  # 0, 1, 2, 3, 4 days within
    assert (food["p50_working_days"], food["p90_working_days"]) == (4.5, 8.1)
    assert (food["within_limit_share"], food["overdue_share"]) == (0.5, 0.5)
    assert food["suppressed"] == ""

    small = rows["11350100MB00000025XK0105"]
    assert small["decided"] is None and small["p50_working_days"] is None
    assert small["within_limit_share"] is None
    assert small["suppressed"] == ",".join(
        c.name for c in PROCESSING_TIMES.columns if c.count or c.derived
    )


def test_a_small_overdue_count_hides_its_complement_and_shares():
    accepted = [DECIDED] * 8 + [dt.date(2024, 4, 23)] * 2  # two cases past a 4-day limit
    cases = [decided_case(n, day) for n, day in enumerate(accepted)]
    (row,) = processing_rows(cases, DECIDED, {("11350100MB00000012XK0001", 1): 4}, WEEKDAYS)
    assert row["decided"] == 10
    assert row["overdue"] is None and row["within_limit"] is None, "8 = 10 - 2 would reveal it"
    assert row["within_limit_share"] is None and row["overdue_share"] is None
    assert row["p50_working_days"] == 0.0
