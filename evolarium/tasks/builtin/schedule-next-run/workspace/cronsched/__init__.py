"""Cron-style schedules: parse "minute hour day month weekday" and find the next run."""
