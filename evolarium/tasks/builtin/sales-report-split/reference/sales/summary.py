"""Revenue summaries over sale records."""

from collections import defaultdict
from decimal import Decimal

from sales.records import Sale


def totals_by_region(sales: list[Sale]) -> dict[str, Decimal]:
    """Return the revenue per region, regions in alphabetical order."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for sale in sales:
        totals[sale.region] += sale.revenue
    return dict(sorted(totals.items()))


def top_products(sales: list[Sale], count: int = 3) -> list[tuple[str, Decimal]]:
    """Return the ``count`` products with the highest revenue; ties go alphabetically."""
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for sale in sales:
        revenue[sale.product] += sale.revenue
    ranked = sorted(revenue.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:count]
