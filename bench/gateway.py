"""Measure the latency that the model gateway adds, and its throughput, against a fake model.

A fake OpenAI-compatible server on 127.0.0.1 returns the same short completion to every
request at once, so the times below are the client's and the gateway's own work. The same
``--requests`` requests go four ways, in ``--rounds`` rounds whose order rotates:

(a) direct: the openai SDK in a process on the host straight to the fake server (the
    baseline);
(b) in-process: ``Gateway.complete`` (validation, budget, litellm, recording), once with a
    model whose price is configured and once with one that has no price, which costs
    litellm a slow lookup in its model table on every call;
(c) unix socket: the openai SDK in a process on the host through the gateway's unix socket,
    and once more through a gateway whose router returns the fake server's completion
    without sending a request, which times the gateway's own work without the provider
    hop (litellm, the openai SDK and the HTTP request);
(d) sandbox: the openai SDK in a sandbox container through the same socket, bind-mounted as
    for an agent.

Ways (a), (c) and (d) run one client script in a process of their own, as an agent does:
a client thread in the gateway's own process would compete with it for the GIL. The script
times its own requests and prints JSON.

The gateway records every call to a SQLite archive in a temporary directory, as a run does.
The script prints p50 and p99 latency of each way and what (b)-(d) add over (a). It also
prints calls per second through one gateway socket with ``--clients`` concurrent clients,
and streamed requests through the socket. Last, it runs bench/model.py, which compares the
embedded model's completion tokens per second through the gateway with llama.cpp's.

Usage: python bench/gateway.py [--requests 300] [--rounds 3] [--clients 4]
                               [--model-rounds 1] [--skip-sandbox] [--skip-model]
(the sandbox way needs Docker and the sandbox image: evolarium sandbox build)
"""

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from evolarium.agents import contract
from evolarium.archive import Archive
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits, Mount, Sandbox, docker_client, open_sandbox, require_image
from evolarium.sandbox.staging import share_read_only

CONTEXT = CallContext(run_id="bench", agent_id="bench", task_id="bench", purpose="agent")
REQUEST = {
    "model": contract.DEFAULT_MODEL_NAME,
    "messages": [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Write a function that adds two numbers."},
    ],
    "max_tokens": 64,
}
REPLY = "def add(a, b):\n    return a + b\n"
WARMUP_REQUESTS = 10
GATEWAY_URL = "http://gateway/v1"
# Seconds the concurrent clients get to start before they begin together.
CLIENT_LEAD_S = 3.0
SANDBOX_CLIENT_DIR = "/bench"

ADDED_P50_TARGET_MS = 5.0
CALLS_PER_SECOND_TARGET = 100.0

# The client of ways (a), (c) and (d), and of the calls per second. It runs in its own process,
# as an agent does, on the host or in the sandbox with the image's python3, openai and httpx.
# Its one argument is JSON options. It sends the request WARMUP times untimed, waits for the
# wall-clock time START_AT (so that concurrent clients start together), sends it COUNT times
# and prints the seconds of each, when it finished, and whether it was ready in time.
CLIENT = """
import json, sys, time
import httpx, openai

options = json.loads(sys.argv[1])
socket_path = options["socket"]
transport = httpx.HTTPTransport(uds=socket_path) if socket_path else None
client = openai.OpenAI(
    base_url=options["base_url"],
    api_key="unused",
    http_client=httpx.Client(transport=transport),
    max_retries=0,
)


def send():
    if options["stream"]:
        chunks = client.chat.completions.create(**options["request"], stream=True)
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        content = client.chat.completions.create(**options["request"]).choices[0].message.content
    if content != options["reply"]:
        sys.exit(f"the reply {content!r} differs from {options['reply']!r}")


for _ in range(options["warmup"]):
    send()
ready = time.time() <= options["start_at"]
while time.time() < options["start_at"]:
    time.sleep(0.001)
seconds = []
for _ in range(options["count"]):
    start = time.perf_counter()
    send()
    seconds.append(time.perf_counter() - start)
print(json.dumps({"seconds": seconds, "finished_at": time.time(), "ready": ready}))
"""

# A callable that sends ``count`` requests and returns the seconds of each.
Way = Callable[[int], list[float]]


class StoredReplyRouter(Router):
    """A router that returns the fake server's completion without sending a request."""

    def complete(self, request: dict) -> dict:
        return json.loads(completion_body())


class FakeModelServer:
    """An OpenAI-compatible server on 127.0.0.1 that returns one fixed completion at once.

    It runs in a process of its own, as a real provider runs elsewhere, so its threads do
    not compete with the gateway's for the GIL. It speaks HTTP/1.1 with keep-alive, as real
    providers do, so that pooled clients reuse their connections.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._ports = context.Queue()
        self._process = context.Process(target=_serve, args=(self._ports,), daemon=True)
        self._port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def __enter__(self) -> "FakeModelServer":
        self._process.start()
        self._port = self._ports.get(timeout=30)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._process.terminate()
        self._process.join(timeout=30)


def _serve(ports: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(completion_body()))
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


def completion_body() -> bytes:
    completion = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REPLY},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32},
    }
    return json.dumps(completion).encode("utf-8")


def _handler_for(body: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes. With Nagle's algorithm on, the second waits
        # for the client's delayed ACK, which added about 40 ms to every request.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(length)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def client_options(
    base_url: str, socket_path: str | None, count: int, *, stream: bool = False, lead_s: float = 0
) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "socket": socket_path,
        "count": count,
        "warmup": WARMUP_REQUESTS,
        "request": REQUEST,
        "reply": REPLY,
        "stream": stream,
        "start_at": time.time() + lead_s,
    }


def parse_client_output(output: str, where: str) -> dict[str, Any]:
    lines = output.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"the client {where} failed: {output[-2000:]}") from None


def host_way(base_url: str, socket_path: Path | None = None, *, stream: bool = False) -> Way:
    """Run CLIENT in a new process on the host, as the way's own process."""
    socket = str(socket_path) if socket_path else None

    def run(count: int) -> list[float]:
        options = client_options(base_url, socket, count, stream=stream)
        command = [sys.executable, "-c", CLIENT, json.dumps(options)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        return parse_client_output(result.stdout + result.stderr, "on the host")["seconds"]

    return run


def in_process_way(gateway: Gateway) -> Way:
    def run(count: int) -> list[float]:
        seconds = []
        for _ in range(count):
            start = time.perf_counter()
            gateway.complete(dict(REQUEST), CONTEXT)
            seconds.append(time.perf_counter() - start)
        return seconds

    return run


def sandbox_way(sandbox: Sandbox) -> Way:
    socket_path = f"{contract.SOCKET_DIR}/{contract.SOCKET_NAME}"

    def run(count: int) -> list[float]:
        options = client_options(GATEWAY_URL, socket_path, count)
        command = ["python3", f"{SANDBOX_CLIENT_DIR}/client.py", json.dumps(options)]
        result = sandbox.exec(command, timeout_s=300)
        return parse_client_output(result.output, "in the sandbox")["seconds"]

    return run


def measure(ways: dict[str, Way], requests: int, rounds: int) -> dict[str, list[float]]:
    """Return each way's seconds per request, taking turns in rounds of about equal size.

    The order rotates every round, so a burst of load from other processes on a shared
    machine is spread over all ways rather than hitting one.
    """
    names = list(ways)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    per_round = [
        requests // rounds + (1 if turn < requests % rounds else 0) for turn in range(rounds)
    ]
    for turn, count in enumerate(per_round):
        order = names[turn % len(names) :] + names[: turn % len(names)]
        for name in order:
            seconds[name].extend(ways[name](count))
    return seconds


def calls_per_second(base_url: str, socket_path: Path | None, requests: int, clients: int) -> float:
    """Return the calls per second of ``requests`` requests from ``clients`` client processes.

    The clients start together at a wall-clock time after they are ready. The rate is the
    requests over the time from that start to the last client's finish.
    """
    per_client = [
        requests // clients + (1 if n < requests % clients else 0) for n in range(clients)
    ]
    socket = str(socket_path) if socket_path else None
    lead_s = CLIENT_LEAD_S
    for _ in range(3):
        options = [client_options(base_url, socket, count, lead_s=lead_s) for count in per_client]
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", CLIENT, json.dumps(option)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for option in options
        ]
        results = [
            parse_client_output(process.communicate(timeout=300)[0], "for calls per second")
            for process in processes
        ]
        if all(result["ready"] for result in results):
            finished = max(result["finished_at"] for result in results)
            return requests / (finished - options[0]["start_at"])
        lead_s *= 2  # a client was still starting when the others began; give more time
    raise RuntimeError(f"the clients were not ready within {lead_s:g} s of being started")


def percentile_ms(seconds: list[float], percent: int) -> float:
    return statistics.quantiles(seconds, n=100, method="inclusive")[percent - 1] * 1000.0


def print_latency(seconds: dict[str, list[float]], baseline: str) -> None:
    base_p50 = percentile_ms(seconds[baseline], 50)
    base_p99 = percentile_ms(seconds[baseline], 99)
    print(f"{'way':<30} {'p50 ms':>7} {'p99 ms':>7} {'+p50 ms':>8} {'+p99 ms':>8}  target")
    for name, values in seconds.items():
        p50 = percentile_ms(values, 50)
        p99 = percentile_ms(values, 99)
        if name == baseline:
            print(f"{name:<30} {p50:>7.2f} {p99:>7.2f} {'':>8} {'':>8}  baseline")
            continue
        added = p50 - base_p50
        verdict = "met" if added <= ADDED_P50_TARGET_MS else "missed"
        target = f"+p50 <= {ADDED_P50_TARGET_MS:g} ms: {verdict}"
        print(f"{name:<30} {p50:>7.2f} {p99:>7.2f} {added:>8.2f} {p99 - base_p99:>8.2f}  {target}")
    print("+p50, +p99: added over the baseline at the same percentile")


def print_throughput(rates: dict[str, float], clients: int) -> None:
    print(f"\n{'way':<30} {'calls/s':>8}  target ({clients} concurrent clients)")
    for name, rate in rates.items():
        verdict = "met" if rate >= CALLS_PER_SECOND_TARGET else "missed"
        print(f"{name:<30} {rate:>8.1f}  >= {CALLS_PER_SECOND_TARGET:g} calls/s: {verdict}")


def run_model_bench(rounds: int) -> None:
    """Run bench/model.py, which prints the embedded model's tokens/s three ways."""
    print("\nembedded model, python bench/model.py:", flush=True)
    script = Path(__file__).with_name("model.py")
    subprocess.run([sys.executable, str(script), "--rounds", str(rounds)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per way")
    parser.add_argument("--rounds", type=int, default=3, help="rounds the requests are split in")
    parser.add_argument(
        "--clients", type=int, default=4, help="concurrent clients for calls per second"
    )
    parser.add_argument(
        "--model-rounds", type=int, default=1, help="--rounds passed to bench/model.py"
    )
    parser.add_argument("--skip-sandbox", action="store_true", help="leave out way (d)")
    parser.add_argument("--skip-model", action="store_true", help="do not run bench/model.py")
    args = parser.parse_args()
    if args.rounds < 1 or args.clients < 1 or args.requests < max(2, args.rounds):
        parser.error(
            "--rounds and --clients must be at least 1, and --requests at least 2 and at "
            "least --rounds"
        )

    with FakeModelServer() as fake, tempfile.TemporaryDirectory(prefix="evo-bench-") as directory:
        archive = Archive.create(Path(directory) / "archive" / "archive.db")
        staging = Path(directory) / "shared"
        # A run's model has a price, from litellm's table or from the configuration, so the
        # fake model gets one here. The unpriced way shows what a model without one costs.
        config = ModelConfig(
            model="openai/fake",
            api_base=fake.url,
            api_key="unused",
            input_cost_per_mtok=0.15,
            output_cost_per_mtok=0.60,
        )
        unpriced = ModelConfig(model="openai/fake-unpriced", api_base=fake.url, api_key="unused")
        gateway = Gateway(Router(config), recorder=archive_recorder(archive))
        gateway_unpriced = Gateway(Router(unpriced), recorder=archive_recorder(archive))
        gateway_stub = Gateway(StoredReplyRouter(config), recorder=archive_recorder(archive))
        gateways = {"priced": gateway, "unpriced": gateway_unpriced, "stub": gateway_stub}
        seconds, rates = run_gateway_bench(gateways, fake.url, staging, args)

    print(
        f"{args.requests} requests per way in {args.rounds} rounds, fake model on 127.0.0.1, "
        f"calls recorded to SQLite; machine: {platform.machine()}, {os.cpu_count()} CPUs"
    )
    print_latency(seconds, "(a) direct, openai SDK")
    print_throughput(rates, args.clients)

    if not args.skip_model:
        run_model_bench(args.model_rounds)


def run_gateway_bench(
    gateways: dict[str, Gateway], fake_url: str, staging: Path, args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Serve the gateways on sockets under ``staging`` and time every way through them."""
    gateway = gateways["priced"]
    socket_path = staging / "gw" / contract.SOCKET_NAME
    stub_socket_path = staging / "gw-stub" / contract.SOCKET_NAME
    script_dir = staging / "client"
    script_dir.mkdir(parents=True)
    (script_dir / "client.py").write_text(CLIENT, encoding="utf-8")
    # share_read_only sets files to mode 0644, which would take the write bit that connect()
    # needs off the socket file, so it runs before the socket exists.
    share_read_only(staging)

    with (
        gateway.serve(socket_path, CONTEXT),
        gateways["stub"].serve(stub_socket_path, CONTEXT),
    ):
        ways: dict[str, Way] = {
            "(a) direct, openai SDK": host_way(fake_url),
            "(b) Gateway.complete": in_process_way(gateway),
            "(b) unpriced model": in_process_way(gateways["unpriced"]),
            "(c) unix socket, openai SDK": host_way(GATEWAY_URL, socket_path),
            "(c) unix socket, stream=True": host_way(GATEWAY_URL, socket_path, stream=True),
            "(c) socket, no provider hop": host_way(GATEWAY_URL, stub_socket_path),
        }
        for name in ("(b) Gateway.complete", "(b) unpriced model"):
            ways[name](WARMUP_REQUESTS)
        rates = {
            "(a) direct": calls_per_second(fake_url, None, args.requests, args.clients),
            "(c) unix socket": calls_per_second(
                GATEWAY_URL, socket_path, args.requests, args.clients
            ),
        }
        if args.skip_sandbox:
            return measure(ways, args.requests, args.rounds), rates

        client = docker_client()
        mounts = [
            Mount(socket_path.parent, contract.SOCKET_DIR),
            Mount(script_dir, SANDBOX_CLIENT_DIR),
        ]
        image = require_image(client)
        limits = Limits()
        with open_sandbox(
            client, image, run_id="bench", purpose="bench", mounts=mounts, limits=limits
        ) as sandbox:
            ways["(d) sandbox, openai SDK"] = sandbox_way(sandbox)
            return measure(ways, args.requests, args.rounds), rates


if __name__ == "__main__":
    main()
