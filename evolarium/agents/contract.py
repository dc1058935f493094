"""The agent contract: where an agent finds its inputs inside a sandbox.

The sandbox runs ``python /agent/agent.py`` with the task prompt at
``/task/prompt.md`` and the workspace at ``/workspace``. The model gateway is an
OpenAI-compatible HTTP endpoint on the unix socket named by
``EVOLARIUM_LLM_SOCKET``. The agent edits files in the workspace and exits; its
stdout and stderr are its transcript.
"""

from importlib import resources
from pathlib import Path

AGENT_DIR = "/agent"
ENTRY_POINT = "agent.py"
TASK_DIR = "/task"
PROMPT_FILE = "prompt.md"
WORKSPACE_DIR = "/workspace"
SOCKET_DIR = "/run/evolarium"
SOCKET_NAME = "llm.sock"

SOCKET_ENV = "EVOLARIUM_LLM_SOCKET"
MODEL_ENV = "EVOLARIUM_MODEL"
MAX_STEPS_ENV = "EVOLARIUM_MAX_STEPS"

# The model name an agent sends; the gateway maps it to the configured model.
DEFAULT_MODEL_NAME = "evolarium-default"


def seed_agent_dir() -> Path:
    """Return the directory of the hand-written generation-0 agent."""
    return Path(str(resources.files("evolarium.agents") / "seed"))


def rewriter_agent_dir() -> Path:
    """Return the directory of the built-in rewriter agent that ``reflect`` and ``merge`` run."""
    return Path(str(resources.files("evolarium.agents") / "rewriter"))
