"""Application settings: built-in defaults overridden by a JSON settings file."""
