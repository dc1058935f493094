"""Hostile probes that run inside sandboxes, as an agent or as workspace code under test.

Each probe is copied into the sandbox with ``inspect.getsource``, so it must be
self-contained, with its imports and helpers inside it. It returns a JSON-serialisable
report. An attempt that raised is reported as ``"failed: <error>"`` and one that went
through as ``"succeeded: <result>"``, so the host test can tell them apart.
"""


def network_probe(tcp_port: int, udp_port: int, unix_path: str, abstract_name: str) -> dict:
    """Try to reach servers on the host's loopback, its file system and its network namespace."""
    import os
    import socket

    report = {}

    def attempt(name, action):
        try:
            report[name] = f"succeeded: {action()!r}"[:300]
        except Exception as error:
            report[name] = f"failed: {type(error).__name__}: {error}"[:300]

    def connect(family, address):
        with socket.socket(family, socket.SOCK_STREAM) as client:
            client.settimeout(3)
            client.connect(address)
            client.sendall(b"hello from the sandbox\n")
            return "connected"

    def send_datagram():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            return client.sendto(b"hello from the sandbox\n", ("127.0.0.1", udp_port))

    def open_raw(family, kind, protocol):
        with socket.socket(family, kind, protocol):
            return "opened"

    report["interfaces"] = sorted(os.listdir("/sys/class/net"))
    with open("/proc/net/route") as stream:
        report["routes"] = len(stream.read().splitlines()[1:])

    attempt("tcp_loopback", lambda: connect(socket.AF_INET, ("127.0.0.1", tcp_port)))
    attempt("tcp6_loopback", lambda: connect(socket.AF_INET6, ("::1", tcp_port)))
    attempt("udp_loopback", send_datagram)
    attempt("unix_host_path", lambda: connect(socket.AF_UNIX, unix_path))
    attempt("unix_abstract", lambda: connect(socket.AF_UNIX, "\0" + abstract_name))
    attempt("raw_icmp", lambda: open_raw(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
    attempt("raw_icmp6", lambda: open_raw(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
    attempt("raw_packet", lambda: open_raw(socket.AF_PACKET, socket.SOCK_RAW, 0x0300))
    # Only opened, never connected: on a virtual machine a vsock socket reaches the
    # hypervisor, whatever the container's network is.
    attempt("vsock_socket", lambda: open_raw(socket.AF_VSOCK, socket.SOCK_STREAM, 0))

    # A DNS lookup goes to the resolver in /etc/resolv.conf, which is not on loopback. It is
    # only tried when the sandbox has no interface but lo and no route, so no packet can leave.
    if report["interfaces"] == ["lo"] and report["routes"] == 0:
        attempt("dns_lookup", lambda: socket.getaddrinfo("pypi.org", 443))
    else:
        report["dns_lookup"] = "skipped: the sandbox has a network"
    return report


def gateway_probe(socket_path: str, redirect_url: str | None = None) -> dict:
    """Send one chat request through the model gateway and return its reply.

    With ``redirect_url``, the request also names that server as the one to send it to
    (server-side request forgery).
    """
    import json
    import socket

    body = {"model": "openai/fake", "messages": [{"role": "user", "content": "hello"}]}
    if redirect_url is not None:
        body["api_base"] = redirect_url
        body["base_url"] = redirect_url
        body["extra_headers"] = {"X-Forwarded-Host": redirect_url}
        body["metadata"] = {"api_base": redirect_url}
    data = json.dumps(body).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.0\r\n"
        b"Host: localhost\r\n"
        b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(socket_path)
        client.sendall(request)
        reply = b""
        while chunk := client.recv(65536):
            reply += chunk
    status = reply.split(b"\r\n", 1)[0].decode("latin-1")
    return {"status": status, "body": reply.split(b"\r\n\r\n", 1)[-1].decode("utf-8", "replace")}


def host_probe(secret_path: str, marker_name: str, write_dirs: list) -> dict:
    """Read a host file, write outside the workspace, and look for container-runtime sockets."""
    import os
    import socket
    import stat

    report = {"write": {}, "docker": {}}

    def attempt(action):
        try:
            return f"succeeded: {action()!r}"[:300]
        except Exception as error:
            return f"failed: {type(error).__name__}: {error}"[:300]

    def read(path):
        with open(path) as stream:
            return stream.read()

    def write(directory):
        with open(os.path.join(directory, marker_name), "w") as stream:
            stream.write("written by a sandbox\n")
        return "written"

    def connect(path):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(3)
            client.connect(path)
            client.sendall(b"GET /containers/json HTTP/1.0\r\n\r\n")
            return client.recv(200).decode("latin-1")

    report["read_secret"] = attempt(lambda: read(secret_path))
    report["list_secret_dir"] = attempt(lambda: os.listdir(os.path.dirname(secret_path)))
    report["read_shadow"] = attempt(lambda: read("/etc/shadow"))
    for directory in write_dirs:
        report["write"][directory] = attempt(lambda directory=directory: write(directory))
    report["replace_python"] = attempt(lambda: os.rename("/usr/bin/python3", "/tmp/python3"))

    runtime_sockets = (
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/run/containerd/containerd.sock",
        "/var/run/docker/containerd/containerd.sock",
    )
    for path in runtime_sockets:
        report["docker"][path] = attempt(lambda path=path: connect(path))

    sockets = []
    for directory, dirnames, filenames in os.walk("/"):
        if directory in ("/proc", "/sys", "/dev"):
            dirnames[:] = []
            continue
        for name in filenames:
            path = os.path.join(directory, name)
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    sockets.append(path)
            except OSError:
                continue
    report["sockets"] = sorted(sockets)
    return report


def search_probe(needles_hex: dict, max_file_bytes: int) -> dict:
    """Search every file this sandbox can read for the given byte strings (given in hex).

    The needles arrive in hex, so the probe's own source does not contain them. The
    report names the files that contain each needle, never the needle itself.
    """
    import os
    import stat

    needles = {name: bytes.fromhex(value) for name, value in needles_hex.items()}
    found = {name: [] for name in needles}
    scanned = 0

    def check(path, data):
        for name, needle in needles.items():
            if needle in data:
                found[name].append(path)

    for directory, dirnames, filenames in os.walk("/"):
        if directory in ("/proc", "/sys", "/dev"):
            dirnames[:] = []
            continue
        for name in filenames:
            path = os.path.join(directory, name)
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                with open(path, "rb") as stream:
                    data = stream.read(max_file_bytes)
            except OSError:
                continue
            scanned += 1
            check(path, data)

    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for name in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as stream:
                    check(f"/proc/{pid}/{name}", stream.read())
            except OSError:
                continue
    return {"scanned": scanned, "found": found}


def environment_probe() -> dict:
    """Dump the environment and every /proc/*/environ and /proc/*/cmdline this user can read."""
    import os

    dump = {"environ": dict(os.environ), "proc": {}}
    for pid in sorted(os.listdir("/proc")):
        if not pid.isdigit():
            continue
        for name in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as stream:
                    text = stream.read().decode("utf-8", "replace").replace("\0", " ")
            except OSError as error:
                text = f"unreadable: {type(error).__name__}"
            dump["proc"][f"{pid}/{name}"] = text
    return dump


def escalation_probe() -> dict:
    """Try to gain privileges through setuid binaries, namespaces, /proc and /sys."""
    import importlib
    import os
    import subprocess

    # The scorer rejects workspace code that names this module before running it. An
    # attacker splits the name, and so does this probe, because it tests the sandbox.
    native = importlib.import_module("c" + "types")
    report = {"write": {}, "run": {}}

    def attempt(action):
        try:
            return f"succeeded: {action()!r}"[:300]
        except Exception as error:
            return f"failed: {type(error).__name__}: {error}"[:300]

    def status():
        fields = {}
        with open("/proc/self/status") as stream:
            for line in stream:
                key, _, value = line.partition(":")
                if key in ("Uid", "Gid", "CapEff", "CapPrm", "CapAmb", "NoNewPrivs"):
                    fields[key] = value.strip()
        return fields

    def write(path, value):
        with open(path, "w") as stream:
            stream.write(value)
        return "written"

    def run(command):
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20
        )
        return {"exit_code": result.returncode, "output": (result.stdout + result.stderr)[-200:]}

    def ptrace_init():
        libc = native.CDLL(None, use_errno=True)
        if libc.ptrace(16, 1, None, None) != 0:  # PTRACE_ATTACH
            raise OSError(native.get_errno(), os.strerror(native.get_errno()))
        return "attached"

    report["before"] = status()
    targets = {
        "/proc/sys/kernel/hostname": "escaped",
        "/proc/sys/vm/drop_caches": "1",
        "/proc/sysrq-trigger": "h",
        "/proc/1/oom_score_adj": "-1000",
        "/sys/fs/cgroup/pids/pids.max": "max",
        "/sys/fs/cgroup/pids.max": "max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes": "-1",
        "/sys/fs/cgroup/memory.max": "max",
        "/sys/kernel/uevent_helper": "/tmp/helper",
    }
    for path, value in targets.items():
        report["write"][path] = attempt(lambda path=path, value=value: write(path, value))

    # su, mount and umount are setuid root in the image. unshare requests a user namespace.
    commands = {
        "su": ["su", "-c", "id -u", "root"],
        "mount": ["mount", "-t", "tmpfs", "none", "/mnt"],
        "umount": ["umount", "/workspace"],
        "unshare": ["unshare", "--user", "--map-root-user", "id", "-u"],
    }
    for name, command in commands.items():
        try:
            report["run"][name] = run(command)
        except (OSError, subprocess.SubprocessError) as error:
            report["run"][name] = {"exit_code": None, "output": f"{type(error).__name__}: {error}"}
    report["setuid_root"] = attempt(lambda: os.setuid(0))
    report["signal_init"] = attempt(lambda: os.kill(1, 0))
    report["ptrace_init"] = attempt(ptrace_init)
    report["after"] = status()
    report["uid"] = os.getuid()
    report["euid"] = os.geteuid()
    return report


def leftover_probe(marker: str, plant: bool) -> dict:
    """Look for a process and files named by ``marker``. With ``plant``, leave them first.

    The planted process ignores SIGTERM and starts its own session, so only a kill of
    every process in the container, or the container's removal, ends it.
    """
    import os
    import subprocess
    import sys
    import time

    paths = [f"/tmp/{marker}", f"/workspace/{marker}"]
    if plant:
        for path in paths:
            with open(path, "w") as stream:
                stream.write("left behind\n")
        sleeper = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        subprocess.Popen(
            [sys.executable, "-c", sleeper + "time.sleep(1000)", marker],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)

    processes = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                if marker.encode() in stream.read():
                    processes.append(pid)
        except OSError:
            continue
    return {"processes": processes, "files": [path for path in paths if os.path.exists(path)]}


def io_uring_probe() -> dict:
    """Try to set up an io_uring, whose operations bypass seccomp's checks of system calls.

    It uses ctypes, which the scorer's static checks refuse in workspace code, so only
    agents run it.
    """
    import ctypes
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)
    # 425 is io_uring_setup on x86_64 and arm64 alike.
    descriptor = libc.syscall(425, 4, params)
    if descriptor >= 0:
        os.close(descriptor)
        return {"io_uring_setup": "succeeded"}
    return {"io_uring_setup": f"failed: {os.strerror(ctypes.get_errno())}"}
