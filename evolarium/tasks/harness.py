"""Score one workspace inside a scoring container. Runs there and imports nothing from evolarium.

This program is the container's main process. It starts before any work
exists, imports pytest, and waits for one request on stdin: a JSON header line
and then a tar stream with ``workspace/`` and ``tests/``. That is what makes a
pooled container fast: the interpreter and pytest are warm when a request comes.

The harness runs as root, holding only the capabilities to change user and to
send signals. It forks a child that drops to the sandbox user, unpacks the
request, and runs the hidden tests in-process. Workspace code therefore runs as
a user that can neither signal, trace nor read the harness, and its output
reaches the host only through a pipe that the harness reads with a cap. When
the child ends or the time is up, the harness kills every process left in the
container, collects the limits that were hit from the cgroup, and writes one
JSON reply to stdout. Then it exits, and the container ends with it.
"""

import base64
import ctypes
import io
import json
import os
import secrets
import select
import signal
import sys
import tarfile
import threading
import time

SANDBOX_UID = 1000
WORKSPACE = "/workspace"
HIDDEN_TESTS = "/hidden/tests"
RESULTS_DIR = "/junit"
EMPTY_INI = "/opt/evolarium/pytest.ini"
WARM_UP_TESTS = "/opt/evolarium/warmup"
HEADER_MAX_BYTES = 64 * 1024
JUNIT_MAX_BYTES = 4 * 1024 * 1024
# Exit codes of the child before pytest runs.
EXIT_UNPACK_FAILED = 90
EXIT_DISK_FULL = 91
READY_LINE = b"evolarium-harness-ready\n"
# Seconds to wait for the output pipe to close after everything was killed.
DRAIN_S = 10
PR_SET_DUMPABLE = 4


def main() -> None:
    idle_s = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0
    # Only pytest's own plugins load: none from the image, none the workspace could add.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    warm_up()
    # The pool hands out this container only after this line.
    os.write(2, READY_LINE)

    request = read_request(idle_s)
    if request is None:
        return
    header, payload = request
    unpacked = unpack(payload, {"tests": HIDDEN_TESTS})
    if unpacked != 0:
        sys.stdout.write(json.dumps({"exit_code": unpacked, "unpack_failed": True}) + "\n")
        sys.stdout.flush()
        return
    reply = run_request(header, payload)
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def warm_up() -> None:
    """Run pytest once on a trivial test, so its modules and caches are loaded before a request.

    Its output goes to /dev/null: stdout is where the reply goes.
    """
    import pytest

    saved = os.dup(1), os.dup(2)
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        pytest.main([WARM_UP_TESTS, "-c", EMPTY_INI, "-q", "-p", "no:cacheprovider"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def read_request(idle_s: float) -> tuple[dict, bytes] | None:
    """Wait for a header line and its payload on stdin; return None if none comes in time."""
    stdin = sys.stdin.buffer.raw
    ready, _, _ = select.select([stdin], [], [], idle_s)
    if not ready:
        return None
    line = read_line(stdin)
    if not line:
        return None
    header = json.loads(line)
    payload = read_exactly(stdin, int(header["size"]))
    return header, payload


def read_line(stream) -> bytes:
    data = bytearray()
    while not data.endswith(b"\n") and len(data) < HEADER_MAX_BYTES:
        chunk = stream.read(1)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def read_exactly(stream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(min(1 << 20, size - len(data)))
        if not chunk:
            raise EOFError(f"request ended after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


def run_request(header: dict, payload: bytes) -> dict:
    """Run the hidden tests in a child process and describe what happened."""
    timeout_s = float(header["timeout_s"])
    output_bytes = int(header["output_bytes"])
    # The sandbox user can write to RESULTS_DIR but not list it, so it cannot guess this name.
    results = os.path.join(RESULTS_DIR, secrets.token_hex(16) + ".xml")
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        child(write_fd, payload, results, header.get("command", "pytest"))
    os.close(write_fd)

    status = {}
    waiter = threading.Thread(target=wait_child, args=(pid, status), daemon=True)
    waiter.start()
    output, total, timed_out = read_output(read_fd, started + timeout_s, output_bytes)
    kill_all()
    waiter.join()

    exit_code, killed_by = decode_status(status["status"])
    reply = {
        "exit_code": exit_code,
        "signal": killed_by,
        "timed_out": timed_out,
        "duration_s": time.monotonic() - started,
        "output": base64.b64encode(output).decode("ascii"),
        "output_bytes": total,
        "junit": read_junit(results),
        "stray_results": stray_results(results),
    }
    reply.update(limits_hit())
    return reply


def child(write_fd: int, payload: bytes, results: str, command: str) -> None:
    """Drop to the sandbox user, unpack the request and run pytest; never return."""
    code = EXIT_UNPACK_FAILED
    try:
        become_sandbox_user(write_fd)
        code = unpack(payload, {"workspace": WORKSPACE})
        if code == 0 and command != "pytest":
            run_command(command, results)
        if code == 0:
            code = run_pytest(results)
    except BaseException as error:  # noqa: BLE001  (report anything, then leave)
        os.write(2, f"harness child failed: {error!r}\n".encode())
    finally:
        os._exit(code)


def become_sandbox_user(write_fd: int) -> None:
    # The kernel's OOM killer picks the tests, not the harness.
    with open("/proc/self/oom_score_adj", "w") as stream:
        stream.write("1000")
    os.setgroups([])
    os.setgid(SANDBOX_UID)
    os.setuid(SANDBOX_UID)
    # Changing user made the process non-dumpable, which hides its own /proc files from it.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.closerange(3, 65536)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    os.environ["HOME"] = "/tmp"
    os.chdir(WORKSPACE)


def unpack(payload: bytes, targets: dict[str, str]) -> int:
    """Unpack the payload's top-level directories named in ``targets``; return an exit code.

    The harness unpacks ``tests/`` as root before it forks, into a root-owned
    mount, so the tests' process can read the hidden tests but not rewrite them.
    The child unpacks ``workspace/`` as the sandbox user.
    """
    for target in targets.values():
        os.makedirs(target, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as tar:
            for member in tar:
                top, _, rest = member.name.partition("/")
                if top in targets and rest:
                    extract(tar, member, targets[top], rest)
    except OSError as error:
        print(f"cannot unpack the workspace: {error}", file=sys.stderr)
        return EXIT_DISK_FULL if error.errno == 28 else EXIT_UNPACK_FAILED
    return 0


def extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: str, name: str) -> None:
    """Write one regular file or directory below ``root``; skip anything else."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return
    path = os.path.join(root, *parts)
    if member.isdir():
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif member.isreg():
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        mode = 0o755 if member.mode & 0o100 else 0o644
        with tar.extractfile(member) as source, open(path, "wb") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
        os.chmod(path, mode)


def run_command(command: str, results: str) -> None:
    """Replace this process with a task's own test command, run by ``sh`` in the workspace.

    The command finds the hidden tests in ``EVOLARIUM_TESTS`` and may write JUnit
    XML to ``EVOLARIUM_JUNIT_XML``; without a report, its exit status is the result.
    """
    environment = dict(os.environ, EVOLARIUM_TESTS=HIDDEN_TESTS, EVOLARIUM_JUNIT_XML=results)
    environment.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    os.execve("/bin/sh", ["sh", "-c", command], environment)


def run_pytest(results: str) -> int:
    import pytest

    sys.path.append(WORKSPACE)
    args = [
        HIDDEN_TESTS,
        "-c",
        EMPTY_INI,
        "--rootdir",
        HIDDEN_TESTS,
        "--noconftest",
        "-p",
        "no:cacheprovider",
        f"--junitxml={results}",
        "-o",
        "junit_family=xunit2",
        "-q",
        "--tb=short",
        "-rfE",
    ]
    code = int(pytest.main(args))
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def wait_child(pid: int, status: dict) -> None:
    _, status["status"] = os.waitpid(pid, 0)
    # Whatever the child left running in the background ends with it.
    kill_all()


def read_output(fd: int, deadline: float, cap: int) -> tuple[bytes, int, bool]:
    """Read the child's output until every writer is gone or the deadline passes.

    Keep the first half of ``cap`` bytes and the last half; return (kept, total, timed_out).
    """
    head = bytearray()
    tail = bytearray()
    half = cap // 2
    total = 0
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 and not timed_out:
            timed_out = True
            kill_all()
        if remaining <= -DRAIN_S:
            break
        ready, _, _ = select.select([fd], [], [], max(remaining, 0.2))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        total += len(chunk)
        if len(head) < half:
            take = half - len(head)
            head += chunk[:take]
            chunk = chunk[take:]
        tail += chunk
        if len(tail) > half:
            del tail[: len(tail) - half]
    os.close(fd)
    if total > len(head) + len(tail):
        head += f"\n[... {total - len(head) - len(tail)} bytes dropped ...]\n".encode()
    return bytes(head + tail), total, timed_out


def kill_all() -> None:
    """Kill every process in the container except this one and init."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass


def decode_status(status: int) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


def read_junit(results: str) -> str | None:
    try:
        with open(results, "rb") as stream:
            data = stream.read(JUNIT_MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > JUNIT_MAX_BYTES:
        return None
    return base64.b64encode(data).decode("ascii")


def stray_results(results: str) -> list[str]:
    """Return files in the results directory that pytest did not write for this request."""
    try:
        names = os.listdir(RESULTS_DIR)
    except OSError:
        return []
    return sorted(name for name in names if name != os.path.basename(results))[:20]


def limits_hit() -> dict:
    """Report which container limits were reached, from the cgroup and the tmpfs mounts."""
    pids = counter("/sys/fs/cgroup/pids/pids.events", "/sys/fs/cgroup/pids.events", "max")
    oom = counter(
        "/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events", "oom_kill"
    )
    disk = any(full(path) for path in (WORKSPACE, "/tmp", "/hidden"))
    return {"pids_limit": pids > 0, "oom": oom > 0, "disk_full": disk}


def counter(v1_path: str, v2_path: str, key: str) -> int:
    for path in (v1_path, v2_path):
        try:
            with open(path) as stream:
                for line in stream:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


def full(path: str) -> bool:
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024


if __name__ == "__main__":
    main()
