"""The plain-text sales report."""

from decimal import Decimal

from sales.records import Sale
from sales.summary import top_products, totals_by_region


def format_money(amount: Decimal) -> str:
    """Format an amount with two decimals and thousands separators, e.g. 1,234.50."""
    return f"{amount.quantize(Decimal('0.01')):,}"


def format_report(sales: list[Sale], count: int = 3) -> str:
    """Render the region totals, the grand total and the top products as text."""
    lines = ["Revenue by region"]
    totals = totals_by_region(sales)
    width = max((len(region) for region in totals), default=0)
    for region, amount in totals.items():
        lines.append(f"  {region.ljust(width)}  {format_money(amount):>12}")
    lines.append(f"Total: {format_money(sum(totals.values(), Decimal()))}")
    lines.append("Top products")
    for rank, (product, amount) in enumerate(top_products(sales, count), start=1):
        lines.append(f"  {rank}. {product} ({format_money(amount)})")
    return "\n".join(lines) + "\n"
