import pytest

from numstats import median
from report import summarize


def test_median_odd_length():
    assert median([5, 1, 3]) == 3


def test_median_even_length():
    assert median([1, 2, 3, 4]) == 2.5
    assert median([10, 20]) == 15


def test_median_even_unsorted_input():
    assert median([8, -2, 4, 6]) == 5


def test_median_keeps_input_order():
    values = [3, 1, 2, 4]
    median(values)
    assert values == [3, 1, 2, 4]


def test_median_empty_raises_value_error():
    with pytest.raises(ValueError):
        median([])


def test_summarize_even_length():
    values = [4, 1, 3, 2]
    summary = summarize(values)
    assert summary["median"] == 2.5
    assert summary["min"] == 1
    assert summary["max"] == 4
    assert values == [4, 1, 3, 2]
