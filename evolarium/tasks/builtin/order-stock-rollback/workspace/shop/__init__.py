"""Warehouse stock and customer orders."""
