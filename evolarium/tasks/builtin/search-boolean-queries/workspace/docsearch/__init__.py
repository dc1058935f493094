"""Full-text search over a set of short documents."""
