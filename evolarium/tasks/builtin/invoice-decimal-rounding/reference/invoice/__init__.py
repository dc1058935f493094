"""Invoice line items and totals."""
