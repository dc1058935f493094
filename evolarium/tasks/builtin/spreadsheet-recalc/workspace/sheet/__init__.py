"""A small spreadsheet engine: cell references, formulas and recalculation."""
