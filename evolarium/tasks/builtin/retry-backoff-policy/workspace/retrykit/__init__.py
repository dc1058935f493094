"""Retry flaky calls, waiting between attempts."""
