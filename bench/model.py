"""Compare the embedded model's speed called directly and through the gateway.

Runs the same prompts, greedy and with the same max_tokens, three ways in one process:
``llama_cpp.Llama.create_chat_completion`` on the loaded model, ``Gateway.complete``
in-process (router and litellm added), and the gateway's unix socket through the
``openai`` client (HTTP and JSON added). Prints completion tokens per second for each
and the ratio to the direct call. llama.cpp slows down sharply when other processes take
its cores, so on a shared machine compare the medians of several runs.

Usage: python bench/model.py [--rounds N] [--max-tokens N]
"""

import argparse
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openai

from evolarium.agents.contract import DEFAULT_MODEL_NAME
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.llm.local import get_local_model, gguf_path
from evolarium.llm.router import ModelConfig, Router

PROMPTS = [
    "Write a Python function that returns the factorial of n.",
    "Explain in two sentences what a unix socket is.",
    "List three uses of a hash map.",
    "Write a haiku about compilers.",
]
SEED = 7

# A callable that sends one prompt and returns the completion tokens of the reply.
Generate = Callable[[str], int]


def direct(max_tokens: int) -> Generate:
    llama = get_local_model().llama

    def generate(prompt: str) -> int:
        response = llama.create_chat_completion(
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            temperature=0.0,
            seed=SEED,
        )
        return response["usage"]["completion_tokens"]

    return generate


def in_process(gateway: Gateway) -> Generate:
    context = CallContext(purpose="validation")

    def generate(prompt: str) -> int:
        request = {
            "model": DEFAULT_MODEL_NAME,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0.0,
            "seed": SEED,
        }
        response = gateway.complete(request, context)
        return response["usage"]["completion_tokens"]

    return generate


def over_socket(socket_path: Path) -> Generate:
    http_client = httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path)))
    client = openai.OpenAI(
        base_url="http://gateway/v1", api_key="unused", http_client=http_client, max_retries=0
    )

    def generate(prompt: str) -> int:
        response = client.chat.completions.create(
            model=DEFAULT_MODEL_NAME,
            messages=[{"role": "user", "content": prompt}],
            temperature=0.0,
            seed=SEED,
        )
        assert response.usage is not None
        return response.usage.completion_tokens

    return generate


def run_in_thread(generate: Generate, prompt: str) -> tuple[int, float]:
    """Return the completion tokens and seconds of one call made in a new thread."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(generate(prompt)))
    start = time.perf_counter()
    thread.start()
    thread.join()
    elapsed = time.perf_counter() - start
    if not result:
        raise RuntimeError(f"the call for prompt {prompt!r} failed; see the traceback above")
    return result[0], elapsed


def measure(ways: dict[str, Generate], rounds: int) -> dict[str, list[tuple[int, float]]]:
    """Return each way's (completion tokens, seconds) per call over ``rounds`` passes.

    The ways take turns on every prompt, in rotating order, so a burst of load from other
    processes hits them alike. The model's KV cache is reset before each call, so no way
    reuses a prompt prefix that the way before it evaluated. Each call runs in a new thread,
    as the socket server runs each request. On a busy machine a new thread can land on a
    less loaded core than the main thread. In trials on a shared 2-core machine, calls in
    the main thread were up to several times slower.
    """
    llama = get_local_model().llama
    calls: dict[str, list[tuple[int, float]]] = {name: [] for name in ways}
    names = list(ways)
    turn = 0
    for _ in range(rounds):
        for prompt in PROMPTS:
            # Rotate who goes first, so that no way always follows the same one.
            order = names[turn % len(names) :] + names[: turn % len(names)]
            turn += 1
            for name in order:
                llama.reset()
                calls[name].append(run_in_thread(ways[name], prompt))
    return calls


def report(calls: dict[str, list[tuple[int, float]]]) -> None:
    """Print total and median tokens per second, and each way's ratio to the first way."""
    totals: dict[str, tuple[int, float, float]] = {}
    for name, results in calls.items():
        tokens = sum(count for count, _ in results)
        seconds = sum(elapsed for _, elapsed in results)
        median = statistics.median(count / elapsed for count, elapsed in results)
        totals[name] = (tokens, seconds, median)

    first_total, first_median = None, None
    print(f"{'path':<22} {'tokens':>7} {'seconds':>8} {'tok/s':>7} {'median':>7} {'ratio':>6}")
    for name, (tokens, seconds, median) in totals.items():
        rate = tokens / seconds
        first_total = first_total or rate
        first_median = first_median or median
        print(
            f"{name:<22} {tokens:>7} {seconds:>8.2f} {rate:>7.1f} {median:>7.1f}"
            f" {rate / first_total:>6.2f}"
        )
    print("tok/s: all tokens over all seconds; median: median of per-call tokens/s;")
    print("ratio: tok/s relative to the llama_cpp direct call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the prompts")
    parser.add_argument("--max-tokens", type=int, default=128, help="completion token cap")
    args = parser.parse_args()

    gateway = Gateway(Router(ModelConfig(max_tokens=args.max_tokens, temperature=0.0)))
    ways: dict[str, Generate] = {
        "llama_cpp direct": direct(args.max_tokens),
        "Gateway.complete": in_process(gateway),
    }

    with tempfile.TemporaryDirectory(prefix="evolarium-bench-") as directory:
        socket_path = Path(directory) / "llm.sock"
        with gateway.serve(socket_path, CallContext(purpose="validation")):
            ways["gateway unix socket"] = over_socket(socket_path)

            for generate in ways.values():
                generate(PROMPTS[0])  # warm-up: loads the model and fills caches

            results = measure(ways, args.rounds)

    print(
        f"model: {gguf_path().name}, {args.rounds} rounds x {len(PROMPTS)} prompts, "
        f"max_tokens {args.max_tokens}, greedy"
    )
    print(f"machine: {platform.machine()}, llama threads {get_local_model().llama.n_threads}")
    report(results)


if __name__ == "__main__":
    main()
