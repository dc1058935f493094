"""Sales report: parse sales rows, summarise them and render a text report.

The code lives in the ``sales`` package; this module keeps the old import path working.
"""

from sales.records import HEADER, Sale, parse_rows
from sales.render import format_money, format_report
from sales.summary import top_products, totals_by_region

__all__ = [
    "HEADER",
    "Sale",
    "build_report",
    "format_money",
    "format_report",
    "parse_rows",
    "top_products",
    "totals_by_region",
]


def build_report(text: str, count: int = 3) -> str:
    """Parse a sales export and render its report."""
    return format_report(parse_rows(text), count)
