"""Plain-text paragraph layout for fixed-width output."""
