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


def test_the_glue_tables_of_the_template_match_the_documented_schemas():
    from pathlib import Path

    from contracts.open_data import DATASETS
    from govbus_dev.local.template import load_template

    glue_types = {"string": "string", "int64": "bigint", "double": "double", "bool": "boolean"}
    template = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
    tables = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Glue::Table"
    }
    assert set(tables) == {d.name for d in DATASETS}
    for dataset in DATASETS:
        declared = tables[dataset.name]["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"]) for c in declared] == [
            (c.name, glue_types[c.type]) for c in dataset.columns
        ], dataset.name
        assert [k["Name"] for k in tables[dataset.name]["PartitionKeys"]] == ["day"]


def test_a_mean_over_fewer_than_five_people_is_hidden_with_its_counts():
    from contracts.open_data import SATISFACTION

    published = suppress(
        {"agency": "A", "evaluations": 3, "mean_score": 4.7, "score_5": 2, "score_4": 1},
        SATISFACTION.count_columns(),
        3,
        SATISFACTION.derived_columns(),
    )
    assert published["mean_score"] is None and "mean_score" in published["suppressed"]
