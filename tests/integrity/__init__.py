"""Tests that the scorer gives no credit to workspaces that try to game it."""
