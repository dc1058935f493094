"""The data directory and run directories."""

import os
from pathlib import Path

HOME_ENV = "EVOLARIUM_HOME"


def home() -> Path:
    """Return the data directory: ``$EVOLARIUM_HOME`` or ``~/.local/share/evolarium``."""
    value = os.environ.get(HOME_ENV)
    if value:
        return Path(value).expanduser()
    return Path.home() / ".local" / "share" / "evolarium"


def runs_dir() -> Path:
    return home() / "runs"


def cache_dir() -> Path:
    return home() / "cache"
