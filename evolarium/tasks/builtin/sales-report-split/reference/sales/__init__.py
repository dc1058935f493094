"""Sales exports: records, summaries and the text report."""
