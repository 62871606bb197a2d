"""The open-data suppression rule: no published cell counts fewer than five people."""

from contracts.open_data import APPLICATIONS_DAILY, suppress

COUNTS = APPLICATIONS_DAILY.count_columns()


def row(**counts):
    return {"agency": "A", "item_code": "I", **counts}


def test_a_small_count_in_a_large_row_is_emptied_and_named():
    published = suppress(row(applications=9, approved=5, rejected=4, overdue=0), COUNTS, 9)
    assert (published["approved"], published["rejected"], published["overdue"]) == (5, None, 0)
    assert published["suppressed"] == "rejected"


def test_a_row_of_fewer_than_five_people_has_every_count_emptied():
    published = suppress(row(applications=6, approved=6, rejected=0, overdue=0), COUNTS, 3)
    assert all(published[c] is None for c in COUNTS)
    assert published["suppressed"] == ",".join(COUNTS)


def test_nothing_is_suppressed_when_every_count_is_zero_or_at_least_five():
    published = suppress(row(applications=5, approved=5, rejected=0, overdue=0), COUNTS, 5)
    assert published["suppressed"] == "" and published["applications"] == 5
