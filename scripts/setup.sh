#!/usr/bin/env bash
# Set up evolarium on a Debian machine, as root: Docker, debootstrap and tmux from
# Debian, a running Docker daemon, a virtual environment with the package, and
# the sandbox image. Safe to run again; finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${EVOLARIUM_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

say() { printf '==> %s\n' "$*"; }

install_debian_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    # tmux: the dashboard's end-to-end test drives `evolarium watch` in a real terminal.
    command -v tmux >/dev/null 2>&1 || missing+=(tmux)
    # postgresql: tests/test_postgres.py starts its own server from these binaries; the
    # system cluster is not started.
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
    "$PYTHON" -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
    if ((${#missing[@]})); then
        say "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        # A policy-rc.d that exits 101 keeps the package scripts from starting services,
        # such as PostgreSQL's system cluster; an existing one is left as it is.
        local own_policy=0
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            own_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        if ((own_policy)); then
            rm -f /usr/sbin/policy-rc.d
        fi
    fi
}

daemon_answers() {
    "$PYTHON" - <<'PY' >/dev/null 2>&1
import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect("/var/run/docker.sock")
s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
assert b"OK" in s.recv(1024)
PY
}

start_docker() {
    if [[ -n "${DOCKER_HOST:-}" ]] || daemon_answers; then
        return
    fi
    say "starting dockerd (log: /var/log/evolarium-dockerd.log)"
    nohup dockerd >/var/log/evolarium-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        daemon_answers && return
        sleep 1
    done
    echo "dockerd did not respond within 60 s; see /var/log/evolarium-dockerd.log" >&2
    exit 1
}

install_package() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        say "creating the virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    say "installing evolarium into $VENV (llama-cpp-python compiles once: 15-25 minutes on 2 cores)"
    # llama-cpp-python builds llama.cpp from source; use every core for it.
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
}

install_debian_packages
start_docker
install_package
say "building the sandbox image (first time: 1-5 minutes)"
"$VENV/bin/evolarium" sandbox build
