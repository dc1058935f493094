"""One hardened sandbox container, driven through docker-py.

The container's main process is ``sleep`` up to a deadline, so a container ends
by itself even if the host process dies. Commands run in it with ``exec``;
inputs arrive through read-only bind mounts and are copied into tmpfs, and
outputs leave as a tar stream.
"""

import io
import logging
import os
import shlex
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from evolarium.errors import EvolariumError
from evolarium.sandbox.profile import (
    EVALUATION_LABEL,
    MANAGED_LABEL,
    PID_LABEL,
    PURPOSE_LABEL,
    RUN_LABEL,
    SANDBOX_UID,
    Limits,
    confined,
    hardening,
)

log = logging.getLogger(__name__)

SANDBOX_USER = f"{SANDBOX_UID}:{SANDBOX_UID}"
# A container lives for this many of its command timeouts, plus a grace period for
# copies in and out of between 10 and 60 seconds (the timeout itself, within those bounds).
DEADLINE_TIMEOUTS = 3
GRACE_BOUNDS_S = (10, 60)
# Bytes of a copied-out directory held in memory before spooling to disk.
SPOOL_BYTES = 8 * 1024 * 1024
# Seconds between SIGTERM and SIGKILL when a command reaches its timeout.
KILL_AFTER_S = 5
MAX_COPY_DEPTH = 100
"""Directory levels kept when a directory is copied out of a sandbox. Deeper entries are
dropped: walking them on the host would exceed Python's recursion limit."""


class SandboxError(EvolariumError):
    """The sandbox could not run a command (Docker failed, or the container died)."""


class DirectoryTooLarge(SandboxError):
    """A directory to copy out of a sandbox is larger than the limit; the agent's doing."""


@dataclass(frozen=True)
class Mount:
    """A host path bind-mounted into the container."""

    source: Path
    target: str
    read_only: bool = True


@dataclass
class ExecResult:
    """The exit status, outcome and captured output of a command in the sandbox."""

    exit_code: int | None
    output: str
    outcome: str
    """ok | exit_error | timeout | oom | pids | disk | output_limit"""
    duration_s: float
    output_bytes: int = 0
    truncated: bool = False


@dataclass
class Sandbox:
    """A started container; use ``open_sandbox`` to make one."""

    container: "docker.models.containers.Container"
    limits: Limits
    name: str
    _killed: threading.Event = field(default_factory=threading.Event)

    def exec(
        self,
        command: list[str],
        *,
        timeout_s: float | None = None,
        env: dict[str, str] | None = None,
        workdir: str = "/workspace",
        output_bytes: int | None = None,
    ) -> ExecResult:
        """Run a command as the sandbox user and wait for it, keeping a capped output.

        The timeout is enforced inside the container with ``timeout`` (SIGTERM,
        then SIGKILL), and on the host by killing the whole container if the
        command still runs a few seconds later.
        """
        timeout = timeout_s if timeout_s is not None else self.limits.timeout_s
        cap = output_bytes if output_bytes is not None else self.limits.output_bytes
        wrapped = [
            "timeout",
            f"--kill-after={KILL_AFTER_S}",
            str(max(1, int(timeout))),
            *confined(command),
        ]
        api = self.container.client.api
        started = time.monotonic()
        try:
            exec_id = api.exec_create(
                self.container.id,
                wrapped,
                environment=env or {},
                workdir=workdir,
                user=SANDBOX_USER,
            )["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=False)
        except docker.errors.APIError as error:
            raise SandboxError(
                f"cannot run {shlex.join(command)} in {self.name}: {error}"
            ) from error

        watchdog = threading.Timer(timeout + KILL_AFTER_S + 10, self.kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            kept, total = _read_capped(stream, cap)
        finally:
            watchdog.cancel()
        duration = time.monotonic() - started

        exit_code = None if self._killed.is_set() else api.exec_inspect(exec_id)["ExitCode"]
        outcome = _outcome(exit_code, total > cap, self._killed.is_set(), duration >= timeout)
        if outcome in ("exit_error", "oom", "timeout") and not self._killed.is_set():
            # A limit hit on the way names the cause better: a fork bomb that spins on
            # failed forks ends in a timeout, but its outcome is pids.
            outcome = self.limit_hit() or outcome
        return ExecResult(
            exit_code=exit_code,
            output=printable(kept),
            outcome=outcome,
            duration_s=duration,
            output_bytes=total,
            truncated=total > cap,
        )

    def limit_hit(self) -> str | None:
        """Return ``oom``, ``pids`` or ``disk`` if the container reached that limit so far."""
        result = self._run_quietly(["sh", "-c", LIMITS_PROBE])
        if result is None:
            return None
        values = dict(line.split("=", 1) for line in result.splitlines() if "=" in line)
        if values.get("oom_kill", "0").strip() not in ("", "0"):
            return "oom"
        if values.get("pids_max", "0").strip() not in ("", "0"):
            return "pids"
        if any(values.get(key, "1").strip() == "0" for key in ("workspace_free", "tmp_free")):
            return "disk"
        return None

    def _run_quietly(self, command: list[str]) -> str | None:
        api = self.container.client.api
        try:
            exec_id = api.exec_create(self.container.id, command, user=SANDBOX_USER)["Id"]
            return api.exec_start(exec_id).decode("utf-8", errors="replace")
        except docker.errors.APIError:
            return None

    def copy_out(self, path: str, dest: Path, max_bytes: int) -> int:
        """Copy a directory out of the container into ``dest``; return the members skipped.

        Only regular files and directories are kept: symlinks, FIFOs and device
        files that an agent leaves behind are dropped, so they can neither point
        outside ``dest`` nor stall a later copy. Entries more than MAX_COPY_DEPTH
        levels down are dropped too. The tar stream is spooled to a
        temporary file, so the host keeps at most a few MB of it in memory.
        Raises ``DirectoryTooLarge`` before copying if the files' apparent size
        (sparse files counted in full) exceeds ``max_bytes``.
        """
        self._prepare_copy_out(path, max_bytes)
        api = self.container.client.api
        try:
            exec_id = api.exec_create(
                self.container.id, ["tar", "-C", path, "-cf", "-", "."], user=SANDBOX_USER
            )["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=True)
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
                size = 0
                for stdout, _stderr in stream:
                    if not stdout:
                        continue
                    size += len(stdout)
                    if size > max_bytes:
                        raise SandboxError(
                            f"{path} in {self.name} exceeds {max_bytes} bytes as a tar stream"
                        )
                    spool.write(stdout)
                exit_code = api.exec_inspect(exec_id)["ExitCode"]
                if exit_code != 0:
                    raise SandboxError(
                        f"cannot read {path} from {self.name}: tar exit code {exit_code}"
                    )
                spool.seek(0)
                return _extract_plain(spool, dest)
        except docker.errors.APIError as error:
            raise SandboxError(f"cannot read {path} from {self.name}: {error}") from error

    def _prepare_copy_out(self, path: str, max_bytes: int) -> None:
        """Make the sandbox user's files readable to tar, and measure them first."""
        # The agent owns every file here, so it may have made some unreadable to itself.
        script = 'chmod -R u+rwX "$0" 2>/dev/null; du -s -b --apparent-size "$0" | cut -f1'
        result = self.exec(["sh", "-c", script, path], timeout_s=60, workdir="/")
        size = result.output.strip()
        if not size.isdigit():
            raise SandboxError(f"cannot measure {path} in {self.name}: {result.output.strip()}")
        if int(size) > max_bytes:
            raise DirectoryTooLarge(
                f"{path} in {self.name} contains {int(size)} bytes (apparent size), over the "
                f"{max_bytes} bytes that are copied out"
            )

    def copy_in(self, source: str, target: str) -> None:
        """Copy a directory from a read-only mount into a writable tmpfs."""
        result = self.exec(
            ["cp", "-R", "--preserve=mode", f"{source}/.", f"{target}/"],
            timeout_s=60,
            workdir="/",
        )
        if result.exit_code != 0:
            raise SandboxError(f"cannot copy {source} to {target}: {result.output.strip()}")

    def kill(self) -> None:
        self._killed.set()
        try:
            self.container.kill()
        except docker.errors.APIError:
            pass


# Prints the cgroup's OOM kills and failed forks (cgroup v1 paths, then v2), and the
# free KiB of the tmpfs mounts.
LIMITS_PROBE = r"""
value() { cat "$2" "$3" 2>/dev/null | awk -v k="$1" '$1 == k {print $2; exit}'; }
free() { df -k "$1" | awk 'NR == 2 {print ($4 < 64) ? 0 : $4}'; }
echo "oom_kill=$(value oom_kill /sys/fs/cgroup/memory/memory.oom_control \
    /sys/fs/cgroup/memory.events)"
echo "pids_max=$(value max /sys/fs/cgroup/pids/pids.events /sys/fs/cgroup/pids.events)"
echo "workspace_free=$(free /workspace)"
echo "tmp_free=$(free /tmp)"
"""


def printable(data: bytes) -> str:
    """Decode a sandbox's output for storage: invalid UTF-8 and NUL become U+FFFD.

    NUL cannot be stored in a PostgreSQL text column, and a replacement
    character shows where the raw bytes were not text.
    """
    return data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _read_capped(stream: Iterator[bytes], cap: int) -> tuple[bytes, int]:
    """Read a stream to its end, keeping the first ``cap`` bytes; return (kept, total)."""
    kept = io.BytesIO()
    total = 0
    for chunk in stream:
        if not chunk:
            continue
        if total < cap:
            kept.write(chunk[: cap - total])
        total += len(chunk)
    return kept.getvalue(), total


def _outcome(exit_code: int | None, truncated: bool, killed: bool, timed_out: bool) -> str:
    if killed or exit_code == 124 or (exit_code == 137 and timed_out):
        # A command that printed past the cap until its time ran out was printing forever.
        return "output_limit" if truncated else "timeout"
    if exit_code == 137:
        # SIGKILL before the timeout: almost always the kernel's OOM killer.
        return "oom"
    if truncated:
        return "output_limit"
    if exit_code == 0:
        return "ok"
    return "exit_error"


@contextmanager
def open_sandbox(
    client: docker.DockerClient,
    image: str,
    *,
    run_id: str,
    purpose: str,
    mounts: list[Mount],
    limits: Limits,
    evaluation_id: str = "none",
) -> Iterator[Sandbox]:
    """Start a hardened container and remove it on every path out of the block.

    The main process, ``sleep`` up to a deadline, runs as root without
    capabilities, so nothing that runs as the sandbox user can stop it early or
    keep the container alive past the deadline.
    """
    name = f"evolarium-{purpose}-{uuid.uuid4().hex[:10]}"
    deadline = container_deadline(limits)
    options = hardening(limits)
    volumes = {
        str(mount.source): {"bind": mount.target, "mode": "ro" if mount.read_only else "rw"}
        for mount in mounts
    }
    labels = {
        MANAGED_LABEL: "1",
        RUN_LABEL: run_id,
        PURPOSE_LABEL: purpose,
        EVALUATION_LABEL: evaluation_id,
        PID_LABEL: str(os.getpid()),
    }
    container = None
    try:
        # create and start, not run: docker-py's run pulls a missing image from a registry.
        container = client.containers.create(
            image,
            ["sleep", str(deadline)],
            name=name,
            labels=labels,
            volumes=volumes,
            **options,
        )
        container.start()
        yield Sandbox(container=container, limits=limits, name=name)
    except docker.errors.ImageNotFound as error:
        raise SandboxError(
            f"sandbox image {image} is missing; build it with: evolarium sandbox build"
        ) from error
    except docker.errors.APIError as error:
        raise SandboxError(f"Docker failed for sandbox {name}: {error}") from error
    finally:
        if container is not None:
            remove_container(container)


def container_deadline(limits: Limits) -> int:
    """Return the seconds after which a sandbox container ends, whatever runs in it."""
    low, high = GRACE_BOUNDS_S
    grace = min(max(limits.timeout_s, low), high)
    return int(limits.timeout_s * DEADLINE_TIMEOUTS + grace)


def remove_container(container) -> None:
    """Force-remove a container, quietly if it is already gone or being removed."""
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        # 409: Docker is already removing it (auto-remove after its program exited).
        if getattr(error, "status_code", None) != 409:
            log.warning("cannot remove container %s: %s", container.name, error)


def _extract_plain(stream, dest: Path) -> int:
    """Extract regular files and directories from a tar stream; return how many were skipped."""
    dest.mkdir(parents=True, exist_ok=True)
    skipped = 0
    try:
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            for member in tar:
                kept_type = member.isreg() or member.isdir()
                if not kept_type or member.name.count("/") > MAX_COPY_DEPTH:
                    skipped += 1
                    continue
                tar.extract(member, dest, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise SandboxError(f"cannot unpack a directory copied out of a sandbox: {error}") from error
    if skipped:
        log.info(
            "dropped %d symlinks, special files or entries deeper than %d levels copied out "
            "of a sandbox",
            skipped,
            MAX_COPY_DEPTH,
        )
    return skipped
