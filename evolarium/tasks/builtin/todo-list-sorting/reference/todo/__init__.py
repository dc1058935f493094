"""A small todo list with a command-line front end."""
