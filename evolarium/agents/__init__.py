"""Seed agents and the agent contract.

Code under ``seed/`` is copied into sandboxes and imports nothing from evolarium.
"""
