"""Network attacks from sandboxes: the host's loopback, host sockets, DNS, raw sockets, the gateway.

The agents and the workspace code are hostile probes (see probes.py). The model is the
loopback fake provider. Only the gateway test sends it a request, and no attack needs a
model reply. The servers that the probes aim at are started by the
tests on this machine's loopback and in a host directory that no sandbox mounts.
"""

import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import pytest

from evolarium.agents import contract
from tests.security import probes
from tests.security.lab import (
    SCORING_LIMITS,
    agent_program,
    calc_task,
    failed,
    read_report,
    scoring_module,
)

pytestmark = pytest.mark.docker

BLOCKED = (
    "tcp_loopback",
    "tcp6_loopback",
    "unix_host_path",
    "unix_abstract",
    "raw_icmp",
    "raw_icmp6",
    "raw_packet",
    "vsock_socket",
    "dns_lookup",
)


class HostListeners:
    """Servers on the host that no sandbox may reach. ``reached`` returns those that were."""

    def __init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.tcp6 = self._tcp6(self.port)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]
        # A short directory of its own, because tmp_path can exceed the 107 bytes of a
        # socket path.
        self.unix_dir = Path(tempfile.mkdtemp(prefix="sec-sock-"))
        self.unix_path = str(self.unix_dir / "host.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        self.abstract_name = f"evolarium-security-{uuid.uuid4().hex}"
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind("\0" + self.abstract_name)
        for server in self._streams():
            server.listen(8)
        for server in (*self._streams(), self.udp):
            server.setblocking(False)

    @staticmethod
    def _tcp6(port: int) -> socket.socket | None:
        """Listen on ::1 with the IPv4 server's port, if this host has IPv6 loopback."""
        try:
            server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            server.bind(("::1", port))
        except OSError:
            return None
        return server

    def _streams(self) -> list[socket.socket]:
        return [s for s in (self.tcp, self.tcp6, self.unix, self.abstract) if s is not None]

    def args(self) -> tuple:
        return (self.port, self.udp_port, self.unix_path, self.abstract_name)

    def reached(self) -> list[str]:
        """Accept waiting clients and return the names of the servers that had one."""
        names = {self.tcp: "tcp", self.tcp6: "tcp6", self.unix: "unix", self.abstract: "abstract"}
        reached = []
        for server in self._streams():
            try:
                connection, _ = server.accept()
            except BlockingIOError:
                continue
            connection.close()
            reached.append(names[server])
        try:
            self.udp.recvfrom(4096)
            reached.append("udp")
        except BlockingIOError:
            pass
        return reached

    def knock_from_host(self) -> None:
        """Reach every server from the host itself, to show that ``reached`` detects clients."""
        socket.create_connection(("127.0.0.1", self.port), timeout=3).close()
        if self.tcp6 is not None:
            socket.create_connection(("::1", self.port), timeout=3).close()
        for address in (self.unix_path, "\0" + self.abstract_name):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(address)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.sendto(b"knock", ("127.0.0.1", self.udp_port))

    def close(self) -> None:
        for server in (*self._streams(), self.udp):
            server.close()
        shutil.rmtree(self.unix_dir, ignore_errors=True)


@pytest.fixture()
def listeners():
    servers = HostListeners()
    yield servers
    servers.close()


def check_network_report(report: dict | None, where: str) -> None:
    assert report is not None, f"the {where} probe wrote no report"
    assert report["interfaces"] == ["lo"], report
    assert report["routes"] == 0, report
    for name in BLOCKED:
        assert failed(report, name), f"{where}: {name} {report[name]}"


def check_listeners_untouched(listeners: HostListeners) -> None:
    assert listeners.reached() == []

    listeners.knock_from_host()
    expected = {"tcp", "unix", "abstract", "udp"} | ({"tcp6"} if listeners.tcp6 else set())
    assert set(listeners.reached()) == expected


def test_network_blocked_in_agent_and_scoring(lab, listeners, tmp_path):
    args = listeners.args()
    code = agent_program(
        probes.network_probe, args, files={"calc.py": scoring_module(probes.network_probe, args)}
    )
    task = calc_task(tmp_path / "task")

    evaluation = lab.evaluate(code, task)

    assert evaluation.outcome == "ok", evaluation.transcript
    assert evaluation.score == 0.0
    check_network_report(read_report(evaluation.transcript), "agent")
    check_network_report(read_report(evaluation.test_output), "scoring")
    check_listeners_untouched(listeners)


def test_network_blocked_in_direct_scoring(lab, listeners, tmp_path):
    task = calc_task(tmp_path / "task")
    module = scoring_module(probes.network_probe, listeners.args())

    score = lab.score(task, {"calc.py": module}, SCORING_LIMITS)

    assert score.outcome == "ok", score.output
    assert score.score == 0.0
    check_network_report(read_report(score.output), "scoring")
    check_listeners_untouched(listeners)


def test_io_uring_refused_in_agent(lab, tmp_path):
    task = calc_task(tmp_path / "task")

    evaluation = lab.evaluate(agent_program(probes.io_uring_probe), task)

    report = read_report(evaluation.transcript)
    assert report is not None, evaluation.transcript
    assert report["io_uring_setup"] == "failed: Function not implemented", report


def test_gateway_ignores_redirect_fields(lab, listeners, fake_provider, tmp_path):
    fake_provider.add("pong")
    redirect = f"http://127.0.0.1:{listeners.port}/v1"
    socket_path = f"{contract.SOCKET_DIR}/{contract.SOCKET_NAME}"
    code = agent_program(probes.gateway_probe, (socket_path, redirect))
    task = calc_task(tmp_path / "task")

    evaluation = lab.evaluate(code, task)

    report = read_report(evaluation.transcript)
    assert report is not None, evaluation.transcript
    assert " 200 " in report["status"], report
    assert "pong" in report["body"]
    assert evaluation.calls == 1
    assert len(fake_provider.requests) == 1
    forwarded = fake_provider.requests[0]
    for field in ("api_base", "base_url", "extra_headers", "metadata"):
        assert field not in forwarded, forwarded
    assert redirect not in str(fake_provider.headers[0])
    check_listeners_untouched(listeners)
