import pytest

from listing import render_listing
from pager import get_page, page_count


def test_page_count_partial_last_page():
    assert page_count(25, 10) == 3
    assert page_count(20, 10) == 2
    assert page_count(1, 10) == 1
    assert page_count(0, 10) == 0


def test_get_page_first_and_last():
    items = list(range(25))
    assert get_page(items, 1, 10) == list(range(10))
    assert get_page(items, 3, 10) == [20, 21, 22, 23, 24]


def test_get_page_past_the_end():
    assert get_page(list(range(5)), 2, 5) == []


def test_get_page_rejects_page_zero():
    with pytest.raises(ValueError):
        get_page([1, 2, 3], 0, 2)


def test_per_page_must_be_positive():
    with pytest.raises(ValueError):
        page_count(10, 0)
    with pytest.raises(ValueError):
        get_page([1, 2, 3], 1, 0)


def test_render_listing_second_page():
    names = ["apple", "banana", "cherry", "date", "elder"]
    assert render_listing(names, 2, 2) == "cherry\ndate\nPage 2 of 3"


def test_render_listing_empty_catalogue():
    assert render_listing([], 1, 10) == "Page 1 of 1"
