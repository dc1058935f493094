"""Processes on this host, such as the loop process that a run or a container names."""

import os


def process_exists(pid: int) -> bool:
    """Return whether a process with this id exists on this host.

    A process owned by another user exists too. NOTE: an id can be reused after its
    process ends, so a dead run's id that now belongs to another process counts as alive.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
