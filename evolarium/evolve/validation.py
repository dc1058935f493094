"""Validation of a child before it is evaluated: it compiles, imports and runs a smoke task."""

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import docker

from evolarium.agents import contract
from evolarium.evolve.rollout import run_agent
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.sandbox import Limits, Mount, SandboxError, open_sandbox
from evolarium.sandbox.staging import share_read_only

log = logging.getLogger(__name__)

SMOKE_PROMPT = """\
# Smoke task

Create a file `hello.py` whose function `hello()` returns the string "hello".
"""

COMPILE_CHECK = """\
import pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    compile(path.read_bytes(), str(path), "exec")  # bytes: a BOM or coding line counts
"""

IMPORT_CHECK = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='evolarium_import_check')"


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str


def validate_child(
    client: docker.DockerClient,
    image: str,
    gateway: Gateway,
    *,
    code_dir: Path,
    context: CallContext,
    limits: Limits,
) -> Verdict:
    """Check that a child's code compiles, its entry point imports, and a smoke task runs."""
    if not (code_dir / contract.ENTRY_POINT).is_file():
        return Verdict(False, f"the entry point {contract.ENTRY_POINT} is missing")
    try:
        failure = _check_code(client, image, code_dir, context, limits)
        if failure is not None:
            return failure
        return _run_smoke_task(client, image, gateway, code_dir, context, limits)
    except SandboxError as error:
        return Verdict(False, f"the sandbox failed during validation: {error}")


def _check_code(
    client: docker.DockerClient,
    image: str,
    code_dir: Path,
    context: CallContext,
    limits: Limits,
) -> Verdict | None:
    """Return a failed verdict if the code does not compile or import, else None."""
    share_read_only(code_dir)
    check_limits = replace(limits, timeout_s=min(limits.timeout_s, 60.0))
    with open_sandbox(
        client,
        image,
        run_id=context.run_id or "none",
        purpose="validate",
        mounts=[Mount(code_dir, contract.AGENT_DIR)],
        limits=check_limits,
    ) as sandbox:
        compiled = sandbox.exec(["python3", "-c", COMPILE_CHECK, contract.AGENT_DIR], workdir="/")
        if compiled.exit_code != 0:
            return Verdict(False, "does not compile: " + _last_line(compiled.output))
        imported = sandbox.exec(
            ["python3", "-c", IMPORT_CHECK, f"{contract.AGENT_DIR}/{contract.ENTRY_POINT}"],
            workdir="/",
        )
        if imported.exit_code != 0:
            return Verdict(False, "does not import: " + _last_line(imported.output))
    return None


def _run_smoke_task(
    client: docker.DockerClient,
    image: str,
    gateway: Gateway,
    code_dir: Path,
    context: CallContext,
    limits: Limits,
) -> Verdict:
    with tempfile.TemporaryDirectory(prefix="evo-smoke-") as empty:
        with run_agent(
            client,
            image,
            gateway,
            agent_dir=code_dir,
            prompt=SMOKE_PROMPT,
            workspace=Path(empty),
            context=replace(context, purpose="validation"),
            limits=limits,
            max_steps=1,
            purpose="validate",
        ) as rollout:
            result = rollout.result
    if result.outcome != "ok":
        return Verdict(
            False,
            f"smoke task ended with {result.outcome} (exit code {result.exit_code}): "
            + _last_line(result.output),
        )
    return Verdict(True, "compiles, imports and runs the smoke task")


def _last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
