from decimal import Decimal

import pytest

from invoice.lines import Line
from invoice.totals import format_amount, summarize


def test_line_total_is_exact_decimal():
    total = Line("pens", "0.10", 3).total()
    assert isinstance(total, Decimal)
    assert total == Decimal("0.30")
    assert str(total) == "0.30"


def test_line_total_rounds_half_up():
    assert Line("bolt", "0.125", 1).total() == Decimal("0.13")
    assert Line("nut", "0.005", 1).total() == Decimal("0.01")


def test_tax_on_subtotal_rounds_half_up():
    lines = [Line("a", "0.05", 1), Line("b", "0.20", 1)]
    summary = summarize(lines, "0.1")
    assert summary["subtotal"] == Decimal("0.25")
    assert summary["tax"] == Decimal("0.03")
    assert summary["total"] == Decimal("0.28")


def test_tax_computed_once_not_per_line():
    lines = [Line("x", "0.04", 1)] * 3
    summary = summarize(lines, "0.125")
    assert summary["subtotal"] == Decimal("0.12")
    assert summary["tax"] == Decimal("0.02")
    assert str(summary["total"]) == "0.14"


def test_empty_invoice_and_negative_quantity():
    summary = summarize([], "0.2")
    assert str(summary["subtotal"]) == "0.00"
    assert str(summary["total"]) == "0.00"
    with pytest.raises(ValueError):
        Line("refund", "5.00", -1)


def test_format_amount():
    assert format_amount(Decimal("1234.5")) == "1,234.50"
    assert format_amount(Decimal("0")) == "0.00"
    assert format_amount(Decimal("1000000")) == "1,000,000.00"
