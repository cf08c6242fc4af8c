"""Callback arguments are checked against their annotations before the callback runs."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.auth import MAX_SAFE_INT, _matches

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.parametrize(
    ("value", "hint", "fits"),
    [
        (3, int, True),
        (True, int, False),  # JSON true is not a count or an id
        (2**60, int, False),  # beyond what a browser sends exactly
        (3.5, int, False),
        (3, float, True),
        (float("nan"), float, False),
        ("3", int, False),
        (None, int | None, True),
        ("x", str | None, True),
        ([1, 2], list[int], True),
        ([1, "2"], list[int], False),
        ({"a": 1}, dict[str, int], True),
        ("booked", Literal["booked", "cancelled"], True),
        ("deleted", Literal["booked", "cancelled"], False),
        ({"anything": [1]}, Any, True),
    ],
)
def test_values_fit_their_annotations(value: object, hint: Any, fits: bool) -> None:
    assert _matches(value, hint) is fits


@given(JSON)
def test_an_int_parameter_only_ever_receives_a_safe_integer(value: object) -> None:
    if _matches(value, int | None):
        assert value is None or (type(value) is int and abs(value) <= MAX_SAFE_INT)


@given(JSON)
def test_a_text_parameter_only_ever_receives_text(value: object) -> None:
    if _matches(value, str | None):
        assert value is None or isinstance(value, str)
