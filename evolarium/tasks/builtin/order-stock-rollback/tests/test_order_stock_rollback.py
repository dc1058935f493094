import pytest

from shop.orders import OrderBook
from shop.stock import OutOfStock, Stock


def make_book():
    stock = Stock()
    stock.add("apple", 5)
    stock.add("pear", 2)
    return stock, OrderBook(stock)


def test_place_reduces_stock():
    stock, book = make_book()
    book.place("o1", {"apple": 3})
    assert stock.level("apple") == 2
    assert "o1" in book.orders


def test_place_takes_last_units():
    stock, book = make_book()
    book.place("o1", {"pear": 2})
    assert stock.level("pear") == 0


def test_failed_place_leaves_stock_unchanged():
    stock, book = make_book()
    with pytest.raises(OutOfStock):
        book.place("o1", {"apple": 4, "pear": 3})
    assert stock.level("apple") == 5
    assert stock.level("pear") == 2
    assert "o1" not in book.orders


def test_place_unknown_sku_raises():
    stock, book = make_book()
    with pytest.raises(OutOfStock):
        book.place("o1", {"apple": 1, "plum": 1})
    assert stock.level("apple") == 5


def test_cancel_restores_stock():
    stock, book = make_book()
    book.place("o1", {"apple": 2, "pear": 1})
    book.cancel("o1")
    assert stock.level("apple") == 5
    assert stock.level("pear") == 2
    assert "o1" not in book.orders


def test_cancel_twice_raises_key_error():
    stock, book = make_book()
    book.place("o1", {"apple": 2})
    book.cancel("o1")
    with pytest.raises(KeyError):
        book.cancel("o1")
    assert stock.level("apple") == 5


def test_duplicate_order_id_rejected():
    stock, book = make_book()
    book.place("o1", {"apple": 1})
    with pytest.raises(ValueError):
        book.place("o1", {"pear": 1})
    assert stock.level("pear") == 2
    assert book.orders["o1"] == {"apple": 1}
