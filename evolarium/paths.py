"""The data directory and run directories."""

import os
from pathlib import Path

from evolarium.errors import ConfigError

HOME_ENV = "EVOLARIUM_HOME"


def home() -> Path:
    """Return the data directory: ``$EVOLARIUM_HOME`` or ``~/.local/share/evolarium``.

    Raises ConfigError if that path exists and is not a directory.
    """
    value = os.environ.get(HOME_ENV)
    path = Path(value).expanduser() if value else Path.home() / ".local" / "share" / "evolarium"
    if path.exists() and not path.is_dir():
        source = f"{HOME_ENV}={value}" if value else "the default data directory"
        raise ConfigError(
            f"{source}: {path} is not a directory; point {HOME_ENV} at a folder "
            "(it is created if missing)"
        )
    return path


def runs_dir() -> Path:
    return home() / "runs"


def cache_dir() -> Path:
    return home() / "cache"
