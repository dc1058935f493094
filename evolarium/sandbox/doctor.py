"""Probe that the sandbox hardening really applies.

A probe program runs in a normal sandbox container and tries each attack. A
check passes only when its attack fails.
"""

import json
from dataclasses import dataclass

import docker

from evolarium.sandbox.container import open_sandbox
from evolarium.sandbox.profile import Limits

PROBE = r"""
import json, os, socket

def check(name, attack):
    try:
        detail = attack()
    except Exception as error:
        print(json.dumps({"name": name, "blocked": True, "detail": type(error).__name__}))
    else:
        print(json.dumps({"name": name, "blocked": False, "detail": str(detail)[:200]}))

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return line.split()[1]

def must(condition, detail):
    if condition:
        raise PermissionError(detail)
    return detail

interfaces = sorted(os.listdir("/sys/class/net"))
check("network: interfaces besides loopback", lambda: must(interfaces == ["lo"], interfaces))
routes = open("/proc/net/route").read().splitlines()[1:]
check("network: routes", lambda: must(not routes, f"{len(routes)} routes"))
check("network: raw socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1))
check("host: Docker socket", lambda: open("/var/run/docker.sock", "rb"))
check("filesystem: write to /usr", lambda: open("/usr/probe", "w"))
check("privileges: root user", lambda: must(os.getuid() != 0, f"uid {os.getuid()}"))
check("privileges: capabilities", lambda: must(int(status("CapEff"), 16) == 0, status("CapEff")))
check("privileges: no-new-privileges", lambda: must(status("NoNewPrivs") == "1", "NoNewPrivs 0"))
check("privileges: setuid to root", lambda: os.setuid(0))
check("kernel: write /proc/sys", lambda: open("/proc/sys/kernel/hostname", "w").write("x"))

def stop_root_processes():
    stopped, roots = [], []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if uid == "0":
            roots.append(pid)
            try:
                os.kill(int(pid), 19)
            except PermissionError:
                continue
            os.kill(int(pid), 18)
            stopped.append(pid)
    if not roots:
        return "no root process holds the deadline; the sandbox user could end it"
    return must(not stopped, f"stopped root processes {stopped}")

check("deadline: stop the container's main process", stop_root_processes)
check("hidden tests: visible to the agent", lambda: must(not os.listdir("/hidden"), "/hidden"))

def fill_workspace():
    chunk = b"x" * (1024 * 1024)
    with open("/workspace/probe", "wb") as stream:
        for _ in range(4096):
            stream.write(chunk)
            stream.flush()
    return "wrote 4 GiB"

check("resources: 4 GiB file in /workspace", fill_workspace)
"""


@dataclass(frozen=True)
class ProbeResult:
    """One attack tried by the probe and whether the sandbox blocked it."""

    name: str
    blocked: bool
    detail: str


def probe_hardening(client: docker.DockerClient, image: str) -> list[ProbeResult]:
    """Run the probe program in a sandbox and return one result per attack."""
    limits = Limits(timeout_s=60, memory_mb=256)
    with open_sandbox(
        client, image, run_id="doctor", purpose="doctor", mounts=[], limits=limits
    ) as sandbox:
        result = sandbox.exec(["python3", "-c", PROBE], workdir="/tmp")
    results = []
    for line in result.output.splitlines():
        if line.startswith("{"):
            results.append(ProbeResult(**json.loads(line)))
    if not results:
        results.append(ProbeResult("probe program", False, result.output[-300:]))
    return results
