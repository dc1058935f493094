"""A warm pool of started containers, each used for exactly one request.

A pooled container runs a server program as its main process (the scoring
harness, for example) that has already started and imported what it needs,
and waits for one request on stdin. Taking a container from the pool and
sending it a request skips container start-up and interpreter start-up, which
are most of the cost of a short evaluation. No container serves two requests:
the program exits after its reply, and the container is removed.

Background threads keep the pool filled and replace containers that are
close to their idle deadline; another stops used containers off the critical
path. Pooled containers are created with auto-remove, so the daemon deletes
each one as soon as it stops, including those whose host process was killed.
"""

import json
import logging
import os
import queue
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field

import docker
import docker.errors

from evolarium.sandbox.container import Mount, SandboxError, remove_container
from evolarium.sandbox.profile import (
    EVALUATION_LABEL,
    MANAGED_LABEL,
    PID_LABEL,
    PURPOSE_LABEL,
    RUN_LABEL,
    Limits,
    hardening,
)

POOL_LABEL = "evolarium.pool"

log = logging.getLogger(__name__)

STDOUT = 1
STDERR = 2
# A warm container is replaced once it has waited this share of its idle deadline.
REPLACE_AT = 0.8
# Seconds the host waits past a request's own timeout before it kills the container.
WATCHDOG_GRACE_S = 15
# Seconds a new pooled container may take to start its program and report ready.
READY_TIMEOUT_S = 120


@dataclass
class Reply:
    """The output of a pooled container for one request."""

    stdout: bytes
    stderr: bytes
    killed: bool
    """True if the host killed the container because it overran its time."""


@dataclass
class WarmContainer:
    """A started container that waits for its one request."""

    container: "docker.models.containers.Container"
    socket: object
    created: float = field(default_factory=time.monotonic)

    def request(
        self, header: dict, payload: bytes, *, timeout_s: float, max_reply_bytes: int
    ) -> Reply:
        """Send a header line and a payload; read the reply, one line on stdout.

        Reading stops at the reply's newline, without waiting for the container
        to exit, or when the container ends without one.
        """
        raw = self.socket._sock
        data = json.dumps(header).encode("utf-8") + b"\n" + payload
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            try:
                self.container.kill()
            except docker.errors.APIError:
                pass

        watchdog = threading.Timer(timeout_s + WATCHDOG_GRACE_S, kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            raw.sendall(data)
            stdout, stderr = _read_frames(raw, max_reply_bytes)
        except OSError as error:
            raise SandboxError(f"lost the connection to {self.container.name}: {error}") from error
        finally:
            watchdog.cancel()
        return Reply(stdout=stdout, stderr=stderr, killed=killed.is_set())


class WarmPool:
    """Keeps ``size`` warm containers ready; ``take`` hands one out."""

    def __init__(
        self,
        client: docker.DockerClient,
        image: str,
        *,
        run_id: str,
        purpose: str,
        command: list[str],
        mounts: list[Mount],
        limits: Limits,
        size: int,
        idle_s: float,
        cap_add: tuple[str, ...] = (),
        ready_line: bytes | None = None,
    ) -> None:
        self.client = client
        self.image = image
        self.run_id = run_id
        self.purpose = purpose
        self.command = command
        self.mounts = mounts
        self.limits = limits
        self.size = max(0, size)
        self.idle_s = idle_s
        self.cap_add = cap_add
        self.ready_line = ready_line
        """A line the program writes to stderr once it is ready; None to hand out at once."""
        self.pool_id = uuid.uuid4().hex[:12]
        self._ready: queue.Queue[WarmContainer] = queue.Queue()
        self._used: queue.Queue[WarmContainer | None] = queue.Queue()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._starting = 0
        self._lock = threading.Lock()
        # Container starts are mostly the daemon's work, so a few can overlap.
        fillers = max(1, min(self.size, os.cpu_count() or 1))
        self._fillers = [
            threading.Thread(target=self._fill, name=f"{purpose}-pool-{index}", daemon=True)
            for index in range(fillers)
        ]
        self._remover = threading.Thread(target=self._remove_used, daemon=True)
        for filler in self._fillers:
            filler.start()
        self._remover.start()

    def take(self, evaluation_id: str) -> WarmContainer:
        """Return a warm container for one request, starting one now if none is ready."""
        if self._closed.is_set():
            raise SandboxError(f"the {self.purpose} pool is closed")
        warm = self._fresh_from_queue()
        if warm is None:
            warm = self._start()
        self._wake.set()
        _rename(warm, f"evolarium-{self.purpose}-{evaluation_id}-{uuid.uuid4().hex[:4]}")
        return warm

    def wait_ready(self, timeout_s: float) -> int:
        """Wait until the pool is full or ``timeout_s`` passes; return the containers ready."""
        deadline = time.monotonic() + timeout_s
        while self._ready.qsize() < self.size and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._ready.qsize()

    def stop_filling(self) -> None:
        """Keep the containers already started, but start no more."""
        self.size = 0
        self._wake.set()

    def release(self, warm: WarmContainer) -> None:
        """Hand a used container back; it is stopped, and so removed, in the background."""
        self._used.put(warm)

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop filling, and remove every container the pool started."""
        self._closed.set()
        self._wake.set()
        for filler in self._fillers:
            filler.join()
        while True:
            try:
                self._used.put(self._ready.get_nowait())
            except queue.Empty:
                break
        self._used.put(None)
        self._remover.join()
        self._wait_removed(timeout_s)

    def _wait_removed(self, timeout_s: float) -> None:
        """Wait for the daemon to auto-remove this pool's containers; force what is left."""
        deadline = time.monotonic() + timeout_s
        label = f"{POOL_LABEL}={self.pool_id}"
        while True:
            try:
                # The low-level list inspects nothing, so a container that the daemon
                # removes meanwhile cannot make the call fail.
                left = self.client.api.containers(all=True, quiet=True, filters={"label": label})
            except docker.errors.APIError as error:
                log.warning("cannot list the %s pool's containers: %s", self.purpose, error)
                return
            if not left:
                return
            if time.monotonic() > deadline:
                for entry in left:
                    _force_remove(self.client, entry["Id"])
                return
            time.sleep(0.1)

    def _fresh_from_queue(self) -> WarmContainer | None:
        while True:
            try:
                warm = self._ready.get_nowait()
            except queue.Empty:
                return None
            if time.monotonic() - warm.created < self.idle_s * REPLACE_AT:
                return warm
            self._used.put(warm)

    def _fill(self) -> None:
        while not self._closed.is_set():
            self._retire_stale()
            if self._claim_start():
                try:
                    self._ready.put(self._start())
                except SandboxError as error:
                    log.warning("cannot fill the %s pool: %s", self.purpose, error)
                    self._wake.wait(5)
                finally:
                    with self._lock:
                        self._starting -= 1
                continue
            self._wake.wait(self.idle_s * (1 - REPLACE_AT))
            self._wake.clear()

    def _claim_start(self) -> bool:
        """Reserve one container start if the pool, counting starts under way, is short."""
        with self._lock:
            if self._ready.qsize() + self._starting < self.size:
                self._starting += 1
                return True
            return False

    def _retire_stale(self) -> None:
        keep = []
        while True:
            try:
                warm = self._ready.get_nowait()
            except queue.Empty:
                break
            if time.monotonic() - warm.created < self.idle_s * REPLACE_AT:
                keep.append(warm)
            else:
                self._used.put(warm)
        for warm in keep:
            self._ready.put(warm)

    def _start(self) -> WarmContainer:
        labels = {
            MANAGED_LABEL: "1",
            RUN_LABEL: self.run_id,
            PURPOSE_LABEL: self.purpose,
            EVALUATION_LABEL: "pool",
            POOL_LABEL: self.pool_id,
            PID_LABEL: str(os.getpid()),
        }
        volumes = {
            str(mount.source): {"bind": mount.target, "mode": "ro" if mount.read_only else "rw"}
            for mount in self.mounts
        }
        name = f"evolarium-{self.purpose}-pool-{uuid.uuid4().hex[:10]}"
        container = None
        try:
            container = self.client.containers.create(
                self.image,
                self.command,
                name=name,
                labels=labels,
                volumes=volumes,
                stdin_open=True,
                auto_remove=True,
                log_config={"type": "none"},
                **hardening(self.limits, cap_add=self.cap_add, scoring=True),
            )
            socket = self.client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            container.start()
            if self.ready_line is not None:
                _wait_for_line(socket._sock, self.ready_line, READY_TIMEOUT_S, name)
        except docker.errors.ImageNotFound as error:
            raise SandboxError(
                f"sandbox image {self.image} is missing; build it with: evolarium sandbox build"
            ) from error
        except (docker.errors.APIError, docker.errors.DockerException, OSError) as error:
            if container is not None:
                remove_container(container)
            raise SandboxError(f"Docker failed to start pool container {name}: {error}") from error
        except SandboxError:
            remove_container(container)
            raise
        return WarmContainer(container=container, socket=socket)

    def _remove_used(self) -> None:
        while True:
            warm = self._used.get()
            if warm is None:
                return
            try:
                warm.socket.close()
            except OSError:
                pass
            _stop(warm.container)


def _force_remove(client: docker.DockerClient, container_id: str) -> None:
    try:
        client.api.remove_container(container_id, force=True)
    except docker.errors.APIError as error:
        if getattr(error, "status_code", None) not in (404, 409):
            log.warning("cannot remove container %s: %s", container_id[:12], error)


def _stop(container) -> None:
    try:
        container.kill()
    except docker.errors.APIError:
        # Already stopped or being removed: the program exits after its reply.
        pass


def _rename(warm: WarmContainer, name: str) -> None:
    try:
        warm.container.rename(name)
    except docker.errors.APIError as error:
        log.debug("cannot rename %s: %s", warm.container.name, error)


def _read_frames(raw, max_bytes: int) -> tuple[bytes, bytes]:
    """Read Docker's multiplexed stream up to the first line on stdout, or to its end.

    At most ``max_bytes`` are kept per stream.
    """
    kept = {STDOUT: bytearray(), STDERR: bytearray()}
    while not kept[STDOUT].endswith(b"\n"):
        header = _read_exactly(raw, 8)
        if header is None:
            break
        stream, size = struct.unpack(">BxxxL", header)
        remaining = size
        while remaining:
            chunk = raw.recv(min(remaining, 1 << 16))
            if not chunk:
                return bytes(kept[STDOUT]), bytes(kept[STDERR])
            remaining -= len(chunk)
            target = kept.get(stream)
            if target is not None and len(target) < max_bytes:
                target += chunk[: max_bytes - len(target)]
    return bytes(kept[STDOUT]), bytes(kept[STDERR])


def _wait_for_line(raw, line: bytes, timeout_s: float, name: str) -> None:
    """Read the container's stderr until ``line`` arrives; raise if it does not in time."""
    raw.settimeout(timeout_s)
    seen = bytearray()
    try:
        while line not in seen:
            header = _read_exactly(raw, 8)
            if header is None:
                raise SandboxError(f"pool container {name} ended before it was ready: {seen!r}")
            stream, size = struct.unpack(">BxxxL", header)
            data = _read_exactly(raw, size) or b""
            if stream == STDERR:
                seen += data
    except TimeoutError as error:
        raise SandboxError(f"pool container {name} was not ready after {timeout_s} s") from error
    finally:
        raw.settimeout(None)


def _read_exactly(raw, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = raw.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)
