"""Archive locations: a SQLite file in a run directory, or a PostgreSQL database.

A run whose rows are in PostgreSQL keeps its run directory for work files, with an
``archive.url`` file that names the database without its password. The password comes
from ``EVOLARIUM_ARCHIVE_URL`` when that names the same database, or else libpq reads
``PGPASSWORD`` or ``~/.pgpass`` itself.
"""

import os
import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from evolarium.errors import ArchiveError

ARCHIVE_URL_ENV = "EVOLARIUM_ARCHIVE_URL"
ARCHIVE_URL_FILE = "archive.url"
POSTGRES_DRIVER = "postgresql+psycopg"
URL_EXAMPLE = "postgresql+psycopg://USER@HOST:PORT/DATABASE"

ArchiveTarget = Path | URL
"""A SQLite archive file, or the URL of a PostgreSQL database that contains archives."""

_PASSWORD_IN_URL = re.compile(r"(//[^/@:]*:)[^/@]*@")


def is_database_url(text: str) -> bool:
    """Return whether ``text`` is a database URL rather than a file path."""
    return "://" in text


def parse_database_url(text: str) -> URL:
    """Parse a PostgreSQL URL and set its driver to psycopg.

    ``postgresql://`` and ``postgres://`` are accepted as short forms. Any other
    backend, or a URL without a database name, raises ArchiveError.
    """
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as error:  # ValueError: a port that is not a number
        raise ArchiveError(
            f"{mask_password(text)} is not a valid database URL ({error}); use {URL_EXAMPLE}"
        ) from error

    backend, _, driver = url.drivername.partition("+")
    if backend not in ("postgresql", "postgres"):
        raise ArchiveError(
            f"archive URL {public_url(url)} is not a PostgreSQL URL; use {URL_EXAMPLE}, or "
            "leave --archive out for a SQLite file in the run directory"
        )
    if driver not in ("", "psycopg"):
        raise ArchiveError(
            f"archive URL {public_url(url)} names the driver {driver}, but evolarium uses "
            f"psycopg; use {URL_EXAMPLE}"
        )
    if not url.database:
        raise ArchiveError(f"archive URL {public_url(url)} names no database; use {URL_EXAMPLE}")
    return url.set(drivername=POSTGRES_DRIVER)


def mask_password(text: str) -> str:
    """Replace the password in a URL written as text with ``***``."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)


def public_url(url: URL) -> str:
    """Render a URL with its password replaced by ``***``, for messages and logs."""
    return url.render_as_string(hide_password=True)


def url_without_password(url: URL) -> str:
    """Render a URL with no password at all, for files and stored configurations."""
    # URL.set() keeps the old value for None, so the password is cleared with _replace.
    return url._replace(password=None).render_as_string(hide_password=False)


def describe_target(target: ArchiveTarget) -> str:
    """Name an archive in a message: the file path, or the URL without its password."""
    return public_url(target) if isinstance(target, URL) else str(target)


def environment_url() -> URL | None:
    """Return the URL in EVOLARIUM_ARCHIVE_URL, or None when it is unset or empty."""
    text = os.environ.get(ARCHIVE_URL_ENV, "").strip()
    return parse_database_url(text) if text else None


def with_password(url: URL) -> URL:
    """Add the password of EVOLARIUM_ARCHIVE_URL when it names the same database.

    A URL that has a password, or no matching environment URL, is returned as it is.
    """
    if url.password is not None:
        return url
    env = environment_url()
    if env is None or env.password is None:
        return url
    if url_without_password(env) != url_without_password(url):
        return url
    return url.set(password=env.password)


def write_url_file(run_dir: Path, url: URL) -> None:
    """Write ``archive.url`` into a run directory, without the URL's password."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / ARCHIVE_URL_FILE).write_text(url_without_password(url) + "\n", encoding="utf-8")


def read_url_file(run_dir: Path) -> URL | None:
    """Return the database named by a run directory's ``archive.url``, with the password
    from the environment, or None when the directory has no such file."""
    path = run_dir / ARCHIVE_URL_FILE
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ArchiveError(f"{path} is empty; write the PostgreSQL URL of the run into it")
    return with_password(parse_database_url(text))


def unmasked_url_text(text: str) -> str:
    """Remove a ``***`` password that mask_password put in a URL, so that the password
    comes from the environment again."""
    return text.replace(":***@", "@", 1)
