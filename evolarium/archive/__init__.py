"""Storage of runs, agents, code, evaluations, model calls and events."""

from evolarium.archive.models import Agent, CodeSnapshot, Evaluation, Event, ModelCall, Run
from evolarium.archive.store import ARCHIVE_FILE, Archive

__all__ = [
    "ARCHIVE_FILE",
    "Agent",
    "Archive",
    "CodeSnapshot",
    "Evaluation",
    "Event",
    "ModelCall",
    "Run",
]
