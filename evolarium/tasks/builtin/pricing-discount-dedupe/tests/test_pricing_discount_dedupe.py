import importlib
import inspect
from decimal import Decimal

import pytest

import cart.checkout
import cart.invoice
import cart.quote
from cart.items import Item, cents

ITEMS = [
    Item("pen", Decimal("1.25"), 12),
    Item("pad", Decimal("4.10"), 3),
    Item("ink", Decimal("7.99"), 1),
]


def discounts_module():
    return importlib.import_module("cart.discounts")


def discount_everywhere(codes):
    """Return the discount that quote, checkout and invoice each compute for ``codes``."""
    quoted = cart.quote.quote(ITEMS, codes)["discount"]
    receipt = cart.checkout.checkout(ITEMS, codes, Decimal("100.00")).discount
    invoiced = Decimal(cart.invoice.invoice_lines(ITEMS, codes)[-2].rsplit("-", 1)[1])
    return quoted, receipt, invoiced


def test_discount_module_api():
    discounts = discounts_module()
    assert list(discounts.RULES) == ["BULK", "SAVE10", "FLAT5"]
    assert discounts.normalize_codes([" save10 ", "SAVE10", "bulk"]) == ["SAVE10", "BULK"]
    assert discounts.apply_discounts(ITEMS, ["flat5", "bulk", "save10"]) == Decimal("10.55")


@pytest.mark.parametrize(
    ("codes", "discount"),
    [
        ([], "0.00"),
        (["bulk"], "2.25"),
        (["SAVE10"], "3.53"),
        (["FLAT5"], "5.00"),
        (["bulk", "save10", "flat5"], "10.55"),
    ],
)
def test_quote_unchanged(codes, discount):
    result = cart.quote.quote(ITEMS, codes)
    assert result["subtotal"] == Decimal("35.29")
    assert result["discount"] == Decimal(discount)
    assert result["total"] == Decimal("35.29") - Decimal(discount)


def test_checkout_and_invoice_unchanged():
    receipt = cart.checkout.checkout(ITEMS, ["bulk", "flat5"], Decimal("30"))
    assert (receipt.discount, receipt.total, receipt.change) == (
        Decimal("7.25"),
        Decimal("28.04"),
        Decimal("1.96"),
    )
    with pytest.raises(ValueError):
        cart.checkout.checkout(ITEMS, ["bulk"], Decimal("33.03"))
    assert cart.invoice.invoice_lines(ITEMS, ["save10", "bulk", "BULK"]) == [
        "12 x pen @ 1.25 = 15.00",
        "3 x pad @ 4.10 = 12.30",
        "1 x ink @ 7.99 = 7.99",
        "Subtotal: 35.29",
        "Discount (SAVE10, BULK): -5.55",
        "Total: 29.74",
    ]
    small = [Item("gum", Decimal("0.99"), 2)]
    assert cart.quote.quote(small, ["FLAT5", "SAVE10"])["discount"] == Decimal("0.20")


def test_unknown_code_rejected_everywhere():
    with pytest.raises(ValueError, match="WINTER"):
        cart.quote.quote(ITEMS, ["bulk", "winter"])
    with pytest.raises(ValueError, match="WINTER"):
        cart.checkout.checkout(ITEMS, ["winter"], Decimal("100"))
    with pytest.raises(ValueError, match="WINTER"):
        cart.invoice.invoice_lines(ITEMS, ["winter"])


def test_new_rule_applies_everywhere(monkeypatch):
    discounts = discounts_module()
    monkeypatch.setitem(discounts.RULES, "HALF", lambda items, gross, left: cents(left / 2))
    assert discount_everywhere(["half"]) == (Decimal("17.65"),) * 3
    # Rules apply in RULES order, so HALF comes after SAVE10.
    assert discount_everywhere(["half", "save10"]) == (Decimal("19.41"),) * 3


def test_discount_capped_at_subtotal(monkeypatch):
    discounts = discounts_module()
    monkeypatch.setitem(discounts.RULES, "ALL", lambda items, gross, left: gross + 10)
    assert discount_everywhere(["all"]) == (Decimal("35.29"),) * 3
    assert cart.quote.quote(ITEMS, ["all"])["total"] == Decimal("0.00")


def test_callers_do_not_define_codes():
    for module in (cart.quote, cart.checkout, cart.invoice):
        source = inspect.getsource(module)
        for code in ("BULK", "SAVE10", "FLAT5"):
            assert code not in source, f"{module.__name__} still mentions {code}"
