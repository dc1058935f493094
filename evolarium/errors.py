"""Domain errors. The CLI turns each into a one-line message and exit code 2."""


class EvolariumError(Exception):
    """An error a user can fix; the message names the value and the fix."""


class ConfigError(EvolariumError):
    """Invalid option or configuration value."""


class DockerUnavailableError(EvolariumError):
    """No Docker daemon responds, or the sandbox image is missing."""


class HostError(EvolariumError):
    """The host machine cannot go on: its disk is full, for example."""


class TaskError(EvolariumError):
    """A task or suite on disk is invalid."""


class ModelError(EvolariumError):
    """A model cannot be used: unknown name, missing key, or unreachable server."""


class ArchiveError(EvolariumError):
    """A run or agent is not in the archive, or the archive cannot be read."""
