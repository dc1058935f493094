"""Compare the embedded model's speed called directly and through the gateway.

Runs the same prompts, greedy and with the same max_tokens, three ways in one process:
``llama_cpp.Llama.create_chat_completion`` on the loaded model, ``Gateway.complete``
in-process (router and litellm added), and the gateway's unix socket through the
``openai`` client (HTTP and JSON added). Prints completion tokens per second for each
and the ratio to the direct call.

Usage: python bench/model.py [--rounds N] [--max-tokens N]
"""

import argparse
import platform
import tempfile
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


def measure(ways: dict[str, Generate], rounds: int) -> dict[str, tuple[int, float]]:
    """Return each way's completion tokens and seconds over ``rounds`` passes of the prompts.

    The ways take turns on every prompt. The model's KV cache is reset before each call, so
    no way reuses a prompt prefix that the way before it evaluated.
    """
    llama = get_local_model().llama
    totals = {name: (0, 0.0) for name in ways}
    for _ in range(rounds):
        for prompt in PROMPTS:
            for name, generate in ways.items():
                llama.reset()
                start = time.perf_counter()
                tokens = generate(prompt)
                elapsed = time.perf_counter() - start
                total_tokens, total_seconds = totals[name]
                totals[name] = (total_tokens + tokens, total_seconds + elapsed)
    return totals


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

    print(f"model: {gguf_path().name}, {args.rounds} rounds x {len(PROMPTS)} prompts, "
          f"max_tokens {args.max_tokens}, greedy")
    print(f"machine: {platform.machine()}, {platform.processor() or 'unknown cpu'}, "
          f"llama threads {get_local_model().llama.n_threads}")
    direct_rate = results["llama_cpp direct"][0] / results["llama_cpp direct"][1]
    print(f"{'path':<22} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'ratio':>6}")
    for name, (tokens, seconds) in results.items():
        rate = tokens / seconds
        print(f"{name:<22} {tokens:>7} {seconds:>8.2f} {rate:>9.1f} {rate / direct_rate:>6.2f}")


if __name__ == "__main__":
    main()
