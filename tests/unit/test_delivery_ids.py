"""Partners' delivery ids are checked at the edge, with reasons in JSON terms."""

import pytest


@pytest.mark.parametrize(
    ("value", "said"),
    [("", "an empty string"), (None, "null"), ([], "a list"), ({}, "an object"), (7, "a number")],
)
def test_a_delivery_id_that_is_not_a_string_is_refused_in_json_terms(value, said):
    from contracts.constrained import delivery_id
    from contracts.errors import InvalidRequest

    with pytest.raises(
        InvalidRequest, match=f"the push_id must be a non-empty string, not {said}$"
    ):
        delivery_id(value, field="push_id")
