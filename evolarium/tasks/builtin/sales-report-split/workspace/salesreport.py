"""Sales report: parse sales rows, summarise them and render a text report."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

HEADER = ["region", "product", "quantity", "unit_price"]


@dataclass(frozen=True)
class Sale:
    """One line of a sales export."""

    region: str
    product: str
    quantity: int
    unit_price: Decimal

    @property
    def revenue(self) -> Decimal:
        return self.unit_price * self.quantity


def parse_rows(text: str) -> list[Sale]:
    """Parse a sales export: a header line, then "region,product,quantity,unit_price" lines.

    Blank lines are skipped. A malformed line raises ValueError naming its 1-based line number.
    """
    sales = []
    lines = text.splitlines()
    if not lines or [cell.strip() for cell in lines[0].split(",")] != HEADER:
        raise ValueError(f"line 1: expected the header {','.join(HEADER)}")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(HEADER):
            raise ValueError(f"line {number}: expected {len(HEADER)} fields, got {len(cells)}")
        region, product, quantity, price = cells
        try:
            sale = Sale(region, product, int(quantity), Decimal(price))
        except (ValueError, InvalidOperation) as error:
            raise ValueError(f"line {number}: invalid number in {line!r}") from error
        sales.append(sale)
    return sales


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


def build_report(text: str, count: int = 3) -> str:
    """Parse a sales export and render its report."""
    return format_report(parse_rows(text), count)
