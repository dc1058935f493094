"""The hardening profile and resource limits of every sandbox container."""

from dataclasses import dataclass
from functools import cache
from importlib import resources

LABEL_PREFIX = "evolarium"
RUN_LABEL = f"{LABEL_PREFIX}.run"
PURPOSE_LABEL = f"{LABEL_PREFIX}.purpose"
PID_LABEL = f"{LABEL_PREFIX}.pid"
"""Process id of the host process that started the container."""
MANAGED_LABEL = f"{LABEL_PREFIX}.managed"
EVALUATION_LABEL = f"{LABEL_PREFIX}.evaluation"
"""The evaluation a container serves, or ``pool`` for a warm container not yet handed out."""

SANDBOX_UID = 1000
RESULTS_DIR = "/junit"
"""The directory where the scoring harness has pytest write its JUnit XML.

It is not a directory in the image, because a tmpfs over an image directory takes
that directory's mode."""

# Fixed environment, so the same program scores the same way every time.
DETERMINISTIC_ENV = {
    "PYTHONHASHSEED": "0",
    "TZ": "UTC",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp",
    "EVOLARIUM_SEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox container."""

    memory_mb: int = 1024
    """Memory limit, swap included."""
    cpus: float = 1.0
    pids: int = 256
    workspace_mb: int = 64
    """Size of the tmpfs mounted at /workspace."""
    tmp_mb: int = 64
    """Size of the tmpfs mounted at /tmp."""
    timeout_s: float = 300.0
    """Wall-clock limit of one command in the sandbox."""
    output_bytes: int = 256 * 1024
    """Bytes of a command's output that are kept; the rest is read and dropped."""


def hardening(limits: Limits, *, cap_add: tuple[str, ...] = (), scoring: bool = False) -> dict:
    """Return docker-py ``containers.create`` keyword arguments that lock a container down.

    The main process runs as root with no capabilities (apart from ``cap_add``),
    so the sandbox user, which runs every command, can neither signal nor trace
    it: the container's deadline is kept whatever the sandboxed program does.

    Scoring containers also get ``/hidden`` for the hidden tests and
    ``/junit``, which belongs to root and which the sandbox user may write
    to but not list, so it cannot find the harness's randomly named results.
    """
    uid = SANDBOX_UID
    tmpfs_options = f"uid={uid},gid={uid},mode=0755,nosuid,nodev"
    tmpfs = {
        "/workspace": f"size={limits.workspace_mb}m,{tmpfs_options}",
        "/tmp": f"size={limits.tmp_mb}m,{tmpfs_options},noexec",
    }
    if scoring:
        # Root unpacks the hidden tests, so the tests' own process cannot rewrite them.
        tmpfs["/hidden"] = f"size={limits.workspace_mb}m,uid=0,gid=0,mode=0755,nosuid,nodev"
        tmpfs[RESULTS_DIR] = "size=8m,uid=0,gid=0,mode=1733,nosuid,nodev,noexec"
    return {
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "cap_add": list(cap_add),
        "security_opt": ["no-new-privileges"],
        "user": "0:0",
        "pids_limit": limits.pids,
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "nano_cpus": int(limits.cpus * 1e9),
        "ipc_mode": "none",
        "init": True,
        "tmpfs": tmpfs,
        "environment": dict(DETERMINISTIC_ENV),
    }


@cache
def _confine_source() -> str:
    return (resources.files("evolarium.sandbox") / "confine.py").read_text(encoding="utf-8")


def confined(command: list[str]) -> list[str]:
    """Return ``command`` run under the seccomp filter of confine.py, added in the container.

    Every program a sandboxed agent or workspace controls starts this way: agent runs
    through ``Sandbox.exec`` and the scoring harness.
    """
    return ["python3", "-I", "-S", "-c", _confine_source(), *command]
