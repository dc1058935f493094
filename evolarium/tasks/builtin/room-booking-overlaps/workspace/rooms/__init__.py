"""Meeting room bookings for a single day."""
