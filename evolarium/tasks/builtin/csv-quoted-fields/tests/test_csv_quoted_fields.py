import pytest

from csvline import split_line
from table import read_table


def test_plain_fields():
    assert split_line("a,b,c") == ["a", "b", "c"]


def test_quoted_separator():
    assert split_line('a,"b,c",d') == ["a", "b,c", "d"]


def test_doubled_quotes():
    assert split_line('"say ""hi""",x') == ['say "hi"', "x"]
    assert split_line('"",x') == ["", "x"]


def test_empty_fields_kept():
    assert split_line("a,,b,") == ["a", "", "b", ""]
    assert split_line("") == [""]


def test_unclosed_quote_raises():
    with pytest.raises(ValueError):
        split_line('a,"b,c')


def test_other_separator():
    assert split_line('x;"1;2";y', sep=";") == ["x", "1;2", "y"]


def test_read_table_with_quotes():
    text = 'name,city\n"Doe, Jane",Oslo\n\nBob,"Rio"\n'
    assert read_table(text) == [
        {"name": "Doe, Jane", "city": "Oslo"},
        {"name": "Bob", "city": "Rio"},
    ]


def test_read_table_wrong_field_count():
    text = "a,b\n1,2\n\n3,4,5\n"
    with pytest.raises(ValueError, match="line 4"):
        read_table(text)
