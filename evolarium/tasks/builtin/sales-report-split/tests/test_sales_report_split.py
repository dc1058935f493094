import importlib
import sys
from decimal import Decimal

import pytest

import salesreport

EXPORT = """region,product,quantity,unit_price
north,kettle,3,24.50
south,toaster,10,19.99

north,toaster,2,19.99
west,blender,1,1299.00
south,kettle,4,24.50
"""

REPORT = """Revenue by region
  north        113.48
  south        297.90
  west       1,299.00
Total: 1,710.38
Top products
  1. blender (1,299.00)
  2. toaster (239.88)
  3. kettle (171.50)
"""

PACKAGE_NAMES = {
    "sales.records": ["HEADER", "Sale", "parse_rows"],
    "sales.summary": ["totals_by_region", "top_products"],
    "sales.render": ["format_money", "format_report"],
}


def test_package_modules_define_names():
    for module_name, names in PACKAGE_NAMES.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert hasattr(module, name), f"{module_name}.{name}"
        for name in names:
            value = getattr(module, name)
            if callable(value):
                assert value.__module__ == module_name, f"{name} is defined in {value.__module__}"


def test_old_module_reexports_package_objects():
    for module_name, names in PACKAGE_NAMES.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert getattr(salesreport, name) is getattr(module, name), name


def test_package_does_not_import_old_module(monkeypatch):
    for name in list(sys.modules):
        if name in ("salesreport", "sales") or name.startswith("sales."):
            monkeypatch.delitem(sys.modules, name)
    for module_name in PACKAGE_NAMES:
        importlib.import_module(module_name)
    assert "salesreport" not in sys.modules


def test_build_report_unchanged():
    assert salesreport.build_report(EXPORT) == REPORT


def test_top_products_ties_and_count():
    summary = importlib.import_module("sales.summary")
    records = importlib.import_module("sales.records")
    sales = records.parse_rows(
        "region,product,quantity,unit_price\nx,pear,2,1.50\nx,fig,1,3.00\nx,apple,1,0.25\n"
    )
    assert summary.top_products(sales, 2) == [("fig", Decimal("3.00")), ("pear", Decimal("3.00"))]
    assert len(summary.top_products(sales, 10)) == 3


def test_totals_by_region_exact_decimals():
    summary = importlib.import_module("sales.summary")
    sales = salesreport.parse_rows(EXPORT)
    assert summary.totals_by_region(sales) == {
        "north": Decimal("113.48"),
        "south": Decimal("297.90"),
        "west": Decimal("1299.00"),
    }


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("region,product,qty,unit_price\n", "line 1"),
        ("region,product,quantity,unit_price\nnorth,kettle,3\n", "line 2"),
        ("region,product,quantity,unit_price\n\nnorth,kettle,three,1.00\n", "line 3"),
    ],
)
def test_parse_errors_name_line(text, line):
    records = importlib.import_module("sales.records")
    with pytest.raises(ValueError, match=line):
        records.parse_rows(text)
