"""evolarium: a laboratory for self-improving coding agents."""

__version__ = "0.1.0"
