"""Shopping cart pricing: quotes, checkout receipts and invoices."""
