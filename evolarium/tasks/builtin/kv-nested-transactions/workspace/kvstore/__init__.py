"""An in-memory key-value store and the text commands that drive it."""
