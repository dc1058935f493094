"""Build targets and the order to build them in."""
