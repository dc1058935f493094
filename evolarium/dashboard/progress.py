"""Progress of a running evolution, printed as it happens.

On a terminal a spinner shows the current step; otherwise each event is one
plain line with no cursor control codes.
"""

from rich.console import Console
from rich.status import Status

QUIET_KINDS = {"agent_added", "parent_selected", "step_finished"}


class ProgressPrinter:
    """Turns loop events into lines on the console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status: Status | None = None
        if console.is_terminal:
            self.status = console.status("starting", spinner="dots")
            self.status.start()

    def __call__(self, kind: str, data: dict) -> None:
        message = data.get("message", kind)
        if kind == "generation_finished":
            self.console.print(f"[bold green]{message}[/]")
        elif kind in ("agent_invalid", "stage_failed"):
            self.console.print(f"[yellow]{message}[/]")
        elif kind == "evaluation_finished":
            self.console.print(f"  [dim]{message}[/]")
        elif kind not in QUIET_KINDS:
            self.console.print(message)
        if self.status is not None:
            self.status.update(message)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
