"""Clock times, shift lengths and weekly totals for hourly staff."""
