"""The live view of ``evolarium run`` on a terminal: progress lines above a dashboard.

The dashboard reads the run's archive through its own read-only connection, at
most once a second, in rich's refresh thread. A failed read keeps the last frame.
"""

import logging
import threading
import time

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from evolarium.archive import Archive
from evolarium.archive.location import ArchiveTarget
from evolarium.dashboard import panels
from evolarium.dashboard.progress import ProgressPrinter
from evolarium.dashboard.state import DockerProbe, RunLoader
from evolarium.errors import ArchiveError

log = logging.getLogger(__name__)

REFRESH_S = 1.0


class LivePrinter(ProgressPrinter):
    """Prints the progress lines of ProgressPrinter above a live dashboard of the run."""

    def __init__(self, console: Console, archive_path: ArchiveTarget, run_id: str) -> None:
        # ProgressPrinter's spinner is a live display too, and rich allows one at a time.
        self.console = console
        self.status = None
        self.archive_path = archive_path
        self.run_id = run_id
        self.loader: RunLoader | None = None
        self.frame: RenderableType = Text(f"run {run_id}: starting", style="dim")
        self.loaded_at = 0.0
        self.lock = threading.Lock()
        self.live = Live(
            console=console,
            get_renderable=self._render,
            refresh_per_second=1,
            vertical_overflow="crop",
            transient=True,
        )
        self.live.start()

    def _render(self) -> RenderableType:
        """Return the latest frame, reading the archive when the last read is old enough."""
        if not self.lock.acquire(blocking=False):
            return self.frame
        try:
            if time.monotonic() - self.loaded_at >= REFRESH_S:
                self.loaded_at = time.monotonic()
                self.frame = self._read_frame()
        finally:
            self.lock.release()
        return self.frame

    def _read_frame(self) -> RenderableType:
        try:
            if self.loader is None:
                archive = Archive.open_read_only(self.archive_path)
                self.loader = RunLoader(archive, self.run_id, docker=DockerProbe())
            state = self.loader.refresh()
        except ArchiveError as error:
            log.debug("live view of run %s: %s", self.run_id, error)
            return self.frame
        size = self.console.size
        return panels.live_view(state, width=size.width, height=size.height)

    def stop(self) -> None:
        self.live.stop()
        if self.loader is not None:
            self.loader.archive.close()
            self.loader = None
