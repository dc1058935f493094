"""Write a one-file agent directory and add its row to an archive, for tests that evaluate it."""

import uuid
from pathlib import Path

from evolarium.archive import Agent, Archive
from evolarium.archive.snapshot import hash_dir


def add_agent(archive: Archive, run_id: str, root: Path, code: str, name: str = "agent"):
    """Write ``root/agents/<id>/agent.py`` with ``code``, store a seed row; return (id, dir)."""
    agent_id = f"{name}-{uuid.uuid4().hex[:8]}"
    agent_dir = root / "agents" / agent_id
    agent_dir.mkdir(parents=True)
    (agent_dir / "agent.py").write_text(code)
    archive.add(
        Agent(
            id=agent_id,
            run_id=run_id,
            operator="seed",
            generation=0,
            code_hash=hash_dir(agent_dir),
        )
    )
    return agent_id, agent_dir
