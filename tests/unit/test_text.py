"""What users type is stored as typed, within documented limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data.vocabulary import MAX_NAME_LENGTH, MAX_NOTES_LENGTH
from domain.text import TextError, clean_text

HOSTILE = [
    "<script>alert('x')</script>",
    "Robert'); DROP TABLE patients;--",
    "<img src=x onerror=alert(1)>",
    "Zoë 👩‍⚕️ 李小龙 مرحبا",
    "**bold** [link](javascript:alert(1))",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_html_sql_markdown_and_emoji_are_kept_verbatim(text: str) -> None:
    assert clean_text(text, field="notes", max_length=MAX_NOTES_LENGTH, multiline=True) == text
    assert clean_text(text, field="name", max_length=MAX_NAME_LENGTH) == text


def test_text_over_the_limit_is_refused_with_the_limit_in_the_message() -> None:
    with pytest.raises(TextError) as err:
        clean_text("x" * 10_001, field="notes", max_length=MAX_NOTES_LENGTH, multiline=True)
    assert err.value.field == "notes"
    assert err.value.message == "Notes is too long: 10,001 characters; the limit is 4,000."
    exact = "y" * MAX_NOTES_LENGTH
    assert clean_text(exact, field="notes", max_length=MAX_NOTES_LENGTH, multiline=True) == exact


def test_characters_no_database_can_store_are_refused() -> None:
    for bad in ("a\x00b", "lone \ud800 surrogate"):
        with pytest.raises(TextError, match="cannot be stored"):
            clean_text(bad, field="notes", max_length=100, multiline=True)


def test_single_line_fields_refuse_line_breaks_and_control_characters() -> None:
    with pytest.raises(TextError, match="single line"):
        clean_text("Ann\nSmith", field="name", max_length=100)
    with pytest.raises(TextError, match="single line"):
        clean_text("Ann\x07", field="name", max_length=100)
    notes = "line one\n\tline two\r\n\x07bell"
    assert clean_text(notes, field="notes", max_length=100, multiline=True) == notes


def test_empty_text_is_none_unless_required() -> None:
    assert clean_text("   ", field="name", max_length=10) is None
    assert clean_text(None, field="notes", max_length=10, multiline=True) is None
    with pytest.raises(TextError, match="Name is required"):
        clean_text(" ", field="name", max_length=10, required=True)


@given(st.text(max_size=300))
def test_multiline_text_is_stored_exactly_or_refused_with_a_reason(text: str) -> None:
    try:
        stored = clean_text(text, field="notes", max_length=200, multiline=True)
    except TextError as err:
        assert err.message.startswith("Notes ")
        assert len(text) > 200 or "\x00" in text
    else:
        assert stored == (text if text.strip() else None)
