"""A shop till: barcodes, the product catalog and customer baskets."""
