from decimal import Decimal

import pytest

from till.basket import Basket
from till.catalog import Catalog, InvalidBarcode
from till.ean import check_digit, is_valid


def stocked_catalog():
    catalog = Catalog()
    catalog.add("4006381333931", "pencil", Decimal("1.20"))
    catalog.add("5901234123457", "notebook", Decimal("3.45"))
    catalog.add("7612345678900", "stapler", Decimal("7.99"))
    return catalog


@pytest.mark.parametrize(
    ("data", "digit"),
    [("400638133393", 1), ("590123412345", 7), ("978030640615", 7), ("761234567890", 0)],
)
def test_check_digit_known_codes(data, digit):
    assert check_digit(data) == digit


def test_wrong_check_digit_invalid():
    assert is_valid("4006381333931")
    assert not is_valid("4006381333932")
    assert not is_valid("400638133393")


def test_basket_total_of_scanned_products():
    basket = Basket(stocked_catalog())
    assert basket.scan("4006381333931") == "pencil"
    assert basket.scan("7612345678900") == "stapler"
    assert basket.scan("4006381333931") == "pencil"
    assert basket.total() == Decimal("10.39")


def test_scan_accepts_printed_groupings():
    basket = Basket(stocked_catalog())
    assert basket.scan("5 901234 123457") == "notebook"
    assert basket.scan("590-1234-12345-7") == "notebook"
    assert basket.total() == Decimal("6.90")


def test_scan_rejects_invalid_codes():
    basket = Basket(stocked_catalog())
    for code in ("5901234123458", "59012341234", "59012341234x7", ""):
        with pytest.raises(InvalidBarcode):
            basket.scan(code)
    assert basket.lines == []


def test_scan_unknown_product_raises_key_error():
    basket = Basket(stocked_catalog())
    with pytest.raises(KeyError):
        basket.scan("9780306406157")
