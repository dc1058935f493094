"""Sandbox containers: hardening, limits and clean-up, on the real Docker daemon and image."""

import os
import socket
import threading

import pytest

from evolarium.sandbox import Limits, open_sandbox
from tests.conftest import evolarium_containers

pytestmark = pytest.mark.docker

RUN_ID = "test-sandbox"


def python(sandbox, code: str, **kwargs):
    return sandbox.exec(["python3", "-c", code], workdir="/tmp", **kwargs)


@pytest.fixture()
def sandbox(docker_client, sandbox_image):
    limits = Limits(timeout_s=30, output_bytes=64 * 1024, pids=64, memory_mb=256)
    with open_sandbox(
        docker_client, sandbox_image, run_id=RUN_ID, purpose="test", mounts=[], limits=limits
    ) as box:
        yield box


@pytest.fixture()
def loopback_server():
    """A TCP server on the host's loopback that records whether anyone connected."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    connected = threading.Event()
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            connected.set()
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connected
    stop.set()
    thread.join()
    server.close()


def test_sandbox_network_connect_fails(sandbox, loopback_server):
    port, connected = loopback_server
    # The container's 127.0.0.1 is its own loopback, so the host's server must see nothing.
    code = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    print("CONNECTED")
except OSError as error:
    print("blocked", error)
"""
    result = python(sandbox, code)
    assert result.exit_code == 0, result.output
    assert "CONNECTED" not in result.output
    assert "blocked" in result.output
    assert not connected.is_set()


def test_sandbox_has_only_loopback(sandbox):
    interfaces = sandbox.exec(["ls", "/sys/class/net"], workdir="/")
    assert interfaces.output.split() == ["lo"]
    routes = sandbox.exec(["cat", "/proc/net/route"], workdir="/")
    assert len(routes.output.strip().splitlines()) == 1, routes.output


def test_sandbox_root_filesystem_read_only(sandbox):
    result = sandbox.exec(["touch", "/usr/evil"], workdir="/")
    assert result.exit_code != 0
    assert "Read-only file system" in result.output


def test_sandbox_runs_unprivileged(sandbox):
    result = sandbox.exec(["id", "-u"], workdir="/")
    assert result.output.strip() == "1000"
    status = sandbox.exec(["grep", "-E", "^(CapEff|CapBnd|NoNewPrivs)", "/proc/self/status"])
    assert "CapEff:\t0000000000000000" in status.output
    assert "CapBnd:\t0000000000000000" in status.output
    assert "NoNewPrivs:\t1" in status.output


def test_sandbox_workspace_is_size_capped(sandbox):
    code = """
chunk = b"x" * (1024 * 1024)
with open("/workspace/big", "wb") as stream:
    for _ in range(200):
        stream.write(chunk)
        stream.flush()
"""
    result = python(sandbox, code)
    assert result.exit_code != 0
    assert "No space left on device" in result.output


LIST_SLEEPERS = """
import os
found = []
# Split so that this script's own command line, and its timeout wrapper's, do not match.
needle = b"time.sleep(" + b"600)"
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            command = stream.read()
    except OSError:
        continue
    if needle in command:
        found.append(pid)
print(found)
"""


def test_sandbox_timeout_kills_command(sandbox):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    result = python(sandbox, code, timeout_s=2)
    assert result.outcome == "timeout"

    # The timed-out process is gone, not left running in the container.
    survivors = python(sandbox, LIST_SLEEPERS)
    assert survivors.outcome == "ok", survivors.output
    assert survivors.output.strip() == "[]"


def test_sandbox_output_is_capped(sandbox):
    code = "import sys; sys.stdout.write('y' * (5 * 1024 * 1024))"
    result = python(sandbox, code, output_bytes=1000)
    assert len(result.output) == 1000
    assert result.output_bytes == 5 * 1024 * 1024
    assert result.truncated
    assert result.outcome == "output_limit"


def test_sandbox_non_utf8_output(sandbox):
    result = python(sandbox, "import sys; sys.stdout.buffer.write(b'ok \\xff\\x00 end')")
    assert result.exit_code == 0
    assert result.output == "ok \ufffd\ufffd end"


def test_sandbox_pids_limited(sandbox):
    code = """
import subprocess
procs = []
try:
    for _ in range(200):
        procs.append(subprocess.Popen(["sleep", "30"]))
    print("STARTED ALL")
except OSError as error:
    print("limited", error)
"""
    result = python(sandbox, code, timeout_s=20)
    assert "STARTED ALL" not in result.output
    assert "limited" in result.output


def test_sandbox_removed_after_timeout(docker_client, sandbox_image):
    run_id = "test-sandbox-timeout"
    with open_sandbox(
        docker_client,
        sandbox_image,
        run_id=run_id,
        purpose="test",
        mounts=[],
        limits=Limits(timeout_s=2),
    ) as box:
        result = box.exec(["sleep", "100"], timeout_s=2)
        assert evolarium_containers(docker_client, run_id)
    assert result.outcome == "timeout"
    assert evolarium_containers(docker_client, run_id) == []


def test_sandbox_removed_after_error(docker_client, sandbox_image):
    run_id = "test-sandbox-error"
    with pytest.raises(RuntimeError, match="boom"):
        with open_sandbox(
            docker_client,
            sandbox_image,
            run_id=run_id,
            purpose="test",
            mounts=[],
            limits=Limits(timeout_s=10),
        ):
            raise RuntimeError("boom")
    assert evolarium_containers(docker_client, run_id) == []


def test_reaper_removes_only_orphans(docker_client, sandbox_image):
    from evolarium.sandbox.profile import MANAGED_LABEL, PID_LABEL, RUN_LABEL
    from evolarium.sandbox.reaper import remove_orphans

    def start(run_id: str, pid: str):
        labels = {MANAGED_LABEL: "1", RUN_LABEL: run_id, PID_LABEL: pid}
        return docker_client.containers.run(
            sandbox_image, ["sleep", "120"], detach=True, labels=labels, network_mode="none"
        )

    # Process ids above the kernel's pid_max (4194304 at most) never belong to a live process.
    start("test-reaper-orphan", "99999999")
    start("test-reaper-alive", str(os.getpid()))
    try:
        remove_orphans(docker_client)
        assert evolarium_containers(docker_client, "test-reaper-orphan") == []
        assert len(evolarium_containers(docker_client, "test-reaper-alive")) == 1
    finally:
        for run_id in ("test-reaper-orphan", "test-reaper-alive"):
            for container in evolarium_containers(docker_client, run_id):
                container.remove(force=True)


def test_doctor_probe_all_blocked(docker_client, sandbox_image):
    from evolarium.sandbox.doctor import probe_hardening

    results = probe_hardening(docker_client, sandbox_image)
    names = [result.name for result in results]
    assert len(names) == 13, names
    for result in results:
        assert result.blocked, result
