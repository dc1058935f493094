"""Arithmetic expressions with variables, as typed into the calculator panel."""
